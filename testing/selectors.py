"""Reads of the testing app. Coverage is set-based: one grouped query over the population of a
subtree, with the round's samples, exemptions and pending home visits as non-correlated IN sets
(PostgreSQL hashes each set once; SQLite materialises it once)."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from accounts.roles import Cap
from accounts.selectors import scope_for
from people import selectors as people_selectors
from territory.models import SEGMENT_WIDTH, Area, AreaKind
from territory.selectors import labels_for_paths, path_range, subtree_q
from testing.models import (
    CallLog,
    Exemption,
    HomeSamplingRequest,
    HomeStatus,
    HomeTeamMember,
    LaboratoryMember,
    RecheckStatus,
    RecheckTask,
    Result,
    ResultCorrection,
    ResultException,
    Round,
    Sample,
    Site,
    SiteStaff,
    Tube,
)

QUEUE_WINDOW = dt.timedelta(minutes=15)
# Seconds one sampler needs per person (swab, scan, label): the basis of the wait estimate.
SECONDS_PER_SAMPLE = 30


# --- access -----------------------------------------------------------------------------------


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


def sites_for_sampler(user: Any) -> QuerySet[Site]:
    scope = scope_for(user, Cap.TESTING_SAMPLE)
    staffed = SiteStaff.objects.filter(user=user).values("site_id")
    return (
        Site.objects.filter(scope.q("area_path") | Q(pk__in=staffed), round__status="open")
        .select_related("round")
        .order_by("name")
    )


def get_site_for_sampler(user: Any, pk: int) -> Site:
    site = sites_for_sampler(user).filter(pk=pk).first()
    if site is None:
        raise Http404
    return site


def get_tube_for_sampler(user: Any, barcode: str) -> Tube:
    """A tube of a site the user staffs, or of a home team they belong to; 404 otherwise."""
    tube = Tube.objects.select_related("round", "site").filter(barcode=(barcode or "").strip()).first()
    if tube is None:
        raise Http404
    if tube.site_id is not None:
        if not sites_for_sampler(user).filter(pk=tube.site_id).exists():
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


# --- coverage ---------------------------------------------------------------------------------


@dataclass
class CoverageRow:
    path: str
    label: str
    area_id: int
    total: int = 0
    covered: int = 0
    exempted: int = 0
    home_pending: int = 0

    @property
    def left(self) -> int:
        return self.total - self.covered - self.exempted - self.home_pending

    @property
    def percent(self) -> int:
        return math.floor(100 * self.covered / self.total) if self.total else 100

    def as_dict(self) -> dict[str, Any]:
        return {
            "area_id": self.area_id,
            "label": self.label,
            "total": self.total,
            "covered": self.covered,
            "exempted": self.exempted,
            "home_pending": self.home_pending,
            "left": self.left,
        }


def _sets(rnd: Round, path: str) -> tuple[QuerySet[Any], QuerySet[Any], QuerySet[Any]]:
    # Each set is cut to the subtree through the copied area_path, so a grid's figures read a grid's
    # rows, not the whole round's.
    where = subtree_q(path)
    sampled = Sample.objects.filter(where, round=rnd).values("person_id")
    exempt = Exemption.objects.filter(where, round=rnd).values("person_id")
    home = HomeSamplingRequest.objects.filter(where, round=rnd, status=HomeStatus.PENDING).values("person_id")
    return sampled, exempt, home


def _population(rnd: Round, path: str) -> QuerySet[Any]:
    return people_selectors.population_within(path, categories=rnd.categories or None)


def _status_filters(rnd: Round, path: str) -> tuple[Q, Q, Q, Q]:
    sampled, exempt, home = _sets(rnd, path)
    covered = Q(id__in=sampled)
    exempted = ~covered & Q(id__in=exempt)
    home_pending = ~covered & ~Q(id__in=exempt) & Q(id__in=home)
    left = ~covered & ~Q(id__in=exempt) & ~Q(id__in=home)
    return covered, exempted, home_pending, left


def _grouped(rnd: Round, path: str, prefix_len: int) -> list[dict[str, Any]]:
    """Counts per path prefix: the population LEFT JOIN the round's sampled, exempted and home-pending
    people of the subtree. Joins, not IN-lists: PostgreSQL hashes an IN-subquery only while it fits in
    work_mem, and past that probes it per row, which at a million residents takes minutes."""
    from django.db import connection

    people_sql, people_params = _population(rnd, path).values("id", "area_path").query.sql_with_params()
    low, high = path_range(path)
    sample_t, exempt_t, home_t = (m._meta.db_table for m in (Sample, Exemption, HomeSamplingRequest))
    sql = f"""
        SELECT substr(p.area_path, 1, %s) AS node, COUNT(*) AS total,
               SUM(CASE WHEN s.person_id IS NOT NULL THEN 1 ELSE 0 END) AS covered,
               SUM(CASE WHEN s.person_id IS NULL AND e.person_id IS NOT NULL THEN 1 ELSE 0 END) AS exempted,
               SUM(CASE WHEN s.person_id IS NULL AND e.person_id IS NULL AND h.person_id IS NOT NULL
                   THEN 1 ELSE 0 END) AS home_pending
        FROM ({people_sql}) p
        LEFT JOIN (SELECT DISTINCT person_id FROM {sample_t}
                   WHERE round_id = %s AND area_path >= %s AND area_path < %s) s ON s.person_id = p.id
        LEFT JOIN (SELECT person_id FROM {exempt_t}
                   WHERE round_id = %s AND area_path >= %s AND area_path < %s) e ON e.person_id = p.id
        LEFT JOIN (SELECT DISTINCT person_id FROM {home_t}
                   WHERE round_id = %s AND status = %s AND area_path >= %s AND area_path < %s) h ON h.person_id = p.id
        GROUP BY substr(p.area_path, 1, %s)
        ORDER BY node
    """  # noqa: S608 (table names come from model metadata; every value is a parameter)
    params = [
        prefix_len,
        *people_params,
        rnd.pk,
        low,
        high,
        rnd.pk,
        low,
        high,
        rnd.pk,
        HomeStatus.PENDING,
        low,
        high,
        prefix_len,
    ]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    # SUM over no rows is NULL, and SQLite may hand back its integers as floats after CASE.
    return [
        {
            "node": node,
            "total": int(total),
            "covered": int(covered or 0),
            "exempted": int(exempted or 0),
            "home_pending": int(home or 0),
        }
        for node, total, covered, exempted, home in rows
    ]


def coverage_children(rnd: Round, node: Area) -> tuple[CoverageRow, list[CoverageRow]]:
    """Figures of ``node`` and of each child, in one grouped query (plus one for the names)."""
    child_len = len(node.path) + SEGMENT_WIDTH
    rows = _grouped(rnd, node.path, child_len)
    total = CoverageRow(node.path, node.name, node.pk)
    children: dict[str, CoverageRow] = {}
    for r in rows:
        for target in (
            total,
            children.setdefault(r["node"], CoverageRow(r["node"], "", int(r["node"][-SEGMENT_WIDTH:]))),
        ):
            target.total += r["total"]
            target.covered += r["covered"]
            target.exempted += r["exempted"]
            target.home_pending += r["home_pending"]
    names = dict(Area.objects.filter(pk__in=[c.area_id for c in children.values()]).values_list("id", "name"))
    for c in children.values():
        c.label = names.get(c.area_id, "") if c.path != node.path else f"({node.name})"
    return total, sorted(children.values(), key=lambda c: c.label)


def coverage_total(rnd: Round) -> dict[str, int]:
    agg = {"total": 0, "covered": 0, "exempted": 0, "home_pending": 0}
    for r in _grouped(rnd, rnd.area_path, len(rnd.area_path)):
        for k in agg:
            agg[k] += r[k]
    agg["left"] = agg["total"] - agg["covered"] - agg["exempted"] - agg["home_pending"]
    return agg


def coverage_by_grid(rnd: Round) -> list[CoverageRow]:
    """Per level-1 grid (district/subdistrict/community/grid: the fourth segment of every path)."""
    rows = _grouped(rnd, rnd.area_path, 4 * SEGMENT_WIDTH)
    out = []
    labels = labels_for_paths({r["node"] for r in rows if len(r["node"]) == 4 * SEGMENT_WIDTH})
    for r in rows:
        row = CoverageRow(
            r["node"],
            labels.get(r["node"], r["node"]),
            int(r["node"][-SEGMENT_WIDTH:]),
            r["total"],
            r["covered"],
            r["exempted"],
            r["home_pending"],
        )
        out.append(row)
    return out


@dataclass
class Member:
    person_id: int
    name: str
    phone: str
    state: str  # covered / exempted / home / left


def household_members_state(rnd: Round, household: Area) -> list[Member]:
    covered, exempted, home_pending, _left = _status_filters(rnd, household.path)
    from django.db.models import Case, CharField, Value, When

    rows = (
        _population(rnd, household.path)
        .annotate(
            state=Case(
                When(covered, then=Value("covered")),
                When(exempted, then=Value("exempted")),
                When(home_pending, then=Value("home")),
                default=Value("left"),
                output_field=CharField(),
            )
        )
        .values_list("id", "name", "phone", "state")
        .order_by("birth_date")
    )
    from common.masking import mask_name, mask_phone

    return [Member(pid, mask_name(name), mask_phone(phone), state) for pid, name, phone, state in rows]


@dataclass
class CallHousehold:
    household_id: int
    path: str
    label: str
    members: list[dict[str, Any]] = field(default_factory=list)
    last_call: CallLog | None = None


def call_list(rnd: Round, area: Area, *, limit: int = 200) -> list[CallHousehold]:
    """Households of ``area`` with somebody not yet sampled (nor exempted, nor awaiting a home visit),
    with masked phones and the latest call; three queries whatever the size."""
    _c, _e, _h, left = _status_filters(rnd, area.path)
    rows = list(
        _population(rnd, area.path)
        .filter(left)
        .values_list("id", "name", "phone", "area_id", "area_path")
        .order_by("area_path", "birth_date")[: limit * 6]
    )
    from common.masking import mask_name, mask_phone

    households: dict[int, CallHousehold] = {}
    for pid, name, phone, area_id, path in rows:
        h = households.get(area_id)
        if h is None:
            if len(households) >= limit:
                break
            h = households[area_id] = CallHousehold(area_id, path, "")
        h.members.append({"id": pid, "name": mask_name(name), "phone": mask_phone(phone), "has_phone": bool(phone)})
    labels = labels_for_paths(h.path for h in households.values())
    for h in households.values():
        h.label = labels.get(h.path, "")
    for call in CallLog.objects.filter(round=rnd, household_id__in=list(households)).order_by("called_at"):
        households[call.household_id].last_call = call
    return list(households.values())


def calls_of(rnd: Round, household: Area) -> QuerySet[CallLog]:
    return CallLog.objects.filter(round=rnd, household=household).select_related("called_by").order_by("-called_at")


# --- sites and queues -------------------------------------------------------------------------


@dataclass
class SiteQueue:
    site: Site
    sampled_recently: int
    staff: int
    wait_minutes: int


def site_queues(sites: list[Site], *, now: dt.datetime) -> list[SiteQueue]:
    """People sampled in the last 15 minutes per site and an estimated wait: if the next quarter of an
    hour looks like the last, the queue ahead of a newcomer takes that many swabs of SECONDS_PER_SAMPLE
    shared by the site's samplers."""
    ids = [s.pk for s in sites]
    recent = dict(
        Sample.objects.filter(site_id__in=ids, sampled_at__gte=now - QUEUE_WINDOW, sampled_at__lte=now)
        .values("site_id")
        .annotate(n=Count("id"))
        .values_list("site_id", "n")
    )
    staff = dict(
        SiteStaff.objects.filter(site_id__in=ids).values("site_id").annotate(n=Count("id")).values_list("site_id", "n")
    )
    out = []
    for s in sites:
        n, k = recent.get(s.pk, 0), max(1, staff.get(s.pk, 0))
        out.append(SiteQueue(s, n, staff.get(s.pk, 0), math.ceil(n * SECONDS_PER_SAMPLE / k / 60)))
    return out


