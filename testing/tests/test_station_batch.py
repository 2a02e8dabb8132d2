"""The station's set-based path (the batch endpoint, and the single endpoints as batches of one): it
answers and records exactly what the one-at-a-time path (``services.station_submit``) would, one
submission after the other, in a number of statements that does not grow with the batch."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEntry
from audit.services import Actor
from health.models import HealthStatus
from health.models import Sample as HealthSample
from people.tests.factories import PersonFactory
from testing import services
from testing.models import IdempotentRequest, Round, Sample, Tube
from testing.tests.conftest import NOW, fill_tube, token

pytestmark = pytest.mark.usefixtures("clock")

API = "/api/v1/testing/station"


def post(client: Any, path: str, body: dict[str, Any]) -> Any:
    return client.post(f"{API}/{path}", body, content_type="application/json")


@pytest.fixture
def station(client: Any, sampler: Any, site: Any) -> Any:
    services.site_staff_add(actor=Actor.system(), site=site, user=sampler, now=NOW)
    client.force_login(sampler)
    return client


def _tube(site: Any, barcode: str, people: list[Any]) -> list[dict[str, Any]]:
    return [
        {"kind": "open", "key": f"open-{barcode}", "site_id": site.pk, "barcode": barcode},
        *[
            {"kind": "sample", "key": f"scan-{barcode}-{i:02d}", "barcode": barcode, "code": token(p)}
            for i, p in enumerate(people)
        ],
        {"kind": "seal", "key": f"seal-{barcode}", "barcode": barcode},
    ]


def test_a_batch_of_ten_tubes_costs_the_statements_of_a_batch_of_one(station, site, district):
    people = PersonFactory.create_batch(111, area=district.household_a)
    post(station, "batch", {"items": _tube(site, "WARM", people[110:])})  # rules and memberships cached
    counts = []
    for first, tubes in ((0, 1), (1, 10)):
        items = [x for t in range(first, first + tubes) for x in _tube(site, f"B{t:03d}", people[t * 10 : t * 10 + 10])]
        with CaptureQueriesContext(connection) as ctx:
            r = post(station, "batch", {"items": items})
        assert [x["status"] for x in r.json()["results"]] == [200] * (12 * tubes)
        counts.append([q["sql"][:60] for q in ctx.captured_queries])
    assert len(counts[0]) == len(counts[1]), counts
    assert Sample.objects.count() == 111 and Tube.objects.filter(status="sealed").count() == 12


def test_within_one_batch_the_tube_rules_hold(station, site, district, person_a):
    Round.objects.update(pool_size=5)
    people = PersonFactory.create_batch(5, area=district.household_a)
    code_a = token(person_a)
    items = [
        {"kind": "open", "key": "w-open-0001", "site_id": site.pk, "barcode": "T0001"},
        {"kind": "open", "key": "w-open-0002", "site_id": site.pk, "barcode": "T0001"},  # used once, ever
        {"kind": "sample", "key": "w-samp-0001", "barcode": "T0001", "code": code_a},
        {"kind": "sample", "key": "w-samp-0002", "barcode": "T0001", "id_number": person_a.id_number},  # twice
        *[
            {"kind": "sample", "key": f"w-fill-{i:04d}", "barcode": "T0001", "code": token(p)}
            for i, p in enumerate(people)
        ],
        {"kind": "seal", "key": "w-seal-0001", "barcode": "T0001"},
        {"kind": "open", "key": "w-open-0003", "site_id": site.pk, "barcode": "T0002"},
        {"kind": "sample", "key": "w-samp-0003", "barcode": "T0002", "code": token(person_a)},  # again this round
        {"kind": "sample", "key": "w-samp-0001", "barcode": "T0001", "code": code_a},  # a retry in the batch
        {"kind": "sample", "key": "w-samp-0001", "barcode": "T0002", "code": token(people[0])},  # key reused
    ]
    r = post(station, "batch", {"items": items}).json()["results"]
    codes = [(x["status"], x["answer"]["code"]) for x in r]
    assert codes == [
        (200, "ok"),
        (409, "tube_used"),
        (200, "ok"),
        (409, "person_in_tube"),
        *[(200, "ok")] * 4,
        (409, "tube_full"),
        (200, "ok"),
        (200, "ok"),
        (200, "ok"),
        (200, "ok"),
        (409, "idempotency_key_reused"),
    ]
    assert r[9]["answer"]["count"] == 5 and r[9]["answer"]["status"] == "sealed"
    assert [w["code"] for w in r[11]["answer"]["warnings"]] == ["sampled_twice"]
    assert r[12]["answer"]["replayed"] and r[12]["answer"]["count"] == 1
    assert Tube.objects.get(barcode="T0001").member_count == 5 and Sample.objects.count() == 6
    assert HealthSample.objects.count() == 6


def test_a_batch_racing_another_station_settles_one_submission_at_a_time(station, site, person_a, monkeypatch):
    """A barcode another connection opened after the batch read its tubes: the batch's insert meets the
    unique constraint, its writes are undone, and each submission is answered through the single path."""
    import importlib

    batch = importlib.import_module("testing.services.station_batch")  # the module, not its function
    services.tube_open(actor=Actor.system(), site=site, barcode="T0001", now=NOW)
    monkeypatch.setattr(batch, "_tubes", lambda user, barcodes, *a, **kw: {})  # as if read before that open
    items = [
        {"kind": "open", "key": "race-open-01", "site_id": site.pk, "barcode": "T0001"},
        {"kind": "open", "key": "race-open-02", "site_id": site.pk, "barcode": "T0002"},
        {"kind": "sample", "key": "race-samp-01", "barcode": "T0002", "code": token(person_a)},
    ]
    r = post(station, "batch", {"items": items}).json()["results"]
    assert [(x["status"], x["answer"]["code"]) for x in r] == [(409, "tube_used"), (200, "ok"), (200, "ok")]
    assert Tube.objects.count() == 2 and Sample.objects.count() == 1 and IdempotentRequest.objects.count() == 3


# --- batch == the same submissions one by one, over random mixes of valid and invalid ones ----------


class _Undo(Exception):
    pass


def _snapshot() -> dict[str, Any]:
    barcode = dict(Tube.objects.values_list("pk", "barcode"))
    return {
        "tubes": sorted(
            Tube.objects.values_list(
                "barcode",
                "site_id",
                "pool_size",
                "member_count",
                "status",
                "sealed_at",
                "laboratory_id",
                "opened_by_id",
            )
        ),
        "samples": sorted(
            (barcode[s[0]], *s[1:])
            for s in Sample.objects.values_list(
                "tube_id",
                "person_id",
                "round_id",
                "site_id",
                "area_path",
                "sampled_at",
                "device_at",
                "is_clock_skewed",
                "is_green_channel",
                "is_repeat_in_round",
                "by_id_number",
                "sampler_id",
            )
        ),
        "keys": sorted(IdempotentRequest.objects.values_list("key", "fingerprint", "status_code", "response")),
        "audit": sorted(
            (a, barcode.get(int(o)), str(sorted(e.items())), u)
            for a, o, e, u in AuditEntry.objects.filter(action__startswith="testing.tube_").values_list(
                "action", "object_id", "extra", "actor_id"
            )
        ),
        "health_samples": sorted(HealthSample.objects.values_list("person_id", "sample_ref", "result", "sampled_at")),
        "statuses": sorted(
            HealthStatus.objects.values_list("person_id", "colour", "latest_sampled_at", "latest_result")
        ),
    }


def _run_undone(fn: Any) -> tuple[Any, dict[str, Any]]:
    out: list[Any] = []
    try:
        with transaction.atomic():
            out.append(fn())
            out.append(_snapshot())
            raise _Undo
    except _Undo:
        pass
    return out[0], out[1]


def _random_items(rng: random.Random, w: dict[str, Any]) -> list[dict[str, Any]]:
    barcodes = ["N001"] * 8 + ["N002"] * 3 + ["N003", "E0001", "E0001", "E0002", "X0001", "NOPE", " N001 ", "bad code!"]
    items: list[dict[str, Any]] = []
    for n in range(rng.randint(1, 40)):
        roll = rng.random()
        if items and roll < 0.08:  # a retry of an earlier submission, as sent or with another body
            again = dict(rng.choice(items))
            if rng.random() < 0.4:
                again["barcode"] = rng.choice(barcodes)
            items.append(again)
            continue
        key = rng.choice([f"rk-{n:04d}-{rng.randint(0, 10**6)}"] * 12 + ["bad", "pre-key-0001", "pre-key-0002"])
        kind = rng.choices(["open", "sample", "seal"], weights=[2, 9, 2])[0]
        if kind == "open":
            site = rng.choice([w["site"], w["site"], w["other_site"]])
            items.append({"kind": "open", "key": key, "site_id": site.pk, "barcode": rng.choice(barcodes)})
        elif kind == "seal":
            items.append({"kind": "seal", "key": key, "barcode": rng.choice(barcodes)})
        else:
            item: dict[str, Any] = {"kind": "sample", "key": key, "barcode": rng.choice(barcodes)}
            who = rng.choice(w["people"])
            how = rng.random()
            if how < 0.6:
                item["code"] = token(who)
            elif how < 0.75:
                item["id_number"] = rng.choice([who.id_number, who.id_number.lower(), w["stranger"].id_number, "123"])
            elif how < 0.85:
                item["code"] = rng.choice(["nonsense", w["ghost_code"]])
            elif how < 0.9:
                item["code"] = token(w["stranger"])
            if rng.random() < 0.2:
                item["green_channel"] = True
            if rng.random() < 0.3:
                item["device_at"] = rng.choice([NOW, NOW - dt.timedelta(hours=8)]).isoformat()
            items.append(item)
    return items


def _single_bodies(items: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(endpoint, body) of each submission sent alone: the single endpoints take no kind, and a site only
    for opening."""
    path = {"open": "tubes", "sample": "samples", "seal": "seal"}
    out = []
    for item in items:
        body = {k: v for k, v in item.items() if k != "kind"}
        if item["kind"] != "open":
            body.pop("site_id", None)
        out.append((path[item["kind"]], body))
    return out


