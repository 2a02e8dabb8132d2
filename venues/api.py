"""JSON API: check-in (resident apps, the benchmark) and the sentinel device."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema

from common.errors import Forbidden
from venues import services
from venues.fastpath import checkin_body
from venues.models import Method
from venues.selectors import codes as code_selectors
from venues.selectors import venues as venue_selectors
from venues.services import CheckinOutcome

router = Router(tags=["venues"])


class CheckinIn(Schema):
    code: str = Field(..., max_length=200, description="The token of the poster URL /v/<token>/")
    client_key: str = Field(..., min_length=8, max_length=64, description="Idempotency key; a retry sends it again")


class SentinelIn(Schema):
    entrance_id: int
    code: str = Field(..., max_length=200, description="A health-code token, or an ID number")
    client_key: str = Field(..., min_length=8, max_length=64)


class CheckinEntry(Schema):
    person_id: int
    colour: str
    verdict: str
    badge: str
    checked_in_at: str
    is_flagged: bool


class CheckinOut(Schema):
    scan_key: str
    replayed: bool
    entries: list[CheckinEntry]


def _out(outcome: CheckinOutcome) -> CheckinOut:
    return CheckinOut(**checkin_body(outcome))  # the fast path's answer, built by the same function


@router.post("/checkins", response={200: CheckinOut}, summary="Check the signed-in resident in")
def checkin(request: HttpRequest, payload: CheckinIn) -> CheckinOut:
    person_id = getattr(request.user, "person_id", None)
    if not person_id:
        raise Forbidden("not_resident", "Only residents can check in.")
    entrance = code_selectors.entrance_for_token(payload.code)
    return _out(
        services.checkin_record(
            account=request.user,
            entrance=entrance,
            person_ids=[person_id],
            method=Method.SCAN,
            client_key=payload.client_key,
            now=timezone.now(),
        )
    )


@router.post("/sentinel", response={200: CheckinOut}, summary="A venue device checks a scanned person in")
def sentinel(request: HttpRequest, payload: SentinelIn) -> CheckinOut:
    entrance = code_selectors.entrance_info(payload.entrance_id)
    venue_selectors.get_venue_for_user(request.user, entrance.venue_id)  # 404 outside the user's venues
    return _out(
        services.sentinel_checkin(
            account=request.user,
            entrance=entrance,
            code=payload.code,
            client_key=payload.client_key,
            now=timezone.now(),
        )
    )