def sites_near(person: Any, *, now: dt.datetime) -> list[SiteQueue]:
    """Open rounds' sites in the resident's community, those of their own grid first."""
    path = person.area_path
    community = Area.objects.filter(
        pk__in=[int(path[i : i + SEGMENT_WIDTH]) for i in range(0, len(path), SEGMENT_WIDTH)], kind=AreaKind.COMMUNITY
    ).first()
    base = community.path if community else path[: 3 * SEGMENT_WIDTH]
    sites = list(Site.objects.filter(area_path__startswith=base, round__status="open").select_related("round", "area"))
    sites.sort(key=lambda s: (not path.startswith(s.area_path), s.name))
    return site_queues(sites, now=now)


def tube_view(tube: Tube) -> dict[str, Any]:
    return {"barcode": tube.barcode, "count": tube.member_count, "pool_size": tube.pool_size, "status": tube.status}


def open_tubes_at(site: Site, user: Any) -> list[Tube]:
    return list(Tube.objects.filter(site=site, opened_by=user, status="open").order_by("-opened_at")[:5])


# --- laboratory -------------------------------------------------------------------------------


def exceptions_for(laboratory: Any, *, open_only: bool = True) -> QuerySet[ResultException]:
    qs = ResultException.objects.filter(laboratory=laboratory)
    if open_only:
        qs = qs.filter(status="open")
    return qs.order_by("-created_at")


