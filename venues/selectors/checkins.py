"""Reads of check-ins: a scan's verification page, trails, and the manager's counts (never names)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, Subquery
from django.db.models.functions import ExtractHour, TruncDate
from django.http import Http404

from health import selectors as health_selectors
from people import selectors as people_selectors
from venues import partitions
from venues.models import CheckIn, CheckinRequest, Colour, VenueDailyCount
from venues.policy import Decision, explain


def scan_rows(scan_key: str, account_id: int | None, *, with_place: bool = False) -> list[CheckIn]:
    """The check-ins of one scan (the scanner and companions added with it), in order; one query.

    The scan's retry-key row bounds the time (so PostgreSQL reads only the partitions from the scan
    on) and proves the scan belongs to the account; without it the subquery is NULL and nothing
    matches. ``with_place`` joins the entrance and venue for showing the scan."""
    root = CheckinRequest.objects.filter(client_key=scan_key, account_id=account_id).values("created_at")[:1]
    rows = CheckIn.objects.filter(account_id=account_id, scan_key=scan_key, checked_in_at__gte=Subquery(root))
    if with_place:
        rows = rows.select_related("entrance__venue")
    return list(rows.order_by("id"))


@dataclass(frozen=True)
class ScanLine:
    person_id: int
    masked_name: str
    colour: str
    decision: Decision
    checked_in_at: dt.datetime
    badge: str
    latest_sampled_at: dt.datetime | None
    latest_result: str | None
    vaccine_doses: int
    is_flagged: bool


def scan_lines(rows: list[CheckIn], *, now: dt.datetime, known: Sequence[Any] = ()) -> list[ScanLine]:
    """What the door staff see for each person of a scan: the colour and verdict recorded at the
    scan, with the sampling facts read now (two reads at most, whatever the number of companions;
    people the caller already holds in ``known`` are not read again)."""
    ids = [r.person_id for r in rows]
    people = {p.pk: p for p in known if p.pk in ids}
    if missing := [i for i in ids if i not in people]:
        people.update(people_selectors.people_by_ids(missing))
    views = health_selectors.status_views(ids, now=now)
    lines = []
    for r in rows:
        view = views.get(r.person_id)
        person = people.get(r.person_id)
        lines.append(
            ScanLine(
                person_id=r.person_id,
                masked_name=person.masked_name if person else "",
                colour=r.colour,
                decision=explain(r.verdict, r.reason_code),
                checked_in_at=r.checked_in_at,
                badge=r.badge,
                latest_sampled_at=view.latest_sampled_at if view else None,
                latest_result=view.latest_result if view else None,
                vaccine_doses=view.vaccine_doses if view else 0,
                is_flagged=r.is_flagged,
            )
        )
    return lines


def scan_for_account(scan_key: str, account_id: int) -> list[CheckIn]:
    """A scan of this account with its entrance and venue, or 404."""
    rows = scan_rows(scan_key, account_id, with_place=True)
    if not rows:
        raise Http404
    return rows


@dataclass(frozen=True)
class TrailEntry:
    checked_in_at: dt.datetime
    venue_name: str
    venue_address: str
    entrance_name: str
    colour: str
    method: str
    is_flagged: bool


def person_trail(person_id: int, *, since: dt.datetime, limit: int = 500) -> list[TrailEntry]:
    """A person's check-ins (行动轨迹), newest first, in one query."""
    rows = (
        CheckIn.objects.filter(person_id=person_id, checked_in_at__gte=since)
        .order_by("-checked_in_at")
        .values_list(
            "checked_in_at", "venue__name", "venue__address", "entrance__name", "colour", "method", "is_flagged"
        )[:limit]
    )
    return [TrailEntry(*r) for r in rows]


@dataclass(frozen=True)
class VenueStats:
    hourly: list[tuple[int, int]]  # (hour of today, count)
    daily: list[tuple[dt.date, int]]  # the last 14 days, oldest first
    alerts: list[tuple[dt.datetime, str, str]]  # (time, entrance name, colour) of red/yellow scans today
    today_count: int
    max_hourly: int
    max_daily: int


def venue_stats(venue_id: int, *, now: dt.datetime, days: int = 14) -> VenueStats:
    """Counts for the venue manager: four queries, and nothing that names a visitor."""
    tz = partitions.local_zone()
    today = now.astimezone(tz).date()
    start_today, _end = partitions.day_bounds(today)
    first_day = today - dt.timedelta(days=days - 1)
    first_at, _e = partitions.day_bounds(first_day)
    live = CheckIn.objects.filter(venue_id=venue_id)
    by_hour = dict(
        live.filter(checked_in_at__gte=start_today, checked_in_at__lte=now)
        .annotate(h=ExtractHour("checked_in_at", tzinfo=tz))
        .values_list("h")
        .annotate(n=Count("id"))
        .values_list("h", "n")
    )
    hourly = [(h, by_hour.get(h, 0)) for h in range(24)]
    per_day: dict[dt.date, int] = {}
    for day, n in (
        live.filter(checked_in_at__gte=first_at, checked_in_at__lte=now)
        .annotate(d=TruncDate("checked_in_at", tzinfo=tz))
        .values_list("d")
        .annotate(n=Count("id"))
        .values_list("d", "n")
    ):
        per_day[day] = per_day.get(day, 0) + n
    # Days already purged keep their figures in the roll-up (a boundary day may be in both).
    for day, n in VenueDailyCount.objects.filter(venue_id=venue_id, day__gte=first_day).values_list(
        "day", "checkin_count"
    ):
        per_day[day] = per_day.get(day, 0) + n
    daily = [(first_day + dt.timedelta(days=i), per_day.get(first_day + dt.timedelta(days=i), 0)) for i in range(days)]
    alerts = list(
        live.filter(checked_in_at__gte=start_today, checked_in_at__lte=now)
        .filter(Q(colour=Colour.RED) | Q(colour=Colour.YELLOW))
        .order_by("-checked_in_at")
        .values_list("checked_in_at", "entrance__name", "colour")[:50]
    )
    return VenueStats(
        hourly=hourly,
        daily=daily,
        alerts=alerts,
        today_count=sum(n for _h, n in hourly),
        max_hourly=max([n for _h, n in hourly] + [1]),
        max_daily=max([n for _d, n in daily] + [1]),
    )
