"""The station's fast path (testing.fastpath) answers exactly as Django's API views would, and hands
everything unusual to Django.

A station's day is replayed twice on the same data: once through ``StationFastPath`` in front of Django
(inside a transaction then rolled back) and once to Django alone; every answer's status, headers and
body must be the same, and the fast path must not have asked Django once. The clock is frozen, so the
sample times match too.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection, transaction
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from accounts.middleware import KEY as LAST_SEEN
from accounts.services import api_token_create
from accounts.tests.wsgi import Recorder, call_wsgi, keep_the_test_connection  # noqa: F401 (autouse)
from audit.services import Actor
from testing import services
from testing.fastpath import PREFIX, StationFastPath
from testing.models import IdempotentRequest, Sample, Tube
from testing.tests.conftest import NOW, token

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clock")]

CSRF = "stationcsrf0" * 2 + "abcdefgh"  # 32 characters, Django's unmasked form


@pytest.fixture
def staffed(site: Any, sampler: Any) -> Any:
    services.site_staff_add(actor=Actor.system(), site=site, user=sampler, now=NOW)
    return sampler


@pytest.fixture
def bearer(staffed: Any) -> str:
    return api_token_create(actor=Actor.system(), user=staffed, name="station device")[1]


@pytest.fixture
def session(staffed: Any) -> str:
    """The station page's session, with a last-seen time that needs no refresh."""
    client = Client()
    client.force_login(staffed)
    s = client.session
    s[LAST_SEEN] = int(time.time())
    s.save()
    return s.session_key or ""


