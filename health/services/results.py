"""Laboratory results: a batch of (person, sample, result) recorded and the statuses brought up to date.

Most of a mass-testing batch is negative results for people who are green for want of any risk
evidence. For them the colour cannot change and only the test summary moves, so they skip the
evidence reads and the rule function (the lean path); everyone else goes through the full
recomputation (``recompute._recompute``) as before.

Why the lean path gives the rows the full recomputation gives. It is taken for a person when every
item of theirs in the batch is a negative or invalid result, each for a sample that is new or was
pending, and the person's status row is (green, default_green) under the rules in force, or the person
has no status row and every item is a new sample:

- (green, default_green) is the outcome of ``health.rules.evaluate`` only when no rule fires and there
  is no manual decision (a decision makes the outcome ``manual`` unless a rule fires).
- Adding negative or invalid samples fires no rule: the single-tube rule takes positives only; the
  pool rule starts at the newest *pooled positive*, and more single-tube negatives can only clear it;
  a companion is cleared by negatives, and more negatives never undo a clearance (the chain search
  takes the earliest admissible next test, so its longest chain only grows). A pending sample is seen
  by no rule (``health/services/sampling.py``), so a pending sample turning negative or invalid is
  the same as a new one. A sample that had another result is not lean: removing that evidence can
  change the colour.
- A person without a status row has no evidence at all (every evidence write creates the row: the
  premise of ``health/services/sampling.py`` too), so their new row is what ``_recompute`` creates.
- ``summarise`` is then computed exactly. The usual case on PostgreSQL: every batch sample of the
  person was recorded as pending by the station; their results are written first and ``summarise``
  runs in SQL over the person's samples as they now stand (``_pending_settled``: two statements per
  chunk, no rows read back). Otherwise, for a person one of whose batch samples was recorded before,
  the batch reads every sample of that person anyway, so ``summarise`` runs over them with the batch's
  results applied (``_summary``). For a person whose batch samples are all new it is computed from the
  stored row and the batch: the latest
  sampling is the batch's latest (by time, then reference) when strictly later than the stored one and
  unchanged when earlier; an equal time needs the sample references the row does not keep, so that
  person goes the full way. The latest negative is the later of the stored one and the batch's.
- The colour and reason stay, so no history row and ``since`` unchanged; ``evaluated_at`` moves only
  when a stored field changes, as in ``_recompute``.

``health/tests/test_lab_batch.py`` checks a mixed batch against the rules person by person, and
``health/tests/test_results_lean.py`` compares both paths on every kind of evidence.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext as _

from common.errors import DomainError
from health import selectors
from health.models import Result
from health.rules import Rules
from health.services.recompute import (
    _COMPANION,
    _MANUAL,
    _SAMPLE,
    _STATUS,
    _STATUS_COLUMNS,
    _STATUS_TYPES,
    _chunks,
    _current,
    _datetime_reader,
    _db,
    _id_list,
    _insert,
    _recompute,
    _rows_json,
    _rows_source,
    _select,
    _update,
    _when,
)

_RESULTS = {Result.NEGATIVE, Result.POSITIVE, Result.INVALID}
_LEAN_RESULTS = {Result.NEGATIVE, Result.INVALID}
_SAMPLE_COLUMNS = ["person_id", "sample_ref", "sampled_at", "result", "is_pooled", "result_at", "recorded_at"]
_SAMPLE_TYPES = ["bigint", "text", "timestamptz", "text", "boolean", "timestamptz", "timestamptz"]
_SAMPLE_UPSERT = (
    "ON CONFLICT (person_id, sample_ref) DO UPDATE SET result = excluded.result, "
    "is_pooled = excluded.is_pooled, result_at = excluded.result_at, recorded_at = excluded.recorded_at"
)

Item = tuple[int, str, str, bool, dt.datetime]


def result_recorded(
    *, person_id: int, sample_ref: str, result: str, pooled: bool, sampled_at: dt.datetime, now: dt.datetime
) -> None:
    """A result for a person's sample. A pooled positive makes the person yellow awaiting a single-tube
    recheck (never red); a single-tube positive makes them red."""
    results_recorded(items=[(person_id, sample_ref, result, pooled, sampled_at)], now=now)


def results_recorded(*, items: list[Item], now: dt.datetime) -> None:
    """A laboratory batch: (person_id, sample_ref, result, pooled, sampled_at). Set-based, chunked: each
    chunk of people is recorded and brought up to date in one transaction."""
    for item in items:
        if item[2] not in _RESULTS:
            raise DomainError("result_invalid", _("Unknown result: %(r)s") % {"r": item[2]})
    rules = selectors.current_rules()
    by_person: dict[int, list[Item]] = defaultdict(list)
    for item in items:
        by_person[item[0]].append(item)
    for chunk in _chunks(sorted(by_person)):
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # The batch's reads are short index probes; without statistics (a new or fast-growing
                # table) the planner's estimates can be high enough to JIT-compile them for ~0.5 s each.
                with connection.cursor() as cur:
                    cur.execute("SET LOCAL jit = off")
            _record_chunk(chunk, by_person, rules=rules, now=now)


def _record_chunk(chunk: list[int], by_person: dict[int, list[Item]], *, rules: Rules, now: dt.datetime) -> None:
    stamp = _stamper()
    at = stamp(now)

    def sample_rows(people: list[int]) -> list[tuple[Any, ...]]:
        return [
            (pid, ref, stamp(sampled_at), result, pooled, at, at)
            for p in people
            for (pid, ref, result, pooled, sampled_at) in by_person[p]
        ]

    if len({item[:2] for p in chunk for item in by_person[p]}) < sum(len(by_person[p]) for p in chunk):
        # One sample twice in a call: the upsert refuses it, as it always did.
        _insert(_SAMPLE, _SAMPLE_COLUMNS, _SAMPLE_TYPES, sample_rows(chunk), _SAMPLE_UPSERT)
        _recompute(chunk, now=now, rules=rules)
        return
    full: list[int] = []
    if connection.vendor == "postgresql":
        settled, unsettled = _pending_settled(chunk, by_person, rules=rules, at=at)
        if unsettled:
            # Some of their pending samples were written: the rest of their rows as always (the written
            # ones again, unchanged) and the full recomputation.
            full.extend(sorted(unsettled))
            _insert(_SAMPLE, _SAMPLE_COLUMNS, _SAMPLE_TYPES, sample_rows(full), _SAMPLE_UPSERT)
        if settled or unsettled:
            chunk = [p for p in chunk if p not in settled and p not in unsettled]
    rows = sample_rows(chunk)
    new = _insert_returning(
        _SAMPLE, _SAMPLE_COLUMNS, _SAMPLE_TYPES, rows, "ON CONFLICT (person_id, sample_ref) DO NOTHING", 2
    )
    # Samples recorded before: their stored time and result, then the same upsert as always. The read
    # returns every sample of these people (this batch's new ones included), kept for their summary.
    known: dict[tuple[int, str], tuple[str, dt.datetime]] = {}
    stored: dict[int, dict[str, tuple[dt.datetime, str]]] = defaultdict(dict)  # person -> ref -> (at, result)
    again = [r for r in rows if (r[0], r[1]) not in new]
    if again:
        when = _datetime_reader()
        wanted = {(r[0], r[1]) for r in again}
        for pid, ref, result, sampled_at in _select(
            f"person_id, sample_ref, result, {_when('sampled_at')}", _SAMPLE, "", sorted({r[0] for r in again})
        ):
            taken = when(sampled_at)
            stored[pid][ref] = (taken, result)  # type: ignore[assignment]
            if (pid, ref) in wanted:
                known[(pid, ref)] = (result, taken)  # type: ignore[assignment]
        _insert(_SAMPLE, _SAMPLE_COLUMNS, _SAMPLE_TYPES, again, _SAMPLE_UPSERT)

    fresh: dict[int, tuple[Any, ...]] = {}  # person -> the row a person without one gets
    existing: dict[int, tuple[tuple[dt.datetime, str, str], dt.datetime | None]] = {}
    exact: dict[int, tuple[dt.datetime, str, dt.datetime | None]] = {}  # person -> summarise() of every sample
    for pid in chunk:
        latest: tuple[dt.datetime, str, str] | None = None  # (sampled_at, ref, result)
        negative: dt.datetime | None = None
        lean = True
        all_new = True
        for _p, ref, result, _pooled, sampled_at in by_person[pid]:
            before = known.get((pid, ref))
            if before is not None:
                all_new = False
                if before[0] != Result.PENDING:
                    lean = False
                    break
                sampled_at = before[1]  # the upsert keeps the stored sampling time
            if result not in _LEAN_RESULTS:
                lean = False
                break
            if latest is None or (sampled_at, ref) > latest[:2]:
                latest = (sampled_at, ref, result)
            if result == Result.NEGATIVE and (negative is None or sampled_at > negative):
                negative = sampled_at
        if not lean or latest is None:
            full.append(pid)
            continue
        existing[pid] = (latest, negative)
        if pid in stored:
            exact[pid] = _summary(stored[pid], by_person[pid])
        if all_new:
            summary = (stamp(latest[0]), latest[2], None if negative is None else stamp(negative))
            fresh[pid] = (pid, "green", "default_green", "", rules.version, *summary, at, at)

    _drop_with_other_evidence(fresh, by_person)
    created = _insert_returning(
        _STATUS, _STATUS_COLUMNS, _STATUS_TYPES, list(fresh.values()), "ON CONFLICT (person_id) DO NOTHING", 1
    )
    created_ids = [key[0] for key in created]
    for pid in created_ids:
        del existing[pid]
    update: list[tuple[Any, ...]] = []
    if existing:
        current = _current(sorted(existing))
        for pid, (latest, negative) in existing.items():
            row = current.get(pid)
            # row: (colour, reason, evidence, version, latest_at, latest_result, latest_negative, since)
            if row is None or row[:4] != ("green", "default_green", "", rules.version):
                full.append(pid)
                continue
            if pid in exact:
                values = (*row[:4], *exact[pid])
            elif row[4] is not None and row[4] == latest[0]:
                full.append(pid)
                continue
            else:
                latest_at, latest_result = (latest[0], latest[2]) if row[4] is None or latest[0] > row[4] else row[4:6]
                latest_negative = (
                    row[6] if negative is None or (row[6] is not None and row[6] >= negative) else negative
                )
                values = (*row[:4], latest_at, latest_result, latest_negative)
            if values != row[:7]:
                update.append((pid, *values, row[7], now))
    _update(_STATUS, _STATUS_COLUMNS, _STATUS_TYPES, update)
    dirty = created_ids + [r[0] for r in update]
    if dirty:
        # Now, for this transaction's own reads, and again after commit, as ``_recompute`` does.
        selectors.invalidate(dirty)
        transaction.on_commit(lambda: selectors.invalidate(dirty))
    if full:
        _recompute(sorted(full), now=now, rules=rules)


def _pending_settled(
    chunk: list[int], by_person: dict[int, list[Item]], *, rules: Rules, at: Any
) -> tuple[set[int], set[int]]:
    """PostgreSQL, the usual case in two statements: people whose batch items are all negative or invalid
    results of samples the station recorded as pending. The first writes those results into the pending
    rows (as the upsert would: the stored sampling time stays). The second moves the test summary of
    the people whose every item was written and whose status row is (green, default_green) under the
    rules in force: ``summarise`` in SQL over their samples as they now stand (latest by time, then
    reference in code-point order like Python's, as ``COLLATE "C"`` orders UTF-8), only where it
    changes, ``since`` kept, ``evaluated_at`` now (the module docstring says why this is what the full
    recomputation writes). Returns (settled, unsettled): people done, and people some of whose rows
    were written but who are not done (any other status, no row, an unchanged summary, a new sample
    beside the pending ones), for the full recomputation."""
    people = [p for p in chunk if all(item[2] in _LEAN_RESULTS for item in by_person[p])]
    if not people:
        return set(), set()
    rows = [(pid, ref, result, pooled, at) for p in people for (pid, ref, result, pooled, _s) in by_person[p]]
    types = ["bigint", "text", "text", "boolean", "timestamptz"]
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE {_SAMPLE} AS s SET result = v.result, is_pooled = v.is_pooled, result_at = v.at, "  # noqa: S608
            f"recorded_at = v.at FROM ({_rows_source(types)}) AS v(person_id, sample_ref, result, is_pooled, at) "
            "WHERE s.person_id = v.person_id AND s.sample_ref = v.sample_ref AND s.result = 'pending' "
            "RETURNING s.person_id",
            [_rows_json(rows)],
        )
        written: dict[int, int] = defaultdict(int)
        for (pid,) in cur.fetchall():
            written[pid] += 1
        whole = [p for p in people if written.get(p) == len(by_person[p])]
        settled: set[int] = set()
        if whole:
            cur.execute(
                f"UPDATE {_STATUS} AS h SET latest_sampled_at = x.latest_at, latest_result = x.latest_result, "  # noqa: S608
                "latest_negative_sampled_at = x.negative_at, evaluated_at = %s "
                "FROM (SELECT u.pid, l.sampled_at AS latest_at, l.result AS latest_result, n.negative_at "
                "FROM unnest(string_to_array(%s, ',')::bigint[]) AS u(pid) "
                f"CROSS JOIN LATERAL (SELECT sampled_at, result FROM {_SAMPLE} WHERE person_id = u.pid "
                'ORDER BY sampled_at DESC, sample_ref COLLATE "C" DESC LIMIT 1) AS l '
                f"CROSS JOIN LATERAL (SELECT max(sampled_at) AS negative_at FROM {_SAMPLE} "
                "WHERE person_id = u.pid AND result = 'negative') AS n) AS x "
                "WHERE h.person_id = x.pid AND h.colour = 'green' AND h.reason_code = 'default_green' "
                "AND h.evidence = '' AND h.rule_version = %s AND (h.latest_sampled_at, h.latest_result, "
                "h.latest_negative_sampled_at) IS DISTINCT FROM (x.latest_at, x.latest_result, x.negative_at) "
                "RETURNING h.person_id",
                [at, _id_list(whole), rules.version],
            )
            settled = {pid for (pid,) in cur.fetchall()}
    if settled:
        ids = sorted(settled)
        # Now, for this transaction's own reads, and again after commit, as ``_recompute`` does.
        selectors.invalidate(ids)
        transaction.on_commit(lambda: selectors.invalidate(ids))
    return settled, set(written) - settled


def _summary(
    samples: dict[str, tuple[dt.datetime, str]], items: list[Item]
) -> tuple[dt.datetime, str, dt.datetime | None]:
    """``summarise`` of a person's samples as the batch leaves them: ``samples`` is every stored sample
    (ref -> sampling time, result) read after the batch's new ones were inserted, the batch's results
    applied over them (an upsert keeps the stored sampling time)."""
    after = dict(samples)
    for _p, ref, result, _pooled, sampled_at in items:
        after[ref] = (after[ref][0] if ref in after else sampled_at, result)
    ref = max(after, key=lambda r: (after[r][0], r))
    negatives = [at for at, result in after.values() if result == Result.NEGATIVE]
    return after[ref][0], after[ref][1], max(negatives, default=None)


def _stamper() -> Callable[[dt.datetime], Any]:
    """Datetimes as the row sets take them: on PostgreSQL the ISO text, made once per instant (a batch
    has few), so the JSON encoder never calls back into Python; elsewhere unchanged (``_db`` adapts)."""
    if connection.vendor != "postgresql":
        return lambda value: value
    memo: dict[dt.datetime, str] = {}

    def stamp(value: dt.datetime) -> str:
        text = memo.get(value)
        if text is None:
            text = memo[value] = value.isoformat()
        return text

    return stamp


def _drop_with_other_evidence(fresh: dict[int, tuple[Any, ...]], by_person: dict[int, list[Item]]) -> None:
    """Keep in ``fresh`` only the people whose evidence is this batch's new samples and nothing else.
    Every evidence write creates the status row, so this should hold for anyone without one; checked all
    the same (three reads of a column, one index probe per person), since a person left without a row
    by a write behind the services' back must still get the outcome of their whole evidence."""
    if not fresh:
        return
    ids = sorted(fresh)
    other: set[int] = set()
    counts: dict[int, int] = defaultdict(int)
    for (pid,) in _select("person_id", _SAMPLE, "", ids):
        counts[pid] += 1
    other.update(pid for pid, n in counts.items() if n != len(by_person[pid]))
    other.update(pid for (pid,) in _select("person_id", _COMPANION, "", ids))
    other.update(pid for (pid,) in _select("person_id", _MANUAL, "", ids))
    for pid in other:
        del fresh[pid]


def _insert_returning(
    table: str, cols: list[str], types: list[str], rows: list[tuple[Any, ...]], conflict: str, width: int
) -> set[tuple[Any, ...]]:
    """INSERT ... ``conflict`` RETURNING the first ``width`` columns of the rows written: one statement
    over a JSON row set on PostgreSQL; VALUES lists on SQLite (row by row where RETURNING is missing)."""
    if not rows:
        return set()
    names = ", ".join(cols)
    key = ", ".join(cols[:width])
    written: set[tuple[Any, ...]] = set()
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                f"INSERT INTO {table} ({names}) {_rows_source(types)} {conflict} RETURNING {key}",
                [_rows_json(rows)],
            )
            return {tuple(r) for r in cur.fetchall()}
        marks = "(" + ", ".join(["%s"] * len(cols)) + ")"
        if not connection.features.can_return_rows_from_bulk_insert:
            for row in rows:
                cur.execute(f"INSERT INTO {table} ({names}) VALUES {marks} {conflict}", [_db(v) for v in row])  # noqa: S608
                if cur.rowcount == 1:
                    written.add(tuple(row[:width]))
            return written
        size = max(1, (connection.features.max_query_params or 999) // len(cols))
        for i in range(0, len(rows), size):
            part = rows[i : i + size]
            cur.execute(
                f"INSERT INTO {table} ({names}) VALUES {', '.join([marks] * len(part))} {conflict} RETURNING {key}",  # noqa: S608
                [_db(v) for row in part for v in row],
            )
            written.update(tuple(r) for r in cur.fetchall())
    return written
