"""Coverage on a small district counted by hand, the call list, exemptions and home sampling."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEntry
from audit.services import Actor
from people.tests.factories import PersonFactory
from territory.models import AreaKind
from territory.services import area_create
from testing import selectors, services
from testing.models import CallLog
from testing.tests.conftest import NOW, fill_tube

pytestmark = pytest.mark.usefixtures("clock")


@pytest.fixture
def town(district: Any, person_a: Any, person_b: Any, site: Any, sampler: Any, rnd: Any) -> dict[str, Any]:
    """Grid A: flat 101 (张三 + 3), flat 301 (2, one with limited mobility); grid B: flat 101 (李四 + 1)."""
    unit_a = district.household_a.parent
    flat_301 = area_create(parent=unit_a, kind=AreaKind.HOUSEHOLD, name="301")
    a = [person_a, *PersonFactory.create_batch(3, area=district.household_a, phone="13811112222")]
    a2 = [PersonFactory(area=flat_301, is_mobility_impaired=True), PersonFactory(area=flat_301, phone="13733334444")]
    b = [person_b, PersonFactory(area=district.household_b)]
    PersonFactory(area=district.household_b, category="student")  # outside a residents-only round
    fill_tube(site, sampler, "C0001", [a[0], a[1], b[0]])
    services.exemption_create(actor=Actor.system(), rnd=rnd, person=a[2], reason="away", now=NOW)
    services.home_request_create(actor=Actor.system(), rnd=rnd, person=a2[0], reason="mobility", now=NOW)
    return {"a": a, "a2": a2, "b": b, "flat_301": flat_301}


def row(rows: list[Any], area_id: int) -> tuple[int, int, int, int, int]:
    r = next(r for r in rows if r.area_id == area_id)
    return r.total, r.covered, r.exempted, r.home_pending, r.left


def test_coverage_counted_by_hand(town, district, rnd):
    rnd.categories = ["resident"]
    rnd.save(update_fields=["categories"])
    total, _subdistricts = selectors.coverage_children(rnd, district.district)
    assert (total.total, total.covered, total.exempted, total.home_pending, total.left) == (8, 3, 1, 1, 3)
    _t, grids = selectors.coverage_children(rnd, district.community)
    assert row(grids, district.grid_a.pk) == (6, 2, 1, 1, 2)
    assert row(grids, district.grid_b.pk) == (2, 1, 0, 0, 1)
    _t, flats = selectors.coverage_children(rnd, district.household_a.parent)
    assert row(flats, district.household_a.pk) == (4, 2, 1, 0, 1)
    assert row(flats, town["flat_301"].pk) == (2, 0, 0, 1, 1)
    states = [m.state for m in selectors.household_members_state(rnd, town["flat_301"])]
    assert sorted(states) == ["home", "left"]


def test_everyone_counts_when_no_category_is_chosen(town, district, rnd):
    assert selectors.coverage_total(rnd)["total"] == 9


def test_closing_the_round_keeps_its_figures(town, rnd, hq):
    rnd.categories = ["resident"]
    rnd.save(update_fields=["categories"])
    closed = services.round_close(actor=Actor(hq), rnd=rnd, now=NOW)
    totals = {k: v for k, v in closed.final_figures.items() if k not in ("by_grid", "nodes_kept")}
    assert totals == {"total": 8, "covered": 3, "exempted": 1, "home_pending": 1, "left": 3}
    grids = {g["label"].split(" ")[-1]: (g["total"], g["covered"], g["left"]) for g in closed.final_figures["by_grid"]}
    assert grids == {"1网格": (6, 2, 2), "2网格": (2, 1, 1)}


def test_coverage_page_drills_down_with_constant_queries(client, hq, town, district, rnd):
    client.force_login(hq)
    client.get(f"/testing/rounds/{rnd.pk}/coverage/")
    with CaptureQueriesContext(connection) as small:
        body = client.get(f"/testing/rounds/{rnd.pk}/coverage/?area={district.community.pk}").content.decode()
    assert "1网格" in body and "2网格" in body
    PersonFactory.create_batch(40, area=district.household_b)
    with CaptureQueriesContext(connection) as big:
        client.get(f"/testing/rounds/{rnd.pk}/coverage/?area={district.community.pk}")
    assert len(big) == len(small) <= 12


def test_a_grid_worker_sees_only_their_grid(client, alice, town, district, rnd):
    client.force_login(alice)
    assert client.get(f"/testing/rounds/{rnd.pk}/coverage/?area={district.grid_b.pk}").status_code == 404
    body = client.get(f"/testing/rounds/{rnd.pk}/coverage/").content.decode()
    assert "1号楼" in body


def test_call_list_shows_households_left_with_masked_phones(client, alice, town, district, rnd):
    client.force_login(alice)
    with CaptureQueriesContext(connection) as ctx:
        body = client.get(f"/testing/rounds/{rnd.pk}/calls/").content.decode()
    assert len(ctx) <= 12
    assert "138****2222" in body and "137****4444" in body
    assert "13811112222" not in body
    assert "2号楼" not in body  # grid B is charlie's
    assert "请问咱们" in body


def test_a_call_outcome_is_recorded_and_shown(client, alice, town, district, rnd):
    client.force_login(alice)
    r = client.post(
        f"/testing/rounds/{rnd.pk}/households/{district.household_a.pk}/call/",
        {"outcome": "away", "note": "在外地出差, 周五回"},
    )
    assert r.status_code == 302
    call = CallLog.objects.get()
    assert call.outcome == "away" and call.called_by == alice and call.note.startswith("在外地")
    body = client.get(f"/testing/rounds/{rnd.pk}/calls/").content.decode()
    assert "外出" in body
    assert (
        client.post(
            f"/testing/rounds/{rnd.pk}/households/{district.household_b.pk}/call/", {"outcome": "away"}
        ).status_code
        == 404
    )


def test_revealing_a_phone_is_audited(client, alice, town, rnd):
    client.force_login(alice)
    person = town["a"][1]
    r = client.post(f"/people/{person.pk}/reveal/", {"field": "phone", "reason": "测试轮次电话核对"})
    assert "13811112222" in r.content.decode()
    assert AuditEntry.objects.filter(action="person.reveal_phone", object_id=str(person.pk)).exists()


def test_exemption_elsewhere_needs_proof(town, rnd):
    with pytest.raises(services.lab.DomainError):
        services.exemption_create(actor=Actor.system(), rnd=rnd, person=town["b"][1], reason="elsewhere", now=NOW)


def test_preregistration_and_home_list_grouped_by_building_and_floor(client, alice, town, rnd, district):
    client.force_login(alice)
    p = town["a"][3]
    client.post(f"/testing/rounds/{rnd.pk}/people/{p.pk}/prereg/", {"next": "/"})
    client.post(f"/testing/rounds/{rnd.pk}/people/{town['a2'][1].pk}/home/", {"reason": "request", "next": "/"})
    body = client.get(f"/testing/rounds/{rnd.pk}/home/").content.decode()
    assert "1号楼" in body and "3层" in body
    from testing.models import HomeSamplingRequest, PreRegistration

    assert PreRegistration.objects.filter(person=p).exists()
    req = HomeSamplingRequest.objects.get(person=town["a2"][1])
    client.post(f"/testing/rounds/{rnd.pk}/home/{req.pk}/close/", {"outcome": "sampled", "barcode": "H0001"})
    req.refresh_from_db()
    assert req.status == "sampled" and req.tube.barcode == "H0001" and req.tube.is_home_sampling
    absent = HomeSamplingRequest.objects.get(person=town["a2"][0])
    client.post(f"/testing/rounds/{rnd.pk}/home/{absent.pk}/close/", {"outcome": "absent"})
    absent.refresh_from_db()
    assert absent.status == "absent"


def test_home_sampling_for_the_mobility_flag_only(town, rnd):
    with pytest.raises(services.lab.DomainError):
        services.home_request_create(actor=Actor.system(), rnd=rnd, person=town["b"][1], reason="mobility", now=NOW)


def test_a_home_tube_of_one_team_cannot_be_used_by_another(town, rnd, district):
    from accounts.roles import Role
    from conftest import make_user
    from testing.models import HomeSamplingRequest

    nurse_a = make_user("nurse_a", Role.SAMPLER, district.grid_a)
    nurse_b = make_user("nurse_b", Role.SAMPLER, district.grid_b)
    services.home_team_create(
        actor=Actor.system(), rnd=rnd, name="A组", area=district.grid_a, members=[nurse_a], now=NOW
    )
    services.home_team_create(
        actor=Actor.system(), rnd=rnd, name="B组", area=district.grid_b, members=[nurse_b], now=NOW
    )
    first = HomeSamplingRequest.objects.get(person=town["a2"][0])
    services.home_request_close(actor=Actor(nurse_a), request=first, outcome="sampled", barcode="H0777", now=NOW)
    other = services.home_request_create(actor=Actor.system(), rnd=rnd, person=town["b"][1], reason="request", now=NOW)
    with pytest.raises(services.lab.DomainError) as exc:
        services.home_request_close(actor=Actor(nurse_b), request=other, outcome="sampled", barcode="H0777", now=NOW)
    assert exc.value.code == "tube_used"
    other.refresh_from_db()
    assert other.status == "pending"
