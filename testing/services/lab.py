"""Laboratory results: file and API uploads, exceptions, corrections, and what a result sets off.

Ingestion is set-based so a batch of 100 k tubes (1 M person links) loads in one transaction:
tubes, existing results and members are read in chunks of barcodes, results and tasks are bulk
inserted, and the health app is told of every member's result in one call.
Re-sending a row changes nothing. A tube that is not a sealed tube of the uploading laboratory is
answered exactly like an unknown tube, so a laboratory cannot learn about another's tubes.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext as _

from audit.services import Actor, audit_record
from common.errors import Conflict, DomainError, Forbidden
from notices.services import sms_send
from people import selectors as people_selectors
from testing import health_port
from testing.models import (
    Case,
    CorrectionStatus,
    ExceptionStatus,
    Laboratory,
    LabUpload,
    RecheckStatus,
    RecheckTask,
    Result,
    ResultCorrection,
    ResultException,
    ResultValue,
    Sample,
    Tube,
    TubeStatus,
)

CHUNK = 5000
MAX_ROWS = 200_000

_VALUES: dict[str, str] = {
    "negative": ResultValue.NEGATIVE,
    "neg": ResultValue.NEGATIVE,
    "阴性": ResultValue.NEGATIVE,
    "-": ResultValue.NEGATIVE,
    "positive": ResultValue.POSITIVE,
    "pos": ResultValue.POSITIVE,
    "阳性": ResultValue.POSITIVE,
    "+": ResultValue.POSITIVE,
    "invalid": ResultValue.INVALID,
    "无效": ResultValue.INVALID,
}
_BARCODE_HEADERS = {"barcode", "tube", "tube_barcode", "试管条码", "管码", "条码", "采样管编码"}
_RESULT_HEADERS = {"result", "结果", "检测结果"}


class Fate:
    LOADED = "loaded"
    UNCHANGED = "unchanged"
    CONFLICT = "conflict"
    UNKNOWN_TUBE = "unknown_tube"
    INVALID_ROW = "invalid_row"
    DUPLICATE_IN_FILE = "duplicate_in_file"


def fate_message(fate: str) -> str:
    return {
        Fate.LOADED: _("Loaded."),
        Fate.UNCHANGED: _("Already recorded with this result; nothing changed."),
        Fate.CONFLICT: _("This tube already has a different result; send a correction with a reason instead."),
        Fate.UNKNOWN_TUBE: _("No sealed tube of your laboratory has this barcode; put on the exceptions list."),
        Fate.INVALID_ROW: _("The row has no barcode or no valid result (negative, positive, invalid)."),
        Fate.DUPLICATE_IN_FILE: _("The barcode appears earlier in the same file; this row was skipped."),
    }[fate]


@dataclass
class RowFate:
    line: int
    barcode: str
    result: str
    fate: str

    def as_list(self) -> list[Any]:
        return [self.line, self.barcode, self.fate, fate_message(self.fate)]


@dataclass
class IngestReport:
    upload: LabUpload
    rows: list[RowFate]

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.upload.counts)


def parse_result_file(*, name: str, data: bytes) -> list[tuple[int, str, str]]:
    """(line, barcode, result) of a CSV or Excel file whose header names a barcode and a result column."""
    lowered = name.lower()
    if lowered.endswith((".xlsx", ".xlsm")):
        rows: Iterator[list[Any]] = _xlsx_rows(data)
    elif lowered.endswith((".csv", ".txt")):
        rows = _csv_rows(data)
    else:
        raise DomainError("file_type", _("Upload a .csv or .xlsx file."), field="file")
    header = next(rows, None)
    if header is None:
        raise DomainError("file_empty", _("The file is empty."), field="file")
    names = [str(h or "").strip().lower() for h in header]
    try:
        b_col = next(i for i, h in enumerate(names) if h in _BARCODE_HEADERS)
        r_col = next(i for i, h in enumerate(names) if h in _RESULT_HEADERS)
    except StopIteration:
        raise DomainError(
            "file_header", _("The first row must name a barcode column and a result column."), field="file"
        ) from None
    out = []
    for line, row in enumerate(rows, start=2):
        if not any(c not in (None, "") for c in row):
            continue
        barcode = str(row[b_col] if b_col < len(row) and row[b_col] is not None else "").strip()
        result = str(row[r_col] if r_col < len(row) and row[r_col] is not None else "").strip()
        out.append((line, barcode, result))
        if len(out) > MAX_ROWS:
            raise DomainError("file_too_big", _("A file may hold at most %(n)s rows.") % {"n": MAX_ROWS}, field="file")
    return out


def _csv_rows(data: bytes) -> Iterator[list[Any]]:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise DomainError("file_encoding", _("The file is neither UTF-8 nor GB18030 text."), field="file")
    yield from csv.reader(io.StringIO(text))


def _xlsx_rows(data: bytes) -> Iterator[list[Any]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:
        raise DomainError("file_unreadable", _("The Excel file cannot be read."), field="file") from None
    for row in wb.worksheets[0].iter_rows(values_only=True):
        yield list(row)


def _chunks(seq: list[Any], n: int = CHUNK) -> Iterator[list[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def results_ingest(
    *,
    actor: Actor,
    laboratory: Laboratory,
    rows: Iterable[tuple[int, str, str]],
    filename: str,
    sha256: str = "",
    now: dt.datetime,
) -> IngestReport:
    rows = list(rows)
    if not sha256:
        sha256 = hashlib.sha256(repr(rows).encode()).hexdigest()
    fates: list[RowFate] = []
    wanted: dict[str, tuple[int, str]] = {}  # barcode -> (index in fates, value)
    for line, raw_barcode, raw_value in rows:
        barcode = (raw_barcode or "").strip()
        value = _VALUES.get((raw_value or "").strip().lower())
        fate = RowFate(line, barcode[:100], value or (raw_value or "")[:20], Fate.INVALID_ROW)
        fates.append(fate)
        if not barcode or value is None or len(barcode) > 40:
            continue
        if barcode in wanted:
            fate.fate = Fate.DUPLICATE_IN_FILE if wanted[barcode][1] == value else Fate.CONFLICT
            continue
        wanted[barcode] = (len(fates) - 1, value)

    with transaction.atomic():
        upload = LabUpload.objects.create(
            laboratory=laboratory,
            uploaded_by=actor.user,
            filename=filename[:200],
            sha256=sha256,
            created_at=now,
            row_count=len(rows),
        )
        tubes = _sealed_tubes(list(wanted), laboratory)
        existing = _results_of([t[0] for t in tubes.values()])

        new_results: list[tuple[int, str]] = []  # (tube id, value)
        exceptions: list[ResultException] = []
        loaded: dict[int, tuple[str, str, int, int]] = {}  # tube id -> (barcode, value, pool, round)
        for barcode, (idx, val) in wanted.items():
            fate = fates[idx]
            tube = tubes.get(barcode)
            if tube is None:
                fate.fate = Fate.UNKNOWN_TUBE
                exceptions.append(
                    ResultException(
                        laboratory=laboratory,
                        upload=upload,
                        line=fate.line,
                        barcode=barcode,
                        value=val,
                        created_at=now,
                    )
                )
            elif tube[0] in existing:
                fate.fate = Fate.UNCHANGED if existing[tube[0]] == val else Fate.CONFLICT
            else:
                fate.fate = Fate.LOADED
                new_results.append((tube[0], val))
                loaded[tube[0]] = (barcode, val, tube[1], tube[2])
        _results_insert(new_results, laboratory=laboratory, upload=upload, now=now)
        ResultException.objects.bulk_create(exceptions, batch_size=CHUNK, ignore_conflicts=True)
        _consequences(loaded, now=now)
        counts = Counter(f.fate for f in fates)
        upload.counts = dict(counts)
        upload.problems = [f.as_list() for f in fates if f.fate not in (Fate.LOADED, Fate.UNCHANGED)]
        upload.save(update_fields=["counts", "problems"])
        audit_record(
            actor=actor,
            action="testing.results_upload",
            obj=upload,
            row_count=len(rows),
            now=now,
            extra={"counts": dict(counts)},
        )
    return IngestReport(upload=upload, rows=fates)


def _sealed_tubes(barcodes: list[str], laboratory: Laboratory) -> dict[str, tuple[int, int, int]]:
    """barcode -> (tube id, pool size, round id) of the laboratory's sealed tubes among ``barcodes``. On
    PostgreSQL the barcodes travel as one JSON array (Django compiles and psycopg splits a query of
    5,000 placeholders in Python, most of this read's time); elsewhere the ORM."""
    tubes: dict[str, tuple[int, int, int]] = {}
    for chunk in _chunks(barcodes):
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute(
                    f"SELECT t.id, t.barcode, t.pool_size, t.round_id FROM {Tube._meta.db_table} AS t "  # noqa: S608
                    "JOIN jsonb_array_elements_text(%s::jsonb) AS u(barcode) ON t.barcode = u.barcode "
                    "WHERE t.laboratory_id = %s AND t.status = %s",
                    [json.dumps(chunk), laboratory.pk, TubeStatus.SEALED.value],
                )
                found = cur.fetchall()
        else:
            found = list(
                Tube.objects.filter(barcode__in=chunk, laboratory=laboratory, status=TubeStatus.SEALED).values_list(
                    "id", "barcode", "pool_size", "round_id"
                )
            )
        for tid, barcode, pool, rid in found:
            tubes[barcode] = (tid, pool, rid)
    return tubes


def _results_of(tube_ids: list[int]) -> dict[int, str]:
    """tube id -> value of the results the tubes already have (ids as one text parameter on PostgreSQL)."""
    existing: dict[int, str] = {}
    for chunk in _chunks(tube_ids):
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute(
                    f"SELECT tube_id, value FROM {Result._meta.db_table} "  # noqa: S608
                    "WHERE tube_id = ANY(string_to_array(%s, ',')::bigint[])",
                    [",".join(str(int(t)) for t in chunk)],
                )
                existing.update(cur.fetchall())
        else:
            existing.update(Result.objects.filter(tube_id__in=chunk).values_list("tube_id", "value"))
    return existing


def _results_insert(
    results: list[tuple[int, str]], *, laboratory: Laboratory, upload: LabUpload, now: dt.datetime
) -> None:
    """The new result rows, (tube id, value) each. On PostgreSQL one INSERT per chunk over two text
    parameters split by the server (bulk_create compiles every value through the field machinery, and
    psycopg renders list parameters element by element in Python); elsewhere bulk_create."""
    if connection.vendor != "postgresql":
        Result.objects.bulk_create(
            [Result(tube_id=t, laboratory=laboratory, value=v, upload=upload, received_at=now) for t, v in results],
            batch_size=CHUNK,
        )
        return
    table = Result._meta.db_table
    for chunk in _chunks(results):
        with connection.cursor() as cur:
            cur.execute(
                f"INSERT INTO {table} (tube_id, laboratory_id, value, upload_id, received_at) "  # noqa: S608
                "SELECT t, %s, v, %s, %s FROM unnest(string_to_array(%s, ',')::bigint[], "
                "string_to_array(%s, ',')) AS u(t, v)",
                [
                    laboratory.pk,
                    upload.pk,
                    now,
                    ",".join(str(int(t)) for t, _v in chunk),
                    ",".join(v for _t, v in chunk),
                ],
            )


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _members(tube_ids: list[int]) -> Iterator[tuple[int, int, dt.datetime, str]]:
    """(tube, person, sampled_at, area_path) of the tubes' samples. On PostgreSQL the ids travel as one
    text parameter and the sampling time as integer microseconds (exact from PostgreSQL 14), turned into
    the same aware UTC datetimes here with a memo: psycopg's timestamptz loader per row, and list
    parameters rendered in Python, were most of this read at a million members."""
    if connection.vendor != "postgresql":
        yield from (
            Sample.objects.filter(tube_id__in=tube_ids)
            .values_list("tube_id", "person_id", "sampled_at", "area_path")
            .iterator(chunk_size=CHUNK)
        )
        return
    memo: dict[int, dt.datetime] = {}
    with connection.cursor() as cur:
        # One index probe per tube (a LATERAL subquery the planner cannot flatten): with ``tube_id =
        # ANY(...)`` it chose a parallel sequential scan of every sample for each chunk of 5,000 tubes.
        cur.execute(
            "SELECT u.tid, x.person_id, (extract(epoch FROM x.sampled_at) * 1000000)::bigint, x.area_path "  # noqa: S608
            "FROM unnest(string_to_array(%s, ',')::bigint[]) AS u(tid) CROSS JOIN LATERAL (SELECT person_id, "
            f"sampled_at, area_path FROM {Sample._meta.db_table} WHERE tube_id = u.tid OFFSET 0) AS x",
            [",".join(str(int(t)) for t in tube_ids)],
        )
        rows = cur.fetchall()
    for tube_id, person_id, micros, area_path in rows:
        sampled_at = memo.get(micros)
        if sampled_at is None:
            sampled_at = memo[micros] = _EPOCH + dt.timedelta(microseconds=micros)
        yield tube_id, person_id, sampled_at, area_path


def _consequences(loaded: dict[int, tuple[str, str, int, int]], *, now: dt.datetime) -> None:
    """Tell the health app every member's result; positive pools -> recheck tasks; positive singles ->
    cases; a single-tube result closes the member's open recheck tasks."""
    if not loaded:
        return
    items: list[tuple[int, str, str, bool, dt.datetime]] = []
    tasks: list[RecheckTask] = []
    cases: list[Case] = []
    single_results: dict[int, tuple[int, str]] = {}  # person -> (tube, value)
    sample_ref = health_port.sample_ref
    for chunk in _chunks(list(loaded)):
        for tube_id, person_id, sampled_at, area_path in _members(chunk):
            barcode, value, pool, round_id = loaded[tube_id]
            pooled = pool > 1
            items.append((person_id, sample_ref(barcode, person_id), value, pooled, sampled_at))
            if value == ResultValue.POSITIVE and pooled:
                tasks.append(
                    RecheckTask(
                        round_id=round_id, tube_id=tube_id, person_id=person_id, area_path=area_path, created_at=now
                    )
                )
            elif value == ResultValue.POSITIVE:
                cases.append(Case(person_id=person_id, tube_id=tube_id, area_path=area_path, created_at=now))
            if not pooled and value != ResultValue.INVALID:
                single_results[person_id] = (tube_id, value)
    RecheckTask.objects.bulk_create(tasks, batch_size=CHUNK, ignore_conflicts=True)
    Case.objects.bulk_create(cases, batch_size=CHUNK, ignore_conflicts=True)
    if single_results:
        _close_rechecks(single_results, now=now)
    health_port.results_recorded(items=items, now=now)


def _close_rechecks(single_results: dict[int, tuple[int, str]], *, now: dt.datetime) -> None:
    for chunk in _chunks(list(single_results)):
        open_tasks = list(
            RecheckTask.objects.filter(person_id__in=chunk, status=RecheckStatus.OPEN).values_list("id", "person_id")
        )
        by_result: dict[tuple[int, str], list[int]] = {}
        for task_id, person_id in open_tasks:
            by_result.setdefault(single_results[person_id], []).append(task_id)
        for (tube_id, value), ids in by_result.items():
            RecheckTask.objects.filter(id__in=ids).update(
                status=RecheckStatus.CLOSED, closed_at=now, closing_tube_id=tube_id, closing_result=value
            )


# --- exceptions -------------------------------------------------------------------------------


def exception_resolve(
    *, actor: Actor, exception: ResultException, barcode: str = "", note: str = "", now: dt.datetime
) -> IngestReport | None:
    """Apply an exception's result to the right tube (a misread barcode), or dismiss it with a note."""
    note = " ".join((note or "").split())
    if exception.status != ExceptionStatus.OPEN:
        raise Conflict("exception_resolved", _("This exception has already been resolved."))
    report = None
    with transaction.atomic():
        if barcode:
            report = results_ingest(
                actor=actor,
                laboratory=exception.laboratory,
                rows=[(exception.line, barcode, exception.value)],
                filename=f"exception {exception.pk}",
                now=now,
            )
            if report.rows[0].fate != Fate.LOADED:
                raise DomainError("exception_not_applied", fate_message(report.rows[0].fate), field="barcode")
            exception.status = ExceptionStatus.APPLIED
        else:
            if len(note) < 2:
                raise DomainError("note_required", _("Say why the row is dismissed."), field="note")
            exception.status = ExceptionStatus.DISMISSED
        exception.note = (note or f"-> {barcode}")[:500]
        exception.resolved_by = actor.user
        exception.resolved_at = now
        exception.save(update_fields=["status", "note", "resolved_by", "resolved_at"])
        audit_record(
            actor=actor,
            action="testing.exception_resolve",
            obj=exception,
            now=now,
            extra={"barcode": barcode, "status": exception.status},
        )
    return report


# --- corrections ------------------------------------------------------------------------------


def correction_request(
    *, actor: Actor, result: Result, new_value: str, reason: str, now: dt.datetime
) -> ResultCorrection:
    reason = " ".join((reason or "").split())
    if new_value not in ResultValue.values:
        raise DomainError("result_invalid", _("The result must be negative, positive or invalid."), field="new_value")
    if new_value == result.value:
        raise DomainError("result_same", _("The tube already has this result."), field="new_value")
    if len(reason) < 4:
        raise DomainError("reason_required", _("Give the reason for the correction."), field="reason")
    with transaction.atomic():
        if ResultCorrection.objects.filter(result=result, status=CorrectionStatus.PENDING).exists():
            raise Conflict("correction_pending", _("A correction of this tube is already awaiting review."))
        corr = ResultCorrection.objects.create(
            result=result,
            old_value=result.value,
            new_value=new_value,
            reason=reason[:500],
            requested_by=actor.user,
            requested_at=now,
        )
        audit_record(actor=actor, action="testing.correction_request", obj=corr, reason=reason[:500], now=now)
    return corr


def correction_reject(*, actor: Actor, correction: ResultCorrection, now: dt.datetime) -> ResultCorrection:
    _check_second_person(actor, correction)
    with transaction.atomic():
        correction.status = CorrectionStatus.REJECTED
        correction.decided_by = actor.user
        correction.decided_at = now
        correction.save(update_fields=["status", "decided_by", "decided_at"])
        audit_record(actor=actor, action="testing.correction_reject", obj=correction, now=now)
    return correction


def _check_second_person(actor: Actor, correction: ResultCorrection) -> None:
    if correction.status != CorrectionStatus.PENDING:
        raise Conflict("correction_decided", _("This correction has already been decided."))
    if actor.user is None or actor.user.pk == correction.requested_by_id:
        raise Forbidden("second_person_required", _("A second person must review a correction."))


def correction_approve(*, actor: Actor, correction: ResultCorrection, now: dt.datetime) -> ResultCorrection:
    """Apply the new result, recompute the members' statuses, adjust tasks and cases, tell each member."""
    _check_second_person(actor, correction)
    with transaction.atomic():
        result = Result.objects.select_for_update(of=("self",)).select_related("tube").get(pk=correction.result_id)
        tube = result.tube
        result.value = correction.new_value
        result.corrected_at = now
        result.save(update_fields=["value", "corrected_at"])
        correction.status = CorrectionStatus.APPLIED
        correction.decided_by = actor.user
        correction.decided_at = now
        correction.save(update_fields=["status", "decided_by", "decided_at"])
        if correction.old_value == ResultValue.POSITIVE:
            RecheckTask.objects.filter(tube=tube, status=RecheckStatus.OPEN).update(
                status=RecheckStatus.CANCELLED, closed_at=now
            )
        _consequences({tube.pk: (tube.barcode, correction.new_value, tube.pool_size, tube.round_id)}, now=now)
        member_ids = list(Sample.objects.filter(tube=tube).values_list("person_id", flat=True))
        people = people_selectors.people_by_ids(member_ids)
        body = _(
            "Fangyi: the result of your nucleic-acid sample %(barcode)s was corrected to %(value)s. "
            "Open Fangyi for your current status."
        ) % {"barcode": tube.barcode, "value": ResultValue(correction.new_value).label}
        for person in people.values():
            if person.phone:
                sms_send(phone=person.phone, body=str(body), now=now)
        audit_record(
            actor=actor,
            action="testing.correction_approve",
            obj=correction,
            now=now,
            row_count=len(member_ids),
            reason=correction.reason,
            extra={"tube": tube.barcode, "old": correction.old_value, "new": correction.new_value},
        )
    return correction
