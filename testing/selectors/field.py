"""Field lists: recheck tasks with grid leaders, home-sampling lists by building and floor, pre-registrations."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Q

from accounts.roles import Cap
from accounts.selectors import scope_for
from people import selectors as people_selectors
from territory.models import SEGMENT_WIDTH, Area, AreaKind
from territory.selectors import labels_for_paths
from testing.models import (
    HomeSamplingRequest,
    HomeTeamMember,
    RecheckStatus,
    RecheckTask,
    Round,
)


def recheck_tasks_for_user(user: Any, *, open_only: bool = True) -> list[dict[str, Any]]:
    scope = scope_for(user, Cap.TESTING_FIELD)
    qs = RecheckTask.objects.filter(scope.q("area_path")).select_related("tube", "round")
    if open_only:
        qs = qs.filter(status=RecheckStatus.OPEN)
    tasks = list(qs.order_by("area_path")[:500])
    people = people_selectors.people_by_ids([t.person_id for t in tasks])
    labels = labels_for_paths(t.area_path for t in tasks)
    leaders = grid_leaders_for_paths([t.area_path for t in tasks])
    return [
        {
            "task": t,
            "person": people.get(t.person_id),
            "address": labels.get(t.area_path, ""),
            "leader": leaders.get(t.area_path, ""),
        }
        for t in tasks
    ]


def grid_leaders_for_paths(paths: list[str]) -> dict[str, str]:
    """The grid leader (网格长) over each path: the member with that role on the deepest grid above it."""
    from accounts.roles import Role
    from accounts.selectors import role_holders_on_paths

    prefixes = {p[:i] for p in paths for i in range(SEGMENT_WIDTH, len(p) + 1, SEGMENT_WIDTH)}
    leaders = role_holders_on_paths(Role.GRID_LEADER, prefixes)
    out = {}
    for p in paths:
        best = max((a for a in leaders if p.startswith(a)), key=len, default=None)
        out[p] = leaders[best] if best else ""
    return out


def home_list_for_user(user: Any, rnd: Round) -> list[tuple[str, list[tuple[str, list[dict[str, Any]]]]]]:
    """The home visits a team member sees, grouped by building then floor (from the flat number)."""
    teams = HomeTeamMember.objects.filter(user=user, team__round=rnd).values("team_id")
    field_scope = scope_for(user, Cap.TESTING_FIELD)
    qs = HomeSamplingRequest.objects.filter(Q(team_id__in=teams) | field_scope.q("area_path"), round=rnd)
    reqs = list(qs.select_related("team").order_by("area_path", "id")[:1000])
    people = people_selectors.people_by_ids([r.person_id for r in reqs])
    ids: set[int] = set()
    for r in reqs:
        ids.update(int(r.area_path[i : i + SEGMENT_WIDTH]) for i in range(0, len(r.area_path), SEGMENT_WIDTH))
    nodes = {a.pk: a for a in Area.objects.filter(pk__in=ids).only("id", "name", "kind")}
    grouped: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in reqs:
        chain = [nodes.get(int(r.area_path[i : i + SEGMENT_WIDTH])) for i in range(0, len(r.area_path), SEGMENT_WIDTH)]
        building = next((n.name for n in chain if n and n.kind == AreaKind.BUILDING), "")
        unit = next((n.name for n in chain if n and n.kind == AreaKind.UNIT), "")
        flat = next((n.name for n in chain if n and n.kind == AreaKind.HOUSEHOLD), "")
        floor = _floor_of(flat)
        person = people.get(r.person_id)
        grouped[building][floor].append({"request": r, "person": person, "unit": unit, "flat": flat})
    return [(b, sorted(floors.items(), key=lambda f: (len(f[0]), f[0]))) for b, floors in sorted(grouped.items())]


def _floor_of(flat: str) -> str:
    """Chinese flat numbers carry the floor before the last two digits: 301 -> 3, 1502 -> 15."""
    digits = "".join(ch for ch in flat if ch.isdigit())
    return digits[:-2] if len(digits) >= 3 else ""


def prereg_ids(rnd: Round, person_ids: list[int]) -> set[int]:
    from testing.models import PreRegistration

    return set(PreRegistration.objects.filter(round=rnd, person_id__in=person_ids).values_list("person_id", flat=True))

