from __future__ import annotations

import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from audit.models import AuditEntry
from audit.services import Actor
from common.errors import DomainError
from people.models import Person
from people.roster import roster_import
from people.tests.factories import make_id_number
from people.tests.roster_helpers import HEADERS, upload, xlsx_bytes
from territory.models import Area


def _bad_check_digit(good: str) -> str:
    return good[:-1] + ("1" if good[-1] != "1" else "2")


def _row(name, id_number, grid="1网格", phone="", building="5号楼", unit="1单元", household="101", **kw):
    return [name, id_number, phone, grid, kw.get("estate", ""), building, unit, household, kw.get("category", ""),
            kw.get("doses", ""), kw.get("elderly", ""), kw.get("mobility", ""), kw.get("no_phone", "")]


def _run(user, rows, **kwargs):
    return roster_import(actor=Actor(user=user), file=upload(rows, **kwargs), now=timezone.now())


@pytest.fixture
def mixed_rows(district):
    good1, good2, dup = make_id_number(), make_id_number(), make_id_number()
    return [
        _row("王五", good1, phone="13800000001", estate="阳光城市花园", category="流动", doses=3, elderly="是",
             mobility="N", no_phone="√"),                                            # line 2
        _row("赵六", _bad_check_digit(make_id_number())),                            # line 3
        _row("钱七", make_id_number()[:17]),                                         # line 4
        _row("孙八", make_id_number(), phone="12345"),                               # line 5
        _row("周九", make_id_number(), grid="不存在网格"),                            # line 6
        _row("吴十", make_id_number(), grid="2网格"),                                # line 7: charlie's grid
        _row("郑一", dup),                                                           # line 8
        _row("郑二", dup),                                                           # line 9: duplicate
        _row('=HYPERLINK("http://x")', good2, household="102"),                      # line 10
    ]


def test_good_rows_are_imported_and_every_bad_row_reported_with_line_and_reason(alice, mixed_rows):
    report = _run(alice, mixed_rows)
    assert (report.row_count, report.created, report.updated, report.unchanged) == (9, 3, 0, 0)
    assert [(e.line, e.code) for e in report.errors] == [
        (3, "id_checksum"), (4, "id_length"), (5, "phone_invalid"), (6, "grid_not_found"), (7, "grid_not_found"),
        (9, "duplicate_in_file"),
    ]
    messages = {e.line: e.message for e in report.errors}
    assert messages[3] == "身份证号校验位错误。"
    assert messages[6] == messages[7] == "网格不存在或不在您的辖区。"
    assert messages[9] == "该身份证号已在本文件第 8 行出现。"
    assert {e.line: e.column for e in report.errors}[5] == "手机号"

    wang = Person.objects.get(name="王五")
    assert (wang.phone, wang.category, wang.vaccine_doses) == ("13800000001", "floating", 3)
    assert (wang.is_elderly_alone, wang.is_mobility_impaired, wang.has_no_smartphone) == (True, False, True)
    chain = [a.name for a in Area.objects.filter(id__in=wang.area.ancestor_ids()).order_by("depth")]
    assert chain[-5:] == ["1网格", "阳光城市花园", "5号楼", "1单元", "101"]
    assert wang.area.kind == "household"
    # A formula-looking name is stored as the plain text typed.
    assert Person.objects.filter(name='=HYPERLINK("http://x")').exists()


def test_importing_the_same_file_again_changes_nothing(alice, mixed_rows):
    _run(alice, mixed_rows)
    before = {p.pk: (p.updated_at, p.area_id, p.phone) for p in Person.objects.all()}
    areas = Area.objects.count()
    report = _run(alice, mixed_rows)
    assert (report.created, report.updated, report.unchanged, report.error_count) == (0, 0, 3, 6)
    assert {p.pk: (p.updated_at, p.area_id, p.phone) for p in Person.objects.all()} == before
    assert Area.objects.count() == areas


