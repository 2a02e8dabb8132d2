"""Round set-up by HQ, resident site lookup, ledgers."""

from __future__ import annotations

import datetime as dt

import pytest

from audit.models import AuditEntry
from people.tests.factories import PersonFactory
from testing.models import Round, Site
from testing.tests.conftest import fill_tube

pytestmark = pytest.mark.usefixtures("clock")


def test_hq_opens_a_round_with_a_default_24h_deadline(client, hq, district, lab):
    client.force_login(hq)
    assert "开启" in client.get("/testing/rounds/new/").content.decode()
    r = client.post(
        "/testing/rounds/new/",
        {
            "name": "第四轮",
            "area": district.district.pk,
            "pool_size": 10,
            "starts_at": "2022-04-20T07:00",
            "laboratory": lab.pk,
        },
    )
    rnd = Round.objects.get()
    assert r.status_code == 302 and rnd.deadline_at - rnd.starts_at == dt.timedelta(hours=24)
    assert rnd.pool_size == 10 and rnd.categories == []


def test_a_bad_pool_size_is_refused(client, hq, district):
    client.force_login(hq)
    r = client.post(
        "/testing/rounds/new/",
        {"name": "第五轮", "area": district.district.pk, "pool_size": 7, "starts_at": "2022-04-20T07:00"},
    )
    assert r.status_code == 200 and not Round.objects.exists()


def test_only_hq_opens_rounds(client, alice):
    client.force_login(alice)
    assert client.get("/testing/rounds/new/").status_code == 404


def test_community_admin_adds_a_site(client, bob, rnd, district):
    client.force_login(bob)
    r = client.post(
        f"/testing/rounds/{rnd.pk}/sites/new/",
        {"name": "15网格检测点", "location": "社区广场", "grid": district.grid_a.pk, "hours": "7-19"},
    )
    assert r.status_code == 302 and Site.objects.get().area == district.grid_a


def test_round_page_shows_live_figures(client, alice, rnd, site, sampler, person_a):
    fill_tube(site, sampler, "R0001", [person_a])
    client.force_login(alice)
    body = client.get(f"/testing/rounds/{rnd.pk}/").content.decode()
    assert "第四轮" in body and "15网格检测点" in body


def test_an_outsider_gets_404_for_the_round(client, district, rnd):
    from accounts.roles import Role
    from conftest import make_user
    from territory.models import AreaKind
    from territory.services import area_create

    other = area_create(parent=None, kind=AreaKind.DISTRICT, name="任城区")
    client.force_login(make_user("far", Role.GRID_WORKER, other))
    assert client.get(f"/testing/rounds/{rnd.pk}/").status_code == 404
    assert client.get(f"/testing/rounds/{rnd.pk}/calls/").status_code == 404
    assert client.get(f"/api/v1/testing/rounds/{rnd.pk}/coverage").status_code == 404


def test_resident_sees_sites_near_with_a_queue_estimate(client, resident, site, sampler, district):
    people = PersonFactory.create_batch(6, area=district.household_a)
    fill_tube(site, sampler, "Q0001", people)
    client.force_login(resident)
    body = client.get("/testing/near/").content.decode()
    assert "15网格检测点" in body and "6" in body and "分钟" in body


def test_site_ledger_is_masked_and_formula_safe(client, hq, site, sampler, district):
    evil = PersonFactory(area=district.household_a, name="=HYPERLINK(1)")
    fill_tube(site, sampler, "L0001", [evil])
    client.force_login(hq)
    r = client.get(f"/testing/sites/{site.pk}/ledger.csv")
    text = b"".join(r.streaming_content).decode("utf-8-sig")
    assert "L0001" in text and evil.id_number not in text and evil.masked_id_number in text
    assert "'=*" in text
    assert AuditEntry.objects.filter(action="testing.export_site").exists()


def test_round_and_lab_ledgers(client, hq, lab_user, rnd, site, sampler, person_a):
    fill_tube(site, sampler, "L0002", [person_a])
    client.force_login(hq)
    text = b"".join(client.get(f"/testing/rounds/{rnd.pk}/ledger.csv").streaming_content).decode("utf-8-sig")
    assert "1网格" in text
    client.force_login(lab_user)
    client.post(
        "/api/v1/testing/lab/results",
        {"rows": [{"barcode": "L0002", "result": "negative"}]},
        content_type="application/json",
    )
    text = b"".join(client.get("/testing/lab/ledger.csv").streaming_content).decode("utf-8-sig")
    assert "L0002" in text and "阴性" in text
