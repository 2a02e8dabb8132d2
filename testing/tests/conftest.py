"""Fixtures of the testing app: a 10-in-1 round over the shared small district, a site in grid A
with a sampler, two laboratories with one account each (and a second account for reviews)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine

from accounts.roles import Role
from audit.services import Actor
from conftest import make_user
from testing import services
from testing.models import LaboratoryMember

NOW = dt.datetime(2022, 4, 20, 7, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> Any:
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def lab(db: Any) -> Any:
    return services.laboratory_create(actor=Actor.system(), name="济宁检测中心", now=NOW)


@pytest.fixture
def other_lab(db: Any) -> Any:
    return services.laboratory_create(actor=Actor.system(), name="邻区检测所", now=NOW)


@pytest.fixture
def rnd(district: Any, hq: Any, lab: Any) -> Any:
    return services.round_create(
        actor=Actor(hq), name="第四轮", area=district.district, pool_size=10, starts_at=NOW, laboratory=lab, now=NOW
    )


@pytest.fixture
def site(rnd: Any, district: Any) -> Any:
    return services.site_create(
        actor=Actor.system(),
        rnd=rnd,
        name="15网格检测点",
        location="接庄社区广场",
        grid=district.grid_a,
        hours="07:00-19:00",
        now=NOW,
    )


@pytest.fixture
def sampler(district: Any) -> Any:
    return make_user("sampler", Role.SAMPLER, district.grid_a, display_name="采样员甲")


@pytest.fixture
def lab_user(district: Any, lab: Any) -> Any:
    user = make_user("labuser", Role.LAB, district.district)
    LaboratoryMember.objects.create(user=user, laboratory=lab)
    return user


@pytest.fixture
def lab_reviewer(district: Any, lab: Any) -> Any:
    user = make_user("labreviewer", Role.LAB, district.district)
    LaboratoryMember.objects.create(user=user, laboratory=lab)
    return user


@pytest.fixture
def other_lab_user(district: Any, other_lab: Any) -> Any:
    user = make_user("otherlab", Role.LAB, district.district)
    LaboratoryMember.objects.create(user=user, laboratory=other_lab)
    return user


def token(person: Any, now: dt.datetime = NOW) -> str:
    from testing.health_port import sampling_token_for

    return sampling_token_for(person.pk, now=now)


def fill_tube(site: Any, sampler: Any, barcode: str, people: list[Any], *, seal: bool = True) -> Any:
    tube = services.tube_open(actor=Actor(sampler), site=site, barcode=barcode, now=NOW)
    for p in people:
        services.sample_register(actor=Actor(sampler), tube=tube, code=token(p), now=NOW)
    if seal:
        tube = services.tube_seal(actor=Actor(sampler), tube=tube, now=NOW)
    return tube
