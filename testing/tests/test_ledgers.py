"""Ledgers as Excel: Chinese headers, masked by default, formula-safe, audited; the site ledger unmasked
only for roles that may reveal ID numbers, with a reason, and only for people in their scope."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import pytest

from accounts.roles import Role
from audit.models import AuditEntry
from conftest import make_user
from people.tests.factories import PersonFactory
from territory.models import AreaKind
from territory.services import area_create
from testing.tests.conftest import fill_tube

pytestmark = pytest.mark.usefixtures("clock")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULAS = ['=HYPERLINK("http://x","点我")', "+86", "-1", "@SUM(A1)"]


def sheet(response: Any) -> list[list[Any]]:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == XLSX
    data = b"".join(response.streaming_content)
    return [list(row) for row in openpyxl.load_workbook(io.BytesIO(data)).active.iter_rows()]


def values(rows: list[list[Any]]) -> list[list[Any]]:
    return [[c.value for c in row] for row in rows]


@pytest.fixture
def filled(site, sampler, district, person_a, person_b):
    """Tube X0001 at the grid-A site: 张三 (grid A), 李四 (grid B), and a name made to run in Excel."""
    evil = PersonFactory(area=district.household_a, name=FORMULAS[0])
    fill_tube(site, sampler, "X0001", [person_a, person_b, evil])
    return {"evil": evil}


def test_site_ledger_xlsx_is_masked_with_chinese_headers_and_audited(client, hq, site, filled, person_a):
    client.force_login(hq)
    rows = values(sheet(client.get(f"/testing/sites/{site.pk}/ledger.xlsx")))
    assert rows[0] == ["试管条码", "状态", "封管时间", "姓名", "身份证号", "采样时间", "采样员", "绿色通道", "本轮重复",
                       "设备时间(偏差)"]
    first = rows[1]
    assert first[:2] == ["X0001", "已封管"] and first[3:5] == ["张*", person_a.masked_id_number]
    assert first[5] == "2022-04-20 15:00:00" and first[6] == "采样员甲"  # Asia/Shanghai
    assert person_a.id_number not in str(rows)
    entry = AuditEntry.objects.get(action="testing.export_site")
    assert entry.actor == hq and entry.row_count == 3 and entry.extra == {"format": "xlsx", "masked": True}


def test_a_formula_name_is_a_text_cell_in_xlsx_and_quoted_in_csv(client, hq, site, filled):
    client.force_login(hq)
    rows = sheet(client.get(f"/testing/sites/{site.pk}/ledger.xlsx"))
    cell = rows[3][3]  # masked, yet it still starts with "="
    assert cell.value.startswith("=") and cell.data_type == "s" and cell.quotePrefix
    text = b"".join(client.get(f"/testing/sites/{site.pk}/ledger.csv").streaming_content).decode("utf-8-sig")
    assert ",'=*" in text  # the masked name, quoted so Excel keeps it text


def test_unmasked_site_ledger_needs_a_reason_and_reveals_only_the_users_scope(client, district, site, filled,
                                                                            person_a, person_b):
    admin_a = make_user("admin_a", Role.COMMUNITY_ADMIN, district.grid_a)  # may reveal ID numbers in grid A
    client.force_login(admin_a)
    form = client.get(f"/testing/sites/{site.pk}/ledger/unmasked/")
    assert form.status_code == 200 and "理由" in form.content.decode()
    r = client.post(f"/testing/sites/{site.pk}/ledger/unmasked/", {"format": "xlsx", "reason": " "})
    assert r.status_code == 400 and not AuditEntry.objects.filter(action="testing.export_site").exists()
    r = client.post(f"/testing/sites/{site.pk}/ledger/unmasked/", {"format": "xlsx", "reason": "复核混管成员"})
    rows = values(sheet(r))
    assert rows[1][3:5] == ["张三", person_a.id_number]
    assert rows[2][3:5] == ["李*", person_b.masked_id_number]  # lives in grid B: not this admin's to reveal
    assert rows[3][3] == filled["evil"].name
    entry = AuditEntry.objects.get(action="testing.export_site")
    assert entry.reason == "复核混管成员" and entry.extra["masked"] is False and entry.extra["unmasked_rows"] == 2


def test_a_role_without_reveal_gets_no_unmasked_ledger(client, alice, site, filled, person_a):
    client.force_login(alice)
    assert client.get(f"/testing/sites/{site.pk}/ledger.xlsx").status_code == 200  # masked is fine
    r = client.post(f"/testing/sites/{site.pk}/ledger/unmasked/", {"format": "csv", "reason": "想看看"})
    assert r.status_code == 403 and person_a.id_number not in r.content.decode()
    assert [e.extra["masked"] for e in AuditEntry.objects.filter(action="testing.export_site")] == [True]


def test_an_unmasked_ledger_is_never_a_get_link(client, hq, site, filled, person_a):
    client.force_login(hq)
    r = client.get(f"/testing/sites/{site.pk}/ledger/unmasked/", {"format": "xlsx", "reason": "链接"})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/html")
    assert person_a.id_number not in r.content.decode()


def test_round_ledger_xlsx_per_grid_and_the_outsider_sees_only_their_grid(client, hq, charlie, rnd, site, filled):
    client.force_login(hq)
    rows = values(sheet(client.get(f"/testing/rounds/{rnd.pk}/ledger.xlsx")))
    assert rows[0] == ["网格", "应检", "已检", "免检", "待上门", "未检", "覆盖率"]
    grids = {r[0].split(" / ")[-1]: r[1:] for r in rows[1:]}
    assert grids["1网格"] == [2, 2, 0, 0, 0, "100%"] and grids["2网格"] == [1, 1, 0, 0, 0, "100%"]
    client.force_login(charlie)
    rows = values(sheet(client.get(f"/testing/rounds/{rnd.pk}/ledger.xlsx")))
    assert [r[0].split(" / ")[-1] for r in rows[1:]] == ["2网格"]
    assert AuditEntry.objects.filter(action="testing.export_round").count() == 2


def test_lab_ledger_xlsx_lists_the_labs_own_results(client, lab_user, other_lab_user, site, filled):
    client.force_login(lab_user)
    client.post("/api/v1/testing/lab/results", {"rows": [{"barcode": "X0001", "result": "positive"}]},
                content_type="application/json")
    rows = values(sheet(client.get("/testing/lab/ledger.xlsx")))
    assert rows[0] == ["试管条码", "混采", "人数", "结果", "接收时间", "更正时间", "轮次"]
    assert rows[1][:4] == ["X0001", "10合1", 3, "阳性"]
    client.force_login(other_lab_user)
    assert len(sheet(client.get("/testing/lab/ledger.xlsx"))) == 1  # headers only
    assert AuditEntry.objects.filter(action="testing.export_lab").count() == 2


def test_ledgers_for_people_from_elsewhere_stay_masked(client, hq, site, sampler):
    """A visitor from another district sampled at the site: HQ of this district may not reveal them."""
    far = area_create(parent=None, kind=AreaKind.DISTRICT, name="任城区")
    visitor = PersonFactory(area=far, name="赵六")
    fill_tube(site, sampler, "X0002", [visitor])
    client.force_login(hq)
    r = client.post(f"/testing/sites/{site.pk}/ledger/unmasked/", {"format": "xlsx", "reason": "流调"})
    assert values(sheet(r))[1][3:5] == ["赵*", visitor.masked_id_number]


def test_wrong_method_is_405(client, hq, site):
    client.force_login(hq)
    assert client.post(f"/testing/sites/{site.pk}/ledger.xlsx").status_code == 405
