"""The sampler station through its API: tube rules, green channel, clock, idempotency."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from audit.services import Actor
from health.models import HealthStatus
from people.tests.factories import PersonFactory
from testing import services
from testing.models import IdempotentRequest, Sample, Tube
from testing.tests.conftest import NOW, token

pytestmark = pytest.mark.usefixtures("clock")

API = "/api/v1/testing/station"


def post(client: Any, path: str, body: dict[str, Any]) -> Any:
    return client.post(f"{API}/{path}", body, content_type="application/json")


@pytest.fixture
def station(client: Any, sampler: Any, site: Any) -> Any:
    services.site_staff_add(actor=Actor.system(), site=site, user=sampler, now=NOW)
    client.force_login(sampler)
    return client


def open_tube(client: Any, site: Any, barcode: str = "T0001", key: str = "k-open-0001") -> Any:
    return post(client, "tubes", {"key": key, "site_id": site.pk, "barcode": barcode})


def test_fill_and_seal_a_tube(station, site, person_a, person_b):
    assert open_tube(station, site).json()["count"] == 0
    r = post(station, "samples", {"key": "k-sample-01", "barcode": "T0001", "code": token(person_a)})
    assert r.status_code == 200
    assert r.json()["person"] == "张*" and r.json()["count"] == 1 and r.json()["pool_size"] == 10
    r = post(station, "samples", {"key": "k-sample-02", "barcode": "T0001", "id_number": person_b.id_number.lower()})
    assert r.json()["count"] == 2
    r = post(station, "seal", {"key": "k-seal-0001", "barcode": "T0001"})
    assert r.status_code == 200 and r.json()["status"] == "sealed"
    tube = Tube.objects.get(barcode="T0001")
    assert tube.laboratory == site.round.laboratory and tube.sealed_at == NOW
    sample = Sample.objects.get(tube=tube, person=person_b)
    assert sample.sampled_at == NOW and sample.by_id_number


def test_a_tube_barcode_is_used_once_ever(station, site):
    open_tube(station, site)
    r = open_tube(station, site, key="k-open-0002")
    assert r.status_code == 409 and r.json()["code"] == "tube_used"
    assert Tube.objects.count() == 1


def test_a_pool_never_exceeds_the_round_size(station, site, district):
    people = PersonFactory.create_batch(11, area=district.household_a)
    open_tube(station, site)
    for i, p in enumerate(people[:10]):
        assert (
            post(station, "samples", {"key": f"k-fill-{i:04d}", "barcode": "T0001", "code": token(p)}).status_code
            == 200
        )
    r = post(station, "samples", {"key": "k-fill-0011", "barcode": "T0001", "code": token(people[10])})
    assert r.status_code == 409 and r.json()["code"] == "tube_full"
    assert Tube.objects.get().member_count == 10 and Sample.objects.count() == 10


def test_the_database_refuses_an_overfull_tube_even_past_the_service(site, sampler):
    from django.db import IntegrityError, transaction

    tube = Tube.objects.create(barcode="RAW1", round=site.round, site=site, pool_size=5, opened_at=NOW)
    with pytest.raises(IntegrityError), transaction.atomic():
        Tube.objects.filter(pk=tube.pk).update(member_count=6)


def test_the_same_person_twice_in_one_tube_is_refused(station, site, person_a):
    open_tube(station, site)
    post(station, "samples", {"key": "k-dup-00001", "barcode": "T0001", "code": token(person_a)})
    r = post(station, "samples", {"key": "k-dup-00002", "barcode": "T0001", "id_number": person_a.id_number})
    assert r.status_code == 409 and r.json()["code"] == "person_in_tube"
    assert Sample.objects.count() == 1


def test_a_person_sampled_twice_in_a_round_is_warned(station, site, person_a):
    open_tube(station, site)
    post(station, "samples", {"key": "k-twice-001", "barcode": "T0001", "code": token(person_a)})
    post(station, "seal", {"key": "k-twice-002", "barcode": "T0001"})
    open_tube(station, site, barcode="T0002", key="k-twice-003")
    r = post(station, "samples", {"key": "k-twice-004", "barcode": "T0002", "code": token(person_a)})
    assert r.status_code == 200
    assert [w["code"] for w in r.json()["warnings"]] == ["sampled_twice"]
    assert Sample.objects.get(tube__barcode="T0002").is_repeat_in_round


def test_green_channel_is_marked(station, site, person_a):
    open_tube(station, site)
    r = post(
        station, "samples", {"key": "k-green-01", "barcode": "T0001", "code": token(person_a), "green_channel": True}
    )
    assert r.json()["green_channel"] is True
    assert Sample.objects.get().is_green_channel


def test_device_time_far_from_the_server_is_kept_and_flagged(station, site, person_a, person_b):
    open_tube(station, site)
    off = (NOW - dt.timedelta(hours=8)).isoformat()
    r = post(station, "samples", {"key": "k-clock-01", "barcode": "T0001", "code": token(person_a), "device_at": off})
    assert "clock_skew" in [w["code"] for w in r.json()["warnings"]]
    s = Sample.objects.get(person=person_a)
    assert s.sampled_at == NOW and s.device_at == NOW - dt.timedelta(hours=8) and s.is_clock_skewed
    near = (NOW - dt.timedelta(seconds=20)).isoformat()
    post(station, "samples", {"key": "k-clock-02", "barcode": "T0001", "code": token(person_b), "device_at": near})
    assert not Sample.objects.get(person=person_b).is_clock_skewed


def test_a_retry_with_the_same_key_returns_the_first_answer_and_records_nothing_twice(station, site, person_a):
    open_tube(station, site)
    body = {"key": "k-retry-001", "barcode": "T0001", "code": token(person_a)}
    first = post(station, "samples", body)
    again = post(station, "samples", body)
    assert again.status_code == first.status_code == 200
    assert again.json()["count"] == first.json()["count"] == 1 and again.json()["replayed"] is True
    assert Sample.objects.count() == 1 and Tube.objects.get().member_count == 1
    # A refusal is an answer too: its retry is refused the same way, not recorded.
    assert open_tube(station, site, key="k-open-0001").json()["count"] == 0


def test_the_same_key_with_a_different_body_is_refused(station, site, person_a, person_b):
    open_tube(station, site)
    post(station, "samples", {"key": "k-reuse-001", "barcode": "T0001", "code": token(person_a)})
    r = post(station, "samples", {"key": "k-reuse-001", "barcode": "T0001", "code": token(person_b)})
    assert r.status_code == 409 and r.json()["code"] == "idempotency_key_reused"
    assert Sample.objects.count() == 1 and IdempotentRequest.objects.filter(key="k-reuse-001").count() == 1


def test_batch_replays_an_offline_queue_in_order(station, site, person_a, person_b):
    items = [
        {"kind": "open", "key": "b-open-0001", "site_id": site.pk, "barcode": "T0009"},
        {"kind": "sample", "key": "b-samp-0001", "barcode": "T0009", "code": token(person_a)},
        {"kind": "sample", "key": "b-samp-0002", "barcode": "T0009", "code": token(person_b)},
        {"kind": "seal", "key": "b-seal-0001", "barcode": "T0009"},
    ]
    r = post(station, "batch", {"items": items})
    assert [x["status"] for x in r.json()["results"]] == [200, 200, 200, 200]
    again = post(station, "batch", {"items": items}).json()["results"]
    assert all(x["answer"]["replayed"] for x in again)
    assert Sample.objects.count() == 2


def test_a_bad_sampling_code_is_refused(station, site):
    open_tube(station, site)
    r = post(station, "samples", {"key": "k-badcode1", "barcode": "T0001", "code": "nonsense"})
    assert r.status_code == 400 and r.json()["code"] == "token_invalid"


def test_an_id_number_outside_the_round_is_not_found(station, site, district):
    from territory.models import AreaKind
    from territory.services import area_create

    elsewhere = area_create(parent=None, kind=AreaKind.DISTRICT, name="任城区")
    stranger = PersonFactory(area=elsewhere)
    open_tube(station, site)
    r = post(station, "samples", {"key": "k-strange1", "barcode": "T0001", "id_number": stranger.id_number})
    assert r.status_code == 404 and r.json()["code"] == "person_not_found"


def test_a_sampler_of_another_grid_cannot_use_the_site(client, site, district):
    from accounts.roles import Role
    from conftest import make_user

    client.force_login(make_user("sampler2", Role.SAMPLER, district.grid_b))
    assert open_tube(client, site).status_code == 404
    assert client.get(f"/testing/station/{site.pk}/").status_code == 404


def test_the_station_page_is_phone_sized_and_in_chinese(station, site):
    body = station.get(f"/testing/station/{site.pk}/").content.decode()
    assert 'name="viewport"' in body and "封管" in body and "扫描" in body


def test_wrong_method_is_405(station, site):
    assert station.get(f"{API}/tubes").status_code == 405


def test_a_sampler_works_only_at_the_sites_they_staff(client, site, district, rnd, sampler, person_a):
    """Same grid, same role, but not assigned to the site: the site and its tubes are not theirs."""
    from accounts.roles import Role
    from conftest import make_user

    services.site_staff_add(actor=Actor.system(), site=site, user=sampler, now=NOW)
    other_site = services.site_create(
        actor=Actor.system(), rnd=rnd, name="1网格第二检测点", location="东门", grid=district.grid_a, now=NOW
    )
    client.force_login(sampler)
    open_tube(client, site)
    assert client.get("/testing/station/").url == f"/testing/station/{site.pk}/"  # their only site
    assert client.get(f"/testing/station/{other_site.pk}/").status_code == 404
    assert open_tube(client, other_site, barcode="T0002", key="k-other-001").status_code == 404

    client.force_login(make_user("sampler3", Role.SAMPLER, district.grid_a))
    assert "不在任何" in client.get("/testing/station/").content.decode()
    assert client.get(f"/testing/station/{site.pk}/").status_code == 404
    r = post(client, "samples", {"key": "k-stranger1", "barcode": "T0001", "code": token(person_a)})
    assert r.status_code == 404 and Sample.objects.count() == 0


def test_a_retry_gets_its_first_answer_even_after_the_staffing_changed(station, site, sampler, person_a):
    from testing.models import SiteStaff

    open_tube(station, site)
    body = {"key": "k-late-0001", "barcode": "T0001", "code": token(person_a)}
    first = post(station, "samples", body)
    SiteStaff.objects.filter(user=sampler).delete()
    again = post(station, "samples", body)
    assert again.status_code == first.status_code == 200 and again.json()["replayed"] is True
    other = post(station, "samples", {**body, "green_channel": True})
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"
    fresh = post(station, "samples", {**body, "key": "k-late-0002"})
    assert fresh.status_code == 404


def test_a_refused_submission_in_a_batch_undoes_only_itself(station, site, person_a, person_b):
    items = [
        {"kind": "open", "key": "r-open-0001", "site_id": site.pk, "barcode": "T0010"},
        {"kind": "sample", "key": "r-samp-0001", "barcode": "T0010", "code": token(person_a)},
        {"kind": "sample", "key": "r-samp-0002", "barcode": "T0010", "code": token(person_a)},
        {"kind": "sample", "key": "r-samp-0003", "barcode": "T0010", "code": token(person_b)},
        {"kind": "sample", "key": "r-samp-0004", "barcode": "NOSUCHTUBE", "code": token(person_b)},
        {"kind": "seal", "key": "r-seal-0001", "barcode": "T0010"},
    ]
    r = post(station, "batch", {"items": items}).json()["results"]
    assert [x["status"] for x in r] == [200, 200, 409, 200, 404, 200]
    assert r[2]["answer"]["code"] == "person_in_tube" and r[5]["answer"]["count"] == 2
    assert Sample.objects.count() == 2 and Tube.objects.get().status == "sealed"
    again = post(station, "batch", {"items": items}).json()["results"]
    assert [x["status"] for x in again] == [200, 200, 409, 200, 404, 200]
    assert Sample.objects.count() == 2 and IdempotentRequest.objects.count() == 5


def test_a_closed_round_refuses_samples_with_its_code_and_seals_the_filled_tube(station, site, hq, person_a, person_b):
    from testing.models import Round

    open_tube(station, site)
    post(station, "samples", {"key": "k-close-001", "barcode": "T0001", "code": token(person_a)})
    services.round_close(actor=Actor(hq), rnd=Round.objects.get(), now=NOW)
    r = post(station, "samples", {"key": "k-close-002", "barcode": "T0001", "code": token(person_b)})
    assert r.status_code == 409 and r.json()["code"] == "round_closed" and "结束" in r.json()["message"]
    assert open_tube(station, site, barcode="T0002", key="k-close-003").json()["code"] == "round_closed"
    assert post(station, "seal", {"key": "k-close-004", "barcode": "T0001"}).json()["status"] == "sealed"


def test_a_round_not_yet_started_refuses_tubes_with_its_code(station, site):
    from testing.models import Round

    Round.objects.update(starts_at=NOW + dt.timedelta(hours=2), deadline_at=NOW + dt.timedelta(hours=26))
    r = open_tube(station, site)
    assert r.status_code == 409 and r.json()["code"] == "round_not_started" and "开始" in r.json()["message"]
    assert not Tube.objects.exists()


def test_a_person_preregistered_for_the_green_channel_is_marked_so(station, site, alice, person_a):
    services.preregistration_create(actor=Actor(alice), rnd=site.round, person=person_a, now=NOW)
    open_tube(station, site)
    r = post(station, "samples", {"key": "k-prereg-01", "barcode": "T0001", "code": token(person_a)})
    assert r.json()["green_channel"] is True and Sample.objects.get().is_green_channel


def test_a_scan_costs_two_statements_on_postgresql(station, site, person_a, person_b):
    """On PostgreSQL a single scan is one read (the tube with the sampler's access, the person with the
    tube rules' facts) and one write (the count, the sample, the key's answer and the health app's
    pending sample and status row), without a transaction. On SQLite, in a transaction: the tube, the
    person, the count, the sample and the key, then the health app's two. A new key is not looked up
    first: a reused one meets its unique constraint."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    open_tube(station, site)
    post(station, "samples", {"key": "k-count-001", "barcode": "T0001", "code": token(person_a)})
    with CaptureQueriesContext(connection) as ctx:
        r = post(station, "samples", {"key": "k-count-002", "barcode": "T0001", "code": token(person_b)})
    assert r.status_code == 200 and r.json()["count"] == 2
    ours, health = _statements(ctx, "testing_"), _statements(ctx, "health_")
    if connection.vendor == "postgresql":
        assert len(ours) == 2 and health == ours[1:], ours
    else:
        assert (len(ours), len(health)) == (5, 2), (ours, health)
    assert HealthStatus.objects.get(person=person_b).latest_result == "pending"


