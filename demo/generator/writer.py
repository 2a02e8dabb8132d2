"""Where generated rows go.

The generator preassigns primary keys (it needs an area's id to build its path and its children's
paths before anything is written), then hands plain tuples to a sink:

- ``DatabaseSink`` writes them in batches straight through the driver: ``executemany`` on SQLite,
  ``COPY`` on PostgreSQL. The ORM's bulk_create would cost several times more per row at a million
  rows (model instances, per-field preparation, SQLite's limit of 999 parameters per statement).
  Columns the generator does not know about (added later by other apps) get their model default,
  so a new field with a default does not break the generator.
- ``MemorySink`` keeps them in lists, so tests can compare two runs without a database.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import connection, models
from django.db.models import Max

Row = tuple[Any, ...]
Progress = Callable[[str], None]


class Sink(Protocol):
    def add(self, table: str, row: Row) -> None: ...

    def flush(self) -> None: ...

    def prep_date(self, value: dt.date) -> Any: ...


@dataclass
class TableSpec:
    """A table the generator fills: the model, and the fields it gives in each row, in order."""

    key: str
    model: type[models.Model]
    fields: Sequence[str]


class MemorySink:
    def __init__(self) -> None:
        self.rows: dict[str, list[Row]] = {}

    def add(self, table: str, row: Row) -> None:
        self.rows.setdefault(table, []).append(row)

    def flush(self) -> None:
        pass

    def prep_date(self, value: dt.date) -> Any:
        return value


@dataclass
class _Table:
    spec: TableSpec
    sql: str
    extra: Row
    buffer: list[Row] = field(default_factory=list)
    rows: int = 0
    seconds: float = 0.0


def next_id(model: type[models.Model]) -> int:
    """The first free primary key: ids are preassigned, so they continue after existing rows."""
    top = model._default_manager.aggregate(top=Max("pk"))["top"]
    return int(top or 0) + 1


class DatabaseSink:
    """Batched inserts through the raw driver connection, inside the caller's transaction."""

    def __init__(self, specs: Sequence[TableSpec], *, now: dt.datetime, batch_size: int = 5000,
                 progress: Progress | None = None) -> None:
        self.vendor = connection.vendor
        self.batch_size = batch_size
        self.progress = progress
        self.started = time.perf_counter()
        self.tables: dict[str, _Table] = {}
        self._order = [s.key for s in specs]
        for spec in specs:
            self.tables[spec.key] = self._table(spec, now)

    def _table(self, spec: TableSpec, now: dt.datetime) -> _Table:
        meta = spec.model._meta
        given = ["id", *spec.fields]
        columns = [str(meta.get_field(name).column) for name in given]  # type: ignore[union-attr]
        extra: list[Any] = []
        for f in meta.concrete_fields:
            if f.attname in given or f.name in given:
                continue
            value = now if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) else f.get_default()
            extra.append(f.get_db_prep_save(value, connection))
            columns.append(str(f.column))
        quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
        table = connection.ops.quote_name(meta.db_table)
        if self.vendor == "postgresql":
            sql = f"COPY {table} ({quoted}) FROM STDIN"
        else:
            # Names come from the models' metadata, never from input.
            sql = f"INSERT INTO {table} ({quoted}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608
        return _Table(spec=spec, sql=sql, extra=tuple(extra))

    def prep_date(self, value: dt.date) -> Any:
        # The sqlite3 module's own date adapter is deprecated; Django stores ISO text there.
        return value.isoformat() if self.vendor == "sqlite" else value

    def add(self, table: str, row: Row) -> None:
        t = self.tables[table]
        t.buffer.append(row + t.extra if t.extra else row)
        if len(t.buffer) >= self.batch_size:
            self._flush_until(table)

    def _flush_until(self, table: str) -> None:
        # Parents first: a person's household must be written before (or with) the person, so
        # every table listed before this one is flushed too. The foreign keys are deferred, but
        # keeping the order means a failure never leaves an orphan behind a committed batch.
        for key in self._order:
            self._write(self.tables[key])
            if key == table:
                break

    def flush(self) -> None:
        for key in self._order:
            self._write(self.tables[key])

    def _write(self, t: _Table) -> None:
        if not t.buffer:
            return
        start = time.perf_counter()
        connection.ensure_connection()
        raw = connection.connection
        assert raw is not None
        cur = raw.cursor()
        try:
            if self.vendor == "postgresql":
                with cur.copy(t.sql) as copy:
                    for row in t.buffer:
                        copy.write_row(row)
            else:
                cur.executemany(t.sql, t.buffer)
        finally:
            cur.close()
        t.seconds += time.perf_counter() - start
        before = t.rows
        t.rows += len(t.buffer)
        t.buffer.clear()
        step = 100_000
        if self.progress and t.rows // step != before // step:
            elapsed = time.perf_counter() - self.started
            self.progress(f"  {t.spec.key:<10} {t.rows:>10,} rows  {t.rows / max(elapsed, 1e-9):>10,.0f} rows/s")

    def reset_sequences(self) -> None:
        """PostgreSQL's identity sequences do not move when ids are given explicitly; SQLite's
        AUTOINCREMENT counter does."""
        if self.vendor != "postgresql":
            return
        with connection.cursor() as cur:
            for t in self.tables.values():
                table = t.spec.model._meta.db_table
                quoted = connection.ops.quote_name(table)
                top = f"(SELECT COALESCE(MAX(id), 1) FROM {quoted}), (SELECT COUNT(*) > 0 FROM {quoted})"  # noqa: S608
                cur.execute(f"SELECT setval(pg_get_serial_sequence(%s, 'id'), {top})", [quoted])

    def summary(self) -> list[tuple[str, int, float]]:
        return [(t.spec.key, t.rows, t.seconds) for t in self.tables.values()]


