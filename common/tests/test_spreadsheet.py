from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import openpyxl
import pytest
from openpyxl import Workbook

from common import spreadsheet
from common.spreadsheet import REPLACEMENT, csv_safe, xlsx_cell, xlsx_row

FORMULAS = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\tx", "\rx", "=1+1"]


def _per_cell(ws: object, values: list[object]) -> list[object]:
    return [xlsx_cell(ws, v) for v in values]


@pytest.fixture(params=[_per_cell, xlsx_row], ids=["xlsx_cell", "xlsx_row"])
def build(request):
    """Both ways of writing a row: every cell through xlsx_cell, or the cheap xlsx_row."""
    return request.param


def _roundtrip(tmp_path: Path, values: list[object], build=_per_cell) -> tuple[list[openpyxl.cell.Cell], str]:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("s")
    ws.append(build(ws, values))
    path = tmp_path / "out.xlsx"
    wb.save(path)
    with zipfile.ZipFile(path) as z:
        sheet_xml = z.read("xl/worksheets/sheet1.xml").decode()
    cells = list(next(openpyxl.load_workbook(path).active.iter_rows()))
    return cells, sheet_xml


def test_formula_like_text_is_a_text_cell_with_the_exact_value(tmp_path, build):
    cells, xml = _roundtrip(tmp_path, FORMULAS, build)
    for cell, value in zip(cells, FORMULAS, strict=True):
        assert cell.data_type == "s", value
        assert cell.value == value
        assert cell.quotePrefix  # Excel keeps it text even after the user edits the cell
    # Nothing was written as a formula: no <f> element anywhere in the sheet.
    assert "<f>" not in xml and "<f " not in xml


def test_control_characters_are_replaced_not_failing(tmp_path, build):
    cells, _ = _roundtrip(tmp_path, ["a\x07b", "c\x00d", "line\nbreak"], build)
    assert [c.value for c in cells] == [f"a{REPLACEMENT}b", f"c{REPLACEMENT}d", "line\nbreak"]


def test_numbers_stay_numbers_and_none_is_empty(tmp_path, build):
    cells, _ = _roundtrip(tmp_path, [3, 2.5, None, "plain"], build)
    assert [c.value for c in cells] == [3, 2.5, None, "plain"]
    assert cells[0].data_type == "n"


def test_without_lxml_a_carriage_return_uses_the_ooxml_escape(monkeypatch, tmp_path):
    monkeypatch.setattr(spreadsheet, "_lxml_writer", lambda: False)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    cell = xlsx_cell(ws, "\rx _x0041_")
    assert cell.value == "_x000D_x _x005F_x0041_"
    assert cell.data_type == "s" and cell.quotePrefix


@pytest.mark.parametrize("value", FORMULAS)
def test_csv_prefixes_formula_like_text_with_a_quote(value):
    assert csv_safe(value) == "'" + value


def test_csv_keeps_ordinary_text_and_cleans_control_characters():
    assert csv_safe("张三") == "张三"
    assert csv_safe(None) == ""
    assert csv_safe("a\x07b") == f"a{REPLACEMENT}b"
    out = io.StringIO()
    csv.writer(out).writerow([csv_safe("=1+1"), csv_safe("x,y")])
    assert out.getvalue() == '\'=1+1,"x,y"\r\n'
