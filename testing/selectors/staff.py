"""Who works at a site or in a home-sampling team, who may be assigned, and which sites and teams an
admin manages (the TESTING_SITES scope: community and subdistrict admins, command HQ)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from accounts.models import Membership, User
from accounts.roles import CAPABILITIES, Cap
from accounts.selectors import scope_for
from people import selectors as people_selectors
from territory.models import SEGMENT_WIDTH, Area, AreaKind
from territory.selectors import labels_for_paths, subtree_q
from testing.models import HomeSamplingRequest, HomeStatus, HomeTeam, HomeTeamMember, Round, RoundStatus, Site

# Site staff are samplers. A home-sampling team takes samplers and the grid's own people (grid leaders
# and workers, building leaders, dispatched cadres), not the admins who set the team up.
SITE_STAFF_ROLES = tuple(r for r, caps in CAPABILITIES.items() if Cap.TESTING_SAMPLE in caps)
TEAM_ROLES = SITE_STAFF_ROLES + tuple(
    r for r, caps in CAPABILITIES.items() if Cap.TESTING_FIELD in caps and Cap.TESTING_SITES not in caps
)
TEAM_AREA_KINDS = (AreaKind.COMMUNITY, AreaKind.GRID1, AreaKind.GRID2, AreaKind.ESTATE, AreaKind.BUILDING)
MANAGE_ROLES = tuple(r for r, caps in CAPABILITIES.items() if Cap.TESTING_MANAGE in caps)


def _overlapping(path: str, roles: tuple[str, ...]) -> QuerySet[User]:
    """Active users holding one of ``roles`` on ``path``, above it or inside it."""
    above = [path[:i] for i in range(SEGMENT_WIDTH, len(path) + 1, SEGMENT_WIDTH)]
    members = Membership.objects.filter(Q(area__path__in=above) | subtree_q(path, "area__path"), role__in=roles)
    return User.objects.filter(pk__in=members.values("user_id"), is_active=True)


def site_staff_candidates(site: Site) -> QuerySet[User]:
    return _overlapping(site.area_path, SITE_STAFF_ROLES).order_by("display_name", "username")


def team_member_candidates(team: HomeTeam) -> QuerySet[User]:
    return _overlapping(team.area_path, TEAM_ROLES).order_by("display_name", "username")


def may_staff_site(user: Any, site: Site) -> bool:
    return site_staff_candidates(site).filter(pk=user.pk).exists()


def may_join_team(user: Any, team: HomeTeam) -> bool:
    return team_member_candidates(team).filter(pk=user.pk).exists()


def site_staff_of(site: Site) -> list[User]:
    return list(User.objects.filter(pk__in=site.staff.values("user_id")).order_by("display_name", "username"))


def get_site_for_manager(user: Any, pk: int) -> Site:
    """A site in the user's TESTING_SITES scope; 404 otherwise."""
    site = Site.objects.select_related("round", "area").filter(pk=pk).first()
    if site is None or not scope_for(user, Cap.TESTING_SITES).contains(site.area_path):
        raise Http404
    return site


def get_team_for_manager(user: Any, pk: int) -> HomeTeam:
    team = HomeTeam.objects.select_related("round", "area").filter(pk=pk).first()
    if team is None or not scope_for(user, Cap.TESTING_SITES).contains(team.area_path):
        raise Http404
    return team


@dataclass
class TeamRow:
    team: HomeTeam
    members: list[User]
    pending: int
    closed: int


def teams_for_manager(user: Any, rnd: Round) -> list[TeamRow]:
    """The round's home-sampling teams inside the user's scope, with members and request counts (three
    queries whatever the number of teams)."""
    scope = scope_for(user, Cap.TESTING_SITES)
    teams = list(HomeTeam.objects.filter(scope.q("area_path"), round=rnd).select_related("area").order_by("name"))
    ids = [t.pk for t in teams]
    members: dict[int, list[User]] = {t.pk: [] for t in teams}
    for link in HomeTeamMember.objects.filter(team_id__in=ids).select_related("user").order_by("user__username"):
        members[link.team_id].append(link.user)
    grouped = HomeSamplingRequest.objects.filter(team_id__in=ids).values("team_id", "status").annotate(n=Count("id"))
    counts = {(row["team_id"], row["status"]): row["n"] for row in grouped}
    return [
        TeamRow(
            t,
            members[t.pk],
            counts.get((t.pk, HomeStatus.PENDING), 0),
            sum(n for (tid, status), n in counts.items() if tid == t.pk and status != HomeStatus.PENDING),
        )
        for t in teams
    ]


