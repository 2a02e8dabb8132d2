"""Rounds, sites, laboratories: set up by command HQ and the subdistrict/community admins."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import Cap
from accounts.selectors import scope_for
from audit.services import Actor, audit_record
from common.errors import Conflict, DomainError, Forbidden
from notices.services import sms_send
from people.models import Category
from territory.models import Area
from testing.models import (
    POOL_SIZES,
    Laboratory,
    LaboratoryMember,
    Round,
    RoundDeadlineChange,
    RoundFigure,
    RoundStatus,
    Site,
    SiteStaff,
)

DEFAULT_ROUND_HOURS = 24


def round_create(
    *,
    actor: Actor,
    name: str,
    area: Area,
    pool_size: int,
    starts_at: dt.datetime,
    deadline_at: dt.datetime | None = None,
    categories: list[str] | None = None,
    laboratory: Laboratory | None = None,
    now: dt.datetime,
) -> Round:
    name = " ".join((name or "").split())
    if not name:
        raise DomainError("name_required", _("Give the round a name."), field="name")
    if pool_size not in POOL_SIZES:
        raise DomainError("pool_size_invalid", _("Pooling must be single, 5, 10 or 20 in 1."), field="pool_size")
    if timezone.is_naive(starts_at):
        raise ValueError("aware datetimes only")
    # A round should finish within 24 h (DESIGN §3.4); the deadline may be set otherwise.
    deadline_at = deadline_at or starts_at + dt.timedelta(hours=DEFAULT_ROUND_HOURS)
    if deadline_at <= starts_at:
        raise DomainError("deadline_invalid", _("The deadline must be after the start."), field="deadline_at")
    valid = {c.value for c in Category}
    cats = sorted(set(categories or []))
    if any(c not in valid for c in cats):
        raise DomainError("category_invalid", _("Unknown population category."), field="categories")
    try:
        with transaction.atomic():
            rnd = Round.objects.create(
                name=name,
                area=area,
                area_path=area.path,
                pool_size=pool_size,
                starts_at=starts_at,
                deadline_at=deadline_at,
                categories=cats,
                laboratory=laboratory,
                created_by=actor.user,
                created_at=now,
            )
            audit_record(
                actor=actor,
                action="testing.round_create",
                obj=rnd,
                now=now,
                extra={"area": area.pk, "pool_size": pool_size, "categories": cats},
            )
    except IntegrityError:
        raise Conflict("round_exists", _("A round with this name exists in this territory."), field="name") from None
    return rnd


def round_close(*, actor: Actor, rnd: Round, now: dt.datetime) -> Round:
    """Close a round: no new tubes or samples from now on (tubes already filled may still be sealed),
    and its coverage is kept as it stands: per household (every node's figures are sums of those),
    and in total and per level-1 grid in ``final_figures``."""
    from testing.selectors import coverage_by_grid

    with transaction.atomic():
        locked = Round.objects.select_for_update().get(pk=rnd.pk)
        if locked.status == RoundStatus.CLOSED:
            raise Conflict("round_closed", _("This round is already closed."))
        households = _keep_figures(locked)
        locked.status = RoundStatus.CLOSED
        locked.closed_at = now
        locked.final_figures = {"nodes_kept": True}  # from here on the selectors read the kept figures
        by_grid = [g.as_dict() | {"path": g.path} for g in coverage_by_grid(locked)]
        totals = {k: sum(g[k] for g in by_grid) for k in ("total", "covered", "exempted", "home_pending", "left")}
        locked.final_figures = totals | {"by_grid": by_grid, "nodes_kept": True}
        locked.save(update_fields=["status", "closed_at", "final_figures"])
        audit_record(
            actor=actor, action="testing.round_close", obj=locked, now=now, extra=totals | {"households": households}
        )
    return locked


def _keep_figures(rnd: Round) -> int:
    """One INSERT ... SELECT of the round's live coverage grouped per household (per person path),
    whatever the size of the population; returns the number of rows kept."""
    from testing.selectors.coverage import coverage_query

    select, params = coverage_query(rnd, rnd.area_path, prefix_len=None)
    table = RoundFigure._meta.db_table
    sql = f"""
        INSERT INTO {table} (round_id, path, total, covered, exempted, home_pending)
        SELECT %s, q.node, q.total, q.covered, q.exempted, q.home_pending FROM ({select}) q
    """  # noqa: S608 (the table name comes from model metadata; every value is a parameter)
    with connection.cursor() as cur:
        cur.execute(sql, [rnd.pk, *params])
        return int(cur.rowcount)


def round_deadline_set(*, actor: Actor, rnd: Round, deadline_at: dt.datetime, reason: str, now: dt.datetime) -> Round:
    """Give an open round a new deadline (usually later: the sites need more time), with the reason.

    Only command HQ over the round's territory may (DESIGN §1: rounds are HQ's business); a closed
    round keeps its deadline. The change is kept (``RoundDeadlineChange``, listed on the round page)
    and audited; the overdue reminders start again from the new deadline, so a round extended into
    the future is no longer overdue and its HQ gets no more reminders until the new deadline passes."""
    if actor.user is not None and not scope_for(actor.user, Cap.TESTING_MANAGE).contains(rnd.area_path):
        raise Forbidden("not_round_manager", _("Only command HQ over this round's territory can change its deadline."))
    reason = " ".join((reason or "").split())
    if not reason:
        raise DomainError("reason_required", _("Say why the deadline changes."), field="reason")
    if timezone.is_naive(deadline_at):
        raise ValueError("aware datetimes only")
    with transaction.atomic():
        locked = Round.objects.select_for_update().get(pk=rnd.pk)
        if locked.status == RoundStatus.CLOSED:
            raise Conflict("round_closed", _("This round is closed; its deadline no longer changes."))
        if deadline_at <= locked.starts_at:
            raise DomainError("deadline_invalid", _("The deadline must be after the start."), field="deadline_at")
        if deadline_at == locked.deadline_at:
            raise DomainError("deadline_unchanged", _("This is already the round's deadline."), field="deadline_at")
        old = locked.deadline_at
        change = RoundDeadlineChange.objects.create(
            round=locked,
            old_deadline_at=old,
            new_deadline_at=deadline_at,
            reason=reason[:300],
            changed_by=actor.user,
            changed_at=now,
        )
        locked.deadline_at = deadline_at
        locked.overdue_reminded_at = None
        locked.overdue_reminder_count = 0
        locked.save(update_fields=["deadline_at", "overdue_reminded_at", "overdue_reminder_count"])
        audit_record(
            actor=actor,
            action="testing.round_deadline",
            obj=locked,
            reason=reason[:300],
            now=now,
            extra={
                "old_deadline_at": old.isoformat(),
                "new_deadline_at": deadline_at.isoformat(),
                "change": change.pk,
                "was_overdue": old <= now,
                "overdue": deadline_at <= now,
            },
        )
    return locked


def overdue_remind_interval() -> dt.timedelta:
    """How often command HQ is reminded of a round past its deadline (policy, in hours)."""
    return dt.timedelta(hours=float(settings.FANGYI.get("TESTING_OVERDUE_REMIND_HOURS", 2)))


def rounds_overdue_remind(*, now: dt.datetime) -> list[tuple[Round, int | None]]:
    """Every open round past its deadline, each with the number of command HQ accounts texted a
    reminder now (None: reminded less than the policy interval ago).

    Rounds are not closed by the clock. The deadline is a target (DESIGN §3.4: a round *should* finish
    within 24 h), and closing is command HQ's decision and cannot be undone: it refuses every sample
    after it, including those a site's offline queue or a home team still holds, and keeps the figures
    as they are at that moment. So a round past its deadline is flagged on every page and its HQ is
    reminded at once, then again every ``TESTING_OVERDUE_REMIND_HOURS`` until it closes the round or
    sets a new deadline. A reminder is claimed by one conditional UPDATE (still open, still past its
    deadline, not reminded within the interval): when several nodes run this at once, exactly one
    claims each reminder and the others see the new ``overdue_reminded_at``, so nobody is texted twice
    in an interval. Each reminder is audited as the system."""
    from testing.selectors import round_managers

    interval = overdue_remind_interval()
    due = Q(overdue_reminded_at__isnull=True) | Q(overdue_reminded_at__lte=now - interval)
    overdue = Round.objects.filter(status=RoundStatus.OPEN, deadline_at__lte=now).select_related("area")
    out: list[tuple[Round, int | None]] = []
    for rnd in overdue.order_by("deadline_at", "pk"):
        with transaction.atomic():
            claimed = Round.objects.filter(due, pk=rnd.pk, status=RoundStatus.OPEN, deadline_at__lte=now).update(
                overdue_reminded_at=now, overdue_reminder_count=F("overdue_reminder_count") + 1
            )
            if not claimed:
                out.append((rnd, None))
                continue
            rnd.refresh_from_db(fields=["overdue_reminded_at", "overdue_reminder_count", "deadline_at"])
            overdue_for = now - rnd.deadline_at
            body = str(
                _(
                    "Fangyi: testing round %(round)s (%(area)s) passed its deadline %(deadline)s "
                    "%(hours)s h ago and is still open (reminder %(n)s). Close it on its page once every "
                    "site and home team has sent what it sampled, or set a new deadline."
                )
                % {
                    "round": rnd.name,
                    "area": rnd.area.name,
                    "deadline": timezone.localtime(rnd.deadline_at).strftime("%m-%d %H:%M"),
                    "hours": f"{overdue_for.total_seconds() / 3600:.1f}",
                    "n": rnd.overdue_reminder_count,
                }
            )
            reminded = [u for u in round_managers(rnd) if u.phone]
            for user in reminded:
                sms_send(phone=str(user.phone), body=body, now=now)
            audit_record(
                actor=Actor.system(),
                action="testing.round_overdue",
                obj=rnd,
                now=now,
                row_count=len(reminded),
                extra={
                    "deadline_at": rnd.deadline_at.isoformat(),
                    "overdue_minutes": int(overdue_for.total_seconds() // 60),
                    "reminder": rnd.overdue_reminder_count,
                    "reminded": [u.pk for u in reminded],
                },
            )
        out.append((rnd, len(reminded)))
    return out


def site_create(
    *,
    actor: Actor,
    rnd: Round,
    name: str,
    location: str,
    grid: Area,
    hours: str = "",
    laboratory: Laboratory | None = None,
    now: dt.datetime,
) -> Site:
    if not grid.path.startswith(rnd.area_path):
        raise DomainError("site_outside_round", _("The site must lie in the round's territory."), field="grid")
    name = " ".join((name or "").split())
    if not name:
        raise DomainError("name_required", _("Give the site a name."), field="name")
    try:
        with transaction.atomic():
            site = Site.objects.create(
                round=rnd,
                name=name,
                location=location.strip(),
                area=grid,
                area_path=grid.path,
                hours=hours.strip(),
                laboratory=laboratory,
                created_at=now,
            )
            audit_record(actor=actor, action="testing.site_create", obj=site, now=now)
    except IntegrityError:
        raise Conflict("site_exists", _("This round already has a site with this name."), field="name") from None
    return site


def site_staff_add(*, actor: Actor, site: Site, user: Any, now: dt.datetime) -> SiteStaff:
    """Assign a sampler to a site: the station then offers them this site and its tubes."""
    from testing.selectors import may_staff_site

    if not may_staff_site(user, site):
        raise DomainError("not_a_sampler", _("Only a sampler of this site's territory can staff it."), field="user")
    with transaction.atomic():
        staff, created = SiteStaff.objects.get_or_create(site=site, user=user)
        if created:
            audit_record(actor=actor, action="testing.site_staff_add", obj=staff, now=now, extra={"user": user.pk})
    return staff


def site_staff_remove(*, actor: Actor, site: Site, user: Any, now: dt.datetime) -> None:
    """Take a sampler off a site; their tubes and samples stay as they were recorded."""
    with transaction.atomic():
        deleted, _by_model = SiteStaff.objects.filter(site=site, user=user).delete()
        if deleted:
            audit_record(
                actor=actor,
                action="testing.site_staff_remove",
                object_type="testing.site",
                object_id=site.pk,
                now=now,
                extra={"user": user.pk},
            )


def laboratory_create(*, actor: Actor, name: str, now: dt.datetime) -> Laboratory:
    with transaction.atomic():
        lab, created = Laboratory.objects.get_or_create(name=name.strip())
        if created:
            audit_record(actor=actor, action="testing.laboratory_create", obj=lab, now=now)
    return lab


def laboratory_member_add(*, actor: Actor, laboratory: Laboratory, user: Any, now: dt.datetime) -> LaboratoryMember:
    with transaction.atomic():
        link, _created = LaboratoryMember.objects.update_or_create(user=user, defaults={"laboratory": laboratory})
        audit_record(actor=actor, action="testing.laboratory_member_add", obj=link, now=now)
    return link
