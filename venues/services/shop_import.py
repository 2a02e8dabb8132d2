"""Import of a shop roster (the market-regulation list, or a community's own) from .xlsx or .csv.

Headers are Chinese (店铺名称, 类别, 地址, 网格, 联系电话; see ``COLUMNS`` for the accepted aliases),
found in the first rows of the first sheet. Every row is validated before anything is written; a bad
row is reported with its line and reason and the good rows are imported. A row whose shop (same
normalised name and address in the same level-1 grid) is already registered updates its category
and phone when the file says otherwise, and changes nothing when not, so importing the same file
twice changes nothing. The writes and the audit row (``venue.shop_import``: counts and reasons, never
the rows' values) share one transaction.

Cells are read as typed: a formula in an .xlsx is kept as its text (``=HYPERLINK(…)``), never
evaluated, and shown escaped; a leading quote that our own CSV exports put before such text is
dropped again, so an exported file imports back to what it was.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from accounts.roles import Cap
from accounts.selectors import Scope, scope_for
from audit.services import Actor, audit_record
from common.errors import DomainError, NotFound
from common.spreadsheet import FORMULA_PREFIXES, xlsx_cell
from common.upload_table import TableLimits, read_table
from territory.models import SEGMENT_WIDTH, Area, AreaKind
from territory.selectors import subtree_q
from venues.models import Shop, ShopSource
from venues.services.shops import CATEGORY_OUT, CleanShop, shop_clean

MAX_BYTES = 5 * 1024 * 1024
MAX_UNPACKED_BYTES = 100 * 1024 * 1024  # a small zip can unpack to gigabytes
MAX_ROWS = 10_000
HEADER_SEARCH_ROWS = 10  # rosters often carry a title row or two above the headers
_GRID_SEPARATORS = re.compile(r"\s*[/／>＞]\s*")
_HEADER_NOISE = re.compile(r"[\s*＊_\-:：()（）]+")


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    aliases: tuple[str, ...] = ()
    required: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("name", "店铺名称", ("店铺名", "店名", "名称", "商户名称", "场所名称", "name"), required=True),
    Column("category", "类别", ("类型", "行业", "经营类别", "场所类别", "category"), required=True),
    Column("address", "地址", ("经营地址", "店铺地址", "详细地址", "address"), required=True),
    Column("grid", "网格", ("所属网格", "grid"), required=True),
    Column("contact_phone", "联系电话", ("电话", "手机号", "手机", "联系方式", "phone")),
)
_BY_KEY = {c.key: c for c in COLUMNS}
TEMPLATE_NOTES = [
    ["店铺名称", "必填，至多60字"],
    ["类别", "必填：" + "、".join(CATEGORY_OUT.values())],
    ["地址", "必填，至多120字"],
    ["网格", "必填，您辖区内的一级或二级网格名称；重名时写成“社区/网格”"],
    ["联系电话", "11位手机号，可空"],
    [
        "重复导入",
        "同一网格内店铺名称和地址相同（忽略空格和标点）视为同一店铺，不会重复登记；同一文件再次导入不会改变任何数据",
    ],
]


def _normalize_header(value: Any) -> str:
    return _HEADER_NOISE.sub("", unicodedata.normalize("NFKC", "" if value is None else str(value))).lower()


_LOOKUP = {_normalize_header(h): c.key for c in COLUMNS for h in (c.header, *c.aliases)}


@dataclass(frozen=True)
class RowError:
    line: int
    code: str
    message: str
    column: str = ""


@dataclass
class ShopImportReport:
    row_count: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    audit_id: int | None = None

    @property
    def error_count(self) -> int:
        return len(self.errors)


class _RowProblem(Exception):
    def __init__(self, code: str, message: Any, key: str = "") -> None:
        super().__init__(code)
        self.code, self.message = code, str(message)
        self.column = _BY_KEY[key].header if key in _BY_KEY else ""


# --- reading ----------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = str(value).strip()
    if text.startswith("'") and text[1:].startswith(FORMULA_PREFIXES):
        return text[1:]  # our exports' guard against formulas; the value is what follows
    return text


def _column_for_header(value: Any) -> str | None:
    return _LOOKUP.get(_normalize_header(value))


def read_rows(file: IO[bytes], file_name: str) -> tuple[dict[str, int], list[tuple[int, Sequence[Any]]]]:
    """The column map {key: index} and the non-empty data rows with their line numbers."""
    return read_table(
        file,
        file_name,
        column_for_header=_column_for_header,
        required={c.key: c.header for c in COLUMNS if c.required},
        limits=TableLimits(
            max_bytes=MAX_BYTES,
            max_unpacked_bytes=MAX_UNPACKED_BYTES,
            max_rows=MAX_ROWS,
            header_search_rows=HEADER_SEARCH_ROWS,
        ),
        accept_csv=True,
        # A formula comes back as the text typed, never as a computed value.
        formulas_as_text=True,
        too_large_message=_("The file is larger than 5 MB; split it into smaller files."),
        unreadable_message=_("The file could not be read as an Excel workbook."),
        no_rows_message=_("The file has no rows of shops below the headers."),
    )


# --- grids ------------------------------------------------------------------------------------


class _Grids:
    """Grids by name (or "community/grid"): those of the importer's scope, and whether a name exists
    elsewhere (grid names are on street signs, so saying "not yours" leaks nothing)."""

    def __init__(self, scope: Scope) -> None:
        grids = list(Area.objects.filter(scope.q("path"), kind__in=[AreaKind.GRID1, AreaKind.GRID2]))
        ids = {i for g in grids for i in g.ancestor_ids()}
        nodes = {i: (name, kind) for i, name, kind in Area.objects.filter(id__in=ids).values_list("id", "name", "kind")}
        names = {i: name for i, (name, _kind) in nodes.items()}
        self._kinds = {i: kind for i, (_name, kind) in nodes.items()}
        self._by_name: dict[str, list[tuple[list[str], Area]]] = {}
        for g in grids:
            self._by_name.setdefault(g.name, []).append(([names.get(i, "") for i in g.ancestor_ids()[:-1]], g))

    def find(self, text: str) -> Area:
        parts = [p for p in _GRID_SEPARATORS.split(unicodedata.normalize("NFKC", text)) if p]
        if not parts:
            raise _RowProblem("grid_required", _("The grid is missing."), "grid")
        *outer, name = parts
        matches = [g for chain, g in self._by_name.get(name, []) if not outer or chain[-len(outer) :] == outer]
        if not matches:
            if Area.objects.filter(name=name, kind__in=[AreaKind.GRID1, AreaKind.GRID2]).exists():
                raise _RowProblem("grid_outside_scope", _("This grid is not in your territory."), "grid")
            raise _RowProblem("grid_not_found", _("No grid has this name."), "grid")
        if len(matches) > 1:
            raise _RowProblem(
                "grid_ambiguous",
                _("Several grids in your territory have this name; write it as community/grid."),
                "grid",
            )
        return matches[0]

    def unique_path(self, grid: Area) -> str:
        """The path of the level-1 grid holding ``grid`` (or its own): the census's rule."""
        ids = grid.ancestor_ids()
        for depth in range(len(ids) - 1, -1, -1):
            if self._kinds.get(ids[depth]) == AreaKind.GRID1:
                return grid.path[: (depth + 1) * SEGMENT_WIDTH]
        return grid.path


