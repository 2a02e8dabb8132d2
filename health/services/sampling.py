"""A person sampled (pending result): the sampler station's write into the health app, kept lean.

A scan costs two statements here, one on PostgreSQL (both as one WITH): an INSERT of the pending sample
and an upsert of the person's status row that moves its latest-sampling fields only. The station's
single scan on PostgreSQL carries that WITH inside its own statement (``LonePending``).
``samples_recorded`` does the same for many people at once (the station's batch endpoint: the 10 people
of a tube in the same two statements).

Why the colour is not re-evaluated: a pending sample never changes the outcome of
``health.rules.evaluate``. Every rule there looks at other evidence only:

- the single-tube positive rule takes samples whose result is ``positive`` (and not pooled);
- the pool rule walks the samples newest first and stops at the first *pooled positive* one, skipping
  every other sample, and compares it with the single-tube *negative or positive* samplings;
- a companion is cleared by *negative* samplings only (``companion_cleared``);
- the manual decision and the rule version are not samples at all.

So ``evaluate(samples + [pending], companions, manual, rules) == evaluate(samples, companions, manual,
rules)``, and only ``summarise`` can change: the latest sampling becomes the pending one when it is
strictly later than the stored ``latest_sampled_at`` (a tie is decided by the sample reference, which
the row does not keep), and the latest negative stays. The stored row is the outcome of the same
evidence under ``rule_version`` (every evidence write recomputes in its transaction), hence under the
rules in force when the versions match. A person without a status row has no evidence at all (the
first write of any evidence creates the row), so the outcome is the default green: the row is created
as ``_recompute`` would create it. The colour and reason do not change, so no history row is written,
exactly as a full recomputation writes none.

Whenever one of these premises is not met (the sample was recorded before, the row carries another rule
version, the new sampling is not strictly later than the stored one), the person goes through the full
recomputation as before. The upsert's own WHERE decides, under the row's lock, so a concurrent write
to the same row is never overwritten with stale colours. ``health/tests/test_sampling.py`` compares
both paths over every kind of evidence; a rule that looks at pending samples must change this module.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db import connection, transaction

from common.db import prepared_cursor
from health import selectors
from health.services.recompute import _SAMPLE, _STATUS, _db, _recompute

_SAMPLE_INSERT = (
    f"INSERT INTO {_SAMPLE} (person_id, sample_ref, sampled_at, result, is_pooled, result_at, recorded_at) "  # noqa: S608
    "VALUES {rows} ON CONFLICT (person_id, sample_ref) DO NOTHING"
)
_SAMPLE_ROW = "(%s, %s, %s, 'pending', FALSE, NULL, %s)"

# The row a first evidence creates for a person whose only evidence is a pending sample (see above),
# or, for an existing row under the same rule version, only the latest sampling moved forward.
_STATUS_UPSERT = (
    f"INSERT INTO {_STATUS} (person_id, colour, reason_code, evidence, rule_version, latest_sampled_at, "  # noqa: S608
    "latest_result, latest_negative_sampled_at, since, evaluated_at) VALUES {rows} "
    "ON CONFLICT (person_id) DO UPDATE SET latest_sampled_at = excluded.latest_sampled_at, "
    "latest_result = excluded.latest_result, evaluated_at = excluded.evaluated_at "
    f"WHERE {_STATUS}.rule_version = excluded.rule_version AND ({_STATUS}.latest_sampled_at IS NULL "
    f"OR {_STATUS}.latest_sampled_at < excluded.latest_sampled_at)"
)
_STATUS_ROW = "(%s, 'green', 'default_green', '', %s, %s, 'pending', NULL, %s, %s)"


def sample_recorded(*, person_id: int, sample_ref: str, sampled_at: dt.datetime, now: dt.datetime) -> None:
    """A person was sampled: the sample shows as pending, at once, until its result arrives."""
    samples_recorded(items=[(person_id, sample_ref, sampled_at, now)])


def samples_recorded(*, items: list[tuple[int, str, dt.datetime, dt.datetime]]) -> None:
    """Bulk form of ``sample_recorded``: (person_id, sample_ref, sampled_at, recorded_at) per sample, the
    last being the moment of the submission. The same rows as calling ``sample_recorded`` for each item
    in order, in two statements for all of them when no one needs the full recomputation (one for a
    single item on PostgreSQL)."""
    if not items:
        return
    first: dict[tuple[int, str], tuple[int, str, dt.datetime, dt.datetime]] = {}
    for item in items:  # a repeated (person, reference) keeps its first sampling, as get-or-create did
        first.setdefault((int(item[0]), item[1]), (int(item[0]), item[1], item[2], item[3]))
    rows = list(first.values())
    rules = selectors.current_rules()
    with transaction.atomic(savepoint=False):
        if len(rows) == 1 and connection.vendor == "postgresql":
            full, moved_ids = _one_pg(rows[0], rules.version)
        else:
            full, moved_ids = _many(rows, rules.version)
        if moved_ids:
            # Now, for this transaction's own reads, and again after commit, since a reader between
            # the two may have cached the old row (as ``_recompute`` does).
            selectors.invalidate(moved_ids)
            transaction.on_commit(lambda: selectors.invalidate(moved_ids))
        # The others as before, at the moment of their (last) submission.
        by_moment: dict[dt.datetime, list[int]] = defaultdict(list)
        last = {pid: at for pid, _ref, _s, at in rows}
        for pid in sorted(full):
            by_moment[last[pid]].append(pid)
        for moment, ids in sorted(by_moment.items()):
            _recompute(ids, now=moment, rules=rules)


# One scan on PostgreSQL (a station's single submission): both writes in one statement, one round trip.
# The status part reads the rows the sample part inserted, so it runs for a new sample only, as in
# ``_many``; the statement answers whether the status row moved (a data-modifying WITH runs whether read
# or not). ``{when}`` is an SQL condition on which the sample is inserted at all (``LonePending``).
_ONE_PG_CTES = (
    f"health_s AS (INSERT INTO {_SAMPLE} (person_id, sample_ref, sampled_at, result, is_pooled, result_at, "  # noqa: S608
    "recorded_at) SELECT %s::bigint, %s::text, %s::timestamptz, 'pending', FALSE, NULL, %s::timestamptz "
    "WHERE {when} ON CONFLICT (person_id, sample_ref) DO NOTHING RETURNING person_id), "
    "health_u AS ("
    + _STATUS_UPSERT.replace(
        "VALUES {rows}",
        "SELECT s.person_id, 'green', 'default_green', '', %s::integer, %s::timestamptz, 'pending', NULL, "
        "%s::timestamptz, %s::timestamptz FROM health_s s",
    )
    + " RETURNING person_id)"
)
_ONE_PG = "WITH " + _ONE_PG_CTES.format(when="TRUE") + " SELECT count(*) FROM health_u"  # noqa: S608


def _one_pg(row: tuple[int, str, dt.datetime, dt.datetime], version: int) -> tuple[set[int], list[int]]:
    """``_many`` for one row on PostgreSQL."""
    with prepared_cursor() as cur:
        cur.execute(_ONE_PG, _one_pg_params(row, version))
        [moved] = cur.fetchone()
    pid = row[0]
    return (set() if moved else {pid}), ([pid] if moved else [])


def _one_pg_params(row: tuple[int, str, dt.datetime, dt.datetime], version: int) -> list[Any]:
    pid, ref, sampled_at, at = row
    return [pid, ref, _db(sampled_at), _db(at), version, _db(sampled_at), _db(at), _db(at)]


class LonePending:
    """One pending sample written inside another app's statement, on PostgreSQL: the sampler station's
    single scan (``testing.services.station_sql.scan_write``), which records the sample, the tube's count,
    its idempotency row and this in one autocommitted statement, without a transaction around it.

    The caller's statement guards its writes with ``GUARD`` (parameters ``guard_params``): true while the
    lean write applies to this person (no sample of this reference yet, the status row absent or under
    the rule version in force with an older latest sampling). When it is false the caller writes nothing
    and takes its transactional path, which records the sample through ``samples_recorded``. It then
    includes ``ctes(when)`` in its WITH (parameters ``cte_params``, ``when`` the caller's condition for
    writing at all) and answers ``(SELECT count(*) FROM health_u)``, which it passes to ``done``.

    Between the guard's snapshot and the upsert's row lock a concurrent write may move the status row
    (a result arriving for the same person at the same moment): the upsert's own WHERE then leaves the
    row alone, as in ``samples_recorded``, and ``done`` runs the full recomputation at once, in its own
    transaction, since the caller's statement has committed already."""

    GUARD = (
        f"NOT EXISTS (SELECT 1 FROM {_STATUS} h WHERE h.person_id = %s AND NOT (h.rule_version = %s "  # noqa: S608
        "AND (h.latest_sampled_at IS NULL OR h.latest_sampled_at < %s))) "
        f"AND NOT EXISTS (SELECT 1 FROM {_SAMPLE} h WHERE h.person_id = %s AND h.sample_ref = %s)"
    )

    def __init__(self, *, person_id: int, sample_ref: str, sampled_at: dt.datetime, now: dt.datetime) -> None:
        self.rules = selectors.current_rules()
        self.row = (int(person_id), sample_ref, sampled_at, now)

    @staticmethod
    def ctes(when: str) -> str:
        return _ONE_PG_CTES.format(when=when)

    def guard_params(self) -> list[Any]:
        pid, ref, sampled_at, _at = self.row
        return [pid, self.rules.version, _db(sampled_at), pid, ref]

    def cte_params(self) -> list[Any]:
        return _one_pg_params(self.row, self.rules.version)

    def done(self, moved: int) -> None:
        """After the caller's statement wrote the sample: ``moved`` is its count of ``health_u``."""
        pid, _ref, _sampled_at, at = self.row
        if moved:
            selectors.invalidate([pid])  # no transaction around: nobody read the old row in between
            return
        with transaction.atomic():
            _recompute([pid], now=at, rules=self.rules)


