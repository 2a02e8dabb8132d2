"""Recomputation of statuses and the evidence other modules report (results, samples, companions)."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from django.db import connection, transaction

from health import selectors
from health.models import (
    CompanionRecord,
    HealthStatus,
    ManualDecision,
    Sample,
    StatusHistory,
)
from health.rules import CompanionFact, ManualFact, Rules, SampleFact, evaluate, summarise

CHUNK = 5000


# --- recomputation core -----------------------------------------------------------------------
#
# Set-based per chunk of people: three evidence reads and one read of the current rows, the pure rule
# function in Python (the one definition of the rules), then at most three writes (new rows, changed
# rows, history). On PostgreSQL every id list and row set travels as one text parameter, split or
# parsed by the server: psycopg renders Python lists into array literals in Python, one element at a
# time, which cost more than the statements themselves at a million people.


def _chunks(ids: list[int], size: int | None = None) -> Iterator[list[int]]:
    size = size or CHUNK  # read at call time, so a test can make chunks small
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def _select(columns: str, table: str, order: str, ids: list[int]) -> list[tuple[Any, ...]]:
    """``SELECT columns FROM table`` for the rows of the given people, ordered by ``order`` (or not).
    On PostgreSQL one index probe per person (a LATERAL subquery the planner cannot flatten): with
    ``person_id = ANY(...)`` it chose a sequential scan of the whole table per chunk whenever the table
    had no statistics or ~5,000 ids looked like a large share of it (a new table, or one that grows
    within a batch), which made a batch quadratic."""
    order_by = f" ORDER BY {order}" if order else ""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                f"SELECT {columns} FROM unnest(string_to_array(%s, ',')::bigint[]) AS u(pid) "  # noqa: S608
                f"CROSS JOIN LATERAL (SELECT * FROM {table} WHERE person_id = u.pid OFFSET 0) AS x{order_by}",
                [_id_list(ids)],
            )
        else:
            cur.execute(
                f"SELECT {columns} FROM {table} WHERE person_id IN ({', '.join(['%s'] * len(ids))}){order_by}",  # noqa: S608
                ids,
            )
        return cur.fetchall()


def _id_list(ids: list[int]) -> str:
    return ",".join(str(int(i)) for i in ids)


def _when(column: str) -> str:
    """A datetime column read in bulk. On PostgreSQL as integer microseconds since the epoch (exact:
    extract() is numeric from PostgreSQL 14): Django's timestamptz loader wraps every value in Python,
    which dominated the evidence reads of a lab batch."""
    if connection.vendor == "postgresql":
        return f"(extract(epoch FROM {column}) * 1000000)::bigint"
    return column


def _datetime_reader() -> Callable[[Any], dt.datetime | None]:
    """Turns what ``_when`` selects into aware UTC datetimes; a batch repeats few distinct instants."""
    memo: dict[Any, dt.datetime | None] = {None: None}
    postgres = connection.vendor == "postgresql"

    def read(value: Any) -> dt.datetime | None:
        try:
            return memo[value]
        except KeyError:
            result = _EPOCH + dt.timedelta(microseconds=value) if postgres else selectors.as_aware(value)
            memo[value] = result
            return result

    return read


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _evidence(
    ids: list[int],
) -> tuple[dict[int, list[SampleFact]], dict[int, list[CompanionFact]], dict[int, ManualFact]]:
    when = _datetime_reader()
    samples: dict[int, list[SampleFact]] = defaultdict(list)
    for pid, ref, sampled_at, result, pooled, recorded_at in _select(
        f"person_id, sample_ref, {_when('sampled_at')}, result, is_pooled, {_when('recorded_at')}",
        _SAMPLE,
        "person_id, id",
        ids,
    ):
        samples[pid].append(SampleFact(ref, when(sampled_at), result, bool(pooled), when(recorded_at)))  # type: ignore[arg-type]
    companions: dict[int, list[CompanionFact]] = defaultdict(list)
    for pid, case_ref, exposed_at, recorded_at in _select(
        f"person_id, case_ref, {_when('exposed_at')}, {_when('recorded_at')}", _COMPANION, "person_id, id", ids
    ):
        companions[pid].append(CompanionFact(case_ref, when(exposed_at), when(recorded_at)))  # type: ignore[arg-type]
    manual: dict[int, ManualFact] = {}
    for pid, colour, decided_at, req in _select(
        f"person_id, colour, {_when('decided_at')}, change_request_id", _MANUAL, "person_id, decided_at, id", ids
    ):
        manual[pid] = ManualFact(colour, when(decided_at), req)  # type: ignore[arg-type]  # ordered: the latest stays
    return samples, companions, manual


# The columns of a status row as _recompute compares and writes them: the compared values first.
_STATUS_COLUMNS = [
    "person_id",
    "colour",
    "reason_code",
    "evidence",
    "rule_version",
    "latest_sampled_at",
    "latest_result",
    "latest_negative_sampled_at",
    "since",
    "evaluated_at",
]
_STATUS_TYPES = [
    "bigint",
    "text",
    "text",
    "text",
    "integer",
    "timestamptz",
    "text",
    "timestamptz",
    "timestamptz",
    "timestamptz",
]
_HISTORY_COLUMNS = [
    "person_id",
    "at",
    "colour",
    "previous_colour",
    "reason_code",
    "evidence",
    "rule_version",
    "actor_label",
    "change_request_id",
]
_HISTORY_TYPES = ["bigint", "timestamptz", "text", "text", "text", "text", "integer", "text", "bigint"]
_NONE: tuple[Any, ...] = ()


def _current(ids: list[int]) -> dict[int, tuple[Any, ...]]:
    """{person: (colour, reason_code, evidence, rule_version, latest_sampled_at, latest_result,
    latest_negative_sampled_at, since)} of the people who have a status row."""
    when = _datetime_reader()
    columns = "person_id, colour, reason_code, evidence, rule_version, {}, latest_result, {}, {}".format(
        _when("latest_sampled_at"), _when("latest_negative_sampled_at"), _when("since")
    )
    return {
        pid: (colour, reason, evidence, version, when(latest_at), latest_result, when(latest_neg), when(since))
        for pid, colour, reason, evidence, version, latest_at, latest_result, latest_neg, since in _select(
            columns, _STATUS, "", ids
        )
    }


def _recompute(
    ids: list[int],
    *,
    now: dt.datetime,
    rules: Rules,
    actor_label: str = "rules",
    change_request_id: int | None = None,
    force_history: bool = False,
) -> int:
    """Recompute the given people inside the caller's transaction; returns how many changed colour or
    reason. Writes history rows for the changes and schedules the cache invalidation."""
    changed_total = 0
    version = rules.version
    default = ("green", "default_green")
    for chunk in _chunks(sorted(set(ids))):
        samples, companions, manual = _evidence(chunk)
        current = _current(chunk)
        create: list[tuple[Any, ...]] = []
        update: list[tuple[Any, ...]] = []
        history: list[tuple[Any, ...]] = []
        for pid in chunk:
            s = samples.get(pid, _NONE)
            outcome = evaluate(s, companions.get(pid, _NONE), manual.get(pid), rules)  # type: ignore[arg-type]
            summary = summarise(s)  # type: ignore[arg-type]
            values = (
                outcome.colour,
                outcome.reason_code,
                outcome.evidence,
                version,
                summary.latest_sampled_at,
                summary.latest_result,
                summary.latest_negative_sampled_at,
            )
            row = current.get(pid)
            before = row[:2] if row is not None else default
            is_change = before != values[:2]
            if row is None:
                create.append((pid, *values, now, now))
            elif is_change or row[:7] != values:
                update.append((pid, *values, now if is_change else row[7], now))
            if is_change or force_history:
                changed_total += int(is_change)
                history.append(
                    (
                        pid,
                        now,
                        outcome.colour,
                        before[0],
                        outcome.reason_code,
                        outcome.evidence,
                        version,
                        actor_label,
                        change_request_id,
                    )
                )
        _insert(_STATUS, _STATUS_COLUMNS, _STATUS_TYPES, create, "")
        _update(_STATUS, _STATUS_COLUMNS, _STATUS_TYPES, update)
        _insert(_HISTORY, _HISTORY_COLUMNS, _HISTORY_TYPES, history, "")
        dirty = [r[0] for r in create] + [r[0] for r in update]
        if dirty:
            # Now, for this transaction's own reads, and again after commit, since a reader between
            # the two may have cached the old row.
            selectors.invalidate(dirty)
            transaction.on_commit(lambda d=dirty: selectors.invalidate(d))  # type: ignore[misc]
    return changed_total


def _rows_json(rows: list[tuple[Any, ...]] | list[list[Any]]) -> str:
    iso: dict[dt.datetime, str] = {}

    def value(v: Any) -> Any:
        if isinstance(v, dt.datetime):
            text = iso.get(v)
            if text is None:
                text = iso[v] = v.isoformat()  # the offset travels with it
            return text
        raise TypeError(type(v))

    return json.dumps(rows, default=value, separators=(",", ":"))


def _rows_source(types: list[str]) -> str:
    """PostgreSQL: the rows of one JSON parameter (an array of arrays), typed column by column."""
    columns = ", ".join(f"(r->>{i})::{t}" for i, t in enumerate(types))
    return f"SELECT {columns} FROM jsonb_array_elements(%s::jsonb) AS r"  # noqa: S608 - our identifiers


def _insert(
    table: str, cols: list[str], types: list[str], rows: list[tuple[Any, ...]] | list[list[Any]], conflict: str
) -> None:
    """A set-based INSERT: one statement over a JSON row set on PostgreSQL, executemany on SQLite.
    Django's bulk_create compiles every value through the field machinery, which dominated lab batches."""
    if not rows:
        return
    names = ", ".join(cols)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(f"INSERT INTO {table} ({names}) {_rows_source(types)} {conflict}", [_rows_json(rows)])
        else:
            marks = ", ".join(["%s"] * len(cols))
            cur.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({marks}) {conflict}",  # noqa: S608
                [[_db(v) for v in row] for row in rows],
            )


