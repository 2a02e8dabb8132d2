"""The check-in fast path (venues.fastpath) answers exactly as Django's API view would, and hands
everything that is not an ordinary resident check-in to Django.

Each case sends the same request as a WSGI environ twice: once through ``CheckinFastPath`` in front
of Django and once to Django alone, and compares status, body and headers.
"""

from __future__ import annotations

import json
import time
from functools import partial
from typing import Any

import pytest
from django.conf import settings
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from accounts.middleware import KEY as LAST_SEEN
from accounts.tests.wsgi import Recorder, call_wsgi, keep_the_test_connection  # noqa: F401 (autouse)
from venues.fastpath import PATH, CheckinFastPath
from venues.models import CheckIn, CheckinRequest

pytestmark = pytest.mark.django_db


CSRF = "fastpathcsrf" * 2 + "abcdefgh"  # 32 characters, Django's unmasked form


def _environ(body: bytes, *, session: str | None, csrf: str | None = CSRF, **extra: str) -> dict[str, Any]:
    """A POST of ``body`` to the check-in endpoint as a WSGI environ (Django's RequestFactory builds it)."""
    cookies = [f"{settings.SESSION_COOKIE_NAME}={session}"] if session else []
    headers = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}
    if csrf:
        cookies.append(f"{settings.CSRF_COOKIE_NAME}={CSRF}")
        headers["HTTP_X_CSRFTOKEN"] = csrf
    headers["HTTP_COOKIE"] = "; ".join(cookies)
    return RequestFactory().generic("POST", PATH, body, "application/json", **{**headers, **extra}).environ


