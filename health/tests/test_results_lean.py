"""A laboratory batch skips the evidence reads for negative and invalid results of people green by
default; it must leave the same rows as the full recomputation, whatever evidence the person had."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from audit.services import Actor
from health import selectors, services
from health.models import Sample
from health.services.recompute import _SAMPLE, _insert, _recompute
from health.services.results import _SAMPLE_COLUMNS, _SAMPLE_TYPES, _SAMPLE_UPSERT
from people.tests.factories import PersonFactory

T = dt.datetime(2022, 4, 20, 8, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)


def reference(items: list[tuple[int, str, str, bool, dt.datetime]], now: dt.datetime) -> None:
    """``results_recorded`` as it was: upsert every sample, then the full recomputation of everyone."""
    with transaction.atomic():
        _insert(
            _SAMPLE,
            _SAMPLE_COLUMNS,
            _SAMPLE_TYPES,
            [(p, ref, at, result, pooled, now, now) for p, ref, result, pooled, at in items],
            _SAMPLE_UPSERT,
        )
        _recompute(sorted({i[0] for i in items}), now=now, rules=selectors.current_rules())


def snapshot(person_id: int) -> tuple[Any, ...]:
    from health.models import HealthStatus, StatusHistory

    status = (
        HealthStatus.objects.filter(person_id=person_id)
        .values_list(
            "colour",
            "reason_code",
            "evidence",
            "rule_version",
            "since",
            "evaluated_at",
            "latest_sampled_at",
            "latest_result",
            "latest_negative_sampled_at",
        )
        .first()
    )
    history = list(
        StatusHistory.objects.filter(person_id=person_id)
        .order_by("id")
        .values_list("at", "colour", "previous_colour", "reason_code", "evidence", "rule_version")
    )
    samples = list(
        Sample.objects.filter(person_id=person_id)
        .order_by("sample_ref")
        .values_list("sample_ref", "sampled_at", "result", "is_pooled", "result_at", "recorded_at")
    )
    return status, history, samples


# Evidence before the batch: (kind, hours after T, detail).
HISTORIES: dict[str, list[tuple[str, int, Any]]] = {
    "nothing": [],
    "pending": [("pending", 0, "R1")],
    "negative": [("result", 0, ("R1", "negative", True))],
    "invalid": [("result", 0, ("R1", "invalid", False))],
    "pooled positive": [("result", 0, ("R1", "positive", True))],
    "pooled positive, single negative after": [
        ("result", 0, ("R1", "positive", True)),
        ("result", 2, ("R2", "negative", False)),
    ],
    "single positive": [("result", 0, ("R1", "positive", False))],
    "companion": [("companion", 0, "C1")],
    "companion, one negative": [("companion", 0, "C1"), ("result", 1, ("R2", "negative", True))],
    "companion cleared": [
        ("companion", 0, "C1"),
        ("result", 1, ("R2", "negative", True)),
        ("result", 26, ("R3", "negative", True)),
    ],
    "manual red": [("result", 0, ("R2", "negative", True)), ("manual", 1, "red")],
    "manual green": [("manual", 1, "green")],
    "a sample without a status row": [("bare", 0, ("R2", "positive", False))],
    # What a station leaves before the laboratory's result: pending samples, alone or with other evidence.
    "pending, an earlier negative": [("result", -24, ("R0", "negative", True)), ("pending", 0, "R1")],
    "two pending at one instant, the other's reference later": [("pending", 0, "R1"), ("pending", 0, "R3")],
    "two pending at one instant, the other's reference earlier": [("pending", 0, "R0"), ("pending", 0, "R1")],
    "pending, a later pending": [("pending", 0, "R1"), ("pending", 5, "R4")],
    "pending, a later negative": [("pending", 0, "R1"), ("result", 5, ("R4", "negative", False))],
    "pending, a companion": [("companion", -1, "C1"), ("pending", 0, "R1")],
    "pending after a manual green": [("manual", -3, "green"), ("pending", 0, "R1")],
    "pending, a pooled positive before": [("result", -5, ("R0", "positive", True)), ("pending", 0, "R1")],
}

# The batch: (sample reference, result, pooled, hours after T sampled); recorded at T + 50 h.
BATCHES: dict[str, list[tuple[str, str, bool, int]]] = {
    "negative, later": [("S1", "negative", True, 30)],
    "invalid, later": [("S1", "invalid", False, 30)],
    "negative, older": [("S1", "negative", False, -5)],
    "negative at the same instant": [("S1", "negative", True, 0)],
    "the pending or earlier sample's result": [("R1", "negative", True, 0)],
    "the earlier sample turns invalid": [("R1", "invalid", True, 0)],
    "two negatives a day apart": [("S1", "negative", False, 28), ("S2", "negative", True, 53)],
    "negative and positive": [("S1", "negative", False, 28), ("S2", "positive", True, 30)],
    "single positive": [("S1", "positive", False, 30)],
    "the pending sample's result and a new later one": [("R1", "negative", True, 0), ("S1", "negative", False, 30)],
    "the pending sample's result and a new older one": [("R1", "negative", True, 0), ("S0", "invalid", False, -3)],
    "the pending sample's result sent with another time": [("R1", "negative", True, 3)],
    "the pending sample's result positive": [("R1", "positive", True, 0)],
}


def build(person_ids: list[int], history: list[tuple[str, int, Any]], epi: Any) -> None:
    for kind, hours, detail in history:
        at = T + hours * H
        if kind == "result":
            ref, result, pooled = detail
            services.results_recorded(items=[(p, ref, result, pooled, at) for p in person_ids], now=at + H)
        elif kind == "pending":
            services.samples_recorded(items=[(p, detail, at, at) for p in person_ids])
        elif kind == "companion":
            for p in person_ids:
                services.companion_flagged(person_id=p, case_ref=detail, exposed_at=at, now=at)
        elif kind == "bare":  # written behind the services' back: evidence, but no status row
            ref, result, pooled = detail
            for p in person_ids:
                Sample.objects.create(
                    person_id=p,
                    sample_ref=ref,
                    sampled_at=at,
                    result=result,
                    is_pooled=pooled,
                    result_at=at,
                    recorded_at=at,
                )
        else:
            services.status_change_request(
                actor=Actor(epi), person_ids=person_ids, colour=detail, reason_code="other", note="流调", now=at + H
            )


@pytest.mark.parametrize("batch", list(BATCHES), ids=list(BATCHES))
def test_a_batch_writes_what_the_full_recomputation_wrote(district, epi, batch):
    pairs = {}
    for name, history in HISTORIES.items():
        lean, ref = (PersonFactory(area=district.household_a).pk for _ in range(2))
        build([lean, ref], history, epi)
        pairs[name] = (lean, ref)
    now = T + 50 * H
    items = BATCHES[batch]
    for _lean, ref in pairs.values():
        reference([(ref, sample_ref, result, pooled, T + h * H) for sample_ref, result, pooled, h in items], now)
    services.results_recorded(
        items=[
            (lean, sample_ref, result, pooled, T + h * H)
            for lean, _ref in pairs.values()
            for sample_ref, result, pooled, h in items
        ],
        now=now,
    )
    for name, (lean, ref) in pairs.items():
        assert snapshot(lean) == snapshot(ref), name


def test_negatives_for_people_green_by_default_cost_the_same_statements_for_3_or_30(district):
    def statements(n: int) -> int:
        people = [PersonFactory(area=district.household_a).pk for _ in range(n)]
        services.samples_recorded(items=[(p, "T1", T, T) for p in people[::2]])  # some pending, some new
        with CaptureQueriesContext(connection) as ctx:
            services.results_recorded(items=[(p, "T1", "negative", True, T) for p in people], now=T + H)
        return len(ctx.captured_queries)

    assert statements(3) == statements(30)


def test_pending_samples_turning_negative_read_no_other_evidence(district):
    """The station's pending sample meets the status row at its own sampling instant; the batch reads the
    person's samples anyway, so the summary is exact and the companion and decision reads are skipped."""
    people = [PersonFactory(area=district.household_a).pk for _ in range(3)]
    services.samples_recorded(items=[(p, f"T1:{p}", T, T) for p in people])
    with CaptureQueriesContext(connection) as ctx:
        services.results_recorded(items=[(p, f"T1:{p}", "negative", True, T) for p in people], now=T + H)
    sql = " ".join(q["sql"] for q in ctx.captured_queries)
    assert "health_companionrecord" not in sql and "health_manualdecision" not in sql
    for p in people:
        status = selectors.status_view(p, now=T + H)
        assert (status.colour, status.reason_code) == ("green", "default_green")
        assert snapshot(p)[0][4:] == (T, T + H, T, "negative", T)  # since, evaluated_at, the summary
