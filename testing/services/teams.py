"""Home-sampling teams reorganised by their admins: visits moved to another team, visits no team covers
given to one, teams disbanded."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from audit.services import Actor, audit_record
from common.errors import Conflict, DomainError
from testing.models import HomeSamplingRequest, HomeStatus, HomeTeam, HomeTeamMember, Round


def home_requests_move(
    *, actor: Actor, team: HomeTeam, request_ids: list[int], to_team: HomeTeam, now: dt.datetime
) -> int:
    """Give visits still to make of ``team`` to ``to_team``, a team of the same round whose area holds
    each home: a team's members are the grid's own people and see the names on its list, so a home
    never goes to a team of another area. Visits already closed stay with the team that made them."""
    ids = sorted(set(request_ids))
    if not ids:
        raise DomainError("nothing_chosen", _("Choose the visits to move."), field="requests")
    if to_team.pk == team.pk or to_team.round_id != team.round_id:
        raise DomainError("team_invalid", _("Choose another team of this round."), field="to_team")
    with transaction.atomic():
        reqs = list(
            HomeSamplingRequest.objects.select_for_update()
            .filter(pk__in=ids, team=team, status=HomeStatus.PENDING)
            .order_by("pk")
        )
        if len(reqs) != len(ids):
            raise Conflict(
                "visits_changed",
                _("Some of these visits were closed or moved meanwhile; nothing was moved. Look at the list again."),
            )
        _hand_over(
            actor=actor,
            reqs=reqs,
            team=to_team,
            field="to_team",
            outside_message=lambda n: ngettext(
                "%(n)s of these homes lies outside the area of %(team)s; nothing was moved.",
                "%(n)s of these homes lie outside the area of %(team)s; nothing was moved.",
                n,
            ),
            action="testing.home_request_move",
            extra={"from_team": team.pk},
            now=now,
        )
    return len(ids)


def _hand_over(
    *,
    actor: Actor,
    reqs: list[HomeSamplingRequest],
    team: HomeTeam,
    field: str,
    outside_message: Callable[[int], str],
    action: str,
    extra: dict[str, Any],
    now: dt.datetime,
) -> None:
    """Give the locked visits to ``team`` and audit it; refused as a whole when a home lies outside
    the team's area (its members are that area's staff, the only ones who may see the names)."""
    outside = [r for r in reqs if not r.area_path.startswith(team.area_path)]
    if outside:
        raise DomainError(
            "outside_team_area",
            outside_message(len(outside)) % {"n": len(outside), "team": team.name},
            field=field,
        )
    ids = [r.pk for r in reqs]
    HomeSamplingRequest.objects.filter(pk__in=ids).update(team=team)
    audit_record(actor=actor, action=action, obj=team, row_count=len(ids), now=now, extra={**extra, "requests": ids})


def home_team_delete(*, actor: Actor, team: HomeTeam, now: dt.datetime) -> None:
    """Disband a team. Refused while it has visits to make (they would be left with no team, and no
    one would go): move them to another team first. Its members leave it; its closed visits keep who
    closed them and when, and lose the team, whose name, area and members the audit row keeps."""
    with transaction.atomic():
        locked = HomeTeam.objects.select_for_update().get(pk=team.pk)
        pending = HomeSamplingRequest.objects.filter(team=locked, status=HomeStatus.PENDING).count()
        if pending:
            raise Conflict(
                "team_has_visits",
                ngettext(
                    "This team still has %(n)s visit to make: move it to another team first.",
                    "This team still has %(n)s visits to make: move them to another team first.",
                    pending,
                )
                % {"n": pending},
            )
        audit_record(
            actor=actor,
            action="testing.home_team_delete",
            obj=locked,
            now=now,
            extra={
                "name": locked.name,
                "round": locked.round_id,
                "area": locked.area_id,
                "members": sorted(HomeTeamMember.objects.filter(team=locked).values_list("user_id", flat=True)),
                "closed_visits": HomeSamplingRequest.objects.filter(team=locked).count(),
            },
        )
        locked.delete()


def home_requests_assign(*, actor: Actor, rnd: Round, request_ids: list[int], team: HomeTeam, now: dt.datetime) -> int:
    """Give visits no team covers to ``team``, a team of the round whose area holds each home (its
    members are that area's own staff and see the names on its list). Refused as a whole when one of
    them was closed or given to a team meanwhile, or lies outside the team's area."""
    ids = sorted(set(request_ids))
    if not ids:
        raise DomainError("nothing_chosen", _("Choose the visits to assign."), field="requests")
    if team.round_id != rnd.pk:
        raise DomainError("team_invalid", _("Choose a team of this round."), field="team")
    if not rnd.is_open:
        raise Conflict("round_closed", _("This round is closed."))
    with transaction.atomic():
        reqs = list(
            HomeSamplingRequest.objects.select_for_update()
            .filter(pk__in=ids, round=rnd, team__isnull=True, status=HomeStatus.PENDING)
            .order_by("pk")
        )
        if len(reqs) != len(ids):
            raise Conflict(
                "visits_changed",
                _(
                    "Some of these visits were closed or assigned meanwhile; nothing was assigned. "
                    "Look at the list again."
                ),
            )
        _hand_over(
            actor=actor,
            reqs=reqs,
            team=team,
            field="team",
            outside_message=lambda n: ngettext(
                "%(n)s of these homes lies outside the area of %(team)s; nothing was assigned.",
                "%(n)s of these homes lie outside the area of %(team)s; nothing was assigned.",
                n,
            ),
            action="testing.home_request_assign",
            extra={"round": rnd.pk},
            now=now,
        )
    return len(ids)
