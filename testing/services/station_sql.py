"""The statements of the station's set-based path (``station_batch``), in plain SQL.

Every station submission runs these, singles included (a single is a batch of one), so they are plain
statements on Django's connection: composing them through the ORM (a select_related tube query with an
EXISTS annotation and a row lock, a bulk_update's CASE WHEN) cost more CPU than PostgreSQL took to
answer them. On PostgreSQL they go through ``common.db.prepared_cursor``: bound on the server and, once
a connection has run one five times, prepared, so neither psycopg nor PostgreSQL parses it per scan.
Table names come from the models' metadata; every value is a parameter. On PostgreSQL a list of values
travels as one array parameter (``= ANY(%s)``, ``unnest(%s::type[])``), so a statement's text does not
grow with the batch and psycopg does not parse a long placeholder list; SQLite gets an ``IN (...)``
list or a multi-row ``VALUES``.

Plans: what the station reads is probed per key, per tube barcode and per person through unique or
person-leading indexes, never "the round's rows, then ours among them". A round's rows are new while
it samples, and until autovacuum analyzes (after a tenth of the table has changed) the planner
believes the round has none: it then took the round's index and read every sample of the round once
per person (745 ms for the 100 people of a 10-tube batch at 31 k samples in the round), and every key
the sampler had ever sent (245 ms for 120 keys at 37 k). ``OFFSET 0`` keeps PostgreSQL from flattening
a per-person or per-key subquery back into such a plan.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connection

from common.db import prepared_cursor
from people.models import Person
from testing.models import IdempotentRequest, PreRegistration, Round, Sample, Site, SiteStaff, Tube, TubeStatus


def _pg() -> bool:
    return connection.vendor == "postgresql"


def _aware(value: Any) -> Any:
    """A datetime column read through a plain cursor (None stays None): PostgreSQL gives it aware,
    SQLite naive (stored in UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _marks(n: int) -> str:
    return ", ".join(["%s"] * n)


def _any(values: list[Any], pg_type: str) -> tuple[str, list[Any]]:
    """``column = ANY(...)`` / ``column IN (...)`` text and its parameters (``= %s`` for one value)."""
    if len(values) == 1:
        return "= %s", list(values)
    if _pg():
        return f"= ANY(%s::{pg_type}[])", [values]
    return f"IN ({_marks(len(values))})", list(values)


# --- reads ---------------------------------------------------------------------------------------


def stored_answers(user_id: int, keys: list[str]) -> dict[str, tuple[str, int, dict[str, Any]]]:
    """key -> the stored (fingerprint, status, answer) of those of the user's keys that have one."""
    table = IdempotentRequest._meta.db_table
    if _pg():
        sql = (
            "SELECT k.key, r.fingerprint, r.status_code, r.response FROM unnest(%s::text[]) AS k(key) "  # noqa: S608
            f"CROSS JOIN LATERAL (SELECT fingerprint, status_code, response FROM {table} "
            "WHERE user_id = %s AND key = k.key OFFSET 0) r"
        )
        params: list[Any] = [keys, user_id]
    else:
        columns = "key, fingerprint, status_code, response"
        sql = f"SELECT {columns} FROM {table} WHERE user_id = %s AND key IN ({_marks(len(keys))})"  # noqa: S608
        params = [user_id, *keys]
    with prepared_cursor() as cur:
        cur.execute(sql, params)
        return {key: (fp, status, json.loads(response)) for key, fp, status, response in cur.fetchall()}


_ROUND_COLUMNS = "r.id, r.status, r.starts_at, r.deadline_at, r.pool_size, r.laboratory_id, r.area_path"


def _round(row: tuple[Any, ...], rounds: dict[int, Round]) -> Round:
    """The round of a row's ``_ROUND_COLUMNS`` (what the station's checks read of it), one instance per
    round and request."""
    pk, status, starts_at, deadline_at, pool_size, laboratory_id, area_path = row
    rnd = rounds.get(pk)
    if rnd is None:
        rnd = rounds[pk] = Round(
            id=pk,
            status=status,
            starts_at=_aware(starts_at),
            deadline_at=_aware(deadline_at),
            pool_size=pool_size,
            laboratory_id=laboratory_id,
            area_path=area_path,
        )
    return rnd


@dataclass
class SiteFacts:
    pk: int
    laboratory_id: int | None
    rnd: Round


def staffed_sites(user_id: int, site_ids: list[int], rounds: dict[int, Round]) -> dict[int, SiteFacts]:
    """Those of the sites the user staffs, with their rounds."""
    site, staff, rnd = Site._meta.db_table, SiteStaff._meta.db_table, Round._meta.db_table
    among, params = _any(site_ids, "bigint")
    sql = (
        f"SELECT s.id, s.laboratory_id, {_ROUND_COLUMNS} FROM {site} s JOIN {rnd} r ON r.id = s.round_id "  # noqa: S608
        f"WHERE s.id {among} AND EXISTS (SELECT 1 FROM {staff} ss WHERE ss.site_id = s.id AND ss.user_id = %s)"
    )
    with prepared_cursor() as cur:
        cur.execute(sql, [*params, user_id])
        return {row[0]: SiteFacts(row[0], row[1], _round(row[2:], rounds)) for row in cur.fetchall()}


@dataclass
class TubeRow:
    pk: int
    barcode: str
    site_id: int | None
    pool_size: int
    member_count: int
    status: str
    laboratory_id: int | None
    sealed_at: dt.datetime | None
    opened_by_id: int | None
    site_laboratory_id: int | None
    is_staffed: bool
    rnd: Round


@cache
def _tube_columns_and_tables() -> tuple[str, str]:
    """The select list of a tube as ``TubeRow`` reads it (its first parameter the user, for whether they
    staff its site) and the tables it names (``t`` the tube)."""
    tube, site, staff, rnd = (m._meta.db_table for m in (Tube, Site, SiteStaff, Round))
    columns = (
        "t.id, t.barcode, t.site_id, t.pool_size, t.member_count, t.status, t.laboratory_id, t.sealed_at, "  # noqa: S608
        f"t.opened_by_id, s.laboratory_id, EXISTS (SELECT 1 FROM {staff} ss WHERE ss.site_id = t.site_id "
        f"AND ss.user_id = %s), {_ROUND_COLUMNS}"
    )
    return columns, f"{tube} t JOIN {rnd} r ON r.id = t.round_id LEFT JOIN {site} s ON s.id = t.site_id"


@cache
def _tubes_sql(pg: bool, one: bool) -> str:
    among = "= %s" if one else "= ANY(%s::text[])" if pg else "IN ({marks})"
    # Locked in id order, so two batches over the same tubes wait for each other instead of deadlocking.
    # SQLite has no row locks: a write transaction holds the whole database.
    lock = " FOR UPDATE OF t" if pg else ""
    columns, tables = _tube_columns_and_tables()
    return f"SELECT {columns} FROM {tables} WHERE t.barcode {among} ORDER BY t.id{lock}"  # noqa: S608


def locked_tubes(user_id: int, barcodes: list[str], rounds: dict[int, Round]) -> list[TubeRow]:
    """The tubes of these barcodes, locked for the caller's transaction (on PostgreSQL), each with
    whether the user staffs its site and with its round."""
    sql = _tubes_sql(_pg(), len(barcodes) == 1)
    if len(barcodes) == 1:
        params: list[Any] = [user_id, *barcodes]
    elif _pg():
        params = [user_id, barcodes]
    else:
        sql, params = sql.format(marks=_marks(len(barcodes))), [user_id, *barcodes]
    with prepared_cursor() as cur:
        cur.execute(sql, params)
        return [_tube_row(row, rounds) for row in cur.fetchall()]


def _tube_row(row: tuple[Any, ...], rounds: dict[int, Round]) -> TubeRow:
    """The TubeRow of ``_tubes_sql``'s columns."""
    return TubeRow(
        pk=row[0],
        barcode=row[1],
        site_id=row[2],
        pool_size=row[3],
        member_count=row[4],
        status=row[5],
        laboratory_id=row[6],
        sealed_at=_aware(row[7]),
        opened_by_id=row[8],
        site_laboratory_id=row[9],
        is_staffed=bool(row[10]),
        rnd=_round(row[11:18], rounds),
    )


def people_rows(person_ids: list[int], id_numbers: list[str], rounds: list[int]) -> list[tuple[Any, ...]]:
    """(id, name, area_path, id_number, sample round, sample tube id, green round) of the people of these
    ids or ID numbers: one row per sample of theirs in these rounds and green-channel pre-registration
    for one of them (NULLs when none)."""
    person, sample, prereg = (m._meta.db_table for m in (Person, Sample, PreRegistration))
    in_rounds, round_params = _any(rounds, "bigint") if rounds else ("IN (NULL)", [])
    where, params = [], []
    if person_ids:
        among, values = _any(person_ids, "bigint")
        where.append(f"p.id {among}")
        params += values
    if id_numbers:
        among, values = _any(id_numbers, "text")
        where.append(f"p.id_number {among}")
        params += values
    if _pg():
        per_person = "WHERE person_id = p.id OFFSET 0"
        samples = f"LATERAL (SELECT person_id, round_id, tube_id FROM {sample} {per_person}) s"  # noqa: S608
        greens = f"LATERAL (SELECT person_id, round_id, needs_green_channel FROM {prereg} {per_person}) g"  # noqa: S608
    else:  # no LATERAL; SQLite's planner starts from the person's index anyway
        samples, greens = f"{sample} s", f"{prereg} g"
    sql = f"""
        SELECT p.id, p.name, p.area_path, p.id_number, s.round_id, s.tube_id, g.round_id
        FROM {person} p
        LEFT JOIN {samples} ON s.person_id = p.id AND s.round_id {in_rounds}
        LEFT JOIN {greens} ON g.person_id = p.id AND g.round_id {in_rounds} AND g.needs_green_channel
        WHERE {" OR ".join(where)}
    """  # noqa: S608
    with prepared_cursor() as cur:
        cur.execute(sql, [*round_params, *round_params, *params])
        return list(cur.fetchall())


@cache
def _scan_sql(by_id_number: bool) -> str:
    person, sample, prereg = (m._meta.db_table for m in (Person, Sample, PreRegistration))
    columns, tables = _tube_columns_and_tables()
    who = "p.id_number = %s" if by_id_number else "p.id = %s"
    per_person = "WHERE person_id = p.id AND round_id = t.round_id"
    return (
        f"SELECT {columns}, p.id, p.name, p.area_path, p.id_number, ps.round_id, ps.tube_id, g.round_id "  # noqa: S608
        f"FROM {tables} LEFT JOIN {person} p ON {who} "
        f"LEFT JOIN LATERAL (SELECT round_id, tube_id FROM {sample} {per_person} OFFSET 0) ps ON TRUE "
        f"LEFT JOIN LATERAL (SELECT round_id FROM {prereg} {per_person} AND needs_green_channel OFFSET 0) g "
        "ON TRUE WHERE t.barcode = %s"
    )


def scan_facts(
    user_id: int, barcode: str, *, person_id: int | None, id_number: str | None
) -> tuple[TubeRow | None, list[tuple[Any, ...]]]:
    """A single scan's reads on PostgreSQL, in one statement and not locked (``scan_write`` checks what
    it relies on): the tube of the barcode as ``locked_tubes`` reads it, and the ``people_rows`` of the
    person of this id or ID number in the tube's round (none when the tube or the person is unknown)."""
    with prepared_cursor() as cur:
        cur.execute(_scan_sql(id_number is not None), [user_id, id_number or person_id, barcode])
        rows = cur.fetchall()
    if not rows:
        return None, []
    return _tube_row(rows[0], {}), [row[18:] for row in rows if row[18] is not None]


# --- writes --------------------------------------------------------------------------------------

# (column, PostgreSQL type): PostgreSQL inserts from unnest() of one array per column.
SAMPLE_COLUMNS = (
    ("tube_id", "bigint"),
    ("person_id", "bigint"),
    ("round_id", "bigint"),
    ("site_id", "bigint"),
    ("area_path", "text"),
    ("sampled_at", "timestamptz"),
    ("device_at", "timestamptz"),
    ("is_clock_skewed", "boolean"),
    ("is_green_channel", "boolean"),
    ("is_repeat_in_round", "boolean"),
    ("by_id_number", "boolean"),
    ("sampler_id", "bigint"),
)
TUBE_COLUMNS = (
    ("barcode", "text"),
    ("round_id", "bigint"),
    ("site_id", "bigint"),
    ("pool_size", "integer"),
    ("member_count", "integer"),
    ("status", "text"),
    ("laboratory_id", "bigint"),
    ("opened_by_id", "bigint"),
    ("opened_at", "timestamptz"),
    ("sealed_at", "timestamptz"),
    ("is_home_sampling", "boolean"),
)
KEY_COLUMNS = (
    ("user_id", "bigint"),
    ("key", "text"),
    ("fingerprint", "text"),
    ("status_code", "integer"),
    ("response", "jsonb"),
    ("created_at", "timestamptz"),
)
_TUBE_UPDATE_COLUMNS = (
    ("id", "bigint"),
    ("member_count", "integer"),
    ("status", "text"),
    ("sealed_at", "timestamptz"),
    ("laboratory_id", "bigint"),
)


def insert(
    model: Any, columns: tuple[tuple[str, str], ...], rows: list[tuple[Any, ...]], returning: str = ""
) -> list[tuple[Any, ...]]:
    """SQLite's multi-row INSERT (PostgreSQL's rows go through ``write``)."""
    names = ", ".join(name for name, _type in columns)
    tail = f" RETURNING {returning}" if returning else ""
    one = "(" + _marks(len(columns)) + ")"
    sql = f"INSERT INTO {model._meta.db_table} ({names}) VALUES {', '.join([one] * len(rows))}{tail}"  # noqa: S608
    with connection.cursor() as cur:
        cur.execute(sql, [v for row in rows for v in row])
        return cur.fetchall() if returning else []


def write(
    *,
    new_tubes: list[tuple[Any, ...]],
    tube_updates: list[tuple[Any, ...]],
    samples: list[tuple[Any, ...]],
    keys: list[tuple[Any, ...]],
) -> dict[str, int]:
    """The rows of a batch: its new tubes (``TUBE_COLUMNS``), the count/seal of tubes it found
    (``_TUBE_UPDATE_COLUMNS``), its samples (``SAMPLE_COLUMNS`` with the tube's barcode after its id, the
    id None for a tube opened in the batch) and its keys' answers (``KEY_COLUMNS``); barcode -> id of
    the new tubes.

    On PostgreSQL this is one statement, each part a data-modifying WITH (all run to completion whether
    read or not; a sample finds a new tube's id by barcode), one round trip for what took up to four;
    a scan is the update, the sample and the key. SQLite runs them one after the other."""
    if _pg():
        return _write_pg(new_tubes, tube_updates, samples, keys)
    ids: dict[str, int] = {}
    if new_tubes:
        ids = {barcode: pk for pk, barcode in insert(Tube, TUBE_COLUMNS, new_tubes, returning="id, barcode")}
    if tube_updates:
        sets = ", ".join(f"{name} = %s" for name, _type in _TUBE_UPDATE_COLUMNS[1:])
        with connection.cursor() as cur:
            cur.executemany(
                f"UPDATE {Tube._meta.db_table} SET {sets} WHERE id = %s",  # noqa: S608
                [(*row[1:], row[0]) for row in tube_updates],
            )
    if samples:
        insert(Sample, SAMPLE_COLUMNS, [(tube_id or ids[barcode], *rest) for tube_id, barcode, *rest in samples])
    if keys:
        insert(IdempotentRequest, KEY_COLUMNS, keys)
    return ids


# How many rows a part of the PostgreSQL write has: none, one, or more. One row (every part of a
# single scan) travels as a VALUES row of typed parameters, which PostgreSQL plans in a third of the time
# of unnest() over one-element arrays and psycopg sends without building arrays; more rows travel as
# arrays, so the statement's text does not grow with the batch.
_NONE, _ONE, _MANY = 0, 1, 2


def _size(rows: list[tuple[Any, ...]]) -> int:
    return min(len(rows), _MANY)


def _source(columns: tuple[tuple[str, str], ...], size: int) -> str:
    """The rows of a part as a FROM item named v with the columns' names."""
    names = ", ".join(name for name, _type in columns)
    if size == _ONE:
        return f"(VALUES ({', '.join(f'%s::{pg_type}' for _name, pg_type in columns)})) AS v({names})"
    return f"unnest({', '.join(f'%s::{pg_type}[]' for _name, pg_type in columns)}) AS v({names})"


def _params(rows: list[tuple[Any, ...]]) -> list[Any]:
    if not rows:
        return []
    if len(rows) == 1:
        return list(rows[0])
    return [list(column) for column in zip(*rows, strict=True)]


def _names(columns: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(name for name, _type in columns)


@cache
def _write_pg_sql(new_tubes: int, tube_updates: int, samples: int, keys: int) -> str:
    parts = []
    if new_tubes:
        parts.append(
            f"new_tubes AS (INSERT INTO {Tube._meta.db_table} ({_names(TUBE_COLUMNS)}) "  # noqa: S608
            f"SELECT * FROM {_source(TUBE_COLUMNS, new_tubes)} RETURNING id, barcode)"
        )
    if tube_updates:
        sets = ", ".join(f"{name} = v.{name}" for name, _type in _TUBE_UPDATE_COLUMNS[1:])
        parts.append(
            f"tubes_changed AS (UPDATE {Tube._meta.db_table} AS t SET {sets} "  # noqa: S608
            f"FROM {_source(_TUBE_UPDATE_COLUMNS, tube_updates)} WHERE t.id = v.id)"
        )
    if samples:
        columns = (SAMPLE_COLUMNS[0], ("barcode", "text"), *SAMPLE_COLUMNS[1:])
        tube_id = "COALESCE(v.tube_id, n.id)" if new_tubes else "v.tube_id"
        join = " LEFT JOIN new_tubes n ON n.barcode = v.barcode" if new_tubes else ""
        rest = ", ".join(f"v.{name}" for name, _type in SAMPLE_COLUMNS[1:])
        parts.append(
            f"new_samples AS (INSERT INTO {Sample._meta.db_table} ({_names(SAMPLE_COLUMNS)}) "  # noqa: S608
            f"SELECT {tube_id}, {rest} FROM {_source(columns, samples)}{join})"
        )
    if keys:
        parts.append(
            f"new_keys AS (INSERT INTO {IdempotentRequest._meta.db_table} ({_names(KEY_COLUMNS)}) "  # noqa: S608
            f"SELECT * FROM {_source(KEY_COLUMNS, keys)})"
        )
    main = "SELECT id, barcode FROM new_tubes" if new_tubes else "SELECT 1"
    return f"WITH {', '.join(parts)} {main}"


def _write_pg(
    new_tubes: list[tuple[Any, ...]],
    tube_updates: list[tuple[Any, ...]],
    samples: list[tuple[Any, ...]],
    keys: list[tuple[Any, ...]],
) -> dict[str, int]:
    if not (new_tubes or tube_updates or samples or keys):
        return {}
    params = [*_params(new_tubes), *_params(tube_updates), *_params(samples), *_params(keys)]
    text = _write_pg_sql(_size(new_tubes), _size(tube_updates), _size(samples), _size(keys))
    with prepared_cursor() as cur:
        cur.execute(text, params)
        rows = cur.fetchall() if new_tubes else []
    return {barcode: pk for pk, barcode in rows}


_OPEN, _SEALED = str(TubeStatus.OPEN), str(TubeStatus.SEALED)


@cache
def _scan_write_sql(guard: str, health_ctes: str) -> str:
    tube, sample, key = (m._meta.db_table for m in (Tube, Sample, IdempotentRequest))
    written = "WHERE EXISTS (SELECT 1 FROM c)"
    return (
        f"WITH c AS (UPDATE {tube} SET member_count = %s WHERE id = %s AND member_count = %s AND status = %s "  # noqa: S608
        f"AND {guard} RETURNING id), "
        f"new_samples AS (INSERT INTO {sample} ({_names(SAMPLE_COLUMNS)}) "
        f"SELECT * FROM {_source(SAMPLE_COLUMNS, _ONE)} {written}), "
        f"new_keys AS (INSERT INTO {key} ({_names(KEY_COLUMNS)}) "
        f"SELECT * FROM {_source(KEY_COLUMNS, _ONE)} {written}), "
        f"{health_ctes} SELECT (SELECT count(*) FROM c), (SELECT count(*) FROM health_u)"
    )


def scan_write(
    *, tube_id: int, count: int, sample: tuple[Any, ...], key: tuple[Any, ...], pending: Any
) -> tuple[bool, int]:
    """A single scan's writes on PostgreSQL in one autocommitted statement: the tube's count moved from
    ``count - 1`` to ``count``, its sample (``SAMPLE_COLUMNS``), the key's answer (``KEY_COLUMNS``) and
    the health app's pending sample (``pending``, a ``health_port.lone_pending``), all or nothing.

    The tube was read without a lock (``scan_facts``), so the count moves only if the tube still stands
    as read (the same count, still open) and the health app's premise for its lean write still
    holds; otherwise nothing is written and the answer is (False, 0), for the caller to take the locked
    path. (written, the count of status rows the health part moved)."""
    text = _scan_write_sql(pending.GUARD, pending.ctes("EXISTS (SELECT 1 FROM c)"))
    params = [count, tube_id, count - 1, _OPEN, *pending.guard_params(), *sample, *key, *pending.cte_params()]
    with prepared_cursor() as cur:
        cur.execute(text, params)
        changed, moved = cur.fetchone()
    return bool(changed), int(moved)


@cache
def _seal_write_sql(audit: str) -> str:
    tube, key = Tube._meta.db_table, IdempotentRequest._meta.db_table
    return (
        f"WITH c AS (UPDATE {tube} SET status = %s, sealed_at = %s, laboratory_id = %s "  # noqa: S608
        "WHERE id = %s AND member_count = %s AND status = %s RETURNING id), "
        f"new_keys AS (INSERT INTO {key} ({_names(KEY_COLUMNS)}) "
        f"SELECT * FROM {_source(KEY_COLUMNS, _ONE)} WHERE EXISTS (SELECT 1 FROM c)), "
        f"audit AS ({audit}) SELECT count(*) FROM c"
    )


def seal_write(
    *,
    tube_id: int,
    count: int,
    sealed_at: Any,
    laboratory_id: int | None,
    key: tuple[Any, ...],
    audit: tuple[str, list[Any]],
) -> bool:
    """A single seal's writes on PostgreSQL in one autocommitted statement: the tube sealed if it still
    stands as read (``count`` members, still open), the key's answer (``KEY_COLUMNS``) and the audit row
    (``audit_append_from`` over ``c``), all or nothing. False, with nothing written, when the tube moved
    since it was read."""
    audit_sql, audit_params = audit
    params = [_SEALED, sealed_at, laboratory_id, tube_id, count, _OPEN, *key, *audit_params]
    with prepared_cursor() as cur:
        cur.execute(_seal_write_sql(audit_sql), params)
        [changed] = cur.fetchone()
    return bool(changed)
