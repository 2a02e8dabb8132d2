"""Writes of health status: evidence from other modules, manual changes, rules and recomputation.

Every entry point recomputes the affected people at once, in the transaction that records the
evidence, and clears their cached status when that transaction commits, so a verification sees the
new colour well within a second.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from accounts.roles import Cap
from accounts.selectors import has_cap
from audit.services import Actor, audit_record
from common.errors import Conflict, DomainError, Forbidden, NotFound
from health import selectors
from health.models import (
    ChangeItem,
    ChangeRequest,
    ChangeState,
    Colour,
    CompanionRecord,
    HealthStatus,
    ManualDecision,
    ManualReason,
    RecomputeJob,
    Result,
    RuleVersion,
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


# --- manual changes ---------------------------------------------------------------------------


def _refuse(actor: Actor, action: str, now: dt.datetime, **extra: Any) -> None:
    """Record a refused attempt in its own transaction; the refusal itself changes nothing."""
    with transaction.atomic():
        audit_record(actor=actor, action=action, object_type="health.status", extra=extra, now=now)


def status_change_request(
    *,
    actor: Actor,
    person_ids: list[int],
    colour: str,
    reason_code: str,
    note: str,
    now: dt.datetime,
) -> ChangeRequest:
    """An epidemiologist changes the status of people by hand. Above the policy number of people, the
    change waits for a second approver from command HQ; otherwise it applies at once."""
    ids = sorted(set(person_ids))
    if not has_cap(actor.user, Cap.HEALTH_STATUS_CHANGE):
        _refuse(actor, "health.status_change_refused", now, person_count=len(ids), colour=colour)
        raise Forbidden("status_change_forbidden", _("Only an epidemiologist may change a health status."))
    if colour not in Colour.values:
        raise DomainError("colour_invalid", _("Choose green, yellow or red."))
    if reason_code not in ManualReason.values:
        raise DomainError("reason_invalid", _("Choose a reason code."))
    note = (note or "").strip()
    if not note:
        raise DomainError("note_required", _("Describe the evidence for this change."))
    if not ids:
        raise DomainError("people_required", _("Name at least one person."))
    threshold = int(selectors.settings_policy("STATUS_BULK_APPROVAL_THRESHOLD"))
    needs_approval = len(ids) > threshold
    with transaction.atomic():
        req = ChangeRequest.objects.create(
            colour=colour,
            reason_code=reason_code,
            note=note[:4000],
            state=ChangeState.AWAITING_APPROVAL if needs_approval else ChangeState.RUNNING,
            person_count=len(ids),
            requested_by=actor.user,
            requested_at=now,
        )
        ChangeItem.objects.bulk_create([ChangeItem(request=req, person_id=p) for p in ids], batch_size=2000)
        audit_record(
            actor=actor,
            action="health.status_change_requested",
            obj=req,
            reason=note,
            row_count=len(ids),
            extra={"colour": colour, "reason_code": reason_code, "needs_approval": needs_approval},
            now=now,
        )
    if not needs_approval:
        change_request_apply(request_id=req.pk, actor=actor, now=now)
        req.refresh_from_db()
    return req


def change_request_approve(*, actor: Actor, request_id: int, now: dt.datetime) -> ChangeRequest:
    if not has_cap(actor.user, Cap.HEALTH_STATUS_APPROVE):
        _refuse(actor, "health.status_approve_refused", now, request=request_id)
        raise Forbidden("approve_forbidden", _("Only command HQ may approve a bulk status change."))
    with transaction.atomic():
        req = _locked_request(request_id)
        if req.state != ChangeState.AWAITING_APPROVAL:
            raise Conflict("not_awaiting_approval", _("This change is not awaiting approval."))
        if req.requested_by_id == actor.user.pk:
            raise Forbidden("second_approver_required", _("The approver must be someone other than the requester."))
        req.state = ChangeState.RUNNING
        req.approved_by = actor.user
        req.approved_at = now
        req.save(update_fields=["state", "approved_by", "approved_at"])
        audit_record(actor=actor, action="health.status_change_approved", obj=req, row_count=req.person_count, now=now)
    return req


def _locked_request(request_id: int) -> ChangeRequest:
    req = ChangeRequest.objects.select_for_update().filter(pk=request_id).first()
    if req is None:
        raise NotFound("not_found", _("No such change."))
    return req


def change_request_reject(*, actor: Actor, request_id: int, now: dt.datetime) -> ChangeRequest:
    if not has_cap(actor.user, Cap.HEALTH_STATUS_APPROVE):
        _refuse(actor, "health.status_approve_refused", now, request=request_id)
        raise Forbidden("approve_forbidden", _("Only command HQ may approve a bulk status change."))
    with transaction.atomic():
        req = _locked_request(request_id)
        if req.state != ChangeState.AWAITING_APPROVAL:
            raise Conflict("not_awaiting_approval", _("This change is not awaiting approval."))
        req.state = ChangeState.REJECTED
        req.finished_at = now
        req.save(update_fields=["state", "finished_at"])
        audit_record(actor=actor, action="health.status_change_rejected", obj=req, now=now)
    return req


def _set_state(*, actor: Actor, request_id: int, now: dt.datetime, src: str, dst: str, action: str) -> ChangeRequest:
    if not (has_cap(actor.user, Cap.HEALTH_STATUS_APPROVE) or has_cap(actor.user, Cap.HEALTH_STATUS_CHANGE)):
        _refuse(actor, f"{action}_refused", now, request=request_id)
        raise Forbidden("pause_forbidden", _("Only command HQ or an epidemiologist may pause or resume a change."))
    with transaction.atomic():
        req = _locked_request(request_id)
        if req.state != src:
            raise Conflict("state_conflict", _("This change cannot be paused or resumed now."))
        req.state = dst
        req.save(update_fields=["state"])
        audit_record(actor=actor, action=action, obj=req, now=now, extra={"applied": req.applied_count})
    return req


def change_request_pause(*, actor: Actor, request_id: int, now: dt.datetime) -> ChangeRequest:
    """Stop a running change between two items: what was applied stays applied, the rest waits."""
    return _set_state(
        actor=actor,
        request_id=request_id,
        now=now,
        src=ChangeState.RUNNING,
        dst=ChangeState.PAUSED,
        action="health.status_change_paused",
    )


def change_request_resume(*, actor: Actor, request_id: int, now: dt.datetime) -> ChangeRequest:
    return _set_state(
        actor=actor,
        request_id=request_id,
        now=now,
        src=ChangeState.PAUSED,
        dst=ChangeState.RUNNING,
        action="health.status_change_resumed",
    )


def _apply_item(
    *, req: ChangeRequest, item_id: int, person_id: int, actor: Actor, now: dt.datetime, rules: Rules
) -> bool:
    """Apply one person of a change, atomically; False if the change was paused meanwhile."""
    with transaction.atomic():
        state = ChangeRequest.objects.select_for_update().values_list("state", flat=True).get(pk=req.pk)
        if state != ChangeState.RUNNING:
            return False
        claimed = ChangeItem.objects.filter(pk=item_id, applied_at__isnull=True).update(applied_at=now)
        if not claimed:
            return True  # another worker applied it
        ManualDecision.objects.create(
            person_id=person_id,
            colour=req.colour,
            reason_code=req.reason_code,
            note=req.note,
            decided_at=now,
            decided_by_id=req.requested_by_id,
            change_request=req,
        )
        _recompute(
            [person_id], now=now, rules=rules, actor_label=actor.label, change_request_id=req.pk, force_history=True
        )
        ChangeRequest.objects.filter(pk=req.pk).update(applied_count=F("applied_count") + 1)
        audit_record(
            actor=actor,
            action="health.status_changed",
            object_type="people.person",
            object_id=person_id,
            reason=req.note,
            extra={"colour": req.colour, "reason_code": req.reason_code, "change_request": req.pk},
            now=now,
        )
    return True


def change_request_apply(
    *,
    request_id: int,
    actor: Actor,
    now: dt.datetime,
    limit: int | None = None,
    on_item: Callable[[int], None] | None = None,
) -> int:
    """Apply the waiting items of a running change, one atomic item at a time, re-reading the pause
    switch before each. Returns how many were applied in this call."""
    req = ChangeRequest.objects.get(pk=request_id)
    if req.state != ChangeState.RUNNING:
        return 0
    rules = selectors.current_rules()
    applied = 0
    todo = list(
        ChangeItem.objects.filter(request_id=request_id, applied_at__isnull=True)
        .order_by("id")
        .values_list("id", "person_id")
    )
    for item_id, person_id in todo:
        if limit is not None and applied >= limit:
            break
        if not _apply_item(req=req, item_id=item_id, person_id=person_id, actor=actor, now=now, rules=rules):
            return applied
        applied += 1
        if on_item is not None:
            on_item(applied)
    with transaction.atomic():
        left = ChangeItem.objects.filter(request_id=request_id, applied_at__isnull=True).exists()
        if not left:
            ChangeRequest.objects.filter(pk=request_id, state=ChangeState.RUNNING).update(
                state=ChangeState.DONE, finished_at=now
            )
    return applied


# --- rules ------------------------------------------------------------------------------------


def rules_update(*, actor: Actor, changes: dict[str, Any], note: str, now: dt.datetime) -> RuleVersion:
    """A new rule version (rules are never edited in place). The caller starts a full recompute."""
    if not has_cap(actor.user, Cap.HEALTH_RULES):
        _refuse(actor, "health.rules_update_refused", now)
        raise Forbidden("rules_forbidden", _("Only command HQ may change the rules."))
    with transaction.atomic():
        last = RuleVersion.objects.select_for_update().order_by("-version").first()
        base = selectors.rules_from_row(last) if last else Rules()
        fields = {k: v for k, v in base.__dict__.items() if k != "version"}
        unknown = set(changes) - set(fields)
        if unknown:
            raise DomainError("rule_field_invalid", _("Unknown rule field."))
        fields.update(changes)
        row = RuleVersion(version=base.version + 1, note=note, created_at=now, created_by=actor.user, **fields)
        row.full_clean(exclude=["created_by"])
        row.save()
        audit_record(
            actor=actor, action="health.rules_updated", obj=row, reason=note, extra=_jsonable(changes), now=now
        )
    cache.delete("health:rules")
    return row


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if isinstance(v, int | str | None) else str(v)) for k, v in d.items()}


def status_recompute_all(
    *, now: dt.datetime, job: RecomputeJob | None = None, progress: Callable[[int, int], None] | None = None
) -> RecomputeJob:
    """Recompute everyone, chunk by chunk in key order (set-based reads and writes per chunk), with
    progress recorded on the job row for the HQ page."""
    from people.models import Person  # the ForeignKey target: ids only

    rules = selectors.current_rules()
    cache.delete("health:rules")
    total = Person.objects.count()
    if job is None:
        job = RecomputeJob.objects.create(rule_version=rules.version, total=total, started_at=now)
    else:
        RecomputeJob.objects.filter(pk=job.pk).update(total=total, rule_version=rules.version)
    done = changed = 0
    last_id = 0
    try:
        while True:
            ids = list(Person.objects.filter(pk__gt=last_id).order_by("pk").values_list("pk", flat=True)[:CHUNK])
            if not ids:
                break
            with transaction.atomic():
                changed += _recompute(ids, now=now, rules=rules, actor_label="recompute")
            last_id = ids[-1]
            done += len(ids)
            RecomputeJob.objects.filter(pk=job.pk).update(done=done, changed=changed)
            if progress:
                progress(done, total)
    except Exception as exc:
        RecomputeJob.objects.filter(pk=job.pk).update(error=str(exc)[:2000], finished_at=now)
        raise
    RecomputeJob.objects.filter(pk=job.pk).update(done=done, changed=changed, finished_at=now)
    job.refresh_from_db()
    return job


def recompute_job_start(*, actor: Actor, now: dt.datetime) -> RecomputeJob:
    if not has_cap(actor.user, Cap.HEALTH_RULES):
        _refuse(actor, "health.recompute_refused", now)
        raise Forbidden("rules_forbidden", _("Only command HQ may change the rules."))
    with transaction.atomic():
        job = RecomputeJob.objects.create(rule_version=selectors.current_rules().version, started_at=now)
        audit_record(actor=actor, action="health.recompute_started", obj=job, now=now)
    return job


def verification_record(*, actor: Actor, person_id: int, method: str, colour: str, now: dt.datetime) -> None:
    """One audit row per verification: who looked at whose status, how, and what they saw."""
    audit_record(
        actor=actor,
        action="health.verified",
        object_type="people.person",
        object_id=person_id,
        extra={"method": method, "colour": colour},
        now=now,
    )
