"""A laboratory batch is recomputed set-based, chunk by chunk; its outcome must be exactly what the rule
function gives for each person on their own evidence, with the same history and clock fields."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest
from django.core.cache import cache

from common.idnumber import with_check_digit
from health import selectors, services
from health.models import (
    ChangeRequest,
    ChangeState,
    CompanionRecord,
    HealthStatus,
    ManualDecision,
    Sample,
    StatusHistory,
)
from health.rules import CompanionFact, ManualFact, SampleFact, evaluate, summarise
from health.services import recompute
from people.models import Person

T0 = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(days=2)  # the batch
H = dt.timedelta(hours=1)
N = 2000


@pytest.fixture
def people(district, epi):
    home = district.household_a
    rows = []
    for i in range(N):
        day = dt.date(1950, 1, 1) + dt.timedelta(days=i)
        number = with_check_digit(f"370811{day:%Y%m%d}{i % 1000:03d}")
        rows.append(Person(name=f"王{i}", id_number=number, birth_date=day, sex="M" if i % 2 else "F",
                           area=home, area_path=home.path))
    ids = [p.pk for p in Person.objects.bulk_create(rows)]
    # Earlier evidence: pooled positives awaiting recheck, single positives, negatives, companions (some
    # cleared by two negatives a day apart) and manual decisions, some before and some after the batch.
    samples, companions, decisions = [], [], []
    request = ChangeRequest.objects.create(colour="yellow", reason_code="close_contact", note="流调", person_count=1,
                                           state=ChangeState.DONE, requested_by=epi, requested_at=T0)
    for k, pid in enumerate(ids):
        if k % 7 == 0:
            samples.append(Sample(person_id=pid, sample_ref=f"P0-{k // 10}", sampled_at=T0 - 20 * H,
                                  result="positive", is_pooled=True, result_at=T0, recorded_at=T0))
        if k % 11 == 0:
            samples.append(Sample(person_id=pid, sample_ref=f"S0-{k}", sampled_at=T0 - 30 * H,
                                  result="positive", is_pooled=False, result_at=T0, recorded_at=T0))
        if k % 5 == 0:
            samples.append(Sample(person_id=pid, sample_ref=f"N0-{k}", sampled_at=T0 - 10 * H,
                                  result="negative", is_pooled=False, result_at=T0 - 5 * H, recorded_at=T0 - 5 * H))
        if k % 13 == 0:
            samples.append(Sample(person_id=pid, sample_ref=f"Q0-{k}", sampled_at=T0 - 2 * H, recorded_at=T0))
        if k % 9 == 0:
            companions.append(CompanionRecord(person_id=pid, case_ref=f"C-{k % 4}", exposed_at=T0 - 40 * H,
                                              recorded_at=T0 - 30 * H))
        if k % 17 == 0:
            decisions.append(ManualDecision(person_id=pid, colour=("green", "yellow", "red")[k % 3],
                                            reason_code="other", note="x", decided_at=T0 + H * (k % 3),
                                            decided_by=epi, change_request=request))
    Sample.objects.bulk_create(samples)
    CompanionRecord.objects.bulk_create(companions)
    ManualDecision.objects.bulk_create(decisions)
    # Two thirds have a status row already; the rest get theirs from the batch.
    services.status_recompute(person_ids=[p for k, p in enumerate(ids) if k % 3], now=T0)
    return ids


def batch(ids: list[int]) -> list[tuple[int, str, str, bool, dt.datetime]]:
    items = []
    for k, pid in enumerate(ids):
        if k % 4 == 0:  # a pooled tube, one in 25 positive
            items.append((pid, f"P1-{k // 10}", "positive" if (k // 10) % 25 == 3 else "negative", True, T1 - 3 * H))
        elif k % 4 == 1:  # single-tube recheck, some positive
            items.append((pid, f"S1-{k}", "positive" if k % 37 == 1 else "negative", False, T1 - 2 * H))
        elif k % 4 == 2:
            items.append((pid, f"I1-{k}", "invalid", k % 8 == 2, T1 - 4 * H))
        else:  # two tubes of one person in the same batch; companions cleared by negatives a day apart
            items.append((pid, f"A1-{k}", "negative", False, T1 - 30 * H))
            items.append((pid, f"B1-{k}", "negative" if k % 6 else "positive", True, T1 - 4 * H))
        if k % 13 == 0:  # the pending sample of this person gets its result
            items.append((pid, f"Q0-{k}", "negative", False, T0 - 2 * H))
    return items


def expected(ids: list[int], now: dt.datetime) -> dict[int, tuple]:
    """Evaluate every person on their own, from evidence read through the ORM."""
    rules = selectors.current_rules()
    samples, companions, manual = defaultdict(list), defaultdict(list), {}
    for s in Sample.objects.filter(person_id__in=ids).order_by("id"):
        samples[s.person_id].append(SampleFact(s.sample_ref, s.sampled_at, s.result, s.is_pooled, s.recorded_at))
    for c in CompanionRecord.objects.filter(person_id__in=ids).order_by("id"):
        companions[c.person_id].append(CompanionFact(c.case_ref, c.exposed_at, c.recorded_at))
    for m in ManualDecision.objects.filter(person_id__in=ids).order_by("decided_at", "id"):
        manual[m.person_id] = ManualFact(m.colour, m.decided_at, m.change_request_id)
    out = {}
    for pid in ids:
        outcome = evaluate(samples[pid], companions[pid], manual.get(pid), rules)
        summary = summarise(samples[pid])
        out[pid] = (outcome.colour, outcome.reason_code, outcome.evidence, rules.version, summary.latest_sampled_at,
                    summary.latest_result, summary.latest_negative_sampled_at)
    return out


def statuses(ids: list[int]) -> dict[int, HealthStatus]:
    return HealthStatus.objects.in_bulk(ids)


def test_a_mixed_batch_gives_what_the_rules_give_person_by_person(people, monkeypatch):
    monkeypatch.setattr(recompute, "CHUNK", 300)  # several chunks, and people split across none of them
    before = statuses(people)
    history_before = StatusHistory.objects.count()
    services.results_recorded(items=batch(people), now=T1)
    want = expected(people, T1)
    after = statuses(people)
    colours = defaultdict(int)
    changed = {}
    for pid in people:
        row = after[pid]
        got = (row.colour, row.reason_code, row.evidence, row.rule_version, row.latest_sampled_at, row.latest_result,
               row.latest_negative_sampled_at)
        assert got == want[pid], pid
        colours[row.reason_code] += 1
        old = before.get(pid)
        old_key = (old.colour, old.reason_code) if old else ("green", "default_green")
        if old_key != got[:2]:
            changed[pid] = old_key[0]
            assert (row.since, row.evaluated_at) == (T1, T1)
        elif old is None or got != (old.colour, old.reason_code, old.evidence, old.rule_version,
                                    old.latest_sampled_at, old.latest_result, old.latest_negative_sampled_at):
            assert (row.since, row.evaluated_at) == (old.since if old else T1, T1)
        else:
            assert (row.since, row.evaluated_at) == (old.since, old.evaluated_at)
    # Every kind of outcome is exercised.
    assert {"default_green", "positive_single", "pool_recheck", "companion", "manual"} <= set(colours)
    history = StatusHistory.objects.filter(at=T1)
    assert StatusHistory.objects.count() - history_before == len(changed) > 100
    assert {h.person_id: h.previous_colour for h in history} == changed
    assert all((h.actor_label, h.rule_version, h.change_request_id) == ("rules", 1, None) for h in history)


def test_a_full_recompute_after_a_rule_edit_matches_too(people, monkeypatch):
    from health.models import RuleVersion

    monkeypatch.setattr(recompute, "CHUNK", 300)
    services.results_recorded(items=batch(people), now=T1)
    RuleVersion.objects.create(version=2, pool_recheck_colour="red", companion_colour="red", overdue_hours=72,
                               created_at=T1)
    cache.delete("health:rules")  # as rules_update does
    later = T1 + H
    job = services.status_recompute_all(now=later)
    want = expected(people, later)
    after = statuses(people)
    assert all(
        (r.colour, r.reason_code, r.evidence, r.rule_version, r.latest_sampled_at, r.latest_result,
         r.latest_negative_sampled_at) == want[pid]
        for pid, r in after.items()
    )
    assert job.done == N and job.changed == StatusHistory.objects.filter(at=later, rule_version=2).count() > 0
    assert all(r.evaluated_at == later for r in after.values())  # the rule version changed on every row


def test_the_batch_clears_the_cached_statuses(people):
    pid = people[1]  # a single-tube recheck; positive for k % 37 == 1 -> people[1] is k=1: positive
    assert selectors.status_view(pid, now=T1).colour != "red"
    services.results_recorded(items=[(pid, "S1-1", "positive", False, T1 - 2 * H)], now=T1)
    assert selectors.status_view(pid, now=T1).colour == "red"
