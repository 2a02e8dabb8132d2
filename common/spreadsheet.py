"""Spreadsheet safety for every export.

A cell that starts with = + - @ tab or CR would be run as a formula by Excel (CSV injection).
In .xlsx files we store such cells as explicit text cells with Excel's quote prefix, so the value is
kept as it was typed and Excel never evaluates it. In CSV, which has no cell types, we prefix a quote.
Control characters that the XML of .xlsx cannot carry are replaced, so an old bad row never fails
an export.
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


def xlsx_cell(ws: Any, value: Any) -> Any:
    """A write-only openpyxl cell holding ``value`` safely."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment

    if value is None:
        return WriteOnlyCell(ws, value=None)
    if isinstance(value, bool | int | float):
        return WriteOnlyCell(ws, value=value)
    text = clean_text(str(value))
    cell = WriteOnlyCell(ws, value=text)
    # openpyxl guesses "formula" for text starting with "="; force the string type.
    cell.data_type = "s"
    if is_formula_like(text):
        cell.alignment = Alignment(horizontal="left")
        cell.quotePrefix = True
    return cell
