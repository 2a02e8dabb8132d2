"""Import of a resident roster from .xlsx: every bad row reported with its line, good rows imported.

Validation happens before any write, so a bad row never costs a good one. The writes of one import
share one transaction with its audit row (either the import happened and is in the log, or
neither); people are written with bulk statements in chunks, each chunk under a savepoint so that a
row the database refuses (the same ID number registered concurrently) is reported, not fatal.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import Cap
from accounts.selectors import Scope, scope_for
from audit.services import Actor, audit_record
from common.errors import DomainError, NotFound
from common.upload_table import TableLimits, read_table
from people.models import Person
from people.roster.columns import (
    BY_KEY,
    FLAG_KEYS,
    PLACE_LEVELS,
    cell_text,
    column_for_header,
    parse_category,
    parse_doses,
    parse_flag,
)
from people.services import CleanPerson, PersonData, person_clean
from territory.models import Area, AreaKind
from territory.selectors import subtree_q
from territory.services import area_get_or_create

MAX_ROWS = 20_000
MAX_BYTES = 10 * 1024 * 1024
# A 10 MB zip can unpack to gigabytes; refuse before parsing anything that large.
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
HEADER_SEARCH_ROWS = 10  # rosters often carry a title row or two above the headers
CHUNK = 500
PERSON_FIELDS = ("name", "birth_date", "sex", "phone", "category", "vaccine_doses", *FLAG_KEYS)
_GRID_SEPARATORS = re.compile(r"\s*[/／>＞]\s*")


@dataclass(frozen=True)
class RowError:
    line: int  # as Excel numbers it
    code: str
    message: str
    column: str = ""  # the Chinese header of the offending column, when there is one

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "code": self.code, "message": self.message, "column": self.column}


@dataclass
class ImportReport:
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
    def __init__(self, code: str, message: Any, column_key: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.message = str(message)
        self.column = BY_KEY[column_key].header if column_key in BY_KEY else ""


@dataclass
class _Row:
    line: int
    clean: CleanPerson
    grid: Area
    places: list[tuple[str, str]]  # (kind, name) below the grid, outermost first
    present: frozenset[str]


# --- reading the file -------------------------------------------------------------------------


def _read_rows(file: IO[bytes]) -> tuple[dict[str, int], list[tuple[int, Sequence[Any]]]]:
    """The column map {key: index} and the non-empty data rows with their Excel line numbers."""
    return read_table(
        file,
        "",
        column_for_header=column_for_header,
        required={c.key: c.header for c in BY_KEY.values() if c.required},
        limits=TableLimits(
            max_bytes=MAX_BYTES,
            max_unpacked_bytes=MAX_UNPACKED_BYTES,
            max_rows=MAX_ROWS,
            header_search_rows=HEADER_SEARCH_ROWS,
        ),
        accept_csv=False,
        formulas_as_text=False,
        too_large_message=_("The file is larger than 10 MB; split it into smaller files."),
        unreadable_message=_("The file could not be read as an Excel workbook; it may be damaged."),
        no_rows_message=_("The file has no rows of people below the headers."),
    )


# --- grids and places -------------------------------------------------------------------------


class _Grids:
    """The grids the importer may fill, found by name or by "community/grid"."""

    def __init__(self, scope: Scope, scope_area: Area | None) -> None:
        qs = Area.objects.filter(scope.q("path"), kind__in=[AreaKind.GRID1, AreaKind.GRID2])
        if scope_area is not None:
            qs = qs.filter(subtree_q(scope_area.path, "path"))
        grids = list(qs.only("id", "name", "path", "kind", "depth", "parent_id"))
        ancestor_ids = {i for g in grids for i in g.ancestor_ids()}
        names = dict(Area.objects.filter(id__in=ancestor_ids).values_list("id", "name"))
        self._by_name: dict[str, list[tuple[list[str], Area]]] = {}
        for g in grids:
            chain = [names.get(i, "") for i in g.ancestor_ids()[:-1]]
            self._by_name.setdefault(g.name, []).append((chain, g))

    def find(self, text: str) -> Area:
        parts = [p for p in _GRID_SEPARATORS.split(text) if p]
        if not parts:
            raise _RowProblem("grid_required", _("The grid is missing."), "grid")
        *outer, name = parts
        matches = [g for chain, g in self._by_name.get(name, []) if not outer or chain[-len(outer) :] == outer]
        if not matches:
            # The same answer whether the grid exists elsewhere or not at all.
            raise _RowProblem("grid_not_found", _("The grid does not exist or is not in your territory."), "grid")
        if len(matches) > 1:
            raise _RowProblem(
                "grid_ambiguous",
                _("Several grids in your territory have this name; write it as community/grid."),
                "grid",
            )
        return matches[0]


class _Places:
    """Estates, buildings, units and households under the grids, read once per grid."""

    def __init__(self) -> None:
        self._loaded: set[int] = set()
        self._children: dict[tuple[int, str], Area] = {}

    def _load(self, grid: Area) -> None:
        if grid.pk in self._loaded:
            return
        self._loaded.add(grid.pk)
        for area in Area.objects.subtree(grid.path).exclude(pk=grid.pk).only(
            "id", "parent_id", "name", "path", "kind", "depth"
        ):
            self._children[(area.parent_id or 0, area.name)] = area

    def resolve(self, grid: Area, places: list[tuple[str, str]]) -> Area:
        self._load(grid)
        node = grid
        for kind, name in places:
            child = self._children.get((node.pk, name))
            if child is None:
                try:
                    child, _created = area_get_or_create(parent=node, kind=kind, name=name)
                except DomainError as exc:
                    raise _RowProblem("place_invalid", exc.message) from None
                self._children[(node.pk, name)] = child
            node = child
        return node


# --- rows -------------------------------------------------------------------------------------


def _value(values: Sequence[Any], columns: dict[str, int], key: str) -> Any:
    index = columns.get(key)
    return values[index] if index is not None and index < len(values) else None


def _parse_row(
    line: int, values: Sequence[Any], columns: dict[str, int], present: frozenset[str], grids: _Grids,
    today: dt.date,
) -> _Row:
    raw_id = _value(values, columns, "id_number")
    if isinstance(raw_id, float):
        raise _RowProblem(
            "id_number_numeric",
            _("Excel stored this ID number as a number and lost its last digits; "
              "format the column as text and type it again."),
            "id_number",
        )
    category = parse_category(_value(values, columns, "category"))
    if category is None:
        raise _RowProblem(
            "category_invalid", _("Unknown category; write 常住, 流动, 学生, 教职工 or 后勤."), "category"
        )
    doses = parse_doses(_value(values, columns, "vaccine_doses"))
    if doses is None:
        raise _RowProblem(
            "vaccine_doses_invalid", _("Vaccine doses must be a whole number between 0 and 10."), "vaccine_doses"
        )
    flags: dict[str, bool] = {}
    for key in FLAG_KEYS:
        flag = parse_flag(_value(values, columns, key))
        if flag is None:
            raise _RowProblem("flag_invalid", _("Write 是 or 否 (Y/N, 1/0 or √ are also understood)."), key)
        flags[key] = flag
    data = PersonData(
        name=cell_text(_value(values, columns, "name")),
        id_number=cell_text(raw_id),
        phone=cell_text(_value(values, columns, "phone")),
        category=category,
        vaccine_doses=doses,
        is_elderly_alone=flags["is_elderly_alone"],
        is_mobility_impaired=flags["is_mobility_impaired"],
        has_no_smartphone=flags["has_no_smartphone"],
    )
    try:
        clean = person_clean(data, today=today)
    except DomainError as exc:
        raise _RowProblem(exc.code, exc.message, str(exc.details.get("field", ""))) from None
    grid = grids.find(cell_text(_value(values, columns, "grid")))
    places = []
    for key, kind in PLACE_LEVELS:
        name = " ".join(cell_text(_value(values, columns, key)).split())
        if name:
            if len(name) > 100:
                raise _RowProblem("place_name_too_long", _("This name is longer than 100 characters."), key)
            places.append((kind, name))
    return _Row(line=line, clean=clean, grid=grid, places=places, present=present)


def _changes(person: Person, row: _Row, area_id: int) -> list[str]:
    fields = row.clean.fields()
    changed = [
        key for key in PERSON_FIELDS
        if (key in row.present or key in ("name", "birth_date", "sex")) and getattr(person, key) != fields[key]
    ]
    if area_id != person.area_id:
        changed += ["area", "area_path"]
    return changed


# --- the service ------------------------------------------------------------------------------


def roster_import(*, actor: Actor, file: IO[bytes], scope_area: Area | None = None,
                  now: dt.datetime | None = None, file_name: str = "") -> ImportReport:
    """Import a roster into the grids of the actor's PEOPLE_IMPORT scope (narrowed to ``scope_area``).

    New ID numbers are created, known ones inside the scope updated when their data differ, and
    nothing is written for rows equal to what is stored, so importing a file twice changes nothing.
    """
    now = now or timezone.now()
    scope = scope_for(actor.user, Cap.PEOPLE_IMPORT)
    if scope.is_empty or (scope_area is not None and not scope.contains(scope_area.path)):
        raise NotFound("area_not_found", _("No such place in your territory."))
    columns, data = _read_rows(file)
    present = frozenset(columns)
    today = timezone.localdate(now)
    grids = _Grids(scope, scope_area)
    report = ImportReport(row_count=len(data))

    rows: list[_Row] = []
    first_line: dict[str, int] = {}
    for line, values in data:
        try:
            row = _parse_row(line, values, columns, present, grids, today)
        except _RowProblem as p:
            report.errors.append(RowError(line, p.code, p.message, p.column))
            continue
        seen = first_line.setdefault(row.clean.id_number, line)
        if seen != line:
            report.errors.append(RowError(
                line, "duplicate_in_file",
                _("This ID number already appears on line %(line)s of this file.") % {"line": seen},
                BY_KEY["id_number"].header,
            ))
            continue
        rows.append(row)

    existing: dict[str, Person] = {}
    ids = [r.clean.id_number for r in rows]
    for start in range(0, len(ids), CHUNK):
        for person in Person.objects.filter(id_number__in=ids[start : start + CHUNK]):
            existing[person.id_number] = person

    places = _Places()
    with transaction.atomic():
        for start in range(0, len(rows), CHUNK):
            _write_chunk(rows[start : start + CHUNK], existing, scope, places, report, now)
        report.errors.sort(key=lambda e: e.line)
        entry = audit_record(
            actor=actor,
            action="people.import",
            object_type="people.roster",
            row_count=report.row_count,
            extra={
                "file_name": file_name[:200],
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "error_count": report.error_count,
                "scope_area_id": scope_area.pk if scope_area else None,
                # Reasons only, never the values of the rows: the log must not become a copy of the roster.
                "errors": [[e.line, e.code, e.column, e.message] for e in report.errors],
            },
            now=now,
        )
    report.audit_id = entry.pk
    return report


def _write_chunk(
    rows: list[_Row], existing: dict[str, Person], scope: Scope, places: _Places, report: ImportReport,
    now: dt.datetime,
) -> None:
    creates: list[tuple[_Row, Person]] = []
    updates: list[Person] = []
    update_fields: set[str] = set()
    outside = _("This ID number is already registered outside your territory; "
                "ask the administrator above you to move the person.")
    for row in rows:
        person = existing.get(row.clean.id_number)
        if person is not None and not scope.contains(person.area_path):
            # Do not say where: a grid worker must not learn who lives in another territory.
            report.errors.append(RowError(row.line, "person_outside_scope", outside, BY_KEY["id_number"].header))
            continue
        try:
            area = places.resolve(row.grid, row.places)
        except _RowProblem as p:
            report.errors.append(RowError(row.line, p.code, p.message, p.column))
            continue
        if person is None:
            creates.append((row, Person(area=area, area_path=area.path, **row.clean.fields())))
            continue
        # A row less precise than the register (grid only, say) keeps the registered household.
        keep = person.area_path.startswith(area.path)
        area_id, area_path = (person.area_id, person.area_path) if keep else (area.pk, area.path)
        changed = _changes(person, row, area_id)
        if not changed:
            report.unchanged += 1
            continue
        fields = row.clean.fields()
        for key in changed:
            if key not in ("area", "area_path"):
                setattr(person, key, fields[key])
        person.area_id = area_id
        person.area_path = area_path
        person.updated_at = now
        updates.append(person)
        update_fields.update([*changed, "updated_at"])

    if updates:
        Person.objects.bulk_update(updates, sorted(update_fields), batch_size=CHUNK)
        report.updated += len(updates)
    if creates:
        try:
            with transaction.atomic():
                Person.objects.bulk_create([p for _r, p in creates], batch_size=CHUNK)
            report.created += len(creates)
        except IntegrityError:
            _create_one_by_one(creates, report)


def _create_one_by_one(creates: list[tuple[_Row, Person]], report: ImportReport) -> None:
    for row, person in creates:
        person.pk = None
        try:
            with transaction.atomic():
                person.save(force_insert=True)
        except IntegrityError:
            report.errors.append(RowError(
                row.line, "person_duplicate",
                _("A person with this ID number was registered by someone else meanwhile; import the file again."),
                BY_KEY["id_number"].header,
            ))
        else:
            report.created += 1



