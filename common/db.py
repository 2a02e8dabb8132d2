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

from typing import Any

from django.db import connection


def prepared_cursor() -> Any:
    """A cursor on the default database (a context manager, as ``connection.cursor()``)."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    from django.db.backends.postgresql.base import TIMESTAMPTZ_OID, ServerBindingCursor
    from psycopg.pq import Format

    # As BaseDatabaseWrapper._cursor and the PostgreSQL backend's create_cursor, with the other class.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = ServerBindingCursor(connection.connection)
        tzloader = connection.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
        if connection.timezone != tzloader.timezone:  # type: ignore[attr-defined]
            from django.db.backends.postgresql.psycopg_any import register_tzloader

            register_tzloader(connection.timezone, cursor)
        return connection._prepare_cursor(cursor)
