"""Admission control: a bounded number of requests run at once in each server process.

Under a surge (a testing round announced, a whole district scanning at once) a server that queues
every request answers all of them late, and clients retry on top; the systems that collapsed in
2021-22 did exactly that. Here a request waits at most a few milliseconds for a slot; past that it is
answered 503 with Retry-After and a short Chinese message, before sessions, the database or
templates are touched, so rejecting costs almost nothing and the admitted requests keep their speed.
The gunicorn worker must run more threads than the limit, or the excess would queue inside gunicorn
where this middleware never sees it (see gunicorn.conf.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

MESSAGE_ZH = "系统繁忙，请稍后重试。"
MESSAGE_EN = "The service is busy. Please try again in a moment."

_HTML = (
    '<!doctype html><html lang="zh-hans"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    '<meta http-equiv="refresh" content="{retry}"><title>系统繁忙</title></head>'
    '<body style="font-family:sans-serif;padding:2rem;text-align:center">'
    "<h1>{zh}</h1><p>{en}</p><p>页面将在 {retry} 秒后自动重试。</p></body></html>"
)


class AdmissionControlMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        policy = settings.FANGYI
        limit = int(policy.get("ADMISSION_MAX_CONCURRENT", 0))
        self.slots = threading.BoundedSemaphore(limit) if limit > 0 else None
        self.wait_seconds = float(policy.get("ADMISSION_QUEUE_WAIT_MS", 20)) / 1000
        self.retry_after = int(policy.get("ADMISSION_RETRY_AFTER_SECONDS", 2))
        self.exempt = tuple(policy.get("ADMISSION_EXEMPT_PREFIXES", ("/static/",)))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.slots is None or request.path.startswith(self.exempt):
            return self.get_response(request)
        if not self.slots.acquire(timeout=self.wait_seconds):
            return self.reject(request)
        try:
            return self.get_response(request)
        finally:
            self.slots.release()

    def reject(self, request: HttpRequest) -> HttpResponse:
        wants_json = request.path.startswith("/api/") or "json" in request.headers.get("Accept", "")
        if wants_json:
            body = json.dumps(
                {"code": "overloaded", "message": MESSAGE_ZH, "message_en": MESSAGE_EN}, ensure_ascii=False
            )
            response = HttpResponse(body, status=503, content_type="application/json; charset=utf-8")
        else:
            html = _HTML.format(zh=MESSAGE_ZH, en=MESSAGE_EN, retry=self.retry_after)
            response = HttpResponse(html, status=503, content_type="text/html; charset=utf-8")
        response["Retry-After"] = str(self.retry_after)
        response["Cache-Control"] = "no-store"
        return response