def team_areas_for_manager(user: Any, rnd: Round) -> list[Area]:
    """Where a team may be set up: communities, grids, estates and buildings of the round in the scope."""
    scope = scope_for(user, Cap.TESTING_SITES)
    return list(
        Area.objects.filter(scope.q("path"), subtree_q(rnd.area_path, "path"), kind__in=TEAM_AREA_KINDS).order_by(
            "path"
        )[:500]
    )


def teams_of(user: Any) -> QuerySet[HomeTeam]:
    """The home-sampling teams of open rounds the user belongs to (their way to the home-visit list)."""
    return (
        HomeTeam.objects.filter(members__user_id=user.pk, round__status=RoundStatus.OPEN)
        .select_related("round", "area")
        .order_by("round__starts_at", "name")
    )


def round_managers(rnd: Round) -> QuerySet[User]:
    """Active users who may close the round: command HQ on its territory or above it."""
    above = [rnd.area_path[:i] for i in range(SEGMENT_WIDTH, len(rnd.area_path) + 1, SEGMENT_WIDTH)]
    members = Membership.objects.filter(area__path__in=above, role__in=MANAGE_ROLES)
    return User.objects.filter(pk__in=members.values("user_id"), is_active=True).order_by("username")


def team_pending_visits(team: HomeTeam) -> list[dict[str, Any]]:
    """The visits a team still has to make, with masked names and addresses, by address."""
    reqs = list(HomeSamplingRequest.objects.filter(team=team, status=HomeStatus.PENDING).order_by("area_path", "pk"))
    people = people_selectors.people_by_ids([r.person_id for r in reqs])
    labels = labels_for_paths(r.area_path for r in reqs)
    return [{"request": r, "person": people.get(r.person_id), "address": labels.get(r.area_path, "")} for r in reqs]


def move_targets(user: Any, team: HomeTeam) -> list[HomeTeam]:
    """The other teams of the team's round that the user manages: where its visits may go."""
    scope = scope_for(user, Cap.TESTING_SITES)
    return list(
        HomeTeam.objects.filter(scope.q("area_path"), round_id=team.round_id)
        .exclude(pk=team.pk)
        .select_related("area")
        .order_by("name")
    )


def _uncovered(user: Any, rnd: Round) -> QuerySet[HomeSamplingRequest]:
    scope = scope_for(user, Cap.TESTING_SITES)
    return HomeSamplingRequest.objects.filter(
        scope.q("area_path"), round=rnd, team__isnull=True, status=HomeStatus.PENDING
    )


def uncovered_home_count(user: Any, rnd: Round) -> int:
    """Home visits to make in the user's part of the round that no team covers."""
    return _uncovered(user, rnd).count()


def uncovered_home_requests(user: Any, rnd: Round, *, limit: int = 500) -> list[dict[str, Any]]:
    """Home visits to make that no team covers (no team of the round works where the home is), in the
    admin's part of the round, by address, with masked names and the teams the admin manages that could
    take each one (those whose area holds the home). Four queries whatever the number."""
    reqs = list(_uncovered(user, rnd).order_by("area_path", "pk")[:limit])
    people = people_selectors.people_by_ids([r.person_id for r in reqs])
    labels = labels_for_paths(r.area_path for r in reqs)
    scope = scope_for(user, Cap.TESTING_SITES)
    teams = list(HomeTeam.objects.filter(scope.q("area_path"), round=rnd).select_related("area").order_by("name"))
    return [
        {
            "request": r,
            "person": people.get(r.person_id),
            "address": labels.get(r.area_path, ""),
            "teams": [t for t in teams if r.area_path.startswith(t.area_path)],
        }
        for r in reqs
    ]


def require_requests_for_manager(user: Any, rnd: Round, ids: list[int]) -> None:
    """404 unless every one of the home visits lies in the admin's part of the round (whatever its state:
    one closed or given to a team meanwhile is the service's refusal, with its reason)."""
    scope = scope_for(user, Cap.TESTING_SITES)
    wanted = set(ids)
    if len(wanted) != HomeSamplingRequest.objects.filter(scope.q("area_path"), pk__in=wanted, round=rnd).count():
        raise Http404
