"""The sentinel (typed ID number, scanned health code) and the JSON check-in API."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from health import selectors as health_selectors
from venues.models import CheckIn

pytestmark = pytest.mark.django_db


def test_sentinel_with_a_typed_id_number(vm_client: Client, venue: Any, person_a: Any) -> None:
    entrance = venue.entrances.get(number=1)
    r = vm_client.post(
        f"/venues/{venue.pk}/sentinel/",
        {"entrance": entrance.pk, "code": person_a.id_number.lower(), "client_key": "sent-00001"},
    )
    assert r.status_code == 200
    page = r.content.decode()
    assert 'data-verdict="allow"' in page and "张*" in page and "通行" in page
    row = CheckIn.objects.get()
    assert (row.person_id, row.method, row.account_id) == (person_a.pk, "sentinel", venue.manager_id)
    # The same submission again (a retry) records nothing more.
    vm_client.post(
        f"/venues/{venue.pk}/sentinel/",
        {"entrance": entrance.pk, "code": person_a.id_number, "client_key": "sent-00001"},
    )
    assert CheckIn.objects.count() == 1


def test_sentinel_with_a_scanned_health_code(vm_client: Client, venue: Any, person_a: Any) -> None:
    token, _exp = health_selectors.health_token_for(person_a.pk, now=dt.datetime.now(dt.UTC))
    entrance = venue.entrances.get(number=2)
    r = vm_client.post(
        f"/venues/{venue.pk}/sentinel/", {"entrance": entrance.pk, "code": token, "client_key": "sent-00002"}
    )
    assert r.status_code == 200 and CheckIn.objects.get().entrance_id == entrance.pk


def test_sentinel_refuses_a_bad_code_and_writes_nothing(vm_client: Client, venue: Any) -> None:
    entrance = venue.entrances.get(number=1)
    r = vm_client.post(
        f"/venues/{venue.pk}/sentinel/", {"entrance": entrance.pk, "code": "garbage", "client_key": "sent-00003"}
    )
    assert r.status_code == 400 and CheckIn.objects.count() == 0


def test_api_checkin_and_retry(resident_client: Client, token: str, person_a: Any) -> None:
    body = {"code": token, "client_key": "api-0000001"}
    first = resident_client.post("/api/v1/venues/checkins", body, content_type="application/json")
    assert first.status_code == 200, first.content
    again = resident_client.post("/api/v1/venues/checkins", body, content_type="application/json")
    assert again.json()["entries"] == first.json()["entries"] and again.json()["replayed"] is True
    assert first.json()["entries"][0]["verdict"] == "allow"
    assert CheckIn.objects.count() == 1


def test_api_refuses_a_tampered_code(resident_client: Client, token: str) -> None:
    r = resident_client.post(
        "/api/v1/venues/checkins",
        {"code": token[:12] + ("A" if token[12] != "A" else "B") + token[13:], "client_key": "api-0000002"},
        content_type="application/json",
    )
    assert r.status_code == 400 and r.json()["code"] == "venue_code_invalid" and r.json()["message"] == "无效场所码"
    assert CheckIn.objects.count() == 0