def test_changed_data_updates_the_person(alice, district):
    ident = make_id_number()
    _run(alice, [_row("王五", ident, phone="13800000001")])
    report = _run(alice, [_row("王五", ident, phone="13900000002", doses=2)])
    assert (report.created, report.updated) == (0, 1)
    person = Person.objects.get(id_number=ident)
    assert (person.phone, person.vaccine_doses) == ("13900000002", 2)


def test_a_less_precise_row_keeps_the_registered_household(alice, person_a):
    rows = [[person_a.name, person_a.id_number, person_a.phone, "1网格"]]
    report = _run(alice, rows, headers=["姓名", "身份证号", "手机号", "网格"])
    assert (report.unchanged, report.error_count) == (1, 0)
    person_a.refresh_from_db()
    assert person_a.area.name == "101"


def test_a_grid_worker_cannot_import_into_another_grid_nor_take_its_people(alice, person_b):
    before = (person_b.name, person_b.area_id, person_b.updated_at)
    report = _run(alice, [_row("改名", person_b.id_number), _row("新人", make_id_number(), grid="2网格")])
    assert report.created == report.updated == 0
    assert [e.code for e in report.errors] == ["person_outside_scope", "grid_not_found"]
    # The reason does not say where the person is registered.
    assert "2网格" not in report.errors[0].message and "李" not in report.errors[0].message
    person_b.refresh_from_db()
    assert (person_b.name, person_b.area_id, person_b.updated_at) == before


def test_community_admin_reaches_both_grids_and_qualified_grid_names(bob, district):
    rows = [_row("甲", make_id_number(), grid="接庄社区/2网格"), _row("乙", make_id_number(), grid="1网格")]
    report = _run(bob, rows)
    assert (report.created, report.error_count) == (2, 0)


def test_headers_may_sit_below_a_title_and_english_aliases_work(alice, district):
    rows = [["王五", make_id_number(), "1网格", "extra"]]
    report = _run(alice, rows, headers=["Name", "ID number", "grid", "备注"], title_rows=1)
    assert report.created == 1
    bad = _run(alice, [["王六", "123", "1网格"]], headers=["Name", "ID number", "grid"], title_rows=1)
    assert bad.errors[0].line == 3


def test_numbers_typed_into_cells(alice, district):
    ident = make_id_number()
    rows = [["王五", int(ident[:17] + "0") * 1.0, "1网格"], ["王六", ident, "1网格", 13800000001]]
    report = _run(alice, rows, headers=["姓名", "身份证号", "网格", "手机号"])
    assert [(e.line, e.code) for e in report.errors] == [(2, "id_number_numeric")]
    assert Person.objects.get(id_number=ident).phone == "13800000001"


def test_unknown_flag_category_and_doses_are_row_errors(alice, district):
    rows = [
        _row("甲", make_id_number(), elderly="也许"),
        _row("乙", make_id_number(), category="游客"),
        _row("丙", make_id_number(), doses="两"),
    ]
    report = _run(alice, rows)
    assert [e.code for e in report.errors] == ["flag_invalid", "category_invalid", "vaccine_doses_invalid"]


def test_missing_required_headers_is_one_clear_error(alice, district):
    with pytest.raises(DomainError) as exc:
        _run(alice, [["王五", "1网格"]], headers=["姓名", "网格"])
    assert exc.value.code == "headers_missing"
    assert "身份证号" in str(exc.value.message)
    assert Person.objects.count() == 0


@pytest.mark.parametrize(
    ("content", "code"),
    [(b"name,id\n", "file_not_xlsx"), (b"PK\x03\x04 broken zip", "file_not_xlsx")],
)
def test_non_xlsx_and_corrupt_files_are_refused(alice, district, content, code):
    with pytest.raises(DomainError) as exc:
        roster_import(actor=Actor(user=alice), file=SimpleUploadedFile("r.xlsx", content), now=timezone.now())
    assert exc.value.code == code


def test_a_zip_that_is_not_a_workbook_is_refused(alice, district):
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "not a workbook")
    with pytest.raises(DomainError) as exc:
        roster_import(actor=Actor(user=alice), file=SimpleUploadedFile("r.xlsx", buf.getvalue()), now=timezone.now())
    assert exc.value.code == "file_invalid"


