"""The SQL of the check-in hot path: the abuse check's read and the write, without the ORM.

Every scan runs them, so they are plain statements on Django's connection. Measured in-process
(bench/venues_checkin_profile.py), the ORM spent about 0.7 ms of CPU building the read that SQLite
answers in 0.1 ms, and the save + bulk_create + atomic of the write about as much again: more than
the rest of the check-in together. Columns come from the models' fields and values go through the
fields' own database preparation, so types and column names cannot drift from the models.

On PostgreSQL a check-in is one statement (data-modifying WITHs insert the retry key and the
check-ins, and a plain WITH reads the subject's recent check-ins for the abuse checks): atomic by
itself, committed before it returns when no transaction is open, one round trip instead of five (the
read, BEGIN, two INSERTs, COMMIT). SQLite has no data-modifying WITH; there the read comes first and
the two INSERTs run in one IMMEDIATE transaction.

Durability (issue 4 item 11). On PostgreSQL that statement, when it is its own transaction, commits
without waiting for the WAL flush (synchronous_commit off for that transaction only, set inside the
statement, as the verification audit rows do). What is promised: the commit has happened inside
PostgreSQL before the answer is sent, so killing the app server (SIGKILL, a crash, a restart) right
after answering loses nothing, and every later read sees the check-in. What is not: a crash of the
PostgreSQL server or its host within the last fraction of a second (at most 3 × wal_writer_delay,
0.6 s by default) may lose the check-ins of that fraction. A check-in written inside a caller's
transaction keeps waiting for the flush (the setting would reach the caller's other writes). SQLite
in WAL mode with synchronous=NORMAL already makes the same trade for every transaction. The wait cost
2.6–3 ms per check-in and hundreds of milliseconds during a checkpoint (bench/README.md).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import Field

from common.db import prepared_cursor
from venues.models import CheckIn, CheckinRequest, Method

_RECENT = (
    "SELECT checked_in_at, venue_id FROM venues_checkin WHERE {column} = %s AND checked_in_at >= %s "
    "AND checked_in_at <= %s AND method <> %s ORDER BY checked_in_at DESC LIMIT %s"
)
_SUBJECTS = {"account_id", "person_id"}


@dataclass(frozen=True)
class Recent:
    """The subject's own check-ins (companions excluded) in [since, until], newest first, at most
    ``limit``: what the abuse checks read. The indexes (account_id, checked_in_at) and (person_id,
    checked_in_at) answer it."""

    column: str  # "account_id" or "person_id"
    value: int | None
    since: dt.datetime
    until: dt.datetime
    limit: int

    def __post_init__(self) -> None:
        if self.column not in _SUBJECTS:
            raise ValueError(self.column)

    def sql(self) -> tuple[str, list[Any]]:
        ops = connections[DEFAULT_DB_ALIAS].ops  # the wrapper itself: each ``connection.x`` is a thread-local look-up
        at = ops.adapt_datetimefield_value
        return _RECENT.format(column=self.column), [
            self.value,
            at(self.since),
            at(self.until),
            Method.COMPANION,
            self.limit,
        ]


def recent_checkins(recent: Recent) -> list[tuple[dt.datetime, int]]:
    """(time, venue id) of ``recent``'s check-ins, newest first, read alone (SQLite's way)."""
    if recent.value is None:
        return []
    sql, params = recent.sql()
    with prepared_cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    return [(_aware(at), venue_id) for at, venue_id in rows]


def _aware(value: Any) -> dt.datetime:
    if isinstance(value, str):  # SQLite without a declared-type converter
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)  # stored in UTC (USE_TZ)
    return value


@cache
def _columns(model: type[Any]) -> tuple[tuple[Field[Any, Any], ...], str]:
    fields = tuple(f for f in model._meta.concrete_fields if not f.primary_key)
    return fields, ", ".join(connection.ops.quote_name(f.column) for f in fields)


def _values(obj: Any, fields: tuple[Field[Any, Any], ...], params: list[Any], conn: Any) -> str:
    params.extend(f.get_db_prep_save(getattr(obj, f.attname), conn) for f in fields)
    return "(" + ", ".join(["%s"] * len(fields)) + ")"


def insert_checkins(
    request: CheckinRequest, rows: list[CheckIn], recent: Recent | None
) -> list[tuple[dt.datetime, int]]:
    """INSERT the retry key and the check-ins, all or nothing, and answer ``recent``'s check-ins as they
    stood before (none when it is None). A reused key or a missing partition raises IntegrityError and
    writes nothing.

    On PostgreSQL the read rides in the write's statement (a WITH reads the snapshot the statement
    started from, so the new rows are not among them): one round trip for a check-in. SQLite reads
    first, then writes."""
    connection = connections[DEFAULT_DB_ALIAS]
    req_fields, req_cols = _columns(CheckinRequest)
    row_fields, row_cols = _columns(CheckIn)
    req_params: list[Any] = []
    req_values = _values(request, req_fields, req_params, connection)
    row_params: list[Any] = []
    row_values = ", ".join(_values(r, row_fields, row_params, connection) for r in rows)
    # Only names from the models and placeholders go into the text; every value is a parameter.
    insert_request = f"INSERT INTO {CheckinRequest._meta.db_table} ({req_cols}) VALUES {req_values}"  # noqa: S608
    insert_rows = f"INSERT INTO {CheckIn._meta.db_table} ({row_cols}) VALUES {row_values}"  # noqa: S608
    if connection.vendor != "postgresql":
        before = recent_checkins(recent) if recent is not None else []
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute(insert_request, req_params)
            cur.execute(insert_rows, row_params)
        return before
    if connection.in_atomic_block:
        request_part = insert_request
    else:
        # set_config(..., true) is SET LOCAL: it lasts until this statement's own transaction ends,
        # and that transaction's commit reads it. A data-modifying WITH always runs, once.
        request_part = (
            f"INSERT INTO {CheckinRequest._meta.db_table} ({req_cols}) "  # noqa: S608
            f"SELECT {', '.join(['%s'] * len(req_fields))} "
            "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS lazy_commit"
        )
    sql, params = f"WITH request AS ({request_part})", req_params
    if recent is not None and recent.value is not None:
        read, read_params = recent.sql()
        sql, params = f"{sql}, recent AS ({read}), new_rows AS ({insert_rows}) {_FROM_RECENT}", [
            *params,
            *read_params,
            *row_params,
        ]
    else:
        sql, params = f"{sql} {insert_rows}", [*params, *row_params]
    if connection.in_atomic_block:
        with transaction.atomic(), connection.cursor() as cur:  # a savepoint: a failure keeps the outer one
            cur.execute(sql, params)
            found = cur.fetchall() if recent is not None and recent.value is not None else []
    else:
        with prepared_cursor() as cur:  # autocommit: committed (without the flush wait) on return
            cur.execute(sql, params)
            found = cur.fetchall() if recent is not None and recent.value is not None else []
    return [(_aware(at), venue_id) for at, venue_id in found]


_FROM_RECENT = "SELECT checked_in_at, venue_id FROM recent ORDER BY checked_in_at DESC"


def flag_checkins(rows: list[CheckIn], reason: str) -> None:
    """Mark a scan's check-ins, just written, as flagged for review (on PostgreSQL, when no transaction
    is open, committed without the flush wait, as the check-ins were)."""
    table = CheckIn._meta.db_table
    connection = connections[DEFAULT_DB_ALIAS]
    lazy = connection.vendor == "postgresql" and not connection.in_atomic_block
    tail = " FROM (SELECT set_config('synchronous_commit', 'off', true)) AS lazy_commit" if lazy else ""
    at = connection.ops.adapt_datetimefield_value(rows[0].checked_in_at)
    marks = ", ".join(["%s"] * len(rows))
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE {table} SET is_flagged = %s, flag_reason = %s{tail} "  # noqa: S608
            f"WHERE person_id IN ({marks}) AND checked_in_at = %s AND scan_key = %s",
            [True, reason, *(r.person_id for r in rows), at, rows[0].scan_key],
        )
