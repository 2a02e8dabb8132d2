"""Helpers for the fast paths' tests (venues and testing): requests sent as WSGI environs to a fast path
in front of Django's handler, and to Django alone."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections


@pytest.fixture(autouse=True)
def keep_the_test_connection() -> Iterator[None]:
    """As Django's test client does: the request signals must not close the test's connection. Autouse
    in every test module that imports it."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


class Recorder:
    """Django's WSGI handler, noting whether it was asked."""

    def __init__(self) -> None:
        self.django = WSGIHandler()
        self.calls = 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        self.calls += 1
        return self.django(environ, start_response)


def call_wsgi(app: Any, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], Any]:
    """(status, headers, body: parsed JSON, or the bytes if it is not JSON) of one request."""
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answer["status"], answer["headers"] = int(status.split()[0]), headers

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    try:
        data = json.loads(body)
    except ValueError:
        data = body
    return answer["status"], answer["headers"], data
