"""Rule versions, full recomputes, and the verification log."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.roles import Cap
from accounts.selectors import has_cap
from audit.services import Actor, audit_append, audit_record
from common.errors import DomainError, Forbidden
from health import selectors
from health.models import (
    RecomputeJob,
    Result,
    RuleVersion,
)
from health.rules import Rules
from health.services.manual import _refuse
from health.services.recompute import _recompute

CHUNK = 5000
_RESULTS = {Result.NEGATIVE, Result.POSITIVE, Result.INVALID}


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
    """One audit row per verification: who looked at whose status, how, and what they saw.

    A verification is a read that writes only this row, so its commit does not wait for the WAL
    flush on PostgreSQL (see ``audit_append``): that wait was most of a verification's time under
    load. Status changes, check-ins and samples keep waiting for theirs."""
    audit_append(
        actor=actor,
        action="health.verified",
        object_type="people.person",
        object_id=person_id,
        extra={"method": method, "colour": colour},
        now=now,
        wait_for_flush=False,
    )
