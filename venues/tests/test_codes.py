"""Forged, tampered, truncated, oversized and non-UTF-8 codes, and rotation."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from audit.services import Actor
from venues import services
from venues.codes import make_code_token, read_code_token
from venues.models import CheckIn, CheckinRequest, Entrance
from venues.tests.conftest import token_of

pytestmark = pytest.mark.django_db


def test_token_round_trip(settings: Any) -> None:
    assert read_code_token(make_code_token(123456)) == 123456
    assert len(make_code_token(1)) == 28


def _tampered(token: str) -> str:
    i = 12
    return token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]


@pytest.mark.parametrize(
    "mutate",
    [
        _tampered,
        lambda t: t[:-1],  # truncated
        lambda t: t + "A" * 5000,  # oversized
        lambda t: "AQAAAAAAAAABAAAAAAAAAAAAAAAA",  # forged: a valid shape without the key
        lambda t: t[:-3] + "%FF",  # not UTF-8 once decoded
        lambda t: "场所码" * 5,
    ],
)
def test_bad_codes_are_refused_and_write_nothing(resident_client: Client, token: str, mutate: Any) -> None:
    bad = mutate(token)
    for r in (resident_client.get(f"/v/{bad}/"), resident_client.post(f"/v/{bad}/", {"client_key": "key-00000009"})):
        assert r.status_code == 400
        assert "无效场所码" in r.content.decode()
    assert CheckIn.objects.count() == 0 and CheckinRequest.objects.count() == 0


def test_rotation_invalidates_old_posters(resident_client: Client, venue: Any, vm_client: Client) -> None:
    old = token_of(venue)
    entrance = Entrance.objects.get(venue=venue, number=1)
    r = vm_client.post(f"/venues/{venue.pk}/entrances/{entrance.pk}/rotate/")
    assert r.status_code == 302
    refused = resident_client.post(f"/v/{old}/", {"client_key": "key-00000001"})
    assert refused.status_code == 410
    assert "不再有效" in refused.content.decode() or "no longer valid" in refused.content.decode()
    assert CheckIn.objects.count() == 0
    new = token_of(venue)
    assert new != old
    assert resident_client.post(f"/v/{new}/", {"client_key": "key-00000002"}).status_code == 302
    assert CheckIn.objects.count() == 1


def test_revoked_entrance_refuses(resident_client: Client, venue: Any, vm: Any) -> None:
    old = token_of(venue, 2)
    services.code_revoke(
        actor=Actor(user=vm),
        entrance=Entrance.objects.get(venue=venue, number=2),
        now=__import__("django.utils.timezone").utils.timezone.now(),
    )
    assert resident_client.post(f"/v/{old}/", {"client_key": "key-00000003"}).status_code == 410