def _update(table: str, cols: list[str], types: list[str], rows: list[tuple[Any, ...]]) -> None:
    """One UPDATE ... FROM per chunk keyed on the first column; executemany on SQLite. Django's
    bulk_update builds CASE expressions that grow with the chunk."""
    if not rows:
        return
    key, fields = cols[0], cols[1:]
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            sets = ", ".join(f"{f} = v.{f}" for f in fields)
            cur.execute(
                f"UPDATE {table} AS t SET {sets} FROM ({_rows_source(types)}) AS v({', '.join(cols)}) "  # noqa: S608
                f"WHERE t.{key} = v.{key}",
                [_rows_json(rows)],
            )
        else:
            sets = ", ".join(f"{f} = %s" for f in fields)
            cur.executemany(
                f"UPDATE {table} SET {sets} WHERE {key} = %s",  # noqa: S608 - identifiers are ours
                [[_db(v) for v in row[1:]] + [row[0]] for row in rows],
            )


def _db(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value


_SAMPLE = Sample._meta.db_table
_COMPANION = CompanionRecord._meta.db_table
_MANUAL = ManualDecision._meta.db_table
_STATUS = HealthStatus._meta.db_table
_HISTORY = StatusHistory._meta.db_table


# --- evidence from other modules --------------------------------------------------------------


# A pending sample (the sampler station): ``health.services.sampling``.


# A laboratory result: ``health.services.results``.


def companion_flagged(*, person_id: int, case_ref: str, exposed_at: dt.datetime, now: dt.datetime) -> None:
    """Tracing found the person a space-time companion of a case: yellow until cleared by tests."""
    with transaction.atomic():
        CompanionRecord.objects.get_or_create(
            person_id=person_id, case_ref=case_ref, defaults={"exposed_at": exposed_at, "recorded_at": now}
        )
        _recompute([person_id], now=now, rules=selectors.current_rules())


def status_recompute(*, person_ids: list[int], now: dt.datetime) -> int:
    with transaction.atomic():
        return _recompute(person_ids, now=now, rules=selectors.current_rules())
