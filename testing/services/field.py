"""Field work of a round: pre-registration, home sampling, exemptions and the call list."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from audit.services import Actor, audit_record
from common.errors import Conflict, DomainError
from people import selectors as people_selectors
from territory.models import Area
from testing.models import (
    CallLog,
    CallOutcome,
    Exemption,
    ExemptionReason,
    HomeReason,
    HomeSamplingRequest,
    HomeStatus,
    HomeTeam,
    HomeTeamMember,
    PreRegistration,
    Round,
    Tube,
    TubeStatus,
)
from testing.selectors import home_tube_is_teams, may_join_team


def _require_open(rnd: Round) -> None:
    if not rnd.is_open:
        raise Conflict("round_closed", _("This round is closed."))


def preregistration_create(
    *, actor: Actor, rnd: Round, person: Any, green_channel: bool = True, note: str = "", now: dt.datetime
) -> PreRegistration:
    _require_open(rnd)
    try:
        with transaction.atomic():
            reg = PreRegistration.objects.create(
                round=rnd,
                person=person,
                area_path=person.area_path,
                needs_green_channel=green_channel,
                note=note.strip()[:200],
                registered_by=actor.user,
                created_at=now,
            )
            audit_record(actor=actor, action="testing.preregister", obj=reg, now=now)
    except IntegrityError:
        raise Conflict("already_preregistered", _("This person is already pre-registered for this round.")) from None
    return reg


def _team_for(rnd: Round, area_path: str) -> HomeTeam | None:
    # The team of the deepest territory holding the person's home.
    teams = [t for t in HomeTeam.objects.filter(round=rnd) if area_path.startswith(t.area_path)]
    return max(teams, key=lambda t: len(t.area_path), default=None)


def home_team_create(
    *, actor: Actor, rnd: Round, name: str, area: Area, members: list[Any], now: dt.datetime
) -> HomeTeam:
    """A home-sampling team for ``area`` (idempotent by name and area; a name a team of the round uses
    for another area is refused, a disbanded team's name is free again). Visits still to make in the
    area that no team holds yet go to it (visits a disbanded team closed stay without a team); later
    requests go to the team of the deepest area holding the home."""
    name = " ".join((name or "").split())
    if not name:
        raise DomainError("name_required", _("Give the team a name."), field="name")
    if not area.path.startswith(rnd.area_path):
        raise DomainError("team_outside_round", _("The team must work in the round's territory."), field="area")
    with transaction.atomic():
        team, created = HomeTeam.objects.get_or_create(
            round=rnd, name=name, defaults={"area": area, "area_path": area.path}
        )
        if team.area_id != area.pk:
            raise Conflict(
                "team_exists",
                _("A team of this round already has this name (it works in %(area)s); choose another name.")
                % {"area": team.area.name},
                field="name",
            )
        for user in members:
            if not may_join_team(user, team):
                raise DomainError("not_eligible", _("%(user)s cannot join a team of this area.") % {"user": user})
            HomeTeamMember.objects.get_or_create(team=team, user=user)
        taken = HomeSamplingRequest.objects.filter(
            round=rnd, team__isnull=True, status=HomeStatus.PENDING, area_path__startswith=area.path
        ).update(team=team)
        if created:
            audit_record(
                actor=actor,
                action="testing.home_team_create",
                obj=team,
                now=now,
                extra={"area": area.pk, "name": name, "uncovered_taken": taken},
            )
    return team


def home_team_member_add(*, actor: Actor, team: HomeTeam, user: Any, now: dt.datetime) -> HomeTeamMember:
    """Add a sampler or a grid worker of the team's area to the team: they then see its home visits."""
    if not may_join_team(user, team):
        raise DomainError(
            "not_eligible", _("Only samplers and grid staff of the team's area can join it."), field="user"
        )
    with transaction.atomic():
        link, created = HomeTeamMember.objects.get_or_create(team=team, user=user)
        if created:
            audit_record(actor=actor, action="testing.home_team_member_add", obj=team, now=now, extra={"user": user.pk})
    return link


def home_team_member_remove(*, actor: Actor, team: HomeTeam, user: Any, now: dt.datetime) -> None:
    with transaction.atomic():
        deleted, _by_model = HomeTeamMember.objects.filter(team=team, user=user).delete()
        if deleted:
            audit_record(
                actor=actor, action="testing.home_team_member_remove", obj=team, now=now, extra={"user": user.pk}
            )


def home_request_create(
    *, actor: Actor, rnd: Round, person: Any, reason: str, note: str = "", now: dt.datetime
) -> HomeSamplingRequest:
    _require_open(rnd)
    if reason not in HomeReason.values:
        raise DomainError("reason_invalid", _("Choose why the person is sampled at home."), field="reason")
    if reason == HomeReason.MOBILITY and not person.is_mobility_impaired:
        raise DomainError(
            "not_flagged",
            _("This person is not flagged as having limited mobility; record a resident's request instead."),
            field="reason",
        )
    try:
        with transaction.atomic():
            req = HomeSamplingRequest.objects.create(
                round=rnd,
                person=person,
                area_path=person.area_path,
                reason=reason,
                team=_team_for(rnd, person.area_path),
                requested_by=actor.user,
                created_at=now,
                note=note.strip()[:200],
            )
            audit_record(actor=actor, action="testing.home_request", obj=req, now=now)
    except IntegrityError:
        raise Conflict("already_requested", _("Home sampling is already requested for this person.")) from None
    return req


def home_requests_for_flagged(*, actor: Actor, rnd: Round, area: Area, now: dt.datetime) -> int:
    """Raise a request for every person flagged 行动不便 in ``area`` who has none yet."""
    _require_open(rnd)
    people = people_selectors.population_within(area.path).filter(is_mobility_impaired=True)
    have = set(
        HomeSamplingRequest.objects.filter(round=rnd, area_path__startswith=area.path).values_list(
            "person_id", flat=True
        )
    )
    teams = list(HomeTeam.objects.filter(round=rnd))
    new = []
    for p in people.only("id", "area_path"):
        if p.pk in have:
            continue
        fit = [t for t in teams if p.area_path.startswith(t.area_path)]
        new.append(
            HomeSamplingRequest(
                round=rnd,
                person_id=p.pk,
                area_path=p.area_path,
                reason=HomeReason.MOBILITY,
                team=max(fit, key=lambda t: len(t.area_path), default=None),
                requested_by=actor.user,
                created_at=now,
            )
        )
    with transaction.atomic():
        HomeSamplingRequest.objects.bulk_create(new, ignore_conflicts=True)
        audit_record(
            actor=actor,
            action="testing.home_request_flagged",
            object_type="testing.round",
            object_id=rnd.pk,
            row_count=len(new),
            now=now,
            extra={"area": area.pk},
        )
    return len(new)


def home_request_close(
    *, actor: Actor, request: HomeSamplingRequest, outcome: str, barcode: str = "", note: str = "", now: dt.datetime
) -> HomeSamplingRequest:
    """Close a home visit. Sampled needs the tube barcode: the team's open home tube, opened on first use."""
    from testing.services.station import sample_register, tube_open_home

    if outcome not in (HomeStatus.SAMPLED, HomeStatus.REFUSED, HomeStatus.ABSENT):
        raise DomainError("outcome_invalid", _("Choose sampled, refused or absent."), field="outcome")
    with transaction.atomic():
        locked = (
            HomeSamplingRequest.objects.select_for_update(of=("self",))
            .select_related("round", "person")
            .get(pk=request.pk)
        )
        if locked.status != HomeStatus.PENDING:
            raise Conflict("home_closed", _("This home visit is already closed."))
        if outcome == HomeStatus.SAMPLED:
            if not barcode:
                raise DomainError("barcode_required", _("Scan the tube the sample went into."), field="barcode")
            tube = Tube.objects.filter(barcode=barcode.strip()).first()
            if tube is None:
                tube = tube_open_home(actor=actor, rnd=locked.round, barcode=barcode, now=now)
            elif not (
                tube.is_home_sampling
                and tube.round_id == locked.round_id
                and tube.status == TubeStatus.OPEN
                and home_tube_is_teams(actor.user, tube)
            ):
                raise Conflict(
                    "tube_used", _("This tube barcode has been used already. Take a new tube."), field="barcode"
                )
            sample_register(actor=actor, tube=tube, person=locked.person, now=now)
            locked.tube = tube
        locked.status = outcome
        locked.closed_by = actor.user
        locked.closed_at = now
        locked.note = (note.strip() or locked.note)[:200]
        locked.save(update_fields=["status", "closed_by", "closed_at", "note", "tube"])
        audit_record(actor=actor, action="testing.home_close", obj=locked, now=now, extra={"outcome": outcome})
    return locked


def exemption_create(
    *, actor: Actor, rnd: Round, person: Any, reason: str, proof: str = "", now: dt.datetime
) -> Exemption:
    _require_open(rnd)
    proof = " ".join((proof or "").split())
    if reason not in ExemptionReason.values:
        raise DomainError("reason_invalid", _("Choose a reason for the exemption."), field="reason")
    if reason == ExemptionReason.ELSEWHERE and not proof:
        raise DomainError(
            "proof_required", _("Testing elsewhere needs proof (report number or place and time)."), field="proof"
        )
    with transaction.atomic():
        ex, _created = Exemption.objects.update_or_create(
            round=rnd,
            person=person,
            defaults={
                "area_path": person.area_path,
                "reason": reason,
                "proof": proof[:200],
                "created_by": actor.user,
                "created_at": now,
            },
        )
        audit_record(actor=actor, action="testing.exempt", obj=ex, now=now, extra={"reason": reason})
    return ex


def call_record(
    *, actor: Actor, rnd: Round, household: Area, outcome: str, note: str = "", now: dt.datetime
) -> CallLog:
    # "Has everybody done this round's test?" is asked while the round runs; once closed, its figures
    # are kept and a call would change nothing.
    _require_open(rnd)
    if outcome not in CallOutcome.values:
        raise DomainError("outcome_invalid", _("Choose the outcome of the call."), field="outcome")
    with transaction.atomic():
        call = CallLog.objects.create(
            round=rnd,
            household=household,
            area_path=household.path,
            outcome=outcome,
            note=note.strip()[:300],
            called_by=actor.user,
            called_at=now,
        )
        audit_record(actor=actor, action="testing.call", obj=call, now=now, extra={"outcome": outcome})
    return call
