"""JSON API of command HQ's round decisions: a new deadline for an open round. Kept apart from
``testing.api`` (the station and the laboratories' machine clients)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema
from ninja.responses import codes_4xx

from audit.services import Actor
from testing import selectors, services

router = Router(tags=["testing"])


class ErrorOut(Schema):
    code: str
    message: str


class DeadlineIn(Schema):
    deadline_at: dt.datetime = Field(..., description="The new deadline (without an offset: Asia/Shanghai time)")
    reason: str = Field(..., description="Why the deadline changes (kept with the round and audited)")


class DeadlineChangeOut(Schema):
    changed_at: dt.datetime
    old_deadline_at: dt.datetime
    new_deadline_at: dt.datetime
    reason: str


class RoundDeadlineOut(Schema):
    round_id: int
    name: str
    deadline_at: dt.datetime
    phase: str = Field(..., description="scheduled, open, overdue or closed")
    changes: list[DeadlineChangeOut]


@router.post(
    "/rounds/{round_id}/deadline",
    response={200: RoundDeadlineOut, codes_4xx: ErrorOut},
    summary="Set a new deadline for an open round (command HQ; 403 not_round_manager, 409 round_closed)",
)
def round_deadline(request: HttpRequest, round_id: int, payload: DeadlineIn) -> Any:
    rnd = selectors.get_round_for_user(request.user, round_id)
    deadline_at = payload.deadline_at
    if timezone.is_naive(deadline_at):
        deadline_at = timezone.make_aware(deadline_at)
    now = timezone.now()
    rnd = services.round_deadline_set(
        actor=Actor.from_request(request), rnd=rnd, deadline_at=deadline_at, reason=payload.reason, now=now
    )
    changes = [
        DeadlineChangeOut(
            changed_at=c.changed_at,
            old_deadline_at=c.old_deadline_at,
            new_deadline_at=c.new_deadline_at,
            reason=c.reason,
        )
        for c in selectors.deadline_changes(rnd)[:50]
    ]
    return RoundDeadlineOut(
        round_id=rnd.pk, name=rnd.name, deadline_at=rnd.deadline_at, phase=rnd.phase(now).value, changes=changes
    )