@dataclass
class _Row:
    line: int
    clean: CleanShop
    grid: Area
    unique_path: str


def _parse(line: int, values: Sequence[Any], columns: dict[str, int], grids: _Grids) -> _Row:
    def value(key: str) -> str:
        index = columns.get(key)
        return _cell(values[index]) if index is not None and index < len(values) else ""

    try:
        clean = shop_clean(
            name=value("name"),
            category=value("category"),
            address=value("address"),
            contact_phone=value("contact_phone"),
        )
    except DomainError as exc:
        raise _RowProblem(exc.code, exc.message, str(exc.details.get("field", ""))) from None
    grid = grids.find(value("grid"))
    return _Row(line=line, clean=clean, grid=grid, unique_path=grids.unique_path(grid))


# --- the service ------------------------------------------------------------------------------


def shop_import(*, actor: Actor, file: IO[bytes], file_name: str, now: dt.datetime) -> ShopImportReport:
    """Import the shops of a roster into the grids of the actor's VENUES_MANAGE scope."""
    scope = scope_for(actor.user, Cap.VENUES_MANAGE)
    if scope.is_empty:
        raise NotFound("area_not_found", _("No such place in your territory."))
    columns, data = read_rows(file, file_name)
    grids = _Grids(scope)
    report = ShopImportReport(row_count=len(data))
    rows: list[_Row] = []
    first_line: dict[tuple[str, str], int] = {}
    for line, values in data:
        try:
            row = _parse(line, values, columns, grids)
        except _RowProblem as p:
            report.errors.append(RowError(line, p.code, p.message, p.column))
            continue
        seen = first_line.setdefault((row.unique_path, row.clean.key), line)
        if seen != line:
            report.errors.append(
                RowError(
                    line,
                    "duplicate_in_file",
                    _("The same shop (name and address) is already on line %(line)s of this file.") % {"line": seen},
                    _BY_KEY["name"].header,
                )
            )
            continue
        rows.append(row)

    # The shops already registered under the grids of the file, in one query.
    existing = _existing(rows)
    with transaction.atomic():
        creates: list[tuple[_Row, Shop]] = []
        for row in rows:
            shop = existing.get((row.unique_path, row.clean.key))
            if shop is None:
                creates.append(
                    (
                        row,
                        Shop(
                            name=row.clean.name,
                            category=row.clean.category,
                            address=row.clean.address,
                            contact_phone=row.clean.contact_phone,
                            area=row.grid,
                            area_path=row.grid.path,
                            name_key=row.clean.key,
                            source=ShopSource.ROSTER,
                            registered_by=actor.user,
                        ),
                    )
                )
                continue
            changed = {"category": row.clean.category}
            if row.clean.contact_phone:  # an empty cell keeps the phone the census found
                changed["contact_phone"] = row.clean.contact_phone
            fields = [k for k, v in changed.items() if getattr(shop, k) != v]
            if not fields:
                report.unchanged += 1
                continue
            for k in fields:
                setattr(shop, k, changed[k])
            shop.save(update_fields=fields)
            report.updated += 1
        _create(creates, report)
        report.errors.sort(key=lambda e: e.line)
        entry = audit_record(
            actor=actor,
            action="venue.shop_import",
            object_type="venues.shop",
            row_count=report.row_count,
            extra={
                "file_name": file_name[:200],
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "error_count": report.error_count,
                # Reasons only, never the rows' values (the reasons name no value: see _RowProblem).
                "errors": [[e.line, e.code, e.column, str(e.message)] for e in report.errors[:1000]],
            },
            now=now,
        )
    report.audit_id = entry.pk
    return report