def _call(app: Any, environ: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    status, headers, data = call_wsgi(app, environ)
    return status, {k: v for k, v in headers if k != "Set-Cookie"}, data


def _body(token: str, key: str) -> bytes:
    return json.dumps({"code": token, "client_key": key}).encode()


def _fresh(client: Client) -> str:
    """The client's session key, with a last-seen time that needs no refresh."""
    session = client.session
    session[LAST_SEEN] = int(time.time())
    session.save()
    return session.session_key or ""


def _both(session: str, body_fast: bytes, body_django: bytes, **kw: Any) -> tuple[Any, Any, int]:
    recorder = Recorder()
    fast = _call(CheckinFastPath(recorder), _environ(body_fast, session=session, **kw))
    django = _call(WSGIHandler(), _environ(body_django, session=session, **kw))
    return fast, django, recorder.calls


def _same(fast: tuple[Any, ...], django: tuple[Any, ...]) -> None:
    f_status, f_headers, f_data = fast
    d_status, d_headers, d_data = django
    assert f_status == d_status
    assert f_headers == d_headers
    if isinstance(f_data, dict) and "entries" in f_data:  # the keys and times differ; the shape may not
        for row in f_data["entries"] + d_data["entries"]:
            row.pop("checked_in_at")
        f_data.pop("scan_key")
        d_data.pop("scan_key")
    assert f_data == d_data


def test_an_ordinary_check_in_is_answered_without_django_and_as_django_would(
    resident_client: Client, token: str, resident: Any
) -> None:
    session = _fresh(resident_client)
    fast, django, calls = _both(session, _body(token, "fast-0000001"), _body(token, "djan-0000001"))
    assert calls == 0  # Django was not asked
    assert fast[0] == 200 and fast[2]["entries"][0]["person_id"] == resident.person_id
    _same(fast, django)
    assert CheckIn.objects.filter(scan_key="fast-0000001", person_id=resident.person_id).count() == 1
    assert fast[1]["X-Frame-Options"] == "DENY" and fast[1]["X-Content-Type-Options"] == "nosniff"


def test_a_retry_is_answered_with_the_first_answer_and_writes_nothing(resident_client: Client, token: str) -> None:
    session = _fresh(resident_client)
    recorder = Recorder()
    app = CheckinFastPath(recorder)
    first = _call(app, _environ(_body(token, "retry-000001"), session=session))
    again = _call(app, _environ(_body(token, "retry-000001"), session=session))
    django = _call(WSGIHandler(), _environ(_body(token, "retry-000001"), session=session))
    assert first[2]["replayed"] is False and again[2]["replayed"] is True
    assert again[2]["entries"] == first[2]["entries"] == django[2]["entries"]
    assert again == django
    assert CheckinRequest.objects.filter(client_key="retry-000001").count() == 1
    assert CheckIn.objects.filter(scan_key="retry-000001").count() == 1


def test_the_fast_path_costs_four_statements(resident_client: Client, token: str) -> None:
    session = _fresh(resident_client)
    app = CheckinFastPath(Recorder())
    _call(app, _environ(_body(token, "warm-0000001"), session=session))  # code and status cached
    with CaptureQueriesContext(connection) as queries:
        status, _h, _d = _call(app, _environ(_body(token, "hot-00000001"), session=session))
    assert status == 200
    sql = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    # the session, the user (cached after the first request in a server process), recent check-ins,
    # the write (two INSERTs on SQLite, one statement on PostgreSQL)
    assert len([s for s in sql if s.startswith("SELECT")]) <= 3
    assert "django_session" in sql[0]


@pytest.mark.parametrize(
    "case",
    [
        "no_session",
        "bad_csrf",
        "no_csrf_cookie",
        "invalid_code",
        "malformed_json",
        "short_key",
        "idle_session",
        "bearer_token",
        "disallowed_host",
        "not_a_resident",
    ],
)
def test_anything_else_is_answered_by_django(
    case: str, resident_client: Client, vm_client: Client, token: str, resident: Any
) -> None:
    session = _fresh(vm_client if case == "not_a_resident" else resident_client)
    body = _body(token, f"case-{case}"[:64])
    kw: dict[str, Any] = {}
    if case == "no_session":
        session = ""
    elif case == "bad_csrf":
        kw["HTTP_X_CSRFTOKEN"] = "x" * 32
    elif case == "no_csrf_cookie":
        kw["csrf"] = None
    elif case == "invalid_code":
        body = _body(token[:-3] + "AAA", "case-invalid1")
    elif case == "malformed_json":
        body = b'{"code": '
    elif case == "short_key":
        body = _body(token, "short")
    elif case == "idle_session":
        s = resident_client.session
        s[LAST_SEEN] = int(time.time()) - settings.SESSION_IDLE_SECONDS - 5
        s.save()
    elif case == "bearer_token":
        kw["HTTP_AUTHORIZATION"] = "Bearer not-a-token"
    elif case == "disallowed_host":
        kw["HTTP_HOST"] = "evil.example.com"
    recorder = Recorder()
    fast = _call(CheckinFastPath(recorder), _environ(body, session=session, **kw))
    assert recorder.calls == 1  # handed to Django
    expected = {
        "no_session": 401,
        "bad_csrf": 403,
        "no_csrf_cookie": 403,
        "invalid_code": 400,
        "malformed_json": 400,
        "short_key": 400,
        "idle_session": 401,  # Django's idle timeout ended it
        "bearer_token": 200,  # django-ninja tries the token, then the session
        "disallowed_host": 400,
        "not_a_resident": 403,
    }[case]
    assert fast[0] == expected, fast


def _note(answer: dict[str, Any], status: str, headers: list[tuple[str, str]]) -> None:
    answer.update(status=status, headers=headers)


def test_a_last_seen_time_over_a_minute_old_is_written_back_as_django_does(
    resident_client: Client, token: str
) -> None:
    def stale() -> str:
        s = resident_client.session
        s[LAST_SEEN] = int(time.time()) - 120
        s.save()
        return s.session_key or ""

    recorder = Recorder()
    answers = []
    for app, key in ((CheckinFastPath(recorder), "stale-fast-1"), (WSGIHandler(), "stale-djan-1")):
        session = stale()
        answer: dict[str, Any] = {}
        result = app(_environ(_body(token, key), session=session), partial(_note, answer))
        b"".join(result)
        getattr(result, "close", lambda: None)()
        cookie = [v for k, v in answer["headers"] if k == "Set-Cookie"]
        assert answer["status"].startswith("200") and len(cookie) == 1, answer
        attributes = sorted(p.strip().split("=")[0].lower() for p in cookie[0].split(";"))
        answers.append(attributes)
        assert cookie[0].strip().startswith(f"{settings.SESSION_COOKIE_NAME}={session};")
        assert int(time.time()) - resident_client.session[LAST_SEEN] < 5  # written back
    assert recorder.calls == 0  # the fast path answered the stale session itself
    assert answers[0] == answers[1]  # the same cookie attributes (expiry, HttpOnly, SameSite, path)


@pytest.mark.django_db(transaction=True)
def test_a_dead_database_connection_is_replaced_and_the_check_in_answered(
    resident_client: Client, token: str, resident: Any
) -> None:
    """The fast path skips the per-request SELECT 1 (CONN_HEALTH_CHECKS): a connection that died since
    the last request fails its first statement, and Django's handler, asked next, replaces the
    connection and answers; nothing is lost and nothing is written twice."""
    if connection.vendor != "postgresql":
        pytest.skip("terminating a server connection needs PostgreSQL")
    signals.request_started.connect(close_old_connections)  # this test runs as a server does
    signals.request_finished.connect(close_old_connections)
    session = _fresh(resident_client)
    app = CheckinFastPath(Recorder())
    assert _call(app, _environ(_body(token, "alive-000001"), session=session))[0] == 200
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]
    import psycopg

    settings_dict = connection.settings_dict
    with psycopg.connect(
        host=settings_dict["HOST"] or "127.0.0.1",
        port=settings_dict["PORT"] or 5432,
        user=settings_dict["USER"],
        dbname=settings_dict["NAME"],
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    recorder = Recorder()
    status, _headers, data = _call(CheckinFastPath(recorder), _environ(_body(token, "alive-000002"), session=session))
    assert status == 200 and data["replayed"] is False
    assert recorder.calls == 1  # Django answered, on a new connection
    assert CheckinRequest.objects.filter(client_key="alive-000002").count() == 1


def test_the_middlewares_the_fast_path_stands_in_for_are_still_these() -> None:
    """The fast path does what these middlewares would do for a check-in (venues/fastpath.py). A
    middleware added, removed or reordered must be weighed there first, then listed here."""
    assert settings.MIDDLEWARE == [
        "django.middleware.security.SecurityMiddleware",
        "whitenoise.middleware.WhiteNoiseMiddleware",
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.locale.LocaleMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "accounts.middleware.AuthenticationMiddleware",
        "accounts.middleware.IdleTimeoutMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    ]
