"""The SQL of the check-in hot path: the abuse check's read and the write, without the ORM.

Every scan runs these two, so they are plain statements on Django's connection. Measured in-process
(bench/venues_checkin_profile.py), the ORM spent about 0.7 ms of CPU building the read that SQLite
answers in 0.1 ms, and the save + bulk_create + atomic of the write about as much again: more than
the rest of the check-in together. Columns come from the models' fields and values go through the
fields' own database preparation, so types and column names cannot drift from the models.

On PostgreSQL the write is one statement (a data-modifying WITH inserts the retry key, the main
INSERT the check-ins): atomic by itself, committed before it returns when no transaction is open,
one round trip instead of four (BEGIN, two INSERTs, COMMIT). SQLite has no data-modifying WITH; there
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


def recent_checkins(
    *, column: str, value: int | None, since: dt.datetime, until: dt.datetime, limit: int
) -> list[tuple[dt.datetime, int]]:
    """(time, venue id) of the subject's own check-ins (companions excluded) in [since, until], newest
    first: the indexes (account_id, checked_in_at) and (person_id, checked_in_at) answer it."""
    if column not in _SUBJECTS:
        raise ValueError(column)
    if value is None:
        return []
    ops = connections[DEFAULT_DB_ALIAS].ops  # the wrapper itself: each ``connection.x`` is a thread-local look-up
    params = [value, ops.adapt_datetimefield_value(since), ops.adapt_datetimefield_value(until), Method.COMPANION]
    with prepared_cursor() as cur:
        cur.execute(_RECENT.format(column=column), [*params, limit])
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


def insert_checkins(request: CheckinRequest, rows: list[CheckIn]) -> None:
    """INSERT the retry key and the check-ins, all or nothing. A reused key or a missing partition
    raises IntegrityError and writes nothing."""
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
    if connection.vendor == "postgresql":
        if connection.in_atomic_block:
            sql, params = f"WITH request AS ({insert_request}) {insert_rows}", req_params + row_params
            with transaction.atomic(), connection.cursor() as cur:  # a savepoint: a failure keeps the outer one
                cur.execute(sql, params)
        else:
            # set_config(..., true) is SET LOCAL: it lasts until this statement's own transaction ends,
            # and that transaction's commit reads it. A data-modifying WITH always runs, once.
            lazy_request = (
                f"INSERT INTO {CheckinRequest._meta.db_table} ({req_cols}) "  # noqa: S608
                f"SELECT {', '.join(['%s'] * len(req_fields))} "
                "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS lazy_commit"
            )
            sql, params = f"WITH request AS ({lazy_request}) {insert_rows}", req_params + row_params
            with prepared_cursor() as cur:  # autocommit: committed (without the flush wait) on return
                cur.execute(sql, params)
        return
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(insert_request, req_params)
        cur.execute(insert_rows, row_params)