def _existing(rows: list[_Row]) -> dict[tuple[str, str], Shop]:
    """The shops already registered under the level-1 grids of the file, by (grid path, key): one
    query per 500 keys."""
    paths = sorted({r.unique_path for r in rows})
    if not paths:
        return {}
    scope_q = Q()
    for path in paths:
        scope_q |= subtree_q(path)
    keys = sorted({r.clean.key for r in rows})
    found: dict[tuple[str, str], Shop] = {}
    for start in range(0, len(keys), 500):
        for shop in Shop.objects.filter(scope_q, name_key__in=keys[start : start + 500]).order_by("id"):
            for path in paths:
                if shop.area_path.startswith(path):
                    found.setdefault((path, shop.name_key), shop)
    return found


def _create(creates: list[tuple[_Row, Shop]], report: ShopImportReport) -> None:
    if not creates:
        return
    try:
        with transaction.atomic():
            Shop.objects.bulk_create([s for _r, s in creates], batch_size=500)
        report.created += len(creates)
        return
    except IntegrityError:
        pass
    for row, shop in creates:  # someone registered one of them meanwhile: find which, keep the rest
        shop.pk = None
        try:
            with transaction.atomic():
                shop.save(force_insert=True)
        except IntegrityError:
            report.errors.append(
                RowError(
                    row.line,
                    "shop_duplicate",
                    _("This shop was registered by someone else meanwhile."),
                    _BY_KEY["name"].header,
                )
            )
        else:
            report.created += 1


def template_workbook() -> bytes:
    """The headers to fill in and a sheet of notes; no example row, so an unfilled template imports nothing."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("店铺名册")
    sheet.append([xlsx_cell(sheet, c.header) for c in COLUMNS])
    notes = workbook.create_sheet("填写说明")
    for row in TEMPLATE_NOTES:
        notes.append([xlsx_cell(notes, v) for v in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
