"""POST /api/v1/health/verify: for staff devices; never discloses ID number, phone or test history."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from accounts.roles import Role
from audit.models import AuditEntry
from conftest import make_user
from health import selectors, services

NOW = dt.datetime(2022, 4, 20, 8, 0, tzinfo=dt.UTC)
URL = "/api/v1/health/verify"


@pytest.fixture
def sentinel(district):
    return make_user("sentinel", Role.VENUE_MANAGER, district.grid_b)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_verify_by_token(client, sentinel, person_a, frozen):
    services.result_recorded(person_id=person_a.pk, sample_ref="T", result="negative", pooled=True,
                             sampled_at=NOW - dt.timedelta(hours=30), now=NOW)
    token, _ = selectors.health_token_for(person_a.pk, now=NOW)
    client.force_login(sentinel)
    r = client.post(URL, {"token": token}, content_type="application/json")
    assert r.status_code == 200
    body = r.json()
    assert body["colour"] == "green" and body["name"] == "张*" and body["badge"] == "48h"
    assert body["hours_since_negative"] == 30.0 and body["server_time"].startswith("2022-04-20")
    text = r.content.decode()
    assert person_a.id_number not in text and person_a.phone not in text and "history" not in body
    assert AuditEntry.objects.filter(action="health.verified", object_id=str(person_a.pk)).count() == 1


def test_verify_by_id_number_fallback(client, sentinel, person_a, frozen):
    client.force_login(sentinel)
    r = client.post(URL, {"id_number": person_a.id_number.lower()}, content_type="application/json")
    assert r.status_code == 200 and r.json()["colour"] == "green"
    assert AuditEntry.objects.get(action="health.verified").extra["method"] == "id_number"


@pytest.mark.parametrize("payload,code", [
    ({"token": "A" * 42}, "token_invalid"),
    ({"token": "short"}, "token_invalid"),
    ({}, "token_required"),
])
def test_bad_tokens(client, sentinel, payload, code):
    client.force_login(sentinel)
    r = client.post(URL, payload, content_type="application/json")
    assert r.status_code == 400 and r.json()["code"] == code


def test_expired_token(client, sentinel, person_a):
    token, _ = selectors.health_token_for(person_a.pk, now=NOW - dt.timedelta(minutes=5))
    client.force_login(sentinel)
    r = client.post(URL, {"token": token}, content_type="application/json")
    assert r.status_code == 400 and r.json()["code"] == "token_expired"


def test_a_grid_worker_may_not_verify(client, alice, person_a):
    token, _ = selectors.health_token_for(person_a.pk, now=dt.datetime.now(dt.UTC))
    client.force_login(alice)
    r = client.post(URL, {"token": token}, content_type="application/json")
    assert r.status_code == 403 and r.json()["code"] == "verify_forbidden"


def test_anonymous_is_refused(client):
    assert client.post(URL, {"token": "x"}, content_type="application/json").status_code == 401


def test_get_is_not_allowed(client, sentinel):
    client.force_login(sentinel)
    assert client.get(URL).status_code == 405


def test_a_change_is_visible_at_once_through_the_cache(client, sentinel, person_a, frozen):
    client.force_login(sentinel)
    token, _ = selectors.health_token_for(person_a.pk, now=NOW)
    assert client.post(URL, {"token": token}, content_type="application/json").json()["colour"] == "green"
    services.companion_flagged(person_id=person_a.pk, case_ref="C-1", exposed_at=NOW, now=NOW)
    assert client.post(URL, {"token": token}, content_type="application/json").json()["colour"] == "yellow"


def test_verify_query_count(client, sentinel, person_a, frozen, django_assert_max_num_queries):
    client.force_login(sentinel)
    token, _ = selectors.health_token_for(person_a.pk, now=NOW)
    client.post(URL, {"token": token}, content_type="application/json")
    with django_assert_max_num_queries(6):
        client.post(URL, {"token": token}, content_type="application/json")


@pytest.fixture
def device(sentinel):
    """The sentinel's scanner: a bearer token, no session."""
    from django.test import Client

    from accounts.services import api_token_create
    from audit.services import Actor

    _token, raw = api_token_create(actor=Actor.system(), user=sentinel, name="gate scanner")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_a_device_verification_is_two_queries(device, person_a, person_b, frozen, django_assert_num_queries):
    """Once the token is warm: the status row (the person is not cached yet) and the audit row."""
    first, _ = selectors.health_token_for(person_a.pk, now=NOW)
    second, _ = selectors.health_token_for(person_b.pk, now=NOW)
    assert device.post(URL, {"token": first}, content_type="application/json").status_code == 200
    with django_assert_num_queries(2):
        r = device.post(URL, {"token": second}, content_type="application/json")
    assert r.status_code == 200 and r.json()["name"] == "李*"
    rows = AuditEntry.objects.filter(action="health.verified").order_by("id")
    assert [(e.object_type, e.object_id, e.actor_label, e.extra) for e in rows] == [
        ("people.person", str(person_a.pk), "sentinel", {"method": "token", "colour": "green"}),
        ("people.person", str(person_b.pk), "sentinel", {"method": "token", "colour": "green"}),
    ]
    assert rows[1].at == NOW and rows[1].ip == "127.0.0.1" and rows[1].reason == "" and rows[1].row_count == 1


def test_a_device_loses_verification_with_its_role(device, sentinel, person_a, frozen):
    from accounts.models import Membership

    token, _ = selectors.health_token_for(person_a.pk, now=NOW)
    assert device.post(URL, {"token": token}, content_type="application/json").status_code == 200
    Membership.objects.filter(user=sentinel).delete()
    r = device.post(URL, {"token": token}, content_type="application/json")
    assert r.status_code == 403 and r.json()["code"] == "verify_forbidden"
    assert AuditEntry.objects.filter(action="health.verified").count() == 1