def test_too_many_rows_is_refused_before_anything_is_written(alice, district, monkeypatch):
    from people.roster import importing

    monkeypatch.setattr(importing, "MAX_ROWS", 2)
    with pytest.raises(DomainError) as exc:
        _run(alice, [_row(f"王{i}", make_id_number()) for i in range(3)])
    assert exc.value.code == "too_many_rows"
    assert Person.objects.count() == 0


def test_one_audit_row_with_the_counts(alice, mixed_rows):
    report = _run(alice, mixed_rows)
    entry = AuditEntry.objects.get(action="people.import")
    assert entry.actor == alice and entry.row_count == 9 and entry.pk == report.audit_id
    assert (entry.extra["created"], entry.extra["error_count"]) == (3, 6)
    # Reasons, not the roster's values, go to the log.
    assert "王五" not in str(entry.extra)


# --- pages and API ---


def test_import_page_shows_the_report_in_chinese(client, alice, mixed_rows):
    client.force_login(alice)
    assert "导入名单" in client.get("/people/import/").content.decode()
    r = client.post("/people/import/", {"file": upload(mixed_rows)})
    body = r.content.decode()
    assert r.status_code == 200
    assert "导入报告" in body and "网格不存在或不在您的辖区" in body and "<td>9</td>" in body


def test_error_report_download_is_for_the_importer_only(client, alice, charlie, mixed_rows):
    client.force_login(alice)
    client.post("/people/import/", {"file": upload(mixed_rows)})
    audit_id = AuditEntry.objects.get(action="people.import").pk
    r = client.get(f"/people/import/{audit_id}/errors.xlsx")
    rows = list(openpyxl.load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    assert rows[0] == ("行号", "列", "原因", "代码")
    assert rows[1][:3] == (3, "身份证号", "身份证号校验位错误。")
    assert len(rows) == 7
    client.force_login(charlie)
    assert client.get(f"/people/import/{audit_id}/errors.xlsx").status_code == 404


def test_bad_file_on_the_page_is_400_with_the_message(client, alice, district):
    client.force_login(alice)
    r = client.post("/people/import/", {"file": SimpleUploadedFile("r.xls", b"\xd0\xcf\x11\xe0 old excel")})
    assert r.status_code == 400
    assert "只能导入 Excel .xlsx 文件" in r.content.decode()


def test_template_has_the_chinese_headers(client, alice):
    client.force_login(alice)
    r = client.get("/people/import/template.xlsx")
    header = next(openpyxl.load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    assert list(header) == HEADERS


def test_import_needs_the_capability(client, resident, epi):
    for user in (resident, epi):
        client.force_login(user)
        assert client.get("/people/import/").status_code == 404


def test_import_area_outside_territory_is_404(client, alice, district):
    client.force_login(alice)
    r = client.post("/people/import/", {"file": upload([]), "area": district.grid_b.pk})
    assert r.status_code == 404


def test_api_import_returns_the_report(client, alice, mixed_rows):
    client.force_login(alice)
    r = client.post("/api/v1/people/import", {"file": upload(mixed_rows)})
    assert r.status_code == 200
    body = r.json()
    assert (body["created"], body["error_count"]) == (3, 6)
    first = {"line": 3, "code": "id_checksum", "message": "身份证号校验位错误。", "column": "身份证号"}
    assert body["errors"][0] == first
    r = client.post("/api/v1/people/import", {"file": SimpleUploadedFile("r.xlsx", b"nope")})
    assert r.status_code == 400 and r.json()["code"] == "file_not_xlsx"
    assert client.get("/api/v1/people/import").status_code == 405


def test_api_import_outside_territory_is_404(client, charlie, district):
    client.force_login(charlie)
    r = client.post("/api/v1/people/import", {"file": upload([_row("甲", make_id_number())]),
                                              "area_id": district.grid_a.pk})
    assert r.status_code == 404


def test_workbook_bytes_helper_is_a_real_xlsx():
    assert xlsx_bytes([["a"]])[:2] == b"PK"
