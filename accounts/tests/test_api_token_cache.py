"""A bearer token, its user and their memberships are cached for a few seconds: a revoked token, a
deactivated user or a removed role stops working at once when saved through the models, and within
API_TOKEN_CACHE_SECONDS when changed behind the models' back (a queryset update, another process)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.core.cache import cache

from accounts.models import ApiToken, Membership
from accounts.roles import Role
from accounts.services import api_token_create, token_cache_seconds
from audit.services import Actor

NOW = dt.datetime(2026, 11, 29, 8, 0, tzinfo=dt.UTC)
ME = "/api/v1/me"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def token(alice):
    token, raw = api_token_create(actor=Actor.system(), user=alice, name="sentinel")
    return token, {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def roles(client, auth):
    response = client.get(ME, **auth)
    return response.status_code, [m["role"] for m in response.json().get("memberships", [])]


def test_a_warm_token_costs_no_query(client, token, clock, django_assert_num_queries):
    _token, auth = token
    assert roles(client, auth) == (200, ["grid_worker"])
    with django_assert_num_queries(0):
        assert roles(client, auth) == (200, ["grid_worker"])


def test_a_wrong_secret_is_refused_even_when_the_token_is_cached(client, token, clock):
    _token, auth = token
    assert client.get(ME, **auth).status_code == 200
    assert client.get(ME, HTTP_AUTHORIZATION=auth["HTTP_AUTHORIZATION"] + "x").status_code == 401
    assert client.get(ME, HTTP_AUTHORIZATION=auth["HTTP_AUTHORIZATION"][:-1]).status_code == 401


def test_a_revoked_token_stops_at_once(client, token, clock):
    token, auth = token
    assert client.get(ME, **auth).status_code == 200
    token.revoked_at = NOW
    token.save(update_fields=["revoked_at"])
    assert client.get(ME, **auth).status_code == 401


def test_a_token_revoked_behind_the_models_back_stops_within_the_cache_life(client, token, clock):
    token, auth = token
    assert client.get(ME, **auth).status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=NOW)
    clock.shift(token_cache_seconds() + 0.01)
    assert client.get(ME, **auth).status_code == 401


def test_a_deactivated_user_stops_at_once(client, alice, token, clock):
    _token, auth = token
    assert client.get(ME, **auth).status_code == 200
    alice.is_active = False
    alice.save()
    assert client.get(ME, **auth).status_code == 401


def test_a_removed_membership_stops_at_once(client, alice, district, token, clock):
    _token, auth = token
    assert roles(client, auth) == (200, ["grid_worker"])
    Membership.objects.filter(user=alice).delete()
    assert roles(client, auth) == (200, [])
    Membership.objects.create(user=alice, area=district.community, role=Role.COMMUNITY_ADMIN)
    assert roles(client, auth) == (200, ["community_admin"])


def test_a_role_changed_behind_the_models_back_changes_within_the_cache_life(client, alice, token, clock):
    _token, auth = token
    assert roles(client, auth) == (200, ["grid_worker"])
    Membership.objects.filter(user=alice).update(role=Role.SAMPLER)
    clock.shift(token_cache_seconds() - 0.5)
    assert roles(client, auth) == (200, ["grid_worker"])  # still cached: the documented delay
    clock.shift(0.51)
    assert roles(client, auth) == (200, ["sampler"])


def test_last_use_is_recorded_once_a_minute(client, token, clock):
    token, auth = token
    client.get(ME, **auth)
    token.refresh_from_db()
    assert token.last_used_at == NOW
    clock.shift(30)
    client.get(ME, **auth)
    token.refresh_from_db()
    assert token.last_used_at == NOW
    clock.shift(31)
    client.get(ME, **auth)
    token.refresh_from_db()
    assert token.last_used_at == NOW + dt.timedelta(seconds=61)