def _singles(client: Any, items: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    out = []
    for path, body in _single_bodies(items):
        r = post(client, path, body)
        out.append((r.status_code, r.json()))
    return out


def _reference(user: Any, items: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """The one-at-a-time path, called as the single endpoints called it before they became batches of
    one: each body validated as the endpoint does, answered through ``services.station_submit``, the
    answer shaped by the endpoint's schema."""
    from django.utils import timezone

    from testing.api import BatchItem, StationAnswer

    out = []
    for (_path, body), item in zip(_single_bodies(items), items, strict=True):
        full = BatchItem(kind=item["kind"], **body).model_dump()
        status, answer = services.station_submit(actor=Actor(user, ip="127.0.0.1"), item=full, now=timezone.now())
        out.append((status, StationAnswer(**answer).model_dump()))
    return out


def test_a_batch_answers_and_records_what_the_same_submissions_one_by_one_would(
    station, site, rnd, district, sampler, alice
):
    from people.models import Person
    from territory.models import AreaKind
    from territory.services import area_create

    Round.objects.update(pool_size=5)
    rnd.refresh_from_db()
    people = [*PersonFactory.create_batch(7, area=district.household_a), PersonFactory(area=district.household_b)]
    elsewhere = area_create(parent=None, kind=AreaKind.DISTRICT, name="任城区")
    stranger = PersonFactory(area=elsewhere)  # a code names anyone; a typed number only the round's residents
    ghost = Person(pk=10**7)  # a valid code of nobody
    services.preregistration_create(actor=Actor(alice), rnd=rnd, person=people[1], now=NOW)
    fill_tube(site, sampler, "E0002", people[2:4])  # sealed; people 2 and 3 already sampled this round
    fill_tube(site, sampler, "E0001", people[4:5], seal=False)  # open, one member
    other_site = services.site_create(
        actor=Actor.system(), rnd=rnd, name="别处", location="-", grid=district.grid_b, now=NOW
    )
    services.tube_open(actor=Actor.system(), site=other_site, barcode="X0001", now=NOW)  # not this sampler's
    post(station, "samples", {"key": "pre-key-0001", "barcode": "E0001", "code": token(people[5])})
    post(station, "samples", {"key": "pre-key-0002", "barcode": "NOPE", "code": token(people[5])})  # 404, not kept
    world = {
        "site": site,
        "other_site": other_site,
        "people": [*people, stranger],
        "stranger": stranger,
        "ghost_code": token(ghost),
    }
    scripted = [
        {"kind": "open", "key": "sc-open-01", "site_id": site.pk, "barcode": "N001"},
        {"kind": "seal", "key": "sc-seal-01", "barcode": "N001"},  # empty
        *[
            {"kind": "sample", "key": f"sc-samp-{i:02d}", "barcode": "N001", "code": token(p)}
            for i, p in enumerate(people)
        ],
        {"kind": "seal", "key": "sc-seal-02", "barcode": "N001"},
        {"kind": "sample", "key": "sc-samp-99", "barcode": "N001", "code": token(people[0])},  # sealed
    ]
    seen: set[str] = set()
    for seed in range(-1, 25):
        items = scripted if seed < 0 else _random_items(random.Random(seed), world)
        batch, after_batch = _run_undone(
            lambda items=items: [
                (x["status"], x["answer"]) for x in post(station, "batch", {"items": items}).json()["results"]
            ]
        )
        singles, after_singles = _run_undone(lambda items=items: _singles(station, items))
        reference, after_reference = _run_undone(lambda items=items: _reference(sampler, items))
        for i, (b, s, r) in enumerate(zip(batch, singles, reference, strict=True)):
            # Every schema gives every answer all the fields.
            assert b == r, ("batch", seed, i, items[i])
            assert s == r, ("single", seed, i, items[i])
        assert after_batch == after_reference, seed
        assert after_singles == after_reference, seed
        seen |= {a["code"] for _s, a in batch} | {w["code"] for _s, a in batch for w in a.get("warnings", [])}
        seen |= {"replayed" for _s, a in batch if a.get("replayed")}
    # The mixes met every rule.
    assert seen >= {
        "ok",
        "replayed",
        "idempotency_key_invalid",
        "idempotency_key_reused",
        "not_found",
        "barcode_invalid",
        "tube_used",
        "tube_sealed",
        "tube_full",
        "tube_empty",
        "person_in_tube",
        "person_not_found",
        "token_invalid",
        "sampled_twice",
        "clock_skew",
    }, seen


# --- a single scan or seal on PostgreSQL: one read, one write, no transaction (station_batch._lone) ---

pg_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="the single scan's own path is PostgreSQL's")


@pytest.fixture
def scan_writes(monkeypatch: Any) -> list[tuple[bool, int]]:
    """What each single scan's write answered: (written, status rows moved)."""
    from testing.services import station_sql

    seen: list[tuple[bool, int]] = []
    real = station_sql.scan_write

    def spy(**kwargs: Any) -> tuple[bool, int]:
        seen.append(real(**kwargs))
        return seen[-1]

    monkeypatch.setattr(station_sql, "scan_write", spy)
    return seen


@pg_only
def test_a_single_scan_whose_tube_moved_after_its_read_writes_nothing_and_takes_the_locked_path(
    station, site, sampler, person_a, person_b, monkeypatch, scan_writes
):
    """Two stations' scans into one tube at the same moment: the second read the tube before the first
    wrote. Its write finds another count and writes nothing; the locked path answers with the tube as it
    now stands."""
    from testing.services import station_sql

    post(station, "tubes", {"key": "race-open-01", "site_id": site.pk, "barcode": "T0001"})
    real = station_sql.scan_facts

    def read_then_the_other_station_scans(*args: Any, **kwargs: Any) -> Any:
        facts = real(*args, **kwargs)
        if not Sample.objects.exists():
            item = {"kind": "sample", "key": "race-other-01", "barcode": "T0001", "code": token(person_b)}
            item |= {"site_id": None, "id_number": None, "green_channel": False, "device_at": None}
            services.station_submit(actor=Actor(sampler), item=item, now=NOW)
        return facts

    monkeypatch.setattr(station_sql, "scan_facts", read_then_the_other_station_scans)
    body = {"key": "race-samp-01", "barcode": "T0001", "code": token(person_a)}
    r = post(station, "samples", body)
    assert r.status_code == 200 and r.json()["count"] == 2
    assert scan_writes == [(False, 0)]
    assert Tube.objects.get().member_count == 2 and Sample.objects.count() == 2
    assert HealthSample.objects.count() == 2 and IdempotentRequest.objects.filter(key="race-samp-01").count() == 1
    assert post(station, "samples", body).json() == {**r.json(), "replayed": True}


@pg_only
def test_a_single_scan_of_someone_whose_status_awaits_new_rules_is_recomputed_in_full(
    station, site, hq, person_a, scan_writes
):
    from health.selectors import current_rules
    from health.services import results_recorded, rules_update

    results_recorded(items=[(person_a.pk, "R1", "positive", True, NOW - dt.timedelta(days=1))], now=NOW)
    rules_update(actor=Actor(hq), changes={"pool_recheck_colour": "red"}, note="更严", now=NOW)  # not recomputed
    post(station, "tubes", {"key": "rule-open-01", "site_id": site.pk, "barcode": "T0001"})
    r = post(station, "samples", {"key": "rule-samp-01", "barcode": "T0001", "code": token(person_a)})
    assert r.status_code == 200 and scan_writes == [(False, 0)]
    status = HealthStatus.objects.get(person=person_a)
    assert (status.rule_version, status.colour, status.latest_result) == (current_rules().version, "red", "pending")


@pg_only
def test_single_scans_write_once_and_are_answered_as_the_locked_path_answers(
    station, site, person_a, person_b, scan_writes
):
    post(station, "tubes", {"key": "ok-open-01", "site_id": site.pk, "barcode": "T0001"})
    answers = [
        post(station, "samples", {"key": key, "barcode": "T0001", "code": token(p)}).json()
        for key, p in (("ok-samp-01", person_a), ("ok-samp-02", person_b), ("ok-samp-03", person_a))
    ]
    assert [a["count"] for a in answers[:2]] == [1, 2] and answers[2]["code"] == "person_in_tube"
    assert scan_writes == [(True, 1), (True, 1)]  # the refusal stored its answer alone
    assert IdempotentRequest.objects.filter(key__startswith="ok-samp").count() == 3
    assert HealthStatus.objects.get(person=person_b).latest_result == "pending"


@pg_only
@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_a_single_scan_commits_by_itself_and_a_retry_replays_it(
    station, site, person_a, person_b, scan_writes
):
    """As on a server: no transaction around the request, so the write commits on its own, and a retry
    meets the key's unique constraint outside any transaction."""
    post(station, "tubes", {"key": "ac-open-01", "site_id": site.pk, "barcode": "T0001"})
    body = {"key": "ac-samp-01", "barcode": "T0001", "code": token(person_a)}
    first = post(station, "samples", body)
    assert first.status_code == 200 and not connection.in_atomic_block
    assert post(station, "samples", body).json() == {**first.json(), "replayed": True}
    other = post(station, "samples", {**body, "code": token(person_b)})
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    assert scan_writes[0] == (True, 1) and Tube.objects.get().member_count == 1
    assert Sample.objects.count() == 1 and HealthSample.objects.count() == 1


@pg_only
def test_a_single_seal_is_two_statements_and_keeps_its_audit_row(station, site, person_a, person_b):
    post(station, "tubes", {"key": "se-open-01", "site_id": site.pk, "barcode": "T0001"})
    for i, p in enumerate((person_a, person_b)):
        post(station, "samples", {"key": f"se-samp-0{i}", "barcode": "T0001", "code": token(p)})
    with CaptureQueriesContext(connection) as ctx:
        r = post(station, "seal", {"key": "se-seal-01", "barcode": "T0001"})
    assert r.status_code == 200 and r.json()["status"] == "sealed" and r.json()["count"] == 2
    ours = [q["sql"] for q in ctx.captured_queries if "testing_" in q["sql"] and "SAVEPOINT" not in q["sql"]]
    assert len(ours) == 2 and "audit" in ours[1], ours
    tube = Tube.objects.get()
    entry = AuditEntry.objects.get(action="testing.tube_seal")
    assert (entry.object_type, entry.object_id) == ("testing.tube", str(tube.pk))
    assert entry.extra == {"members": 2, "laboratory": tube.laboratory_id} and tube.sealed_at is not None


@pg_only
def test_a_single_seal_racing_a_scan_takes_the_locked_path(station, site, sampler, person_a, person_b, monkeypatch):
    """The seal read the tube with one member; another station's scan added a second before the seal
    wrote. The seal writes nothing on its own and the locked path seals the tube with both members."""
    from testing.services import station_sql

    post(station, "tubes", {"key": "sr-open-01", "site_id": site.pk, "barcode": "T0001"})
    post(station, "samples", {"key": "sr-samp-01", "barcode": "T0001", "code": token(person_a)})
    real = station_sql.scan_facts

    def read_then_the_other_station_scans(*args: Any, **kwargs: Any) -> Any:
        facts = real(*args, **kwargs)
        if Sample.objects.count() == 1:
            item = {"kind": "sample", "key": "sr-other-01", "barcode": "T0001", "code": token(person_b)}
            item |= {"site_id": None, "id_number": None, "green_channel": False, "device_at": None}
            services.station_submit(actor=Actor(sampler), item=item, now=NOW)
        return facts

    monkeypatch.setattr(station_sql, "scan_facts", read_then_the_other_station_scans)
    r = post(station, "seal", {"key": "sr-seal-01", "barcode": "T0001"})
    assert r.status_code == 200 and r.json()["count"] == 2
    assert AuditEntry.objects.get(action="testing.tube_seal").extra["members"] == 2
    assert AuditEntry.objects.filter(action="testing.tube_seal").count() == 1