def tune_connection() -> None:
    """A larger page cache for SQLite while a million rows go in: the unique ID-number index is
    filled in random order, and the default 2 MB cache would thrash."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cur:
            cur.execute("PRAGMA cache_size = -262144")


@contextmanager
def indexes_deferred(models_: Sequence[type[models.Model]]) -> Iterator[None]:
    """Build the secondary indexes (and, on PostgreSQL, the unique and foreign-key constraints) of
    the empty tables once at the end instead of row by row: PostgreSQL's "Populating a Database"
    advice. A million random ID numbers would otherwise be inserted one by one into B-trees larger
    than the cache, and a million deferred foreign-key checks queued until commit.

    Definitions are read back from the catalogue, so indexes other apps add later are kept. Runs
    inside the caller's transaction (DDL is transactional on both databases): on failure nothing
    is dropped. Tables that already hold rows are left alone.
    """
    restore: list[str] = []
    qn = connection.ops.quote_name
    with connection.cursor() as cur:
        for model in models_:
            if model._default_manager.exists():
                continue
            table = model._meta.db_table
            if connection.vendor == "postgresql":
                cur.execute(
                    "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = %s::regclass AND contype IN ('u', 'f') ORDER BY contype DESC, conname",
                    [qn(table)],
                )
                constraints = cur.fetchall()
                for name, _kind, _definition in constraints:
                    cur.execute(f"ALTER TABLE {qn(table)} DROP CONSTRAINT {qn(name)}")
                cur.execute(
                    "SELECT pg_get_indexdef(i.indexrelid), c.relname FROM pg_index i "
                    "JOIN pg_class c ON c.oid = i.indexrelid "
                    "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary "
                    "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid "
                    "AND k.conrelid = i.indrelid) ORDER BY c.relname",
                    [qn(table)],
                )
                for definition, name in cur.fetchall():
                    cur.execute(f"DROP INDEX {qn(name)}")
                    restore.append(definition)
                # Unique constraints (their indexes) before foreign keys.
                restore += [f"ALTER TABLE {qn(table)} ADD CONSTRAINT {qn(n)} {d}" for n, _k, d in constraints]
            else:
                # SQLite: plain indexes only; a UNIQUE declared in CREATE TABLE cannot be dropped.
                cur.execute(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
                    "AND sql IS NOT NULL ORDER BY name",
                    [table],
                )
                for name, definition in cur.fetchall():
                    cur.execute(f"DROP INDEX {qn(name)}")
                    restore.append(definition)
    yield
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for sql in restore:
            cur.execute(sql)
