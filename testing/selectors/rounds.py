"""Rounds as command HQ follows them: who may change a round, its deadline history, and the rounds past
their deadline with how long and how much of their population is still to be sampled."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db.models import QuerySet

from accounts.roles import Cap
from accounts.selectors import scope_for
from testing.models import Round, RoundDeadlineChange, RoundStatus
from testing.selectors.access import rounds_for_user
from testing.selectors.coverage import coverage_totals_many

# The live totals of an overdue round are one grouped count over its whole population (about a second
# for a district of a million on PostgreSQL), so the dashboard and the round list share them for a
# minute instead of counting on every page view; the page says as of when.
OVERDUE_FIGURES_SECONDS = 60
OVERDUE_LIST_LIMIT = 20


def may_manage_round(user: Any, rnd: Round) -> bool:
    """Command HQ over the round's whole territory: closes it, changes its deadline."""
    return scope_for(user, Cap.TESTING_MANAGE).contains(rnd.area_path)


def deadline_changes(rnd: Round) -> QuerySet[RoundDeadlineChange]:
    return RoundDeadlineChange.objects.filter(round=rnd).select_related("changed_by").order_by("-changed_at", "-pk")


@dataclass
class OverdueRound:
    round: Round
    overdue_for: dt.timedelta
    # None when the user sees only part of the round: the whole round's figures are not theirs to see.
    total: int | None = None
    left: int | None = None
    figures_at: dt.datetime | None = None

    @property
    def overdue_hours(self) -> int:
        return int(self.overdue_for.total_seconds() // 3600)

    @property
    def overdue_minutes(self) -> int:
        return int(self.overdue_for.total_seconds() // 60) % 60

    @property
    def left_percent(self) -> int | None:
        """The share not yet sampled (nor exempted, nor awaiting a home visit), rounded up: 0 % only
        when nobody is left."""
        if self.total is None or self.left is None:
            return None
        return math.ceil(100 * self.left / self.total) if self.total else 0


def overdue_rounds_for_user(user: Any, *, now: dt.datetime) -> list[OverdueRound]:
    """Open rounds past their deadline that the user sees, longest overdue first, with the share of
    their population not yet sampled where the user sees the whole round. Two statements at most (the
    rounds, then the totals of those not counted in the last minute, all in one)."""
    rounds = list(
        rounds_for_user(user)
        .filter(status=RoundStatus.OPEN, deadline_at__lte=now)
        .order_by("deadline_at", "pk")[:OVERDUE_LIST_LIMIT]
    )
    view = scope_for(user, Cap.TESTING_VIEW)
    whole = [r for r in rounds if view.contains(r.area_path)]
    figures = _overdue_figures(whole, now=now)
    out = []
    for r in rounds:
        row = OverdueRound(r, now - r.deadline_at)
        if r.pk in figures:
            f = figures[r.pk]
            row.total, row.left, row.figures_at = f["total"], f["left"], f["at"]
        out.append(row)
    return out


def _overdue_figures(rounds: list[Round], *, now: dt.datetime) -> dict[int, dict[str, Any]]:
    keys = {r.pk: f"testing:overdue-figures:{r.pk}" for r in rounds}
    cached = cache.get_many(list(keys.values())) if keys else {}
    out = {pk: cached[key] for pk, key in keys.items() if key in cached}
    missing = [r for r in rounds if r.pk not in out]
    if missing:
        fresh = {}
        for pk, t in coverage_totals_many(missing).items():
            left = t["total"] - t["covered"] - t["exempted"] - t["home_pending"]
            out[pk] = fresh[keys[pk]] = {"total": t["total"], "left": left, "at": now}
        cache.set_many(fresh, OVERDUE_FIGURES_SECONDS)
    return out
