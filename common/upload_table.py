"""The one reader of uploaded tables (rosters and the like): the first sheet of an .xlsx, or a CSV.

Each importer brings its limits, whether it accepts CSV, whether formulas are read as typed text and
the messages that name its size limit or its kind of rows; the rest is the same for all.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from django.utils.translation import gettext as _

from common.errors import DomainError


@dataclass(frozen=True)
class TableLimits:
    max_bytes: int
    max_unpacked_bytes: int  # a small zip can unpack to gigabytes; refused before parsing
    max_rows: int  # data rows, empty ones not counted
    header_search_rows: int  # tables often carry a title row or two above the headers


def _file_error(code: str, message: Any) -> DomainError:
    return DomainError(code, message, field="file")


def read_table(
    file: IO[bytes],
    file_name: str,
    *,
    column_for_header: Callable[[Any], str | None],
    required: Mapping[str, str],
    limits: TableLimits,
    accept_csv: bool,
    formulas_as_text: bool,
    too_large_message: str,
    unreadable_message: str,
    no_rows_message: str,
) -> tuple[dict[str, int], list[tuple[int, Sequence[Any]]]]:
    """The column map {key: index} and the non-empty data rows with their line numbers, as Excel
    numbers them, of the first sheet of an .xlsx (or of a CSV in UTF-8 or GB18030 if ``accept_csv``).

    ``required`` maps each required key to the header named when it is missing. With
    ``formulas_as_text`` a formula comes back as the text typed (``=HYPERLINK(…)``), never as a
    computed value. ``unreadable_message`` is the one for a damaged workbook.
    """
    size = getattr(file, "size", None)
    if size is None:
        file.seek(0, 2)
        size = file.tell()
    if size > limits.max_bytes:
        raise _file_error("file_too_large", too_large_message)
    file.seek(0)
    if zipfile.is_zipfile(file):
        file.seek(0)
        return _xlsx_table(
            file,
            column_for_header,
            required,
            limits,
            formulas_as_text,
            too_large_message,
            unreadable_message,
            no_rows_message,
        )
    if not accept_csv:
        raise _file_error(
            "file_not_xlsx",
            _("Only Excel .xlsx files can be imported. Save the file as .xlsx (Excel 2007 or later) and try again."),
        )
    if not file_name.lower().endswith(".csv"):
        raise _file_error("file_type", _("Only .xlsx and .csv files can be imported."))
    file.seek(0)
    unreadable = _("The file could not be read as a CSV file.")
    # Excel on a Chinese Windows saves CSV in GBK unless told otherwise; ours carry a UTF-8 BOM.
    text = None
    raw = file.read()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = codecs.decode(raw, encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None or "\x00" in text:
        raise _file_error("file_invalid", unreadable)
    try:
        return _table(csv.reader(io.StringIO(text, newline="")), column_for_header, required, limits, no_rows_message)
    except csv.Error:
        raise _file_error("file_invalid", unreadable) from None


def _xlsx_table(
    file: IO[bytes],
    column_for_header: Callable[[Any], str | None],
    required: Mapping[str, str],
    limits: TableLimits,
    formulas_as_text: bool,
    too_large_message: str,
    unreadable_message: str,
    no_rows_message: str,
) -> tuple[dict[str, int], list[tuple[int, Sequence[Any]]]]:
    import openpyxl

    try:
        with zipfile.ZipFile(file) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > limits.max_unpacked_bytes:
            raise _file_error("file_too_large", too_large_message)
        file.seek(0)
        workbook = openpyxl.load_workbook(file, read_only=True, data_only=not formulas_as_text)
    except DomainError:
        raise
    except Exception:
        raise _file_error("file_invalid", unreadable_message) from None
    try:
        if not workbook.worksheets:
            raise _file_error("file_empty", _("The file has no worksheet."))
        sheet = workbook.worksheets[0]
        # Read-only mode trusts the stored dimensions, which some programs write wrongly.
        sheet.reset_dimensions()
        return _table(sheet.iter_rows(values_only=True), column_for_header, required, limits, no_rows_message)
    except DomainError:
        raise
    except Exception:
        raise _file_error("file_invalid", unreadable_message) from None
    finally:
        workbook.close()


def _table(
    rows: Iterator[Sequence[Any]],
    column_for_header: Callable[[Any], str | None],
    required: Mapping[str, str],
    limits: TableLimits,
    no_rows_message: str,
) -> tuple[dict[str, int], list[tuple[int, Sequence[Any]]]]:
    # The header row is the first with two known headers, else the last row searched.
    columns: dict[str, int] = {}
    line = 0
    for values in rows:
        line += 1
        columns = {}
        for index, value in enumerate(values):
            key = column_for_header(value)
            if key:
                columns.setdefault(key, index)  # extra columns are ignored; a repeated one too
        if len(columns) >= 2 or line >= limits.header_search_rows:
            break
    missing = [header for key, header in required.items() if key not in columns]
    if missing:
        raise _file_error(
            "headers_missing",
            _("Required columns are missing: %(names)s. The header row must name them; see the template.")
            % {"names": "、".join(missing)},
        )
    data: list[tuple[int, Sequence[Any]]] = []
    for values in rows:
        line += 1
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue
        if len(data) >= limits.max_rows:
            raise _file_error(
                "too_many_rows",
                _("The file has more than %(max)s rows; split it into smaller files.")
                % {"max": f"{limits.max_rows:,}"},
            )
        data.append((line, values))
    if not data:
        raise _file_error("file_empty", no_rows_message)
    return columns, data
