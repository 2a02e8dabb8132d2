"""Admission control: the excess of a surge is answered 503 quickly, and the server recovers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from typing import Any

from django.test import override_settings

from common.admission import AdmissionGate


def _environ(path: str, accept: str = "") -> dict[str, Any]:
    return {"PATH_INFO": path, "REQUEST_METHOD": "GET", "HTTP_ACCEPT": accept}


class Answer:
    def __init__(self) -> None:
        self.status = ""
        self.headers: dict[str, str] = {}

    def __call__(self, status: str, headers: list[tuple[str, str]]) -> None:
        self.status, self.headers = status, dict(headers)


def _call(gate: AdmissionGate, environ: dict[str, Any]) -> tuple[Answer, bytes]:
    answer = Answer()
    body = b"".join(gate(environ, answer))
    return answer, body


def test_excess_is_rejected_quickly_with_retry_after_and_a_chinese_message() -> None:
    release = threading.Event()
    entered = threading.Semaphore(0)

    def slow(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        entered.release()
        release.wait(5)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    gate = AdmissionGate(slow, max_concurrent=2, wait_ms=10)
    results: list[str] = []
    workers = [
        threading.Thread(target=lambda: results.append(_call(gate, _environ("/v/x/"))[0].status)) for _ in range(2)
    ]
    for w in workers:
        w.start()
    assert entered.acquire(timeout=5) and entered.acquire(timeout=5)
    t0 = time.perf_counter()
    answer, body = _call(gate, _environ("/api/v1/venues/checkins"))
    waited_ms = (time.perf_counter() - t0) * 1000
    assert answer.status.startswith("503") and answer.headers["Retry-After"] == "2"
    assert json.loads(body)["code"] == "overloaded" and json.loads(body)["message"] == "系统繁忙，请稍后重试。"
    assert 10 <= waited_ms < 50  # it waited for a slot, then refused well within DESIGN §5's 50 ms
    page, html = _call(gate, _environ("/v/abc/", accept="text/html"))
    assert page.status.startswith("503") and "系统繁忙" in html.decode()
    assert page.headers["Content-Type"].startswith("text/html")
    release.set()
    for w in workers:
        w.join()
    assert results == ["200 OK", "200 OK"]
    # Recovered: the next request is admitted.
    assert _call(gate, _environ("/v/x/"))[0].status == "200 OK"


def test_static_files_are_never_refused() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [])
        return [b"css"]

    gate = AdmissionGate(app, max_concurrent=1, wait_ms=1)
    assert gate.slots is not None
    gate.slots.acquire()  # the only slot is busy
    assert _call(gate, _environ("/static/app.css"))[0].status == "200 OK"
    assert _call(gate, _environ("/v/x/"))[0].status.startswith("503")


def test_disabled_with_zero(settings: Any) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [])
        return [b"ok"]

    with override_settings(FANGYI={**settings.FANGYI, "ADMISSION_MAX_CONCURRENT": 0}):
        gate = AdmissionGate.from_settings(app)
    assert gate.slots is None and _call(gate, _environ("/"))[0].status == "200 OK"


def test_the_served_application_is_gated() -> None:
    from config.wsgi import application

    assert isinstance(application, AdmissionGate)
