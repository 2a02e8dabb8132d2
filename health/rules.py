"""The colour rules as a pure function of evidence and a rule version: no database, no clock.

Precedence: the most severe triggered rule wins (red over yellow over green); among equals the order
is positive single tube, positive pool awaiting recheck, companion. An epidemiologist's decision
settles the evidence recorded before it: only evidence recorded after it can trigger a rule again,
otherwise the decided colour stands.

No rule looks at a pending sample: the station's lean write (``health/services/sampling.py``) relies on
it and moves only a status row's latest sampling when a person is sampled.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

SEVERITY = {"green": 0, "yellow": 1, "red": 2}


@dataclass(frozen=True)
class Rules:
    version: int = 1
    positive_single_colour: str = "red"
    pool_recheck_colour: str = "yellow"
    companion_colour: str = "yellow"
    companion_clear_tests: int = 2
    companion_clear_gap_hours: int = 24
    companion_clear_window_hours: int = 72
    overdue_hours: int | None = None


@dataclass(frozen=True)
class SampleFact:
    ref: str
    sampled_at: dt.datetime
    result: str  # pending / negative / positive / invalid
    is_pooled: bool
    recorded_at: dt.datetime


@dataclass(frozen=True)
class CompanionFact:
    case_ref: str
    exposed_at: dt.datetime
    recorded_at: dt.datetime


@dataclass(frozen=True)
class ManualFact:
    colour: str
    decided_at: dt.datetime
    request_id: int


@dataclass(frozen=True)
class Outcome:
    colour: str
    reason_code: str
    evidence: str


@dataclass(frozen=True)
class Summary:
    latest_sampled_at: dt.datetime | None
    latest_result: str
    latest_negative_sampled_at: dt.datetime | None


def summarise(samples: list[SampleFact]) -> Summary:
    latest = max(samples, key=lambda s: (s.sampled_at, s.ref), default=None)
    negatives = [s.sampled_at for s in samples if s.result == "negative"]
    return Summary(
        latest_sampled_at=latest.sampled_at if latest else None,
        latest_result=latest.result if latest else "",
        latest_negative_sampled_at=max(negatives, default=None),
    )


def companion_cleared(companion: CompanionFact, samples: list[SampleFact], rules: Rules) -> bool:
    """Cleared by ``companion_clear_tests`` negative samplings after exposure, consecutive ones at least
    the gap apart, all within the window."""
    times = sorted(s.sampled_at for s in samples if s.result == "negative" and s.sampled_at >= companion.exposed_at)
    need = rules.companion_clear_tests
    gap = dt.timedelta(hours=rules.companion_clear_gap_hours)
    window = dt.timedelta(hours=rules.companion_clear_window_hours)
    for i, first in enumerate(times):
        chain = [first]
        for t in times[i + 1 :]:
            if t - first > window:
                break
            if t - chain[-1] >= gap:
                chain.append(t)
                if len(chain) >= need:
                    return True
        if len(chain) >= need:
            return True
    return False


def evaluate(
    samples: list[SampleFact], companions: list[CompanionFact], manual: ManualFact | None, rules: Rules
) -> Outcome:
    cutoff = manual.decided_at if manual else None

    def fresh(recorded_at: dt.datetime) -> bool:
        return cutoff is None or recorded_at > cutoff

    candidates: list[Outcome] = []
    positives = [s for s in samples if s.result == "positive" and not s.is_pooled and fresh(s.recorded_at)]
    if positives:
        s = max(positives, key=lambda s: s.sampled_at)
        candidates.append(Outcome(rules.positive_single_colour, "positive_single", f"sample:{s.ref}"))
    singles = [s.sampled_at for s in samples if not s.is_pooled and s.result in ("negative", "positive")]
    for s in sorted(samples, key=lambda s: s.sampled_at, reverse=True):
        if s.is_pooled and s.result == "positive" and fresh(s.recorded_at):
            # Never red: a pooled positive only says one of the tube's members may be infected.
            if not any(t >= s.sampled_at for t in singles):
                candidates.append(Outcome(rules.pool_recheck_colour, "pool_recheck", f"sample:{s.ref}"))
            break
    for c in sorted(companions, key=lambda c: c.exposed_at, reverse=True):
        if fresh(c.recorded_at) and not companion_cleared(c, samples, rules):
            candidates.append(Outcome(rules.companion_colour, "companion", f"case:{c.case_ref}"))
            break
    worst = None
    for outcome in candidates:  # stable: earlier rules win ties
        if worst is None or SEVERITY[outcome.colour] > SEVERITY[worst.colour]:
            worst = outcome
    if worst is not None and (manual is None or SEVERITY[worst.colour] > 0):
        return worst
    if manual is not None:
        return Outcome(manual.colour, "manual", f"decision:{manual.request_id}")
    return Outcome("green", "default_green", "")
