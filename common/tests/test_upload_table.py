from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import Workbook

from common.errors import DomainError
from common.upload_table import TableLimits, read_table

HEADERS = {"名称": "name", "网格": "grid"}
LIMITS = TableLimits(max_bytes=1024 * 1024, max_unpacked_bytes=10 * 1024 * 1024, max_rows=3, header_search_rows=5)


def _read(file: io.BytesIO, file_name: str, *, formulas_as_text: bool = False, accept_csv: bool = True) -> Any:
    return read_table(
        file,
        file_name,
        column_for_header=lambda value: HEADERS.get(str(value).strip()) if value is not None else None,
        required={"name": "名称", "grid": "网格"},
        limits=LIMITS,
        accept_csv=accept_csv,
        formulas_as_text=formulas_as_text,
        too_large_message="too large",
        unreadable_message="unreadable",
        no_rows_message="no rows",
    )


def _xlsx(rows: list[list[Any]]) -> io.BytesIO:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    out.seek(0)
    return out


def test_a_csv_saved_by_a_chinese_excel_in_gb18030_is_read():
    raw = "名称,网格\n龙城超市,1网格\n".encode("gb18030")
    columns, rows = _read(io.BytesIO(raw), "shops.CSV")
    assert columns == {"name": 0, "grid": 1}
    assert rows == [(2, ["龙城超市", "1网格"])]


def test_a_formula_is_kept_as_the_text_typed_when_asked():
    file = _xlsx([["名称", "网格"], ["=1+2", "1网格"]])
    _columns, rows = _read(file, "shops.xlsx", formulas_as_text=True)
    assert rows[0][1][0] == "=1+2"


def test_the_header_row_is_found_below_title_rows_and_lines_are_excels():
    file = _xlsx([["2026年店铺名册"], [], ["序号", "网格", "名称"], [1, "1网格", "龙城超市"], [], [2, "2网格", "百货"]])
    columns, rows = _read(file, "shops.xlsx")
    assert columns == {"grid": 1, "name": 2}
    assert [line for line, _values in rows] == [4, 6]


def test_more_rows_than_the_limit_are_refused():
    raw = ("名称,网格\n" + "".join(f"店{i},1网格\n" for i in range(4))).encode()
    with pytest.raises(DomainError) as exc:
        _read(io.BytesIO(raw), "shops.csv")
    assert exc.value.code == "too_many_rows"


def test_a_csv_is_refused_where_only_xlsx_is_accepted():
    with pytest.raises(DomainError) as exc:
        _read(io.BytesIO("名称,网格\n店,1网格\n".encode()), "shops.csv", accept_csv=False)
    assert exc.value.code == "file_not_xlsx"
