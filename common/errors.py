"""Domain errors: a machine code for the API and a user-safe (translated) message for the UI."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refusal by the domain. Views map ``status`` to the HTTP answer; nothing was changed."""

    status = 400

    def __init__(self, code: str, message: Any, *, status: int | None = None, **details: Any) -> None:
        super().__init__(str(message))
        self.code = code
        self.message = message
        self.details = details
        if status is not None:
            self.status = status


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409


class Throttled(DomainError):
    status = 429
