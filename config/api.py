"""The JSON API under /api/v1/: session auth for pages, bearer tokens for machine clients.

Every error is JSON with a machine ``code`` and a readable ``message``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError
from ninja.security import HttpBearer, SessionAuth

from accounts.services import api_token_authenticate
from common.errors import DomainError


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = api_token_authenticate(token, now=timezone.now())
        if user is not None:
            request.user = user
        return user


class CookieSessionAuth(SessionAuth):
    """django-ninja's session auth, for requests that carry a session cookie. It checks CSRF before it
    looks at the session, so a machine client with a wrong or revoked token (no cookie) was told "CSRF
    check Failed" (403) instead of the API's 401 ``unauthenticated``."""

    def __call__(self, request: HttpRequest) -> Any:
        if settings.SESSION_COOKIE_NAME not in request.COOKIES:
            return None
        return super().__call__(request)


api = NinjaAPI(
    title="Fangyi API",
    version="1",
    urls_namespace="api",
    # Bearer first: machine clients send a token and no cookie. The session check enforces CSRF and
    # would refuse them before the token is looked at.
    auth=[TokenAuth(), CookieSessionAuth()],
    docs_url="/docs",
)


def _error(request: HttpRequest, status: int, code: str, message: str, **details: Any) -> HttpResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return api.create_response(request, body, status=status)


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return _error(request, exc.status, exc.code, str(exc.message), **exc.details)


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, "not_found", "Not found.")


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(request, 401, "unauthenticated", "Sign in or send a valid API token.")


@api.exception_handler(ValidationError)
def invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return _error(request, 400, "invalid", "The request is not valid.", errors=exc.errors)


def register_routers() -> None:
    from accounts.api import router as accounts_router
    from health.api import router as health_router
    from people.api import router as people_router
    from territory.api import router as territory_router
    from testing.api import router as testing_router

    api.add_router("/me", accounts_router)
    api.add_router("/health", health_router)
    api.add_router("/people", people_router)
    api.add_router("/territory", territory_router)
    api.add_router("/testing", testing_router)
    from testing.api_rounds import router as testing_rounds_router

    api.add_router("/testing", testing_rounds_router)
    from venues.api import router as venues_router

    api.add_router("/venues", venues_router)


register_routers()
