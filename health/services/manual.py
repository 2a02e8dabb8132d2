"""Manual status changes: epidemiologists request, HQ approves above the policy size, a pause switch."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db import transaction
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
    ManualDecision,
    ManualReason,
    Result,
)
from health.rules import Rules
from health.services.recompute import _recompute

CHUNK = 5000
_RESULTS = {Result.NEGATIVE, Result.POSITIVE, Result.INVALID}


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
