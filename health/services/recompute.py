"""Recomputation of statuses and the evidence other modules report (results, samples, companions)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext as _

from common.errors import DomainError
from health import selectors
from health.models import (
    CompanionRecord,
    HealthStatus,
    ManualDecision,
    Result,
    Sample,
    StatusHistory,
)
from health.rules import CompanionFact, ManualFact, Rules, SampleFact, evaluate, summarise

CHUNK = 5000
_RESULTS = {Result.NEGATIVE, Result.POSITIVE, Result.INVALID}


# --- recomputation core -----------------------------------------------------------------------


def _chunks(ids: list[int], size: int = CHUNK) -> Iterator[list[int]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


def _evidence(
    ids: list[int],
) -> tuple[dict[int, list[SampleFact]], dict[int, list[CompanionFact]], dict[int, ManualFact]]:
    samples: dict[int, list[SampleFact]] = defaultdict(list)
    for pid, ref, sampled_at, result, pooled, recorded_at in Sample.objects.filter(person_id__in=ids).values_list(
        "person_id", "sample_ref", "sampled_at", "result", "is_pooled", "recorded_at"
    ):
        samples[pid].append(SampleFact(ref, sampled_at, result, pooled, recorded_at))
    companions: dict[int, list[CompanionFact]] = defaultdict(list)
    for pid, case_ref, exposed_at, recorded_at in CompanionRecord.objects.filter(person_id__in=ids).values_list(
        "person_id", "case_ref", "exposed_at", "recorded_at"
    ):
        companions[pid].append(CompanionFact(case_ref, exposed_at, recorded_at))
    manual: dict[int, ManualFact] = {}
    for pid, colour, decided_at, req in (
        ManualDecision.objects.filter(person_id__in=ids)
        .order_by("person_id", "decided_at", "id")
        .values_list("person_id", "colour", "decided_at", "change_request_id")
    ):
        manual[pid] = ManualFact(colour, decided_at, req)  # ordered: the latest decision stays
    return samples, companions, manual


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
    for chunk in _chunks(sorted(set(ids))):
        samples, companions, manual = _evidence(chunk)
        current = HealthStatus.objects.in_bulk(chunk)
        create: list[HealthStatus] = []
        update: list[HealthStatus] = []
        touch: list[int] = []
        history: list[StatusHistory] = []
        for pid in chunk:
            s = samples.get(pid, [])
            outcome = evaluate(s, companions.get(pid, []), manual.get(pid), rules)
            summary = summarise(s)
            row = current.get(pid)
            before = (row.colour, row.reason_code) if row else ("green", "default_green")
            is_change = before != (outcome.colour, outcome.reason_code)
            values = {
                "colour": outcome.colour,
                "reason_code": outcome.reason_code,
                "evidence": outcome.evidence,
                "rule_version": rules.version,
                "latest_sampled_at": summary.latest_sampled_at,
                "latest_result": summary.latest_result,
                "latest_negative_sampled_at": summary.latest_negative_sampled_at,
            }
            if row is None:
                create.append(HealthStatus(person_id=pid, since=now, evaluated_at=now, **values))
            elif is_change or any(getattr(row, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(row, k, v)
                row.evaluated_at = now
                if is_change:
                    row.since = now
                update.append(row)
            else:
                touch.append(pid)
            if is_change or force_history:
                changed_total += int(is_change)
                history.append(
                    StatusHistory(
                        person_id=pid,
                        at=now,
                        colour=outcome.colour,
                        previous_colour=before[0],
                        reason_code=outcome.reason_code,
                        evidence=outcome.evidence,
                        rule_version=rules.version,
                        actor_label=actor_label,
                        change_request_id=change_request_id,
                    )
                )
        if create:
            _insert(
                HealthStatus._meta.db_table,
                ["person_id", *_UPDATE_FIELDS],
                ["bigint", *_UPDATE_TYPES],
                [[r.person_id, *(getattr(r, f) for f in _UPDATE_FIELDS)] for r in create],
                "",
            )
        if update:
            _bulk_update(update)
        if touch:
            HealthStatus.objects.filter(person_id__in=touch).exclude(rule_version=rules.version).update(
                rule_version=rules.version, evaluated_at=now
            )
        if history:
            StatusHistory.objects.bulk_create(history, batch_size=2000)
        dirty = [r.person_id for r in create] + [r.person_id for r in update]
        if dirty:
            # Now, for this transaction's own reads, and again after commit, since a reader between
            # the two may have cached the old row.
            selectors.invalidate(dirty)
            transaction.on_commit(lambda d=dirty: selectors.invalidate(d))  # type: ignore[misc]
    return changed_total


_UPDATE_FIELDS = [
    "colour",
    "reason_code",
    "evidence",
    "rule_version",
    "since",
    "evaluated_at",
    "latest_sampled_at",
    "latest_result",
    "latest_negative_sampled_at",
]


_UPDATE_TYPES = ["text", "text", "text", "integer", "timestamptz", "timestamptz", "timestamptz", "text", "timestamptz"]


def _insert(table: str, cols: list[str], types: list[str], rows: list[list[Any]], conflict: str) -> None:
    """A set-based INSERT: one unnest() statement on PostgreSQL, executemany on SQLite. Django's
    bulk_create compiles every value through the field machinery, which dominated lab batches."""
    if not rows:
        return
    names = ", ".join(cols)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{t}[]" for t in types)
            cur.execute(
                f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays}) {conflict}",  # noqa: S608
                [list(col) for col in zip(*rows, strict=True)],
            )
        else:
            marks = ", ".join(["%s"] * len(cols))
            cur.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({marks}) {conflict}",  # noqa: S608
                [[_db(v) for v in row] for row in rows],
            )


def _bulk_update(rows: list[HealthStatus]) -> None:
    """One statement per chunk. Django's bulk_update builds CASE expressions that grow with the chunk;
    a VALUES join is linear, which matters for lab batches of a million people."""
    table = HealthStatus._meta.db_table
    if connection.vendor == "postgresql":
        cols = ", ".join(_UPDATE_FIELDS)
        sets = ", ".join(f"{f} = v.{f}" for f in _UPDATE_FIELDS)
        casts = _UPDATE_TYPES
        unnest = ", ".join(f"%s::{c}[]" for c in ["bigint", *casts])
        sql = (
            f"UPDATE {table} AS h SET {sets} FROM unnest({unnest}) AS v(person_id, {cols}) "  # noqa: S608
            "WHERE h.person_id = v.person_id"
        )
        params = [[r.person_id for r in rows]] + [[getattr(r, f) for r in rows] for f in _UPDATE_FIELDS]
        with connection.cursor() as cur:
            cur.execute(sql, params)
        return
    sets = ", ".join(f"{f} = %s" for f in _UPDATE_FIELDS)
    with connection.cursor() as cur:
        cur.executemany(
            f"UPDATE {table} SET {sets} WHERE person_id = %s",  # noqa: S608 - identifiers are ours
            [[_db(getattr(r, f)) for f in _UPDATE_FIELDS] + [r.person_id] for r in rows],
        )


def _db(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return connection.ops.adapt_datetimefield_value(value)
    return value


# --- evidence from other modules --------------------------------------------------------------


def sample_recorded(*, person_id: int, sample_ref: str, sampled_at: dt.datetime, now: dt.datetime) -> None:
    """A person was sampled: the sample shows as pending until its result arrives."""
    with transaction.atomic():
        Sample.objects.get_or_create(
            person_id=person_id,
            sample_ref=sample_ref,
            defaults={"sampled_at": sampled_at, "recorded_at": now},
        )
        _recompute([person_id], now=now, rules=selectors.current_rules())


def result_recorded(
    *, person_id: int, sample_ref: str, result: str, pooled: bool, sampled_at: dt.datetime, now: dt.datetime
) -> None:
    """A result for a person's sample. A pooled positive makes the person yellow awaiting a single-tube
    recheck (never red); a single-tube positive makes them red."""
    results_recorded(items=[(person_id, sample_ref, result, pooled, sampled_at)], now=now)


def results_recorded(*, items: list[tuple[int, str, str, bool, dt.datetime]], now: dt.datetime) -> None:
    """A laboratory batch: (person_id, sample_ref, result, pooled, sampled_at). Set-based, chunked: each
    chunk of people is recorded and recomputed in one transaction."""
    for item in items:
        if item[2] not in _RESULTS:
            raise DomainError("result_invalid", _("Unknown result: %(r)s") % {"r": item[2]})
    rules = selectors.current_rules()
    by_person: dict[int, list[tuple[int, str, str, bool, dt.datetime]]] = defaultdict(list)
    for item in items:
        by_person[item[0]].append(item)
    for chunk in _chunks(sorted(by_person)):
        rows = [
            Sample(
                person_id=pid,
                sample_ref=ref,
                sampled_at=sampled_at,
                result=result,
                is_pooled=pooled,
                result_at=now,
                recorded_at=now,
            )
            for p in chunk
            for (pid, ref, result, pooled, sampled_at) in by_person[p]
        ]
        with transaction.atomic():
            _insert(
                Sample._meta.db_table,
                ["person_id", "sample_ref", "sampled_at", "result", "is_pooled", "result_at", "recorded_at"],
                ["bigint", "text", "timestamptz", "text", "boolean", "timestamptz", "timestamptz"],
                [
                    [r.person_id, r.sample_ref, r.sampled_at, r.result, r.is_pooled, r.result_at, r.recorded_at]
                    for r in rows
                ],
                "ON CONFLICT (person_id, sample_ref) DO UPDATE SET result = excluded.result, "
                "is_pooled = excluded.is_pooled, result_at = excluded.result_at, recorded_at = excluded.recorded_at",
            )
            _recompute(chunk, now=now, rules=rules)


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
