"""Apply, review, print; the manager sees counts and alerts, never visitors."""

from __future__ import annotations

import io
from typing import Any

import pypdfium2 as pdfium
import pytest
import zxingcpp
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from venues.models import CheckIn, Entrance, Venue
from venues.tests.conftest import make_venue

pytestmark = pytest.mark.django_db

FORM = {
    "category": "restaurant",
    "name": "龙城一号饭店",
    "address": "龙城一号网格8号",
    "contact_name": "王经理",
    "contact_phone": "13911112222",
    "entrances": "正门，侧门",
    "committed": "on",
}


def _login(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def decode_poster(pdf: bytes) -> str:
    doc = pdfium.PdfDocument(pdf)
    try:
        image = doc[0].render(scale=2).to_pil()
    finally:
        doc.close()
    found = zxingcpp.read_barcodes(image)
    assert len(found) == 1
    return found[0].text


def test_grid_worker_applies_and_community_admin_approves(alice: Any, bob: Any, district: Any) -> None:
    r = _login(alice).post("/venues/apply/", {**FORM, "grid": district.grid_a.pk})
    assert r.status_code == 302
    venue = Venue.objects.get()
    assert venue.status == "pending" and venue.entrances.count() == 2
    assert _login(alice).get(f"/venues/{venue.pk}/").content.decode().count('id="review"') == 0
    r = _login(bob).post(f"/venues/{venue.pk}/review/", {"decision": "approve"})
    venue.refresh_from_db()
    assert venue.status == "approved"


def test_apply_requires_the_commitment_and_limits_lengths(alice: Any, district: Any) -> None:
    c = _login(alice)
    assert c.post("/venues/apply/", {**FORM, "grid": district.grid_a.pk, "committed": ""}).status_code == 400
    assert c.post("/venues/apply/", {**FORM, "grid": district.grid_a.pk, "name": "长" * 61}).status_code == 400
    assert c.post("/venues/apply/", {**FORM, "grid": district.grid_b.pk}).status_code == 400  # not alice's grid
    assert Venue.objects.count() == 0


def test_outsider_gets_404(charlie: Any, venue: Any) -> None:
    c = _login(charlie)
    entrance = venue.entrances.first()
    assert c.get(f"/venues/{venue.pk}/").status_code == 404
    assert c.get(f"/venues/{venue.pk}/entrances/{entrance.pk}/poster.pdf").status_code == 404
    assert c.post(f"/venues/{venue.pk}/entrances/{entrance.pk}/rotate/").status_code == 404
    assert c.get(f"/venues/{venue.pk}/sentinel/").status_code == 404


def test_poster_decodes_to_a_working_url(vm_client: Client, venue: Any, resident_client: Client) -> None:
    entrance = Entrance.objects.get(venue=venue, number=1)
    r = vm_client.get(f"/venues/{venue.pk}/entrances/{entrance.pk}/poster.pdf")
    assert r.status_code == 200 and r["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(r.content)).pages[0].extract_text()
    assert "逢进必扫" in text and "接庄超市" in text and "崇文大道" in text and "编号" in text and "生成日期" in text
    url = decode_poster(r.content)
    assert url.startswith("http://testserver/v/")
    path = url.removeprefix("http://testserver")
    assert resident_client.post(path, {"client_key": "poster-0001"}).status_code == 302
    assert CheckIn.objects.count() == 1


def test_xss_in_a_venue_name_is_escaped_on_pages_and_literal_in_the_pdf(
    district: Any, vm: Any, vm_client: Client, resident_client: Client
) -> None:
    evil = '<script>alert("x")</script>'
    venue = make_venue(district, manager=vm, name=evil)
    page = vm_client.get(f"/venues/{venue.pk}/").content.decode()
    assert evil not in page and "&lt;script&gt;" in page
    entrance = venue.entrances.first()
    pdf = vm_client.get(f"/venues/{venue.pk}/entrances/{entrance.pk}/poster.pdf").content
    assert evil in PdfReader(io.BytesIO(pdf)).pages[0].extract_text().replace("\n", "")
    scan = resident_client.get(decode_poster(pdf).removeprefix("http://testserver")).content.decode()
    assert evil not in scan and "&lt;script&gt;" in scan


def test_manager_sees_counts_and_alerts_but_no_visitor(
    venue: Any, vm: Any, vm_client: Client, resident_client: Client, token: str, person_a: Any, epi: Any
) -> None:
    resident_client.post(f"/v/{token}/", {"client_key": "key-0000001"})
    page = vm_client.get(f"/venues/{venue.pk}/").content.decode()
    assert "张" not in page.replace("张贴", "")
    assert person_a.id_number[-4:] not in page
    # Every path to visitor data answers 404 to the manager.
    assert vm_client.get("/v/s/key-0000001/").status_code == 404
    assert vm_client.get(f"/venues/trail/{person_a.pk}/").status_code == 404
    assert vm_client.get(f"/people/{person_a.pk}/").status_code == 404
    assert vm_client.get(f"/api/v1/people/{person_a.pk}").status_code in (401, 404)
    # The epidemiologist sees the trail; the resident sees their own.
    assert "接庄超市" in _login(epi).get(f"/venues/trail/{person_a.pk}/").content.decode()
    assert "接庄超市" in resident_client.get("/venues/trail/").content.decode()


def test_venue_list_has_no_n_plus_one(district: Any, vm: Any, vm_client: Client) -> None:
    for i in range(3):
        make_venue(district, manager=vm, name=f"店{i}")
    vm_client.get("/venues/")  # warm the session and per-process caches
    with CaptureQueriesContext(connection) as few:
        assert vm_client.get("/venues/").status_code == 200
    for i in range(3, 10):
        make_venue(district, manager=vm, name=f"店{i}")
    with CaptureQueriesContext(connection) as many:
        vm_client.get("/venues/")
    assert len(many) == len(few)


def test_promotion_rolls_up_shops(alice: Any, bob: Any, district: Any, vm: Any) -> None:
    from venues.models import Shop

    shops = [
        Shop.objects.create(name=f"铺{i}", category="barber", address="路", area=g, area_path=g.path)
        for i, g in enumerate([district.grid_a, district.grid_a, district.grid_b])
    ]
    v = make_venue(district, manager=vm)
    v.shop = shops[0]
    v.save(update_fields=["shop"])
    page = _login(bob).get(f"/venues/promotion/?area={district.community.pk}").content.decode()
    assert "3" in page and "1网格" in page and "2网格" in page
    grid_page = _login(alice).get(f"/venues/promotion/?area={district.grid_a.pk}").content.decode()
    assert "铺1" in grid_page and "铺0" not in grid_page
    assert _login(alice).get(f"/venues/promotion/?area={district.grid_b.pk}").status_code == 404


def test_ledger_export_is_scoped_neutralised_masked_and_audited(
    alice: Any, vm: Any, vm_client: Client, district: Any
) -> None:
    import csv

    from audit.models import AuditEntry

    make_venue(district, manager=vm, name='=HYPERLINK("http://x","点我")')
    make_venue(district, manager=vm, name="二网格店", grid=district.grid_b)
    r = _login(alice).get("/venues/export.csv")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(b"".join(r.streaming_content).decode("utf-8-sig").splitlines()))
    assert rows[0][0] == "场所" and len(rows) == 2  # grid A only
    name, phone, entrances = rows[1][0], rows[1][7], rows[1][5]
    assert name == "'=HYPERLINK(\"http://x\",\"点我\")" and phone == "139****0000"
    assert "正门 " in entrances and "-01-1" in entrances
    assert AuditEntry.objects.get(action="venue.export").row_count == 1
    assert vm_client.get("/venues/export.csv").status_code == 404  # a manager has no ledger of others
