"""Ledgers (台账) of the testing app, as CSV or Excel: per site (tubes with their members and times), per
round (coverage by grid), per laboratory (results).

The CSV is generated while it is sent; the .xlsx is written by openpyxl's write-only mode into an
anonymous temporary file (its rows never sit in memory) and streamed back from there, so memory stays
flat whatever the size. Every cell goes through common.spreadsheet, so a name such as =HYPERLINK(...)
is never run by Excel. Names and ID numbers are masked unless a user entitled to reveal ID numbers asks
for the site ledger unmasked with a reason; even then, people living outside that user's reveal scope
stay masked. Each export writes one audit row, before any data leaves.
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import Cap
from accounts.selectors import Scope, scope_for
from audit.services import Actor, audit_record
from common.errors import DomainError
from common.masking import mask_id_number, mask_name
from common.spreadsheet import csv_safe, xlsx_cell, xlsx_row
from testing import selectors
from testing.models import Round, Sample, Site

FORMATS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
SITE_HEADERS = [
    "试管条码", "状态", "封管时间", "姓名", "身份证号", "采样时间", "采样员", "绿色通道", "本轮重复", "设备时间(偏差)",
]
ROUND_HEADERS = ["网格", "应检", "已检", "免检", "待上门", "未检", "覆盖率"]
LAB_HEADERS = ["试管条码", "混采", "人数", "结果", "接收时间", "更正时间", "轮次"]
TUBE_STATUS = {"open": "采样中", "sealed": "已封管"}
RESULT = {"negative": "阴性", "positive": "阳性", "invalid": "无效"}


@dataclass
class LedgerFile:
    file_name: str
    content_type: str
    row_count: int
    masked: bool
    file: IO[bytes] | None = None  # .xlsx: a temporary file, positioned at its start
    stream: Iterator[bytes] | None = None  # .csv: generated while sent


def _local(value: dt.datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _yes(value: bool) -> str:
    return "是" if value else ""


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise DomainError("format_invalid", _("Choose .xlsx or .csv."), field="format")


def _file(
    *, fmt: str, name: str, sheet: str, headers: list[str], rows: Iterable[list[Any]], row_count: int, masked: bool
) -> LedgerFile:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    out = LedgerFile(f"{name}-{stamp}.{fmt}", FORMATS[fmt], row_count, masked)
    if fmt == "xlsx":
        out.file = _write_xlsx(sheet, headers, rows)
    else:
        out.stream = _csv_stream(headers, rows)
    return out


def _write_xlsx(title: str, headers: list[str], rows: Iterable[list[Any]]) -> IO[bytes]:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title)
    sheet.append([xlsx_cell(sheet, h) for h in headers])
    for row in rows:
        sheet.append(xlsx_row(sheet, row))
    # Anonymous: removed by the OS when the response closes it, even if the worker dies.
    out = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - closed by the FileResponse
    workbook.save(out)
    out.seek(0)
    return out


class _Line:
    """A write-only buffer handing back what csv.writer wrote."""

    def write(self, value: str) -> str:
        return value


def _csv_stream(headers: list[str], rows: Iterable[list[Any]]) -> Iterator[bytes]:
    writer = csv.writer(_Line())
    # The BOM makes Excel read the file as UTF-8 instead of the local code page (GBK).
    yield "\ufeff".encode() + writer.writerow(headers).encode()
    batch: list[str] = []
    for row in rows:
        batch.append(writer.writerow([csv_safe(v) for v in row]))
        if len(batch) >= 500:
            yield "".join(batch).encode()
            batch = []
    if batch:
        yield "".join(batch).encode()


def _audit(actor: Actor, action: str, obj: Any, *, fmt: str, rows: int, now: dt.datetime, **extra: Any) -> None:
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=action,
            obj=obj,
            reason=extra.pop("reason", ""),
            row_count=rows,
            now=now,
            extra={"format": fmt, **extra},
        )


# --- per site ---------------------------------------------------------------------------------


def _reveal_scope(user: Any, site: Site) -> Scope:
    reveal = scope_for(user, Cap.REVEAL_ID)
    if not reveal.contains(site.area_path):
        raise DomainError("reveal_forbidden", _("Your role may not export unmasked values."), status=403)
    return reveal


def site_ledger_export(
    *, actor: Actor, site: Site, fmt: str, unmasked: bool = False, reason: str = "", now: dt.datetime
) -> LedgerFile:
    """Every tube of the site with its members and times. Unmasked names and ID numbers need the right
    to reveal ID numbers over the site and a reason, and then cover only people in that user's scope."""
    _check_format(fmt)
    reveal: Callable[[str], bool] = lambda _path: False  # noqa: E731
    reason = " ".join((reason or "").split())[:500]
    unmasked_count = 0
    if unmasked:
        scope = _reveal_scope(actor.user, site)
        if len(reason) < 2:
            raise DomainError(
                "reason_required", _("Please give the reason for exporting unmasked values."), field="reason"
            )
        reveal = scope.contains
        unmasked_count = Sample.objects.filter(scope.q("area_path"), tube__site=site).count()
    count = Sample.objects.filter(tube__site=site).count()
    extra: dict[str, Any] = {"masked": not unmasked}
    if unmasked:
        extra |= {"reason": reason, "unmasked_fields": ["name", "id_number"], "unmasked_rows": unmasked_count}
    _audit(actor, "testing.export_site", site, fmt=fmt, rows=count, now=now, **extra)

    def rows() -> Iterator[list[Any]]:
        for barcode, status, sealed, name, idn, path, sampled, sampler, username, green, repeat, skew, device in (
            selectors.site_ledger_rows(site)
        ):
            shown = reveal(path)
            yield [
                barcode,
                TUBE_STATUS.get(status, status),
                _local(sealed),
                name if shown else mask_name(name),
                idn if shown else mask_id_number(idn),
                _local(sampled),
                sampler or username or "",
                _yes(green),
                _yes(repeat),
                _local(device) if skew else "",
            ]

    return _file(
        fmt=fmt, name=f"采样点台账-{site.name}", sheet="采样台账", headers=SITE_HEADERS, rows=rows(), row_count=count,
        masked=not unmasked,
    )


