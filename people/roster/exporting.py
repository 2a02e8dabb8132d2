"""Export of the people in the user's territory as .xlsx or .csv: streamed, masked by default, audited.

Rows are read in keyset chunks, so memory and the number of queries per chunk stay flat whatever
the size. The .xlsx is written by openpyxl's write-only mode into an anonymous temporary file (its
rows never sit in memory) and streamed back from there; the .csv is generated while it is sent.
Every cell goes through common.spreadsheet, so a name such as =HYPERLINK(...) is never run by Excel.
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import Cap
from accounts.selectors import scope_for
from audit.services import Actor, audit_record
from common.errors import DomainError, NotFound
from common.masking import mask_id_number, mask_name, mask_phone
from common.spreadsheet import csv_safe, xlsx_cell, xlsx_row
from people.models import Person
from people.roster.columns import CATEGORY_OUT, COLUMNS, PLACE_LEVELS
from people.selectors import people_for_user
from territory.models import Area, AreaKind
from territory.selectors import SEGMENT_WIDTH, labels_for_paths

CHUNK = 2000
FORMATS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
HEADERS = [c.header for c in COLUMNS] + ["地址"]
_GRID_KINDS = (AreaKind.GRID1, AreaKind.GRID2)


@dataclass
class ExportFile:
    file_name: str
    content_type: str
    row_count: int
    masked: bool
    file: IO[bytes] | None = None  # .xlsx: a temporary file, positioned at its start
    stream: Iterator[bytes] | None = None  # .csv: generated while sent


@dataclass(frozen=True)
class _Reveal:
    name: bool
    id_number: bool
    phone: bool

    @property
    def masked(self) -> bool:
        return not (self.name or self.id_number or self.phone)


_ROW_FIELDS = (
    "area_path", "id", "name", "id_number", "phone", "category", "vaccine_doses",
    "is_elderly_alone", "is_mobility_impaired", "has_no_smartphone",
)  # area_path and id first: the keyset


def _chunks(qs: QuerySet[Person]) -> Iterator[list[tuple[Any, ...]]]:
    """The rows ordered by address, CHUNK at a time, by keyset (no OFFSET, no growing cost). Plain
    tuples, not model instances: building 100 k Person objects would cost more than writing them."""
    qs = qs.order_by("area_path", "id")
    after: tuple[str, int] | None = None
    while True:
        page = qs if after is None else qs.filter(Q(area_path__gt=after[0]) | Q(area_path=after[0], id__gt=after[1]))
        rows = list(page.values_list(*_ROW_FIELDS)[:CHUNK])
        if not rows:
            return
        yield rows
        if len(rows) < CHUNK:
            return
        after = (rows[-1][0], rows[-1][1])


def _place_columns(paths: set[str]) -> dict[str, dict[str, str]]:
    """For each path, the name of its grid, estate, building, unit and household, in one query."""
    ids = {int(p[i : i + SEGMENT_WIDTH]) for p in paths for i in range(0, len(p), SEGMENT_WIDTH)}
    nodes = {a.pk: a for a in Area.objects.filter(id__in=ids).only("id", "name", "kind")}
    out: dict[str, dict[str, str]] = {}
    kinds = {kind: key for key, kind in PLACE_LEVELS}
    for p in paths:
        cols: dict[str, str] = {}
        for i in range(0, len(p), SEGMENT_WIDTH):
            node = nodes.get(int(p[i : i + SEGMENT_WIDTH]))
            if node is None:
                continue
            if node.kind in _GRID_KINDS:
                cols["grid"] = node.name  # the innermost grid wins
            elif node.kind in kinds:
                cols[kinds[node.kind]] = node.name
        out[p] = cols
    return out


def _yes(value: bool) -> str:
    return "是" if value else "否"


def _rows(qs: QuerySet[Person], reveal: _Reveal) -> Iterator[list[Any]]:
    for chunk in _chunks(qs):
        paths = {row[0] for row in chunk}
        labels = labels_for_paths(paths)
        places = _place_columns(paths)
        for path, _pk, name, id_number, phone, category, doses, alone, impaired, no_phone in chunk:
            cols = places.get(path, {})
            yield [
                name if reveal.name else mask_name(name),
                id_number if reveal.id_number else mask_id_number(id_number),
                phone if reveal.phone else mask_phone(phone),
                cols.get("grid", ""),
                cols.get("estate", ""),
                cols.get("building", ""),
                cols.get("unit", ""),
                cols.get("household", ""),
                CATEGORY_OUT.get(category, category),
                doses,
                _yes(alone),
                _yes(impaired),
                _yes(no_phone),
                labels.get(path, ""),
            ]


def _reveal_for(user: Any, paths: tuple[str, ...], unmasked: bool) -> _Reveal:
    if not unmasked:
        return _Reveal(False, False, False)
    reveal_id = all(scope_for(user, Cap.REVEAL_ID).contains(p) for p in paths)
    reveal_phone = all(scope_for(user, Cap.REVEAL_PHONE).contains(p) for p in paths)
    if not (reveal_id or reveal_phone):
        raise DomainError("reveal_forbidden", _("Your role may not export unmasked values."), status=403)
    return _Reveal(name=reveal_id, id_number=reveal_id, phone=reveal_phone)


def people_export(
    *, actor: Actor, fmt: str, area: Area | None = None, unmasked: bool = False, reason: str = "",
    now: dt.datetime | None = None,
) -> ExportFile:
    """The people of the actor's PEOPLE_EXPORT scope (or of ``area`` inside it) as a file.

    Masked unless ``unmasked`` is asked with a reason by a user entitled to reveal ID numbers or
    phones over the whole exported territory. Writes one audit row (people.export) either way.
    """
    now = now or timezone.now()
    if fmt not in FORMATS:
        raise DomainError("format_invalid", _("Choose .xlsx or .csv."), field="format")
    scope = scope_for(actor.user, Cap.PEOPLE_EXPORT)
    if scope.is_empty or (area is not None and not scope.contains(area.path)):
        raise NotFound("area_not_found", _("No such place in your territory."))
    paths = (area.path,) if area is not None else scope.paths
    reveal = _reveal_for(actor.user, paths, unmasked)
    reason = " ".join((reason or "").split())[:500]
    if not reveal.masked and len(reason) < 2:
        raise DomainError("reason_required", _("Please give the reason for exporting unmasked values."),
                          field="reason")
    qs = people_for_user(actor.user, cap=Cap.PEOPLE_EXPORT, area=area)
    stamp = timezone.localtime(now).strftime("%Y%m%d-%H%M")
    result = ExportFile(
        file_name=f"人员名单-{stamp}.{fmt}", content_type=FORMATS[fmt], row_count=0, masked=reveal.masked
    )
    if fmt == "xlsx":
        result.file, result.row_count = _write_xlsx(qs, reveal)
    else:
        # The count is taken before streaming so the audit row is written before any data leaves.
        result.row_count = qs.count()
        result.stream = _csv_stream(qs, reveal)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="people.export",
            object_type="people.person",
            reason=reason if not reveal.masked else "",
            row_count=result.row_count,
            extra={
                "format": fmt,
                "area_id": area.pk if area else None,
                "masked": reveal.masked,
                "unmasked_fields": [k for k in ("name", "id_number", "phone") if getattr(reveal, k)],
            },
            now=now,
        )
    return result


def _write_xlsx(qs: QuerySet[Person], reveal: _Reveal) -> tuple[IO[bytes], int]:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("人员名单")
    sheet.append([xlsx_cell(sheet, h) for h in HEADERS])
    count = 0
    for row in _rows(qs, reveal):
        sheet.append(xlsx_row(sheet, row))
        count += 1
    # Anonymous: removed by the OS when the response closes it, even if the worker dies.
    out = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - closed by the FileResponse
    workbook.save(out)
    out.seek(0)
    return out, count


class _Line:
    """A write-only buffer handing back what csv.writer wrote."""

    def write(self, value: str) -> str:
        return value


def _csv_stream(qs: QuerySet[Person], reveal: _Reveal) -> Iterator[bytes]:
    writer = csv.writer(_Line())
    # The BOM makes Excel read the file as UTF-8 instead of the local code page (GBK).
    yield "\ufeff".encode() + writer.writerow(HEADERS).encode()
    batch: list[str] = []
    for row in _rows(qs, reveal):
        batch.append(writer.writerow([csv_safe(v) for v in row]))
        if len(batch) >= 500:
            yield "".join(batch).encode()
            batch = []
    if batch:
        yield "".join(batch).encode()