def result_for_lab(laboratory: Any, barcode: str) -> Result:
    result = Result.objects.select_related("tube").filter(tube__barcode=barcode.strip(), laboratory=laboratory).first()
    if result is None:
        raise Http404
    return result


def corrections_for(laboratory: Any) -> QuerySet[ResultCorrection]:
    return (
        ResultCorrection.objects.filter(result__laboratory=laboratory)
        .select_related("result__tube", "requested_by", "decided_by")
        .order_by("-requested_at")
    )


# --- field lists ------------------------------------------------------------------------------


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
    reqs = list(qs.order_by("area_path", "id")[:1000])
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


# --- ledgers ----------------------------------------------------------------------------------


def site_ledger_rows(site: Site) -> Any:
    return (
        Sample.objects.filter(tube__site=site)
        .order_by("tube__opened_at", "tube_id", "sampled_at")
        .values_list(
            "tube__barcode",
            "tube__status",
            "tube__sealed_at",
            "person__name",
            "person__id_number",
            "sampled_at",
            "is_green_channel",
            "is_repeat_in_round",
            "is_clock_skewed",
            "device_at",
        )
        .iterator(chunk_size=2000)
    )


def lab_ledger_rows(laboratory: Any) -> Any:
    return (
        Result.objects.filter(laboratory=laboratory)
        .order_by("received_at", "id")
        .values_list(
            "tube__barcode",
            "tube__pool_size",
            "tube__member_count",
            "value",
            "received_at",
            "corrected_at",
            "tube__round__name",
        )
        .iterator(chunk_size=2000)
    )
