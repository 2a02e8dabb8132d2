from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest

from accounts.roles import Cap
from accounts.selectors import scope_for


def require_cap(request: HttpRequest, cap: Cap) -> None:
    if scope_for(request.user, cap).is_empty:
        raise Http404


def int_param(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        raise Http404 from None