def _many(rows: list[tuple[int, str, dt.datetime, dt.datetime]], version: int) -> tuple[set[int], list[int]]:
    """The pending samples inserted and the status rows moved forward: (the people who need the full
    recomputation, the people whose row moved)."""
    inserted = _returning(
        _SAMPLE_INSERT,
        _SAMPLE_ROW,
        "person_id, sample_ref",
        [(pid, ref, _db(sampled_at), _db(at)) for pid, ref, sampled_at, at in rows],
    )
    full = {pid for pid, ref, _s, _a in rows if (pid, ref) not in inserted}
    # Per person, as the calls one by one would leave the row: the latest sampling and the submission
    # that first reached it (evaluated_at), and the first submission (since, for a new row). Two new
    # samplings at one instant leave the same fields whichever reference wins: both are pending.
    latest: dict[int, list[Any]] = {}
    for pid, _ref, sampled_at, at in rows:
        mine = latest.get(pid)
        if mine is None:
            latest[pid] = [sampled_at, at, at]
        elif sampled_at > mine[0]:
            mine[0], mine[2] = sampled_at, at
    lean = [pid for pid in latest if pid not in full]
    moved = _returning(
        _STATUS_UPSERT,
        _STATUS_ROW,
        "person_id",
        [(pid, version, _db(latest[pid][0]), _db(latest[pid][1]), _db(latest[pid][2])) for pid in lean],
    )
    full.update(pid for pid in lean if (pid,) not in moved)
    return full, [key[0] for key in moved]


def _returning(sql: str, row_sql: str, key: str, rows: list[tuple[Any, ...]]) -> set[tuple[Any, ...]]:
    """Run ``sql`` over ``rows`` (its ``{rows}`` a VALUES list); the keys of the rows it wrote. One
    statement per chunk; one row needs no RETURNING (the row count says it), nor does an SQLite older
    than 3.35, which takes the rows one by one."""
    if not rows:
        return set()
    written: set[tuple[Any, ...]] = set()
    width = len(rows[0])
    with connection.cursor() as cur:
        if len(rows) == 1 or not connection.features.can_return_rows_from_bulk_insert:
            for row in rows:
                cur.execute(sql.format(rows=row_sql), row)
                if cur.rowcount == 1:
                    written.add(_key(row, key))
            return written
        size = max(1, (connection.features.max_query_params or 5000) // width)
        for i in range(0, len(rows), size):
            part = rows[i : i + size]
            cur.execute(
                sql.format(rows=", ".join([row_sql] * len(part))) + f" RETURNING {key}",
                [v for row in part for v in row],
            )
            written.update(tuple(r) for r in cur.fetchall())
    return written


def _key(row: tuple[Any, ...], key: str) -> tuple[Any, ...]:
    return tuple(row[: key.count(",") + 1])
