"""Idle timeout: a session unused for SESSION_IDLE_SECONDS is ended; and the signed-in user read
through the cache (accounts.sessions.session_user).

The last-seen time is written at most once a minute, so a busy page does not turn every request
into a session write; on PostgreSQL that write does not wait for the WAL flush (accounts.sessions).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.middleware import AuthenticationMiddleware as DjangoAuthenticationMiddleware
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from accounts.sessions import session_user

KEY = "_fy_last_seen"
REFRESH_SECONDS = 60  # the last-seen time is written back when it is older than this


class AuthenticationMiddleware(DjangoAuthenticationMiddleware):
    """Django's, with ``request.user`` from ``session_user`` (the user row cached for a few seconds)."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _user(request))  # type: ignore[assignment]


def _user(request: HttpRequest) -> object:
    if not hasattr(request, "_cached_user"):
        request._cached_user = session_user(request)  # type: ignore[attr-defined]
    return request._cached_user  # type: ignore[attr-defined]


class IdleTimeoutMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            last = request.session.get(KEY)
            if last is not None and now - int(last) > settings.SESSION_IDLE_SECONDS:
                logout(request)
            elif last is None or now - int(last) > REFRESH_SECONDS:
                request.session[KEY] = now
        return self.get_response(request)