# --- per round --------------------------------------------------------------------------------


def round_ledger_export(*, actor: Actor, rnd: Round, fmt: str, now: dt.datetime) -> LedgerFile:
    """Coverage per level-1 grid of the actor's part of the round (the kept figures once closed)."""
    _check_format(fmt)
    scope = scope_for(actor.user, Cap.TESTING_VIEW)
    grids = [g for g in selectors.round_ledger_rows(rnd) if scope.contains(g.path)]
    _audit(actor, "testing.export_round", rnd, fmt=fmt, rows=len(grids), now=now, closed=not rnd.is_open)
    rows = (
        [g.label, g.total, g.covered, g.exempted, g.home_pending, g.left, f"{g.percent}%"] for g in grids
    )
    return _file(
        fmt=fmt, name=f"轮次台账-{rnd.name}", sheet="覆盖情况", headers=ROUND_HEADERS, rows=rows, row_count=len(grids),
        masked=True,
    )


# --- per laboratory ---------------------------------------------------------------------------


def lab_ledger_export(*, actor: Actor, laboratory: Any, fmt: str, now: dt.datetime) -> LedgerFile:
    """Every result of the laboratory, per tube (no personal data: a laboratory sees tubes, not people)."""
    _check_format(fmt)
    count = laboratory.results.count()
    _audit(actor, "testing.export_lab", laboratory, fmt=fmt, rows=count, now=now)
    rows = (
        [
            barcode,
            f"{pool}合1" if pool > 1 else "单管",
            members,
            RESULT.get(value, value),
            _local(received),
            _local(corrected),
            round_name,
        ]
        for barcode, pool, members, value, received, corrected, round_name in selectors.lab_ledger_rows(laboratory)
    )
    return _file(
        fmt=fmt, name=f"检测结果台账-{laboratory.name}", sheet="检测结果", headers=LAB_HEADERS, rows=rows,
        row_count=count, masked=True,
    )
