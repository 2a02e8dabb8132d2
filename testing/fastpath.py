"""The sampler station's fast path: a single scan, tube opening or seal served beneath Django's handler.

A live station sends one submission per scan (``POST /api/v1/testing/station/tubes``, ``/samples``,
``/seal``), and the city-wide peak DESIGN §5 asks for is 725 registrations a second on two cores.
``accounts.fastpath.JsonFastPath`` says how a fast path stands in for Django's request cycle and when it
hands a request to Django. This one takes the station page's session or a station device's bearer
token, validates the body with the same pydantic model as the API view (``testing.api``), calls the
same service (``services.station_batch``, a batch of one) and answers with the same schema. Its
answers include the station's refusals (a reused tube, a full tube, a person twice in a tube, an
unknown code, a conflicting key: 4xx answers the service gives, not errors); a body the API's schema
refuses, or anything unusual, goes to Django.

testing/tests/test_fastpath.py sends the same requests through both and compares the answers.
"""

from __future__ import annotations

from typing import Any

from django.core.handlers.wsgi import WSGIRequest
from django.utils import timezone
from ninja import Schema
from pydantic import ValidationError

from accounts.fastpath import Answer, JsonFastPath
from audit.services import Actor
from testing import services
from testing.api import BatchItem, OpenIn, SampleIn, SealIn, StationAnswer

PREFIX = "/api/v1/testing/station/"
# path -> (kind, the endpoint's schema): the API view builds the same BatchItem from it
SCHEMAS: dict[str, tuple[str, type[Schema]]] = {
    PREFIX + "tubes": ("open", OpenIn),
    PREFIX + "samples": ("sample", SampleIn),
    PREFIX + "seal": ("seal", SealIn),
}
# path -> (kind, the schema's fields, those it requires)
KINDS = {
    path: (
        kind,
        tuple(schema.model_fields),
        frozenset(name for name, field in schema.model_fields.items() if field.is_required()),
    )
    for path, (kind, schema) in SCHEMAS.items()
}


class StationFastPath(JsonFastPath):
    """WSGI middleware in front of Django (config/wsgi.py)."""

    paths = frozenset(KINDS)
    max_body = 2048  # a key (≤ 64), a barcode, a sampling code or an ID number, a time: a few hundred bytes
    allow_token = True  # station devices sign in with an API token, the station page with its session

    def answer(self, request: WSGIRequest, payload: dict[str, Any]) -> Answer | None:
        kind, fields, required = KINDS[request.path_info]
        if any(payload.get(name) is None for name in required):
            return None  # the endpoint's schema requires it: Django's validation answers
        try:
            item = BatchItem.model_validate({"kind": kind, **{f: payload[f] for f in fields if f in payload}})
        except ValidationError:
            return None  # Django's validation answers, in the API's own words
        [(status, body)] = services.station_batch(
            actor=Actor.from_request(request), items=[item.model_dump()], now=timezone.now()
        )
        if status != 200 and not 400 <= status < 500:
            return None  # not an answer the API's schema declares
        return status, StationAnswer.model_validate(body).model_dump()
