"""Fast paths: the few JSON API requests that come in floods, answered beneath Django's request cycle.

A resident's check-in (``venues.fastpath``) and a sampler's scan (``testing.fastpath``) are the requests
of a surge. Django's full stack (request handler, eleven middlewares, URL resolution, django-ninja's
authentication, validation and rendering) costs about half a millisecond of CPU per request on its
own, a quarter of the budget DESIGN §5 leaves a check-in on two cores. ``JsonFastPath`` is a WSGI layer
(config/wsgi.py) that answers the ordinary case of its paths itself and hands everything else to Django:

- It reuses Django's parts rather than copying them: ``WSGIRequest``, the host check, the session
  store (``accounts.sessions``), Django's CSRF middleware (as django-ninja's session auth calls it), the
  bearer-token check of the API (``api_token_authenticate``), the security and clickjacking
  middlewares for the response headers, the locale negotiation, and the same selectors and services
  as the API views.
- It handles a signed-in session with a valid CSRF token, or (where a subclass allows it) a bearer
  token sent without a session cookie, and a JSON object as the body; a last-seen time over a minute
  old is written back as Django's idle-timeout middleware would. Anything else (no or expired session,
  a session idle too long, a bad CSRF token or bearer token, a disallowed host, a plain-HTTP request
  that production redirects, a malformed body, anything the subclass declines, any exception) falls
  through to Django, which answers it as before: by then the fast path has written nothing, or has
  written under the request's idempotency key, which Django then answers as a replay.
- It fires Django's request_started and request_finished signals, so database connections are checked
  and recycled as for any request, and skips the ``SELECT 1`` health check: if the connection has
  died, the first statement fails, Django's handler (below) closes the connection and answers on a
  new one.

Each subclass's tests send the same requests through both and compare status, body and headers.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterable
from http import HTTPStatus
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
from django.utils.log import log_response

from accounts.middleware import KEY as LAST_SEEN_KEY
from accounts.middleware import REFRESH_SECONDS
from accounts.services import api_token_authenticate
from accounts.sessions import SessionStore, quick_session_user

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
Answer = tuple[int, Any]  # (status, JSON-able body)


def _no_response(request: Any) -> HttpResponse:  # the middlewares' get_response, never called here
    raise AssertionError("not reached")


def _view(request: Any) -> HttpResponse:  # what CSRF's process_view is shown: a view, not exempt
    raise AssertionError("not reached")


class JsonFastPath:
    """WSGI middleware in front of Django for the POST endpoints of ``paths``; a subclass answers them in
    ``answer`` and sets ``max_body`` and ``allow_token``."""

    paths: frozenset[str] = frozenset()
    max_body = 1024
    allow_token = False  # a bearer token (machine clients) as well as a session
    translates = True  # the answer has messages: the request's language is activated for ``answer``

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.csrf = CsrfViewMiddleware(_no_response)
        self.session_middleware = SessionMiddleware(_no_response)
        # The answer's headers are the same for every request but for the scheme (HSTS) and the
        # language: Django's middlewares write them once here, on a sample answer of each scheme.
        self.headers = {secure: _middleware_headers(secure) for secure in (False, True)}
        self.languages: dict[tuple[str, str], str] = {}

    def answer(self, request: WSGIRequest, payload: dict[str, Any]) -> Answer | None:
        """(status, body) of the API view for this request (``request.user`` signed in, the language of
        the request active), or None to let Django answer."""
        raise NotImplementedError

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") not in self.paths or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        if "HTTP_AUTHORIZATION" in environ and not self.allow_token:  # the token auth is Django's
            return self.app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= self.max_body:
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)  # whoever reads next (Django) reads it again
        signals.request_started.send(sender=self.__class__, environ=environ)
        connection.health_check_done = True  # type: ignore[attr-defined]  # see the module's docstring
        try:
            response = self.handle(environ, body)
        except Exception:
            log.exception("%s failed; Django answers", type(self).__name__)
            response = None
        if response is None:
            environ["wsgi.input"] = io.BytesIO(body)
            signals.request_finished.send(sender=self.__class__)  # Django's handler starts its own
            return self.app(environ, start_response)
        status, headers, content = response
        reason = HTTPStatus(status).phrase
        if status >= 400:  # as Django's handler logs a refusal (django.request, a warning)
            log_response("%s: %s", reason, environ.get("PATH_INFO"), response=HttpResponse(status=status))
        # The body is built: the request is finished for Django (its connection checked and recycled as
        # after any request). Django sends this when the server closes the body; a server need not
        # close a plain list (granian does not), so it is sent here.
        signals.request_finished.send(sender=self.__class__)
        start_response(f"{status} {reason}", headers)
        return [content]

    def handle(self, environ: dict[str, Any], body: bytes) -> tuple[int, list[tuple[str, str]], bytes] | None:
        """The answer (status, headers, body) to an ordinary request, or None to let Django answer."""
        request = WSGIRequest(environ)
        try:
            request.get_host()  # ALLOWED_HOSTS
        except DisallowedHost:
            return None
        if settings.SECURE_SSL_REDIRECT and not request.is_secure():
            return None
        last_seen = self.authenticate(request)
        if last_seen is None:
            return None
        try:
            payload = json.loads(body)
        except ValueError:
            return None
        if not isinstance(payload, dict):
            return None
        language = self.language(request)
        if self.translates:
            with translation.override(language):  # as LocaleMiddleware activates it
                answer = self.answer(request, payload)
        else:
            answer = self.answer(request, payload)
        if answer is None:
            return None
        if request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):
            return None  # a cookie to set: not on this path (an accepted token never needs one)
        content = json.dumps(answer[1]).encode()
        headers = [
            ("Content-Type", "application/json; charset=utf-8"),
            ("Content-Length", str(len(content))),
            *self.headers[request.is_secure()],
            ("Content-Language", language),
        ]
        if last_seen:
            request.session[LAST_SEEN_KEY] = last_seen
            # Django's session middleware saves it and sets the cookie again, on a stand-in answer.
            saved = self.session_middleware.process_response(request, HttpResponse())
            headers += [("Set-Cookie", c.output(header="")) for c in saved.cookies.values()]
        return answer[0], headers, content

    def authenticate(self, request: WSGIRequest) -> int | None:
        """Sets ``request.user`` from the bearer token or the session, as the API's auth would. Returns the
        session's last-seen time to write back (0 for none), or None if Django is to decide."""
        session_key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
        header = request.META.get("HTTP_AUTHORIZATION")
        if header is not None:
            # config.api.TokenAuth (django-ninja's HttpBearer), for a client without a session cookie.
            scheme, _sep, token = header.partition(" ")
            if session_key or scheme.lower() != "bearer" or not token:
                return None
            user = api_token_authenticate(token, now=timezone.now())
            if user is None:
                return None
            request.user = user
            return 0
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
        user = quick_session_user(session)
        if user is None:
            return None
        request.user = user
        self.csrf.process_request(request)
        if self.csrf.process_view(request, _view, (), {}) is not None:
            return None
        return now_s if now_s - last_seen > REFRESH_SECONDS else 0

    def language(self, request: WSGIRequest) -> str:
        """LocaleMiddleware's language: the one chosen by the cookie or Accept-Language."""
        key = (request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, ""), request.META.get("HTTP_ACCEPT_LANGUAGE", ""))
        found = self.languages.get(key)
        if found is None:
            found = translation.get_language_from_request(request)
            if len(self.languages) > 1000:
                self.languages.clear()
            self.languages[key] = found
        return found


def _middleware_headers(secure: bool) -> list[tuple[str, str]]:
    """The headers Django's middlewares add to a JSON answer of an API request (security, clickjacking;
    Vary from the locale and session middlewares), on a request of this scheme."""
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/api/", "wsgi.input": io.BytesIO(), "SERVER_NAME": "x"}
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
