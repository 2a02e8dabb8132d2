"""Venue personas: vm, the manager of 接庄超市 in grid A; a resident (张三) and her household."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.roles import Role
from audit.services import Actor
from conftest import District, make_user
from people.tests.factories import PersonFactory
from venues import services
from venues.codes import make_code_token
from venues.models import Venue, VenueCode

T0 = dt.datetime(2022, 4, 20, 10, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def make_venue(
    district: District,
    *,
    manager: Any = None,
    name: str = "接庄超市",
    category: str = "supermarket",
    lat: str | None = "35.4100",
    lon: str | None = "116.5900",
    grid: Any = None,
    now: dt.datetime | None = None,
    approve: bool = True,
) -> Venue:
    grid = grid or district.grid_a
    venue = services.venue_apply(
        actor=Actor(user=manager),
        data=services.VenueData(
            name=name,
            category=category,
            address="接庄街道崇文大道1号",
            contact_name="店长",
            contact_phone="13900000000",
            committed=True,
            entrance_names=("正门", "后门"),
            latitude=Decimal(lat) if lat else None,
            longitude=Decimal(lon) if lon else None,
        ),
        grid=grid,
        manager=manager,
        now=now or dt.datetime.now(dt.UTC),
    )
    if approve and venue.status != "approved":
        venue.status = "approved"
        venue.save(update_fields=["status"])
    return venue


def token_of(venue: Venue, number: int = 1) -> str:
    code = VenueCode.objects.get(entrance__venue=venue, entrance__number=number, revoked_at__isnull=True)
    return make_code_token(code.pk)


@pytest.fixture
def vm(district: District) -> Any:
    return make_user("vm", Role.VENUE_MANAGER, district.grid_a, display_name="场所管理员")


@pytest.fixture
def venue(district: District, vm: Any) -> Venue:
    return make_venue(district, manager=vm)


@pytest.fixture
def token(venue: Venue) -> str:
    return token_of(venue)


@pytest.fixture
def family_member(district: District, person_a: Any) -> Any:
    return PersonFactory(area=district.household_a, name="张小妹")


@pytest.fixture
def resident_client(resident: Any) -> Client:
    c = Client()
    c.force_login(resident)
    return c


@pytest.fixture
def vm_client(vm: Any) -> Client:
    c = Client()
    c.force_login(vm)
    return c
