"""A pending sample (the sampler station's scan): two statements, and the same rows as the full
recomputation it replaces, whatever evidence the person already has."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from typing import Any

import pytest
from django.db import connection, transaction

from audit.services import Actor
from health import selectors, services
from health.models import HealthStatus, Sample, StatusHistory
from health.services.recompute import _recompute
from people.tests.factories import PersonFactory

T = dt.datetime(2022, 4, 20, 8, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)


def reference(person_id: int, sample_ref: str, sampled_at: dt.datetime, now: dt.datetime) -> None:
    """``sample_recorded`` as it was: get-or-create the sample, then the full recomputation."""
    with transaction.atomic():
        Sample.objects.get_or_create(
            person_id=person_id, sample_ref=sample_ref, defaults={"sampled_at": sampled_at, "recorded_at": now}
        )
        _recompute([person_id], now=now, rules=selectors.current_rules())


def snapshot(person_id: int) -> tuple[Any, ...]:
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
        .values_list("at", "colour", "previous_colour", "reason_code", "evidence", "rule_version", "actor_label")
    )
    samples = list(
        Sample.objects.filter(person_id=person_id)
        .order_by("sample_ref")
        .values_list("sample_ref", "sampled_at", "result", "is_pooled", "result_at", "recorded_at")
    )
    return status, history, samples


# Evidence a person may have before the scan: (kind, hours after T, detail).
HISTORIES: dict[str, list[tuple[str, int, Any]]] = {
    "nothing": [],
    "negative": [("result", 0, ("R1", "negative", True))],
    "pending already": [("pending", 0, "R1")],
    "pooled positive": [("result", 0, ("R1", "positive", True))],
    "pooled positive, single negative after": [
        ("result", 0, ("R1", "positive", True)),
        ("result", 2, ("R2", "negative", False)),
    ],
    "single positive": [("result", 0, ("R1", "positive", False))],
    "invalid": [("result", 0, ("R1", "invalid", True))],
    "companion": [("companion", 0, "C1")],
    "companion cleared": [
        ("companion", 0, "C1"),
        ("result", 1, ("R1", "negative", True)),
        ("result", 26, ("R2", "negative", True)),
    ],
    "manual red": [("result", 0, ("R1", "negative", True)), ("manual", 1, "red")],
    "manual green over a positive": [("result", 0, ("R1", "positive", False)), ("manual", 1, "green")],
}


def build(person_ids: list[int], history: list[tuple[str, int, Any]], epi: Any) -> None:
    """The same evidence for every person given (one change request for all, so the same evidence)."""
    for kind, hours, detail in history:
        at = T + hours * H
        if kind == "result":
            ref, result, pooled = detail
            services.results_recorded(items=[(p, ref, result, pooled, at) for p in person_ids], now=at + H)
        elif kind == "pending":
            for p in person_ids:
                reference(p, detail, at, at)
        elif kind == "companion":
            for p in person_ids:
                services.companion_flagged(person_id=p, case_ref=detail, exposed_at=at, now=at)
        else:
            services.status_change_request(
                actor=Actor(epi), person_ids=person_ids, colour=detail, reason_code="other", note="流调", now=at + H
            )


def pair(district: Any, history: list[tuple[str, int, Any]], epi: Any) -> tuple[int, int]:
    lean, ref = (PersonFactory(area=district.household_a).pk for _ in range(2))
    build([lean, ref], history, epi)
    return lean, ref


# The scan: (sample reference, hours after T sampled, hours after T recorded).
SCANS = {
    "later": [("S1", 30, 30)],
    "at the latest sampling": [("S1", 0, 30)],
    "older than the latest": [("S1", -5, 30)],
    "the same reference again": [("R1", 40, 40)],
    "two scans, later each": [("S1", 30, 30), ("S2", 40, 40)],
    "two scans, the second older": [("S1", 30, 30), ("S2", 20, 40)],
    "two scans at one instant": [("S2", 30, 30), ("S1", 30, 31)],
}


@pytest.mark.parametrize("scans", list(SCANS), ids=list(SCANS))
@pytest.mark.parametrize("history", list(HISTORIES), ids=list(HISTORIES))
def test_a_scan_writes_what_the_full_recomputation_wrote(district, epi, history, scans):
    lean, ref = pair(district, HISTORIES[history], epi)
    for sample_ref, sampled, recorded in SCANS[scans]:
        reference(ref, sample_ref, T + sampled * H, T + recorded * H)
        services.sample_recorded(
            person_id=lean, sample_ref=sample_ref, sampled_at=T + sampled * H, now=T + recorded * H
        )
    assert snapshot(lean) == snapshot(ref)
    # And a full recomputation now finds nothing to change.
    before = snapshot(lean)
    services.status_recompute(person_ids=[lean], now=T + 99 * H)
    assert snapshot(lean) == before


@pytest.mark.parametrize("scans", list(SCANS), ids=list(SCANS))
def test_the_bulk_form_writes_what_one_call_per_sample_wrote(district, epi, scans):
    pairs = {name: pair(district, h, epi) for name, h in HISTORIES.items()}
    items = []
    for lean, ref in pairs.values():
        for sample_ref, sampled, recorded in SCANS[scans]:
            reference(ref, sample_ref, T + sampled * H, T + recorded * H)
            items.append((lean, sample_ref, T + sampled * H, T + recorded * H))
    random.Random(7).shuffle(items)  # the order of people does not matter, a person's own order is kept
    items.sort(key=lambda item: (item[0], item[3]))
    services.samples_recorded(items=items)
    for name, (lean, ref) in pairs.items():
        assert snapshot(lean) == snapshot(ref), name


def test_a_rule_version_not_yet_recomputed_takes_the_full_path(district, epi, hq):
    lean, ref = pair(district, HISTORIES["pooled positive"], epi)
    services.rules_update(actor=Actor(hq), changes={"pool_recheck_colour": "red"}, note="更严", now=T + H)
    reference(ref, "S1", T + 30 * H, T + 30 * H)
    services.sample_recorded(person_id=lean, sample_ref="S1", sampled_at=T + 30 * H, now=T + 30 * H)
    assert snapshot(lean) == snapshot(ref)
    assert snapshot(lean)[0][:2] == ("red", "pool_recheck")  # re-evaluated under the new version


def test_random_evidence_and_scans_agree(district, epi):
    rng = random.Random(2022)
    for _case in range(12):
        history: list[tuple[str, int, Any]] = []
        for i in range(rng.randint(0, 4)):
            kind = rng.choice(["result", "result", "pending", "companion", "manual"])
            hours = rng.randint(0, 60)
            if kind == "result":
                detail: Any = (f"R{i}", rng.choice(["negative", "positive", "invalid"]), rng.random() < 0.7)
            elif kind == "pending":
                detail = f"R{i}"
            elif kind == "companion":
                detail = f"C{i}"
            else:
                detail = rng.choice(["green", "yellow", "red"])
            history.append((kind, hours, detail))
        history.sort(key=lambda e: e[1])
        lean, ref = pair(district, history, epi)
        for j in range(rng.randint(1, 3)):
            sampled = rng.choice([0, 10, 30, 61, 70])
            recorded = 80 + j
            sample_ref = rng.choice([f"S{j}", "R0"])
            reference(ref, sample_ref, T + sampled * H, T + recorded * H)
            services.sample_recorded(
                person_id=lean, sample_ref=sample_ref, sampled_at=T + sampled * H, now=T + recorded * H
            )
        assert snapshot(lean) == snapshot(ref), history


def test_a_scan_is_one_statement_on_postgresql_and_two_elsewhere(district, django_assert_num_queries):

    known, new = (PersonFactory(area=district.household_a).pk for _ in range(2))
    services.results_recorded(items=[(known, "R1", "negative", True, T)], now=T + H)
    selectors.current_rules()  # cached, as on a server
    for person_id in (known, new):  # a status row moved forward; a first status row
        with django_assert_num_queries(1 if connection.vendor == "postgresql" else 2):
            services.sample_recorded(person_id=person_id, sample_ref="S1", sampled_at=T + 30 * H, now=T + 30 * H)


def test_a_tube_of_ten_is_two_statements(district, django_assert_num_queries):
    people = [PersonFactory(area=district.household_a).pk for _ in range(10)]
    services.results_recorded(items=[(p, "R1", "negative", True, T) for p in people[:5]], now=T + H)
    selectors.current_rules()
    items = [(p, "S1", T + 30 * H, T + 30 * H) for p in people]
    with django_assert_num_queries(2):
        services.samples_recorded(items=items)
    views = selectors.status_views(people, now=T + 31 * H)
    assert {(v.badge, v.latest_sampled_at) for v in views.values()} == {("pending", T + 30 * H)}


def test_the_status_shows_the_pending_sample_at_once(district, django_capture_on_commit_callbacks):
    person = PersonFactory(area=district.household_a).pk
    services.results_recorded(items=[(person, "R1", "negative", True, T)], now=T + H)
    assert selectors.status_view(person, now=T + 2 * H).badge == "48h"  # now cached
    with django_capture_on_commit_callbacks(execute=True):
        services.sample_recorded(person_id=person, sample_ref="S1", sampled_at=T + 30 * H, now=T + 30 * H)
    view = selectors.status_view(person, now=T + 30 * H)
    assert (view.colour, view.badge, view.latest_result, view.latest_sampled_at) == (
        "green",
        "pending",
        "pending",
        T + 30 * H,
    )
    assert view.latest_negative_sampled_at == T and not StatusHistory.objects.filter(person_id=person).exists()


# --- LonePending: the pending sample written inside the station's scan statement (PostgreSQL) --------

pg_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="the station's scan statement is PostgreSQL's")


def _host(pending: Any, *, guarded: bool) -> tuple[int, int]:
    """A caller's statement as the station's scan builds it, reduced to its guard: (guard held, the
    status rows moved). ``guarded`` False stands for a concurrent write that moved the status row after
    the guard's snapshot: the guard is not consulted and the upsert's own WHERE decides."""
    from common.db import prepared_cursor

    guard = pending.GUARD if guarded else "TRUE"
    sql = (
        f"WITH c AS (SELECT 1 AS id WHERE {guard}), {pending.ctes('EXISTS (SELECT 1 FROM c)')} "  # noqa: S608
        "SELECT (SELECT count(*) FROM c), (SELECT count(*) FROM health_u)"
    )
    with prepared_cursor() as cur:
        cur.execute(sql, [*(pending.guard_params() if guarded else []), *pending.cte_params()])
        held, moved = cur.fetchone()
    return held, moved


@pg_only
def test_a_scan_inside_the_stations_statement_writes_what_the_full_recomputation_wrote(district, epi):
    """Every evidence history and single scan of the lean-path equivalence tests above, through the
    guarded write, with and without a race after the guard."""
    for history, scan, guarded in itertools.product(
        HISTORIES, [s for s, scans in SCANS.items() if len(scans) == 1], (True, False)
    ):
        lean, ref = pair(district, HISTORIES[history], epi)
        [(sample_ref, sampled, recorded)] = SCANS[scan]
        at, now = T + sampled * H, T + recorded * H
        reference(ref, sample_ref, at, now)
        pending = services.LonePending(person_id=lean, sample_ref=sample_ref, sampled_at=at, now=now)
        held, moved = _host(pending, guarded=guarded)
        if held:
            pending.done(moved)
        else:  # the caller wrote nothing and takes its transactional path
            services.samples_recorded(items=[(lean, sample_ref, at, now)])
        case = (history, scan, "guard" if guarded else "race after the guard")
        assert snapshot(lean) == snapshot(ref), case
        # The guard lets through only what the lean write settles alone.
        assert not (guarded and held) or moved == 1, case


@pg_only
def test_the_guard_refuses_a_status_row_of_another_rule_version(district, epi, hq):
    lean = PersonFactory(area=district.household_a).pk
    services.results_recorded(items=[(lean, "R1", "negative", True, T)], now=T + H)
    services.rules_update(actor=Actor(hq), changes={"pool_recheck_colour": "red"}, note="更严", now=T + H)
    pending = services.LonePending(person_id=lean, sample_ref="S1", sampled_at=T + 30 * H, now=T + 30 * H)
    assert _host(pending, guarded=True) == (0, 0)
    assert not Sample.objects.filter(person_id=lean, sample_ref="S1").exists()
