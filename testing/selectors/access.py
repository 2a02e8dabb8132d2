"""Who may see which round, site, tube and laboratory: every lookup answers 404 outside the scope."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from accounts.roles import Cap
from accounts.selectors import scope_for
from territory.models import SEGMENT_WIDTH, Area
from testing.models import (
    HomeTeamMember,
    LaboratoryMember,
    Round,
    RoundStatus,
    Site,
    SiteStaff,
    Tube,
)


def rounds_for_user(user: Any) -> QuerySet[Round]:
    """Rounds whose territory overlaps the user's testing scope (above or below it)."""
    scope = scope_for(user, Cap.TESTING_VIEW)
    q = Q(pk__in=[])
    for path in scope.paths:
        ancestors = [path[:i] for i in range(SEGMENT_WIDTH, len(path) + 1, SEGMENT_WIDTH)]
        q |= Q(area_path__in=ancestors) | Q(area_path__startswith=path)
    return Round.objects.filter(q).select_related("area").order_by("-starts_at")


def get_round_for_user(user: Any, pk: int, *, cap: Cap = Cap.TESTING_VIEW) -> Round:
    rnd = Round.objects.select_related("area", "laboratory").filter(pk=pk).first()
    if rnd is None:
        raise Http404
    scope = scope_for(user, cap)
    if not any(rnd.area_path.startswith(p) or p.startswith(rnd.area_path) for p in scope.paths):
        raise Http404
    return rnd


def view_root(user: Any, rnd: Round, *, cap: Cap = Cap.TESTING_VIEW) -> str:
    """The node of the round a user sees first: the round's territory, or their own part of it."""
    scope = scope_for(user, cap)
    if scope.contains(rnd.area_path):
        return rnd.area_path
    inside = [p for p in scope.paths if p.startswith(rnd.area_path)]
    if not inside:
        raise Http404
    return inside[0]


def get_area_in_round_for_user(user: Any, rnd: Round, area_id: int, *, cap: Cap = Cap.TESTING_VIEW) -> Area:
    area = Area.objects.filter(pk=area_id).first()
    if area is None or not area.path.startswith(rnd.area_path) or not scope_for(user, cap).contains(area.path):
        raise Http404
    return area


def get_site_for_viewer(user: Any, pk: int) -> Site:
    """A site inside the user's TESTING_VIEW scope (its ledger); 404 otherwise."""
    site = Site.objects.select_related("round").filter(pk=pk).first()
    if site is None or not scope_for(user, Cap.TESTING_VIEW).contains(site.area_path):
        raise Http404
    return site


def sites_for_sampler(user: Any) -> QuerySet[Site]:
    """The sites of open rounds the user staffs. A sampler works at their own site (DESIGN §1), not at
    every site of their territory; a community admin or HQ assigns them (``site_staff_add``)."""
    if scope_for(user, Cap.TESTING_SAMPLE).is_empty:
        return Site.objects.none()
    return (
        Site.objects.filter(staff__user_id=user.pk, round__status=RoundStatus.OPEN)
        .select_related("round")
        .order_by("name")
    )


def get_site_for_sampler(user: Any, pk: int) -> Site:
    """A site the user staffs, of any round: a closed or scheduled round answers with its own code."""
    site = None
    if not scope_for(user, Cap.TESTING_SAMPLE).is_empty:
        site = Site.objects.select_related("round").filter(pk=pk, staff__user_id=user.pk).first()
    if site is None:
        raise Http404
    return site


def get_tube_for_sampler(user: Any, barcode: str, *, lock: bool = False) -> Tube:
    """A tube of a site the user staffs, or of a home team they belong to; 404 otherwise.

    With ``lock``, the tube row is locked for the rest of the caller's transaction (the station adds to
    it next), and lookup, access check and lock are one statement: the sampler's staffing of the tube's
    site is read as a subquery beside the row."""
    qs = Tube.objects.select_related("round", "site").filter(barcode=(barcode or "").strip())
    if lock:
        qs = qs.select_for_update(of=("self",))
    staffed = SiteStaff.objects.filter(site_id=OuterRef("site_id"), user_id=user.pk)
    tube = qs.annotate(is_staffed=Exists(staffed)).order_by().first()
    if tube is None:
        raise Http404
    if tube.site_id is not None:
        if not tube.is_staffed or scope_for(user, Cap.TESTING_SAMPLE).is_empty:
            raise Http404
    elif not home_tube_is_teams(user, tube):
        raise Http404
    return tube


def home_tube_is_teams(user: Any, tube: Tube) -> bool:
    """A home tube belongs to the sampler who opened it and their team, not to every team of the round."""
    if tube.opened_by_id is None or tube.opened_by_id == user.pk:
        return tube.opened_by_id == user.pk
    return HomeTeamMember.objects.filter(
        user=user, team__round_id=tube.round_id, team__members__user_id=tube.opened_by_id
    ).exists()


def laboratory_of(user: Any) -> Any:
    """The laboratory of a laboratory account; 404 for anybody else."""
    if scope_for(user, Cap.TESTING_LAB).is_empty:
        raise Http404
    link = LaboratoryMember.objects.select_related("laboratory").filter(user=user).first()
    if link is None:
        raise Http404
    return link.laboratory

