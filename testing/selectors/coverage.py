"""Coverage of a round per territory node down to the household, and the call list. Coverage is
set-based: one grouped query over the population of a subtree LEFT JOIN the round's sampled,
exempted and home-pending people of that subtree. A closed round reads instead the figures kept per
household at closing (RoundFigure), so its pages no longer move with the roster."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Substr

from people import selectors as people_selectors
from territory.models import SEGMENT_WIDTH, Area
from territory.selectors import labels_for_paths, path_range, subtree_q
from testing.models import (
    CallLog,
    Exemption,
    HomeSamplingRequest,
    HomeStatus,
    Round,
    RoundFigure,
    Sample,
)


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


def coverage_query(rnd: Round, path: str, *, prefix_len: int | None) -> tuple[str, list[Any]]:
    """SQL of the live counts of the subtree of ``path``, grouped by the first ``prefix_len``
    characters of each person's path (``None``: by the whole path, one row per household): columns
    node, total, covered, exempted, home_pending.

    The population LEFT JOIN the round's sampled, exempted and home-pending people of the subtree.
    Joins, not IN-lists: PostgreSQL hashes an IN-subquery only while it fits in work_mem, and past that
    probes it per row, which at a million residents takes minutes."""
    people_sql, people_params = _population(rnd, path).values("id", "area_path").query.sql_with_params()
    low, high = path_range(path)
    sample_t, exempt_t, home_t = (m._meta.db_table for m in (Sample, Exemption, HomeSamplingRequest))
    node, node_params = ("substr(p.area_path, 1, %s)", [prefix_len]) if prefix_len else ("p.area_path", [])
    sql = f"""
        SELECT {node} AS node, COUNT(*) AS total,
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
        GROUP BY {node}
    """  # noqa: S608 (table names come from model metadata; every value is a parameter)
    params = [
        *node_params,
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
        *node_params,
    ]
    return sql, params


def _grouped(rnd: Round, path: str, prefix_len: int) -> list[dict[str, Any]]:
    """Counts per path prefix: as kept at closing for a closed round that keeps them, live otherwise."""
    if rnd.keeps_node_figures:
        return _kept(rnd, path, prefix_len)
    from django.db import connection

    sql, params = coverage_query(rnd, path, prefix_len=prefix_len)
    with connection.cursor() as cur:
        cur.execute(sql + " ORDER BY node", params)
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


def _kept(rnd: Round, path: str, prefix_len: int) -> list[dict[str, Any]]:
    """The same counts from the figures kept per household at closing: the sums of a range of rows."""
    rows = (
        RoundFigure.objects.filter(subtree_q(path, "path"), round=rnd)
        .annotate(node=Substr("path", 1, prefix_len))
        .values("node")
        .annotate(
            n_total=Sum("total"), n_covered=Sum("covered"), n_exempted=Sum("exempted"), n_home=Sum("home_pending")
        )
        .order_by("node")
    )
    return [
        {
            "node": r["node"],
            "total": int(r["n_total"]),
            "covered": int(r["n_covered"]),
            "exempted": int(r["n_exempted"]),
            "home_pending": int(r["n_home"]),
        }
        for r in rows
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


def coverage_totals_many(rounds: list[Round]) -> dict[int, dict[str, int]]:
    """Live totals of several open rounds over their whole territories, in one statement (a UNION ALL
    of each round's grouped count); a round nobody must be sampled in has zero totals."""
    from django.db import connection

    out = {r.pk: {"total": 0, "covered": 0, "exempted": 0, "home_pending": 0} for r in rounds}
    if not rounds:
        return out
    parts, params = [], []
    for rnd in rounds:
        select, p = coverage_query(rnd, rnd.area_path, prefix_len=len(rnd.area_path))
        parts.append(f"SELECT %s AS round_id, q.total, q.covered, q.exempted, q.home_pending FROM ({select}) q")  # noqa: S608
        params += [rnd.pk, *p]
    with connection.cursor() as cur:
        cur.execute(" UNION ALL ".join(parts), params)
        for round_id, total, covered, exempted, home in cur.fetchall():
            out[int(round_id)] = {
                "total": int(total or 0),
                "covered": int(covered or 0),
                "exempted": int(exempted or 0),
                "home_pending": int(home or 0),
            }
    return out
