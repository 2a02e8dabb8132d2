"""The check-in API's fast path: ``POST /api/v1/venues/checkins`` served beneath Django's handler.

Every resident's scan is this request, so it is the one that takes a surge (DESIGN §5: 1,000/s on
two cores). Django's full stack (request handler, eleven middlewares, URL resolution, django-ninja's
validation and rendering) costs about half a millisecond of CPU per request on its own, a quarter of
that budget. This WSGI layer answers the ordinary case itself and hands everything else to Django:

- It reuses Django's parts rather than copying them: ``WSGIRequest``, the host check, the session
  store (``accounts.sessions``), Django's CSRF middleware (as django-ninja's session auth calls it),
  the security and clickjacking middlewares for the response headers, and the same selectors and
  services as the API view (``venues.api.checkin``): ``entrance_for_token`` and ``checkin_record``.
- It handles only a signed-in resident's session (no bearer token), a well-formed JSON body and a
  check-in that succeeds; a last-seen time over a minute old is written back as Django's
  idle-timeout middleware would. Anything else (no or expired session, a session idle too long, a
  bad CSRF token, a disallowed host, a plain-HTTP request that production redirects, a malformed
  body, an invalid or revoked code, a conflicting retry key, any exception) falls through to
  Django, which answers it as before: the fast path wrote nothing by then, or wrote the check-in
  under its retry key, which Django then answers as a replay.
- It fires Django's request_started and request_finished signals, so database connections are
  checked and recycled as for any request.

venues/tests/test_fastpath.py sends the same requests through both and compares the answers.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.contrib.sessions.middleware import SessionMiddleware
from django.core import signals
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest
from django.db import connection
from django.http import HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.middleware.security import SecurityMiddleware
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers

from accounts.middleware import KEY as LAST_SEEN_KEY
from accounts.middleware import REFRESH_SECONDS
from accounts.sessions import SessionStore, quick_session_user
from common.errors import DomainError
from venues import services
from venues.models import Method
from venues.selectors import codes as code_selectors

PATH = "/api/v1/venues/checkins"
MAX_BODY = 1024  # a code (≤ 200) and a key (≤ 64) in JSON

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _no_response(request: Any) -> HttpResponse:  # the middlewares' get_response, never called here
    raise AssertionError("not reached")


def _view(request: Any) -> HttpResponse:  # what CSRF's process_view is shown: a view, not exempt
    raise AssertionError("not reached")


class CheckinFastPath:
    """WSGI middleware in front of Django (config/wsgi.py)."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.csrf = CsrfViewMiddleware(_no_response)
        self.session_middleware = SessionMiddleware(_no_response)
        # The answer's headers are the same for every check-in but for the scheme (HSTS) and the
        # language: Django's middlewares write them once here, on a sample answer of each scheme.
        self.headers = {secure: _middleware_headers(secure) for secure in (False, True)}
        self.languages: dict[tuple[str, str], str] = {}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if (
            environ.get("PATH_INFO") != PATH
            or environ.get("REQUEST_METHOD") != "POST"
            or "HTTP_AUTHORIZATION" in environ  # machine clients: the token auth is Django's
        ):
            return self.app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY:
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)  # whoever reads next (Django) reads it again
        signals.request_started.send(sender=self.__class__, environ=environ)
        # No SELECT 1 before the first statement (CONN_HEALTH_CHECKS): if the connection has died, that
        # statement fails, Django's handler (below) closes the connection and answers on a new one.
        connection.health_check_done = True  # type: ignore[attr-defined]
        try:
            response = self.handle(environ, body)
        except Exception:
            log.exception("check-in fast path failed; Django answers")
            response = None
        if response is None:
            environ["wsgi.input"] = io.BytesIO(body)
            signals.request_finished.send(sender=self.__class__)  # Django's handler starts its own
            return self.app(environ, start_response)
        start_response("200 OK", response[0])
        return _Answer([response[1]])

    def handle(self, environ: dict[str, Any], body: bytes) -> tuple[list[tuple[str, str]], bytes] | None:
        """The answer to an ordinary check-in, or None to let Django answer."""
        request = WSGIRequest(environ)
        try:
            request.get_host()  # ALLOWED_HOSTS
        except DisallowedHost:
            return None
        if settings.SECURE_SSL_REDIRECT and not request.is_secure():
            return None
        session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        if not session_key:
            return None
        session = SessionStore(session_key)
        request.session = session
        # accounts.middleware.IdleTimeoutMiddleware: a session idle too long is ended (by Django, below);
        # a last-seen time over a minute old is written back with the answer, as Django's would be.
        last_seen = session.get(LAST_SEEN_KEY)
        now_s = int(time.time())
        if not isinstance(last_seen, int) or now_s - last_seen > settings.SESSION_IDLE_SECONDS:
            return None
        refresh = now_s - last_seen > REFRESH_SECONDS
        user = quick_session_user(session)
        if user is None or not user.person_id:
            return None
        request.user = user
        self.csrf.process_request(request)
        if self.csrf.process_view(request, _view, (), {}) is not None:
            return None
        try:
            payload = json.loads(body)
        except ValueError:
            return None
        if not isinstance(payload, dict):
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
                person_ids=[user.person_id],
                method=Method.SCAN,
                client_key=client_key,
                now=timezone.now(),
            )
        except DomainError:
            return None
        if request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):
            return None  # a cookie to set: not on this path (an accepted token never needs one)
        content = json.dumps(checkin_body(outcome)).encode()
        headers = [
            ("Content-Type", "application/json; charset=utf-8"),
            ("Content-Length", str(len(content))),
            *self.headers[request.is_secure()],
            ("Content-Language", self.language(request)),
        ]
        if refresh:
            session[LAST_SEEN_KEY] = now_s
            # Django's session middleware saves it and sets the cookie again, on a stand-in answer.
            saved = self.session_middleware.process_response(request, HttpResponse())
            headers += [("Set-Cookie", c.output(header="")) for c in saved.cookies.values()]
        return headers, content

    def language(self, request: WSGIRequest) -> str:
        """LocaleMiddleware's Content-Language: the language chosen by the cookie or Accept-Language."""
        key = (request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, ""), request.META.get("HTTP_ACCEPT_LANGUAGE", ""))
        found = self.languages.get(key)
        if found is None:
            found = translation.get_language_from_request(request)
            if len(self.languages) > 1000:
                self.languages.clear()
            self.languages[key] = found
        return found


class _Answer(list[bytes]):
    """The body; closing it (the server does) sends request_finished, as Django's responses do."""

    def close(self) -> None:
        signals.request_finished.send(sender=CheckinFastPath)


def _middleware_headers(secure: bool) -> list[tuple[str, str]]:
    """The headers Django's middlewares add to a JSON answer of a signed-in session (security,
    clickjacking; Vary from the locale and session middlewares), on a request of this scheme."""
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": PATH, "wsgi.input": io.BytesIO(), "SERVER_NAME": "x"}
    environ["SERVER_PORT"] = "443" if secure else "80"
    environ["wsgi.url_scheme"] = "https" if secure else "http"
    if settings.SECURE_PROXY_SSL_HEADER and secure:
        header, value = settings.SECURE_PROXY_SSL_HEADER
        environ[header] = value
    request = WSGIRequest(environ)
    response = HttpResponse(b"", content_type="application/json; charset=utf-8")
    response = SecurityMiddleware(_no_response).process_response(request, response)
    response = XFrameOptionsMiddleware(_no_response).process_response(request, response)
    patch_vary_headers(response, ("Accept-Language", "Cookie"))
    return [(k, v) for k, v in response.items() if k not in ("Content-Type", "Content-Length")]


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