def _environ(path: str, body: dict[str, Any] | bytes, *, auth: dict[str, str], **extra: str) -> dict[str, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9", **auth, **extra}
    return RequestFactory().generic("POST", PREFIX + path, data, "application/json", **headers).environ


def _token_auth(raw: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def _session_auth(key: str) -> dict[str, str]:
    cookie = f"{settings.SESSION_COOKIE_NAME}={key}; {settings.CSRF_COOKIE_NAME}={CSRF}"
    return {"HTTP_COOKIE": cookie, "HTTP_X_CSRFTOKEN": CSRF}


def _call(app: Any, environ: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    status, headers, data = call_wsgi(app, environ)
    return status, dict(headers), data


def _day(site: Any, people: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    """A station's requests: a tube filled by code and by typed ID number, every refusal a sampler meets,
    a retry and a conflicting retry, the seal."""
    a, b = (token(p) for p in people)  # a code carries a nonce: each is sent as scanned, once
    b_id = people[1].id_number.lower()
    return [
        ("tubes", {"key": "k-open-0001", "site_id": site.pk, "barcode": "T0001"}),
        ("samples", {"key": "k-samp-0001", "barcode": "T0001", "code": a}),
        ("samples", {"key": "k-samp-0001", "barcode": "T0001", "code": a}),  # a retry: the first answer
        ("samples", {"key": "k-samp-0001", "barcode": "T0001", "code": b}),  # the key reused: 409
        ("samples", {"key": "k-samp-0002", "barcode": "T0001", "code": a}),  # twice in a tube: 409
        (
            "samples",
            {
                "key": "k-samp-0003",
                "barcode": "T0001",
                "id_number": b_id,
                "green_channel": True,
                "device_at": "2022-04-20T06:00:00Z",  # an hour off: stored beside, flagged
            },
        ),
        ("samples", {"key": "k-samp-0004", "barcode": "T0001", "code": "not-a-code"}),
        ("samples", {"key": "k-samp-0005", "barcode": "T0001"}),  # neither code nor number
        ("samples", {"key": "k-samp-0006", "barcode": "NOPE"}),  # an unknown tube: 404
        ("tubes", {"key": "k-open-0002", "site_id": site.pk, "barcode": "T0001"}),  # used once ever
        ("tubes", {"key": "k-open-0003", "site_id": site.pk + 999, "barcode": "T0002"}),  # not their site
        ("seal", {"key": "k-seal-0001", "barcode": "T0001"}),
        ("samples", {"key": "k-samp-0007", "barcode": "T0001", "code": a}),  # sealed: 409
        ("seal", {"key": "k-seal-0002", "barcode": "T0001"}),
        ("tubes", {"key": "k-open-0004", "site_id": site.pk, "barcode": "T0003"}),
        ("seal", {"key": "k-seal-0003", "barcode": "T0003"}),  # empty: 400
    ]


def _replay(app: Any, day: list[tuple[str, dict[str, Any]]], auth: dict[str, str], **extra: str) -> list[Any]:
    return [_call(app, _environ(path, body, auth=auth, **extra)) for path, body in day]


@pytest.mark.parametrize("how", ["token", "session"])
@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_a_station_day_is_answered_without_django_and_as_django_would(
    how: str, language: str, request: Any, site: Any, person_a: Any, person_b: Any
) -> None:
    auth = _token_auth(request.getfixturevalue("bearer")) if how == "token" else _session_auth(
        request.getfixturevalue("session")
    )
    day = _day(site, [person_a, person_b])
    recorder = Recorder()
    with transaction.atomic():
        fast = _replay(StationFastPath(recorder), day, auth, HTTP_ACCEPT_LANGUAGE=language)
        fast_rows = (Tube.objects.count(), Sample.objects.count(), IdempotentRequest.objects.count())
        transaction.set_rollback(True)
    assert Tube.objects.count() == 0  # undone: Django starts from the same data
    django = _replay(WSGIHandler(), day, auth, HTTP_ACCEPT_LANGUAGE=language)
    assert recorder.calls == 0  # every answer came from the fast path
    assert [f[0] for f in fast] == [200, 200, 200, 409, 409, 200, 400, 400, 404, 409, 404, 200, 409, 409, 200, 400]
    for i, (f, d) in enumerate(zip(fast, django, strict=True)):
        assert f == d, (i, day[i], f, d)
    assert fast_rows == (Tube.objects.count(), Sample.objects.count(), IdempotentRequest.objects.count())
    assert fast[2][2]["replayed"] is True and fast[5][2]["green_channel"] is True
    assert [w["code"] for w in fast[5][2]["warnings"]] == ["clock_skew"]
    expected = "This tube is sealed. Scan a new tube." if language == "en" else "此试管已封管,请扫描新试管。"
    assert fast[12][2]["message"] == expected
    assert fast[0][1]["Content-Language"] == ("en" if language == "en" else "zh-hans")
    assert fast[0][1]["X-Frame-Options"] == "DENY" and fast[0][1]["X-Content-Type-Options"] == "nosniff"


def test_a_scan_costs_two_statements_on_the_fast_path(bearer: str, site: Any, person_a: Any) -> None:
    app = StationFastPath(Recorder())
    auth = _token_auth(bearer)
    _call(app, _environ("tubes", {"key": "k-open-0001", "site_id": site.pk, "barcode": "T0001"}, auth=auth))
    with CaptureQueriesContext(connection) as queries:
        status, _h, data = _call(
            app, _environ("samples", {"key": "k-samp-0001", "barcode": "T0001", "code": token(person_a)}, auth=auth)
        )
    assert status == 200 and data["count"] == 1
    sql = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    # On PostgreSQL the tube and the person with their samples in one read, and the tube's count, the
    # sample, the key and the health app's pending sample and status in one write, without a transaction
    # (station_batch._lone). On SQLite, in a transaction: the tube, the person, the station's write
    # (an UPDATE and two INSERTs) and the health app's (two). The token is cached.
    assert len(sql) == (2 if connection.vendor == "postgresql" else 7), sql


@pytest.mark.parametrize(
    "case",
    [
        "open_without_site",
        "code_not_a_string",
        "malformed_json",
        "not_an_object",
        "bad_token",
        "token_and_session",
        "no_auth",
        "bad_csrf",
        "idle_session",
        "too_long",
        "disallowed_host",
    ],
)
def test_anything_unusual_is_answered_by_django(
    case: str, bearer: str, session: str, site: Any, person_a: Any, staffed: Any
) -> None:
    path, body = "samples", {"key": "k-case-0001", "barcode": "T0001", "code": token(person_a)}
    auth, extra = _token_auth(bearer), {}
    data: dict[str, Any] | bytes = body
    if case == "open_without_site":
        path, data = "tubes", {"key": "k-open-0001", "barcode": "T0009"}
    elif case == "code_not_a_string":
        data = {**body, "code": 12345}
    elif case == "malformed_json":
        data = b'{"key": '
    elif case == "not_an_object":
        data = b'["k-case-0001"]'
    elif case == "bad_token":
        auth = _token_auth(bearer[:-4] + "AAAA")
    elif case == "token_and_session":
        auth = {**_token_auth(bearer), "HTTP_COOKIE": f"{settings.SESSION_COOKIE_NAME}={session}"}
    elif case == "no_auth":
        auth = {}
    elif case == "bad_csrf":
        auth = {**_session_auth(session), "HTTP_X_CSRFTOKEN": "x" * 32}
    elif case == "idle_session":
        from accounts.sessions import SessionStore

        s = SessionStore(session)
        s[LAST_SEEN] = int(time.time()) - settings.SESSION_IDLE_SECONDS - 5
        s.save()
        auth = _session_auth(session)
    elif case == "too_long":
        data = {**body, "note": "x" * 3000}
    elif case == "disallowed_host":
        extra["HTTP_HOST"] = "evil.example.com"
    recorder = Recorder()
    status, _h, answer = _call(StationFastPath(recorder), _environ(path, data, auth=auth, **extra))
    assert recorder.calls == 1, (status, answer)  # handed to Django
    expected = {
        "open_without_site": 400,
        "code_not_a_string": 400,
        "malformed_json": 400,
        "not_an_object": 400,
        "bad_token": 401,
        "token_and_session": 404,  # Django answers: the token's user, and no tube T0001
        "no_auth": 401,
        "bad_csrf": 403,
        "idle_session": 401,  # Django ended the session
        "too_long": 404,  # accepted by Django's schema (the extra field ignored); the tube does not exist
        "disallowed_host": 400,
    }[case]
    assert status == expected, (status, answer)
    assert Sample.objects.count() == 0
