from __future__ import annotations

import io

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.roles import Role
from audit.models import AuditEntry
from conftest import make_user
from people.tests.factories import PersonFactory

FORMULAS = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tx", "\rx"]


@pytest.fixture
def leader(district):
    """A grid leader of grid A: may export, may reveal phones but not ID numbers."""
    return make_user("leader", Role.GRID_LEADER, district.grid_a)


def _download(response) -> bytes:
    return b"".join(response.streaming_content)


def _sheet(response):
    assert response.status_code == 200, response.content[:500]
    return list(openpyxl.load_workbook(io.BytesIO(_download(response))).active.iter_rows())


def test_xlsx_is_masked_by_default_and_in_chinese(client, hq, person_a):
    client.force_login(hq)
    r = client.get("/people/export/", {"format": "xlsx"})
    assert r["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = _sheet(r)
    assert [c.value for c in rows[0]][:4] == ["姓名", "身份证号", "手机号", "网格"]
    values = [c.value for c in rows[1]]
    assert values[:4] == ["张*", person_a.masked_id_number, "138****5678", "1网格"]
    assert values[5:8] == ["1号楼", "1单元", "101"]
    assert values[-1] == "接庄社区 / 1网格 / 1号楼 / 1单元 / 101"
    entry = AuditEntry.objects.get(action="people.export")
    assert entry.row_count == 1 and entry.extra["masked"] is True and entry.actor == hq


def test_formula_names_are_text_cells_with_the_exact_value(client, hq, district):
    for name in [*FORMULAS, "响\x07铃"]:
        PersonFactory(area=district.household_a, name=name)
    client.force_login(hq)
    r = client.post("/people/export/", {"format": "xlsx", "unmasked": "on", "reason": "核对名单"})
    rows = _sheet(r)[1:]
    cells = {c.value: c for c in (row[0] for row in rows)}
    for name in FORMULAS:
        assert cells[name].data_type == "s", name
    # A control character from an old row is replaced; the export does not fail.
    assert "响\ufffd铃" in cells


def test_unmasked_needs_capability_and_reason_and_is_audited(client, hq, leader, person_a):
    client.force_login(hq)
    r = client.post("/people/export/", {"format": "xlsx", "unmasked": "on", "reason": ""})
    assert r.status_code == 400 and "请填写导出不脱敏数据的理由" in r.content.decode()
    r = client.post("/people/export/", {"format": "xlsx", "unmasked": "on", "reason": "疫情排查"})
    assert [c.value for c in _sheet(r)[1]][:3] == ["张三", person_a.id_number, "13812345678"]
    entry = AuditEntry.objects.get(action="people.export")
    assert entry.reason == "疫情排查" and entry.extra["masked"] is False

    # A grid leader may reveal phones, not ID numbers or names.
    client.force_login(leader)
    r = client.post("/people/export/", {"format": "xlsx", "unmasked": "on", "reason": "回访"})
    assert [c.value for c in _sheet(r)[1]][:3] == ["张*", person_a.masked_id_number, "13812345678"]


def test_unmasked_is_never_given_through_a_get_link(client, hq, person_a):
    client.force_login(hq)
    r = client.get("/people/export/", {"format": "xlsx", "unmasked": "on", "reason": "x"})
    assert _sheet(r)[1][0].value == "张*"


def test_a_role_without_reveal_cannot_unmask(client, leader, person_a, monkeypatch):
    # Every shipped role that may export may also reveal phones; take that away to see the refusal.
    from accounts import roles

    monkeypatch.setitem(
        roles.CAPABILITIES, Role.GRID_LEADER, roles.CAPABILITIES[Role.GRID_LEADER] - {roles.Cap.REVEAL_PHONE}
    )
    client.force_login(leader)
    r = client.post("/people/export/", {"format": "xlsx", "unmasked": "on", "reason": "想看"})
    assert r.status_code == 403 and "您的角色无权导出不脱敏数据" in r.content.decode()
    assert not AuditEntry.objects.filter(action="people.export").exists()


def test_another_territorys_people_never_appear(client, leader, person_a, person_b, district):
    client.force_login(leader)
    names = [row[0].value for row in _sheet(client.get("/people/export/", {"format": "xlsx"}))[1:]]
    assert names == ["张*"]
    r = client.get("/people/export/", {"format": "csv"})
    assert "李*" not in _download(r).decode("utf-8-sig")
    assert client.get("/people/export/", {"format": "xlsx", "area": district.grid_b.pk}).status_code == 404


def test_export_needs_the_capability(client, alice, person_a):
    client.force_login(alice)  # grid workers may import, not export
    assert client.get("/people/export/", {"format": "xlsx"}).status_code == 404


def test_csv_starts_with_bom_and_neutralises_formulas(client, hq, district):
    PersonFactory(area=district.household_a, name="=1+1", phone="13812345678")
    PersonFactory(area=district.household_a, name="@SUM(A1)")
    client.force_login(hq)
    r = client.post("/people/export/", {"format": "csv", "unmasked": "on", "reason": "核对"})
    assert r["Content-Type"].startswith("text/csv")
    raw = _download(r)
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("姓名,身份证号,手机号,网格")
    assert "'=1+1," in text and "'@SUM(A1)," in text
    assert "\n=1+1" not in text
    assert AuditEntry.objects.get(action="people.export").row_count == 2


def test_page_offers_the_unmasked_option_to_entitled_users(client, hq, district):
    client.force_login(hq)
    body = client.get("/people/export/").content.decode()
    assert "导出人员" in body and "不脱敏导出的理由" in body


def _export_queries(client, n, district):
    PersonFactory.create_batch(n, area=district.household_a)
    with CaptureQueriesContext(connection) as ctx:
        r = client.get("/people/export/", {"format": "xlsx"})
        _download(r)
    return len(ctx)


def test_export_query_count_does_not_grow_with_rows(client, hq, district, monkeypatch):
    from people.roster import exporting

    monkeypatch.setattr(exporting, "CHUNK", 1000)
    client.force_login(hq)
    client.get("/people/")  # warm the session and memberships
    small = _export_queries(client, 3, district)
    large = _export_queries(client, 120, district)
    assert large == small
