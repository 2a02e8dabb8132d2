"""Admission control: the excess of a surge is answered 503 at once, and the server recovers."""

from __future__ import annotations

import json
import threading
from typing import Any

from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from venues.admission import AdmissionControlMiddleware


def _policy(settings: Any, **kw: Any) -> dict[str, Any]:
    return {**settings.FANGYI, "ADMISSION_MAX_CONCURRENT": 2, "ADMISSION_QUEUE_WAIT_MS": 10, **kw}


def test_excess_is_rejected_with_retry_after_and_a_chinese_message(settings: Any) -> None:
    release = threading.Event()
    entered = threading.Semaphore(0)

    def slow(request: Any) -> HttpResponse:
        entered.release()
        release.wait(5)
        return HttpResponse("ok")

    with override_settings(FANGYI=_policy(settings)):
        mw = AdmissionControlMiddleware(slow)
    rf = RequestFactory()
    results: list[int] = []
    workers = [threading.Thread(target=lambda: results.append(mw(rf.get("/v/x/")).status_code)) for _ in range(2)]
    for w in workers:
        w.start()
    entered.acquire(timeout=5)
    entered.acquire(timeout=5)
    rejected = mw(rf.post("/api/v1/venues/checkins"))
    assert rejected.status_code == 503 and rejected["Retry-After"] == "2"
    assert "系统繁忙" in json.loads(rejected.content)["message"]
    page = mw(rf.get("/v/abc/"))
    assert (
        page.status_code == 503 and "系统繁忙" in page.content.decode() and page["Content-Type"].startswith("text/html")
    )
    release.set()
    for w in workers:
        w.join()
    assert results == [200, 200]
    # Recovered: the next request is admitted.
    assert mw(rf.get("/v/x/")).status_code == 200


def test_disabled_with_zero(settings: Any) -> None:
    with override_settings(FANGYI=_policy(settings, ADMISSION_MAX_CONCURRENT=0)):
        mw = AdmissionControlMiddleware(lambda r: HttpResponse("ok"))
    assert mw.slots is None and mw(RequestFactory().get("/")).status_code == 200
