"""The check-in API's fast path: ``POST /api/v1/venues/checkins`` served beneath Django's handler.

Every resident's scan is this request, so it is the one that takes a surge (DESIGN §5: 1,000/s on
two cores). ``accounts.fastpath.JsonFastPath`` says how a fast path stands in for Django's request
cycle and when it hands a request to Django. This one answers a signed-in resident's session (no
bearer token) with a well-formed code and retry key and a check-in that succeeds, through the same
selector and service as the API view (``venues.api.checkin``): ``entrance_for_token`` and
``checkin_record``. An invalid or revoked code, a conflicting retry key, an account without a person
go to Django, which answers them as before (a check-in the fast path wrote under its retry key is then
answered as a replay).

venues/tests/test_fastpath.py sends the same requests through both and compares the answers.
"""

from __future__ import annotations

from typing import Any

from django.core.handlers.wsgi import WSGIRequest
from django.utils import timezone

from accounts.fastpath import Answer, JsonFastPath
from common.errors import DomainError
from venues import services
from venues.models import Method
from venues.selectors import codes as code_selectors

PATH = "/api/v1/venues/checkins"


class CheckinFastPath(JsonFastPath):
    """WSGI middleware in front of Django (config/wsgi.py)."""

    paths = frozenset({PATH})
    max_body = 1024  # a code (≤ 200) and a key (≤ 64) in JSON
    translates = False  # the answer is codes and times, no messages

    def answer(self, request: WSGIRequest, payload: dict[str, Any]) -> Answer | None:
        user = request.user
        if not user.person_id:  # type: ignore[union-attr]
            return None
        code, client_key = payload.get("code"), payload.get("client_key")
        if not (isinstance(code, str) and len(code) <= 200 and isinstance(client_key, str)):
            return None
        if not 8 <= len(client_key) <= 64:
            return None
        try:
            entrance = code_selectors.entrance_for_token(code)
            outcome = services.checkin_record(
                account=user,
                entrance=entrance,
                person_ids=[user.person_id],  # type: ignore[union-attr]
                method=Method.SCAN,
                client_key=client_key,
                now=timezone.now(),
            )
        except DomainError:
            return None
        return 200, checkin_body(outcome)


def checkin_body(outcome: services.CheckinOutcome) -> dict[str, Any]:
    """The API's answer (venues.api.CheckinOut): the fast path sends it as is, the API view validates it."""
    return {
        "scan_key": outcome.scan_key,
        "replayed": outcome.replayed,
        "entries": [
            {
                "person_id": r.person_id,
                "colour": r.colour,
                "verdict": r.verdict,
                "badge": r.badge,
                "checked_in_at": r.checked_in_at.isoformat(),
                "is_flagged": r.is_flagged,
            }
            for r in outcome.rows
        ],
    }
