"""Verification API for staff devices (venue sentinel, checkpoint, campus gate)."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from accounts.roles import Cap
from accounts.selectors import has_cap
from audit.services import Actor
from common.errors import DomainError, Forbidden
from health import selectors, services
from people import selectors as people_selectors

router = Router(tags=["health"])


class VerifyIn(Schema):
    token: str = Field("", max_length=200, description="A scanned health-code token")
    id_number: str = Field("", max_length=40, description="Fallback: an ID number typed in the person's presence")


class VerifyOut(Schema):
    colour: str = Field(description="green, yellow or red")
    reason_code: str
    reason: str
    name: str = Field(description="Masked name, e.g. 张*")
    since: dt.datetime
    latest_sampled_at: dt.datetime | None
    latest_result: str | None
    hours_since_negative: float | None
    badge: str = Field(description="48h, 72h, over72h, pending or none")
    is_overdue: bool
    vaccine_doses: int
    server_time: dt.datetime


@router.post("/verify", response=VerifyOut, summary="Verify a person's health status")
def verify(request: HttpRequest, payload: VerifyIn) -> VerifyOut:
    now = timezone.now()
    if not has_cap(request.user, Cap.HEALTH_VERIFY):
        raise Forbidden("verify_forbidden", _("This account may not verify health codes."))
    if payload.token:
        person_id, method = selectors.person_id_from_health_token(payload.token, now=now), "token"
    elif payload.id_number:
        person = people_selectors.person_by_id_number(payload.id_number)
        if person is None:
            raise DomainError("person_not_found", _("No person with this ID number."), status=404)
        person_id, method = person.pk, "id_number"
    else:
        raise DomainError("token_required", _("Scan a health code or type an ID number."))
    view = selectors.status_view(person_id, now=now)
    services.verification_record(
        actor=Actor.from_request(request), person_id=person_id, method=method, colour=view.colour, now=now
    )
    return VerifyOut(
        colour=view.colour,
        reason_code=view.reason_code,
        reason=view.reason,
        name=view.masked_name,
        since=view.since,
        latest_sampled_at=view.latest_sampled_at,
        latest_result=view.latest_result,
        hours_since_negative=None if view.hours_since_negative is None else round(view.hours_since_negative, 1),
        badge=view.badge,
        is_overdue=view.is_overdue,
        vaccine_doses=view.vaccine_doses,
        server_time=now,
    )
