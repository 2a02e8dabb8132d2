"""Shops for the venue-code push: the census form at a shop's door, the roster import, applying on a
shop's behalf, and the promotion figures over the territory tree."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from openpyxl import Workbook, load_workbook

from audit.models import AuditEntry
from venues.models import Shop, Venue

pytestmark = pytest.mark.django_db

HEADERS = ["店铺名称", "类别", "地址", "网格", "联系电话"]
SHOP = {"name": "龙城超市", "category": "supermarket", "address": "崇文大道1号", "contact_phone": "13911112222"}
EVIL = '<script>alert("x")</script>'


def _login(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _xlsx(rows: list[list[Any]], headers: list[str] = HEADERS, title: bool = False) -> SimpleUploadedFile:
    wb = Workbook()
    ws = wb.active
    if title:
        ws.append(["龙城一号网格店铺名册（市场监管局）"])
    ws.append(headers)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return SimpleUploadedFile("shops.xlsx", out.getvalue())


def _csv(text: str, encoding: str = "utf-8-sig") -> SimpleUploadedFile:
    return SimpleUploadedFile("shops.csv", text.encode(encoding), content_type="text/csv")


# --- the census form ----------------------------------------------------------------------------


def test_a_grid_worker_registers_a_shop_and_then_applies_for_its_code(alice: Any, district: Any) -> None:
    c = _login(alice)
    assert 'inputmode="tel"' in c.get("/venues/shops/new/").content.decode()
    r = c.post("/venues/shops/new/", {**SHOP, "grid": district.grid_a.pk})
    assert r.status_code == 302
    shop = Shop.objects.get()
    assert (shop.area_id, shop.source, shop.registered_by_id) == (district.grid_a.pk, "census", alice.pk)
    page = c.get(r["Location"]).content.decode()
    assert "已登记：龙城超市" in page and f"/venues/apply/?shop={shop.pk}" in page
    assert AuditEntry.objects.filter(action="venue.shop_register", object_id=str(shop.pk)).count() == 1

    # The application on the shop's behalf starts from what the census found.
    form = c.get(f"/venues/apply/?shop={shop.pk}").content.decode()
    for value in ("龙城超市", "崇文大道1号", "13911112222", 'value="supermarket" selected'):
        assert value in form
    r = c.post(
        f"/venues/apply/?shop={shop.pk}",
        {**SHOP, "shop": shop.pk, "grid": district.grid_a.pk, "contact_name": "店主", "entrances": "正门",
         "committed": "on"},
    )  # fmt: skip
    assert r.status_code == 302
    assert Venue.objects.get().shop_id == shop.pk
    assert "已有场所码" in c.get(f"/venues/shops/new/?done={shop.pk}").content.decode()


def test_the_same_shop_twice_in_a_grid_is_refused_with_a_clear_message(alice: Any, charlie: Any, district: Any) -> None:
    c = _login(alice)
    c.post("/venues/shops/new/", {**SHOP, "grid": district.grid_a.pk})
    # Spaces, full-width digits and punctuation do not make another shop.
    r = c.post(
        "/venues/shops/new/", {**SHOP, "name": "龙城 超市", "address": "崇文大道１号。", "grid": district.grid_a.pk}
    )
    assert r.status_code == 409
    assert "该店铺已在本网格登记（龙城超市，崇文大道1号）" in r.content.decode()
    # The same name and address in another grid is another shop.
    assert _login(charlie).post("/venues/shops/new/", {**SHOP, "grid": district.grid_b.pk}).status_code == 302
    assert Shop.objects.count() == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "长" * 61}, "60"),
        ({"address": ""}, "此项必填"),
        ({"contact_phone": "0537-1234567"}, "联系电话须为11位手机号"),
        ({"category": "bank"}, "选择一个有效的选项"),
    ],
)
def test_bad_input_is_refused_with_a_message(alice: Any, district: Any, change: dict[str, str], message: str) -> None:
    r = _login(alice).post("/venues/shops/new/", {**SHOP, "grid": district.grid_a.pk, **change})
    assert r.status_code == 400 and message in r.content.decode()
    assert Shop.objects.count() == 0


def test_only_the_users_own_grids_and_only_grid_staff(alice: Any, vm: Any, resident: Any, district: Any) -> None:
    assert _login(alice).post("/venues/shops/new/", {**SHOP, "grid": district.grid_b.pk}).status_code == 400
    for user in (vm, resident):  # a venue manager or a resident registers no shops and imports no roster
        c = _login(user)
        assert c.get("/venues/shops/new/").status_code == 404
        assert c.get("/venues/shops/import/").status_code == 404
        assert c.get("/venues/shops/import/template.xlsx").status_code == 404
    assert Shop.objects.count() == 0


def test_a_shop_of_another_grid_is_not_shown_after_registering(alice: Any, charlie: Any, district: Any) -> None:
    _login(charlie).post("/venues/shops/new/", {**SHOP, "grid": district.grid_b.pk})
    other = Shop.objects.get()
    assert "龙城超市" not in _login(alice).get(f"/venues/shops/new/?done={other.pk}").content.decode()
    assert _login(alice).get(f"/venues/apply/?shop={other.pk}").status_code == 404


def test_names_are_escaped_on_the_census_and_promotion_pages(alice: Any, district: Any) -> None:
    c = _login(alice)
    r = c.post("/venues/shops/new/", {**SHOP, "name": EVIL, "grid": district.grid_a.pk})
    for page in (c.get(r["Location"]), c.get(f"/venues/promotion/?area={district.grid_a.pk}")):
        html = page.content.decode()
        assert EVIL not in html and "&lt;script&gt;" in html


# --- the roster import --------------------------------------------------------------------------


def test_import_reports_every_bad_row_and_keeps_the_good_ones(alice: Any, district: Any) -> None:
    rows = [
        ["龙城超市", "超市", "崇文大道1号", "1网格", "13911112222"],  # line 3
        ["好再来饭店", "餐饮", "崇文大道2号", "9网格", ""],  # unknown grid
        ["二网格药店", "药店", "崇文大道3号", "2网格", ""],  # a grid of charlie's, not alice's
        ["龙城银行", "银行", "崇文大道4号", "1网格", ""],  # bad category
        ["龙城理发", "理发", "崇文大道5号", "1网格", "12345"],  # bad phone
        ['=HYPERLINK("http://x","点我")', "其他", "崇文大道6号", "1网格", ""],  # formula-like: kept as text
        ["龙城 超市", "超市", "崇文大道１号", "1网格", ""],  # the first row again
        ["", "超市", "崇文大道7号", "1网格", ""],  # no name
        ["=1+2", "其他", "崇文大道8号", "1网格", None],  # written as a formula cell
    ]
    r = _login(alice).post("/venues/shops/import/", {"file": _xlsx(rows, title=True)})
    assert r.status_code == 200
    report = r.context["report"]
    assert (report.row_count, report.created, report.error_count) == (9, 3, 6)
    reasons = {e.line: (e.code, e.column) for e in report.errors}
    assert reasons == {
        4: ("grid_not_found", "网格"),
        5: ("grid_outside_scope", "网格"),
        6: ("category_invalid", "类别"),
        7: ("phone_invalid", "联系电话"),
        9: ("duplicate_in_file", "店铺名称"),
        10: ("name_required", "店铺名称"),
    }
    page = r.content.decode()
    assert "没有这个名称的网格" in page and "该网格不在您的辖区内" in page and "与本文件第 3 行" in page
    names = set(Shop.objects.values_list("name", flat=True))
    assert names == {"龙城超市", '=HYPERLINK("http://x","点我")', "=1+2"}
    assert set(Shop.objects.values_list("source", flat=True)) == {"roster"}
    entry = AuditEntry.objects.get(action="venue.shop_import")
    assert entry.row_count == 9 and entry.extra["created"] == 3 and len(entry.extra["errors"]) == 6
    assert "龙城" not in str(entry.extra)  # reasons, never the rows' values
    # The importer downloads the refused rows to correct them; nobody else can.
    link = f"/venues/shops/import/{entry.pk}/errors.xlsx"
    assert link in page
    download = _login(alice).get(link)
    assert download.status_code == 200 and download["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml"
    )
    sheet = openpyxl.load_workbook(io.BytesIO(download.content)).active
    table = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert table[0] == ["行号", "列", "原因", "代码"]
    assert [row[0] for row in table[1:]] == [4, 5, 6, 7, 9, 10]
    assert table[1] == [4, "网格", "没有这个名称的网格。", "grid_not_found"]
    assert "与本文件第 3 行" in table[5][2]


def test_the_error_report_is_the_importers_only(alice: Any, charlie: Any, district: Any) -> None:
    rows = [["好再来饭店", "餐饮", "崇文大道2号", "9网格", ""]]
    _login(alice).post("/venues/shops/import/", {"file": _xlsx(rows)})
    entry = AuditEntry.objects.get(action="venue.shop_import")
    assert _login(charlie).get(f"/venues/shops/import/{entry.pk}/errors.xlsx").status_code == 404
    assert _login(alice).get(f"/venues/shops/import/{entry.pk + 999}/errors.xlsx").status_code == 404


def test_importing_the_same_file_again_changes_nothing(alice: Any, district: Any) -> None:
    rows = [
        ["龙城超市", "超市", "崇文大道1号", "1网格", "13911112222"],
        ["龙城饭店", "餐饮", "崇文大道2号", "1网格", ""],
    ]
    c = _login(alice)
    c.post("/venues/shops/new/", {**SHOP, "contact_phone": "", "grid": district.grid_a.pk})  # found door to door
    first = c.post("/venues/shops/import/", {"file": _xlsx(rows)}).context["report"]
    assert (first.created, first.updated, first.unchanged) == (1, 1, 0)  # the census record got its phone
    before = list(Shop.objects.order_by("id").values())
    again = c.post("/venues/shops/import/", {"file": _xlsx(rows)}).context["report"]
    assert (again.created, again.updated, again.unchanged, again.error_count) == (0, 0, 2, 0)
    assert list(Shop.objects.order_by("id").values()) == before


def test_csv_in_utf8_or_gbk_and_our_own_formula_guard(alice: Any, district: Any) -> None:
    c = _login(alice)
    text = "店铺名称,类别,地址,网格,联系电话\n'=cmd,超市,崇文大道9号,接庄社区/1网格,139 1111 3333\n"
    report = c.post("/venues/shops/import/", {"file": _csv(text)}).context["report"]
    assert report.created == 1 and report.error_count == 0
    shop = Shop.objects.get()
    assert (shop.name, shop.contact_phone) == ("=cmd", "13911113333")
    gbk = "店名,行业,经营地址,所属网格\n接庄药房,药房,崇文大道10号,1网格\n"
    report = c.post("/venues/shops/import/", {"file": _csv(gbk, "gb18030")}).context["report"]
    assert report.created == 1 and Shop.objects.get(name="接庄药房").category == "pharmacy"


def test_a_file_that_is_not_a_roster_is_refused_as_a_whole(alice: Any, district: Any) -> None:
    c = _login(alice)
    r = c.post("/venues/shops/import/", {"file": SimpleUploadedFile("shops.pdf", b"%PDF-1.4")})
    assert r.status_code == 400 and "只能导入 .xlsx 或 .csv 文件" in r.content.decode()
    r = c.post("/venues/shops/import/", {"file": _xlsx([["龙城超市", "崇文大道1号"]], headers=["店铺名称", "地址"])})
    assert r.status_code == 400 and "缺少必填列：类别、网格" in r.content.decode()
    assert Shop.objects.count() == 0 and not AuditEntry.objects.filter(action="venue.shop_import").exists()


def test_the_template_names_the_columns(alice: Any) -> None:
    r = _login(alice).get("/venues/shops/import/template.xlsx")
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.content))
    assert [c.value for c in wb.worksheets[0][1]] == HEADERS
    assert "填写说明" in wb.sheetnames
    # An unfilled template is a file without rows, not an import of nothing.
    r = _login(alice).post("/venues/shops/import/", {"file": SimpleUploadedFile("t.xlsx", r.content)})
    assert r.status_code == 400


# --- promotion ----------------------------------------------------------------------------------


def _shops(grid: Any, n: int, start: int = 0) -> None:
    Shop.objects.bulk_create(
        Shop(name=f"铺{i}", category="barber", address=f"路{i}号", area=grid, area_path=grid.path, name_key=f"k{i}")
        for i in range(start, start + n)
    )


def test_promotion_figures_roll_up_the_tree(hq: Any, bob: Any, alice: Any, district: Any, vm: Any) -> None:
    from venues.tests.conftest import make_venue

    _shops(district.grid_a, 3)
    _shops(district.grid_b, 2, start=10)
    venue = make_venue(district, manager=vm)
    Venue.objects.filter(pk=venue.pk).update(shop=Shop.objects.get(name="铺0"))
    totals = {}
    for user, area in ((hq, district.district), (hq, district.subdistrict), (bob, district.community)):
        data = _login(user).get(f"/venues/promotion/?area={area.pk}").context["promotion"]
        totals[area.kind] = (data.total.shops, data.total.shops_with_code, data.total.shops_without_code)
        assert sum(r.shops for r in data.rows) == data.total.shops
    assert set(totals.values()) == {(5, 1, 4)}
    rows = {
        r.area.name: (r.shops, r.shops_with_code)
        for r in _login(bob).get(f"/venues/promotion/?area={district.community.pk}").context["promotion"].rows
    }
    assert rows == {"1网格": (3, 1), "2网格": (2, 0)}
    grid = _login(alice).get(f"/venues/promotion/?area={district.grid_a.pk}")
    assert [s.name for s in grid.context["shops"]] == ["铺1", "铺2"]  # the ones still without a code


@pytest.mark.parametrize("level", ["community", "grid_a"])
def test_promotion_pages_have_constant_query_counts(bob: Any, district: Any, level: str) -> None:
    c = _login(bob)
    url = f"/venues/promotion/?area={getattr(district, level).pk}"
    _shops(district.grid_a, 2)
    c.get(url)  # warm the session and per-process caches
    with CaptureQueriesContext(connection) as few:
        assert c.get(url).status_code == 200
    _shops(district.grid_a, 20, start=100)
    _shops(district.grid_b, 20, start=200)
    with CaptureQueriesContext(connection) as many:
        c.get(url)
    assert len(many) == len(few)
