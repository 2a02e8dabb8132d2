"""Spreadsheet safety for every export.

A cell that starts with = + - @ tab or CR would be run as a formula by Excel (CSV injection).
In .xlsx files we store such cells as explicit text cells with Excel's quote prefix, so the value is
kept as it was typed and Excel never evaluates it. In CSV, which has no cell types, we prefix a quote.
Control characters that the XML of .xlsx cannot carry are replaced, so an old bad row never fails
an export.

A carriage return survives the XML of .xlsx only as the character reference &#13;, which openpyxl
writes when lxml is installed (it is pinned). Without lxml a raw CR would be read back as a line
feed, so we then fall back to OOXML's own escape _x000D_, which Excel decodes to a CR.
"""

from __future__ import annotations

import re
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
REPLACEMENT = "\ufffd"


def clean_text(value: str) -> str:
    return _ILLEGAL.sub(REPLACEMENT, value)


def is_formula_like(value: str) -> bool:
    return value.startswith(FORMULA_PREFIXES)


def csv_safe(value: Any) -> str:
    if value is None:
        return ""
    text = clean_text(str(value))
    if is_formula_like(text):
        return "'" + text
    return text


_OOXML_ESCAPE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")


def _lxml_writer() -> bool:
    import openpyxl

    return bool(getattr(openpyxl, "LXML", False))


def _ooxml_escape_cr(text: str) -> str:
    # A literal "_x000D_" typed by a user must stay literal: OOXML escapes its underscore first.
    return _OOXML_ESCAPE.sub(r"_x005F_\1", text).replace("\r", "_x000D_")


def xlsx_cell(ws: Any, value: Any) -> Any:
    """A write-only openpyxl cell holding ``value`` safely."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment

    if value is None:
        return WriteOnlyCell(ws, value=None)
    if isinstance(value, bool | int | float):
        return WriteOnlyCell(ws, value=value)
    text = clean_text(str(value))
    formula_like = is_formula_like(text)
    if "\r" in text and not _lxml_writer():
        text = _ooxml_escape_cr(text)
    cell = WriteOnlyCell(ws, value=text)
    # openpyxl guesses "formula" for text starting with "="; force the string type (an inline string,
    # which Excel shows as typed and never evaluates).
    cell.data_type = "s"
    if formula_like:
        cell.alignment = Alignment(horizontal="left")
        cell.quotePrefix = True
    return cell


def xlsx_row(ws: Any, values: list[Any]) -> list[Any]:
    """A row for a write-only sheet: plain values where they are safe (cheap), ``xlsx_cell`` only for
    the text that needs it (formula-like, a carriage return, or characters XML cannot carry)."""
    out: list[Any] = []
    for value in values:
        if value is None or isinstance(value, bool | int | float):
            out.append(value)
            continue
        text = str(value)
        if text.startswith(FORMULA_PREFIXES) or "\r" in text or _ILLEGAL.search(text):
            out.append(xlsx_cell(ws, text))
        else:
            out.append(text)
    return out


def import_error_report(errors: Any) -> bytes:
    """The refused rows of an import as the page listed them, one sheet: 行号 / 列 / 原因 / 代码, from the
    ``[line, code, column, reason]`` entries its audit row keeps (audit.selectors.own_import_errors);
    every cell through ``xlsx_cell`` (text kept as typed, never a formula)."""
    import io

    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("错误报告")
    sheet.append([xlsx_cell(sheet, h) for h in ["行号", "列", "原因", "代码"]])
    for line, code, column, reason in errors:
        sheet.append([xlsx_cell(sheet, v) for v in (line, column, reason, code)])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
