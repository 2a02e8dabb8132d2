"""Database helpers for the few statements every request runs.

``prepared_cursor`` is Django's cursor, except that on PostgreSQL it binds parameters on the server,
so psycopg prepares a statement it has seen a few times on a connection (``prepare_threshold``, 5)
and PostgreSQL stops parsing and planning it on every request. Django's PostgreSQL backend binds on
the client by default (its ``server_side_binding`` option turns that on for every query, which some
ORM queries do not survive). Measured on the benchmark database (2 cores): the session read 193 →
57 µs a round trip, the check-in's recent-visits read over the daily partitions 283 → 77 µs.

Use it only for plain SQL whose parameters PostgreSQL can type from their context (a comparison
with a column, a LIMIT): a bare ``SELECT %s`` would be "unknown". Prepared statements live as long
as their connection (CONN_MAX_AGE); after a migration that alters a table they are re-prepared by
psycopg on the next connection, so restart the server after migrating, as with any deployment.
Behind a pooler in transaction mode (PgBouncer) prepared statements need its
``max_prepared_statements`` (1.21+).
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections


def prepared_cursor() -> Any:
    """A cursor on the default database (a context manager, as ``connection.cursor()``)."""
    conn = connections[DEFAULT_DB_ALIAS]  # once: each ``connection.x`` goes through a thread-local
    if conn.vendor != "postgresql":
        return conn.cursor()
    # As BaseDatabaseWrapper._cursor and the PostgreSQL backend's create_cursor, with the other class.
    conn.close_if_health_check_failed()
    conn.ensure_connection()
    with conn.wrap_database_errors:
        raw = conn.connection
        cursor = _server_binding_cursor()(raw)
        if conn.timezone is dt.UTC and raw.info.timezone is dt.UTC:
            # Django's timestamptz loader (a Python subclass, to attach its own time zone) costs about
            # 15 µs a value; psycopg's C loader gives the same aware UTC datetimes when the session's
            # TimeZone is UTC, as Django sets it with USE_TZ.
            cursor.adapters.register_loader("timestamptz", _c_timestamptz_loader())
        else:
            tzloader = raw.adapters.get_loader(_timestamptz_oid(), _TEXT)
            if conn.timezone != tzloader.timezone:
                from django.db.backends.postgresql.psycopg_any import register_tzloader

                register_tzloader(conn.timezone, cursor)
        return conn._prepare_cursor(cursor)  # type: ignore[attr-defined]


_TEXT = 0  # psycopg.pq.Format.TEXT


@cache
def _timestamptz_oid() -> int:
    from django.db.backends.postgresql.base import TIMESTAMPTZ_OID  # type: ignore[attr-defined]

    return int(TIMESTAMPTZ_OID)


@cache
def _c_timestamptz_loader() -> Any:
    from psycopg.types.datetime import TimestamptzLoader  # registered as its C version when built

    return TimestamptzLoader


@cache
def _server_binding_cursor() -> Any:
    from django.db.backends.postgresql.base import ServerBindingCursor  # type: ignore[attr-defined]

    return ServerBindingCursor


Converters = list[tuple[Any, list[Any]]]


def column_converters(columns: list[Any]) -> Converters:
    """For each column expression (``field.get_col(table)``), the converters Django's ORM applies to
    its values as read from the database (the backend's, then the field's)."""
    conn = connections[DEFAULT_DB_ALIAS]
    ops = conn.ops
    return [(col, [*ops.get_db_converters(col), *col.get_db_converters(conn)]) for col in columns]


def convert_row(row: tuple[Any, ...], converters: Converters) -> tuple[Any, ...]:
    """A row read by plain SQL, converted as the ORM would have (``column_converters``)."""
    conn = connections[DEFAULT_DB_ALIAS]
    values = []
    for value, (col, convert_all) in zip(row, converters, strict=True):
        for convert in convert_all:
            value = convert(value, col, conn)
        values.append(value)
    return tuple(values)

