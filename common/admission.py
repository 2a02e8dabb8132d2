"""Admission control: a bounded number of requests run at once in each server process.

Under a surge (a testing round announced, a whole district scanning at once) a server that queues
every request answers all of them late, and clients retry on top; the systems that collapsed in
2021-22 did exactly that. Here a request waits at most ADMISSION_QUEUE_WAIT_MS for one of
ADMISSION_MAX_CONCURRENT slots; past that it is answered 503 with Retry-After and a short Chinese
message. It is the outermost WSGI layer (config/wsgi.py), so a refusal is answered before Django
builds a request, touches the session or the database: refusing costs tens of microseconds, and the
admitted requests keep their speed.

Waiting, not refusing at once, is deliberate: a client that does not honour Retry-After (a load
generator, a retry loop in a phone app) comes straight back, and refusing it at once would spend the
CPU the admitted requests need on refusals. The wait is shorter than the 50 ms DESIGN §5 allows a
refusal. A slot is held while the application builds its response, not while a streamed body
(an export) is sent. Each server process must run more threads than the limit plus the waiters, or
the excess would queue inside the server where no one can refuse it (config/serve.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

MESSAGE_ZH = "系统繁忙，请稍后重试。"
MESSAGE_EN = "The service is busy. Please try again in a moment."

_HTML = (
    '<!doctype html><html lang="zh-hans"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    '<meta http-equiv="refresh" content="{retry}"><title>系统繁忙</title></head>'
    '<body style="font-family:sans-serif;padding:2rem;text-align:center">'
    "<h1>{zh}</h1><p>{en}</p><p>页面将在 {retry} 秒后自动重试。</p></body></html>"
)

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class AdmissionGate:
    """WSGI middleware: at most ``max_concurrent`` requests inside ``app`` at once (0: no limit)."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        max_concurrent: int,
        wait_ms: float,
        retry_after: int = 2,
        exempt: tuple[str, ...] = ("/static/",),
    ) -> None:
        self.app = app
        self.slots = threading.BoundedSemaphore(max_concurrent) if max_concurrent > 0 else None
        self.wait_seconds = wait_ms / 1000
        self.retry_after = retry_after
        self.exempt = exempt

    @classmethod
    def from_settings(cls, app: WSGIApp) -> AdmissionGate:
        from django.conf import settings

        policy = settings.FANGYI
        return cls(
            app,
            max_concurrent=int(policy.get("ADMISSION_MAX_CONCURRENT", 0)),
            wait_ms=float(policy.get("ADMISSION_QUEUE_WAIT_MS", 30)),
            retry_after=int(policy.get("ADMISSION_RETRY_AFTER_SECONDS", 2)),
            exempt=tuple(policy.get("ADMISSION_EXEMPT_PREFIXES", ("/static/",))),
        )

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if self.slots is None or environ.get("PATH_INFO", "").startswith(self.exempt):
            return self.app(environ, start_response)
        if not self.slots.acquire(timeout=self.wait_seconds):
            return self.reject(environ, start_response)
        try:
            return self.app(environ, start_response)
        finally:
            self.slots.release()

    def reject(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/api/") or "json" in environ.get("HTTP_ACCEPT", ""):
            body = json.dumps(
                {"code": "overloaded", "message": MESSAGE_ZH, "message_en": MESSAGE_EN}, ensure_ascii=False
            ).encode()
            content_type = "application/json; charset=utf-8"
        else:
            body = _HTML.format(zh=MESSAGE_ZH, en=MESSAGE_EN, retry=self.retry_after).encode()
            content_type = "text/html; charset=utf-8"
        start_response(
            "503 Service Unavailable",
            [
                ("Content-Type", content_type),
                ("Content-Length", str(len(body))),
                ("Retry-After", str(self.retry_after)),
                ("Cache-Control", "no-store"),
                ("X-Content-Type-Options", "nosniff"),
            ],
        )
        return [body]
