"""Retention: check-ins older than the policy are deleted; per-venue daily counts survive.

On PostgreSQL whole expired days are dropped as partitions (instant, no vacuum debt) and only the
boundary day is trimmed with a DELETE; on SQLite it is one DELETE. Counts are rolled up into
VenueDailyCount in the same transaction as the deletion, so a crash between the two cannot lose
or double a day's figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q
from django.db.models.functions import TruncDate

from audit.services import Actor, audit_record
from venues import partitions
from venues.models import CheckIn, CheckinRequest, Colour, FlagReview, RetentionRun, VenueDailyCount


@dataclass(frozen=True)
class PurgeResult:
    cutoff: dt.datetime
    checkins_deleted: int
    partitions_dropped: list[str]
    requests_deleted: int
    partitions_created: list[str]


def _roll_up(before: dt.datetime) -> int:
    """Add the counts of every check-in older than ``before`` to the daily table."""
    tz = partitions.local_zone()
    groups = (
        CheckIn.objects.filter(checked_in_at__lt=before)
        .annotate(day=TruncDate("checked_in_at", tzinfo=tz))
        .values("venue_id", "day")
        .annotate(
            n=Count("id"),
            red=Count("id", filter=Q(colour=Colour.RED)),
            yellow=Count("id", filter=Q(colour=Colour.YELLOW)),
        )
    )
    total = 0
    for g in groups:
        row, created = VenueDailyCount.objects.get_or_create(
            venue_id=g["venue_id"],
            day=g["day"],
            defaults={"checkin_count": g["n"], "red_count": g["red"], "yellow_count": g["yellow"]},
        )
        if not created:
            VenueDailyCount.objects.filter(pk=row.pk).update(
                checkin_count=F("checkin_count") + g["n"],
                red_count=F("red_count") + g["red"],
                yellow_count=F("yellow_count") + g["yellow"],
            )
        total += g["n"]
    return total


def partitions_maintain(*, now: dt.datetime, days_ahead: int = 7) -> list[str]:
    """Create the partitions of the coming days (PostgreSQL); nothing on SQLite."""
    today = now.astimezone(partitions.local_zone()).date()
    return partitions.ensure_partitions(today - dt.timedelta(days=1), today + dt.timedelta(days=days_ahead))


def checkins_purge(*, actor: Actor, now: dt.datetime, retention_days: int | None = None) -> PurgeResult:
    days = int(retention_days if retention_days is not None else settings.FANGYI["CHECKIN_RETENTION_DAYS"])
    cutoff = now - dt.timedelta(days=days)
    cutoff_day = cutoff.astimezone(partitions.local_zone()).date()
    with transaction.atomic():
        deleted = _roll_up(cutoff)
        dropped = partitions.drop_partitions_before(cutoff_day) if partitions.is_partitioned(connection) else []
        # The boundary day (and every row on SQLite) goes row by row.
        CheckIn.objects.filter(checked_in_at__lt=cutoff).delete()
        requests, _detail = CheckinRequest.objects.filter(created_at__lt=cutoff).delete()
        # A review names its check-in and goes with it (the audit log keeps that a review happened).
        FlagReview.objects.filter(checked_in_at__lt=cutoff).delete()
        audit_record(
            actor=actor,
            action="venue.checkins_purge",
            object_type="venues.checkin",
            row_count=deleted,
            now=now,
            extra={"cutoff": cutoff.isoformat(), "partitions_dropped": dropped},
        )
    created = partitions_maintain(now=now)
    return PurgeResult(cutoff, deleted, dropped, requests, created)


# --- once a day, whichever node comes first -----------------------------------------------------

CLAIMED, DONE, BUSY = "claimed", "done", "busy"


def retention_claim(
    *, day: dt.date, owner: str, now: dt.datetime, stale_after: dt.timedelta = dt.timedelta(hours=2)
) -> tuple[str, RetentionRun | None]:
    """Claim ``day``'s scheduled purge for ``owner``.

    (CLAIMED, run) to the first caller of the day; (DONE, None) once a run of the day finished;
    (BUSY, None) while another claimant runs it. A failed run, or one that has been running longer
    than ``stale_after`` (its process died), is taken over by the next caller. The unique day and a
    conditional UPDATE decide races, so it holds across processes and nodes on one database.
    """
    try:
        with transaction.atomic():
            run = RetentionRun.objects.create(
                day=day, outcome=RetentionRun.Outcome.RUNNING, owner=owner, started_at=now
            )
        return CLAIMED, run
    except IntegrityError:
        pass
    run = RetentionRun.objects.get(day=day)
    if run.outcome == RetentionRun.Outcome.DONE:
        return DONE, None
    if run.outcome == RetentionRun.Outcome.RUNNING and now - run.started_at < stale_after:
        return BUSY, None
    taken = RetentionRun.objects.filter(pk=run.pk, outcome=run.outcome, started_at=run.started_at).update(
        outcome=RetentionRun.Outcome.RUNNING, owner=owner, started_at=now, finished_at=None, detail=""
    )
    if not taken:  # another caller took it over between the read and the update
        return BUSY, None
    run.refresh_from_db()
    return CLAIMED, run


def retention_finish(*, run: RetentionRun, ok: bool, detail: str, now: dt.datetime) -> None:
    run.outcome = RetentionRun.Outcome.DONE if ok else RetentionRun.Outcome.FAILED
    run.finished_at = now
    run.detail = detail[:300]
    run.save(update_fields=["outcome", "finished_at", "detail"])