def _statements(ctx: Any, table_prefix: str) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if table_prefix in q["sql"] and "SAVEPOINT" not in q["sql"]]


def _tube_batch(site: Any, barcode: str, people: list[Any]) -> list[dict[str, Any]]:
    return [
        {"kind": "open", "key": f"open-{barcode}", "site_id": site.pk, "barcode": barcode},
        *[
            {"kind": "sample", "key": f"scan-{barcode}-{i:02d}", "barcode": barcode, "code": token(p)}
            for i, p in enumerate(people)
        ],
        {"kind": "seal", "key": f"seal-{barcode}", "barcode": barcode},
    ]


def test_a_tube_of_ten_through_the_batch_costs_two_statements_of_the_health_app(station, site, district, person_a):
    """Open, 10 scans, seal in one request: the health app records the 10 samples together at the end;
    this app's own are 5 for the whole batch (keys, sites, tubes, people read, then tubes, samples and
    keys written in one statement; 7 on SQLite, which writes them one by one), whatever its size
    (test_station_batch.py)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from health.services import results_recorded

    people = [person_a, *PersonFactory.create_batch(9, area=district.household_a)]
    results_recorded(
        items=[(p.pk, "EARLIER", "negative", True, NOW - dt.timedelta(days=1)) for p in people[:4]], now=NOW
    )
    warm = PersonFactory(area=district.household_a)
    post(station, "batch", {"items": _tube_batch(site, "T0100", [warm])})  # the token and rules cached
    with CaptureQueriesContext(connection) as ctx:
        r = post(station, "batch", {"items": _tube_batch(site, "T0101", people)})
    assert [x["status"] for x in r.json()["results"]] == [200] * 12
    assert len(_statements(ctx, "health_")) == 2, _statements(ctx, "health_")
    assert len(_statements(ctx, "testing_")) == (5 if connection.vendor == "postgresql" else 7), _statements(
        ctx, "testing_"
    )
    assert Sample.objects.filter(tube__barcode="T0101").count() == 10


def test_the_status_shows_the_pending_sample_right_after_a_scan(station, site, district, person_a, person_b):
    from health.selectors import status_view
    from health.services import results_recorded

    earlier = NOW - dt.timedelta(days=1)
    results_recorded(items=[(person_a.pk, "EARLIER", "negative", True, earlier)], now=NOW - dt.timedelta(hours=2))
    assert status_view(person_a.pk, now=NOW).badge == "48h"  # read, so cached, before the scan
    assert status_view(person_b.pk, now=NOW).badge == "none"
    open_tube(station, site)
    post(station, "samples", {"key": "k-pending-1", "barcode": "T0001", "code": token(person_a)})
    r = post(station, "batch", {"items": _tube_batch(site, "T0102", [person_b])})
    assert r.status_code == 200
    for person, colour in ((person_a, "green"), (person_b, "green")):
        view = status_view(person.pk, now=NOW)
        assert (view.colour, view.badge, view.latest_result, view.latest_sampled_at) == (
            colour,
            "pending",
            "pending",
            NOW,
        )
    assert status_view(person_a.pk, now=NOW).latest_negative_sampled_at == earlier


def test_a_refused_or_replayed_scan_in_a_batch_records_no_health_sample(station, site, person_a, person_b):
    from health.models import Sample as HealthSample

    items = [
        {"kind": "open", "key": "h-open-0001", "site_id": site.pk, "barcode": "T0011"},
        {"kind": "sample", "key": "h-samp-0001", "barcode": "T0011", "code": token(person_a)},
        {"kind": "sample", "key": "h-samp-0002", "barcode": "T0011", "code": token(person_a)},  # same person: 409
        {"kind": "sample", "key": "h-samp-0003", "barcode": "NOSUCHTUBE", "code": token(person_b)},  # 404
    ]
    r = post(station, "batch", {"items": items}).json()["results"]
    assert [x["status"] for x in r] == [200, 200, 409, 404]
    assert list(HealthSample.objects.values_list("person_id", "sample_ref")) == [(person_a.pk, f"T0011:{person_a.pk}")]
    again = post(
        station,
        "batch",
        {"items": [*items, {"kind": "sample", "key": "h-samp-0004", "barcode": "T0011", "code": token(person_b)}]},
    ).json()["results"]
    assert [x["status"] for x in again] == [200, 200, 409, 404, 200] and again[1]["answer"]["replayed"]
    assert HealthSample.objects.count() == 2
