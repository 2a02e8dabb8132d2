"""Shared test personas. A small district with two grids, and one user per role.

- alice: grid worker of grid A (接庄社区1网格)
- bob: community admin of 接庄社区 (grids A and B)
- charlie: grid worker of grid B, the outsider for alice's people
- hq: command HQ over the whole district
- epi: epidemiologist over the whole district
- resident: a resident of household A-101, logged in by phone
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from accounts.models import Membership, User
from accounts.roles import Role
from people.tests.factories import PersonFactory
from territory.models import Area, AreaKind
from territory.services import area_create


@dataclass
class District:
    district: Area
    subdistrict: Area
    community: Area
    grid_a: Area
    grid_b: Area
    household_a: Area
    household_b: Area


def build_district() -> District:
    d = area_create(parent=None, kind=AreaKind.DISTRICT, name="济宁高新区")
    s = area_create(parent=d, kind=AreaKind.SUBDISTRICT, name="接庄街道")
    c = area_create(parent=s, kind=AreaKind.COMMUNITY, name="接庄社区")
    homes = []
    grids = []
    for n in (1, 2):
        g = area_create(parent=c, kind=AreaKind.GRID1, name=f"{n}网格")
        b = area_create(parent=g, kind=AreaKind.BUILDING, name=f"{n}号楼")
        u = area_create(parent=b, kind=AreaKind.UNIT, name="1单元")
        homes.append(area_create(parent=u, kind=AreaKind.HOUSEHOLD, name="101"))
        grids.append(g)
    return District(d, s, c, grids[0], grids[1], homes[0], homes[1])


def make_user(username: str, role: Role | None, area: Area | None, **extra: Any) -> User:
    user = User.objects.create_user(username=username, password="correct horse battery", **extra)
    if role is not None and area is not None:
        Membership.objects.create(user=user, area=area, role=role)
    return user


@pytest.fixture
def district(db: Any) -> District:
    return build_district()


@pytest.fixture
def alice(district: District) -> User:
    return make_user("alice", Role.GRID_WORKER, district.grid_a, display_name="网格员甲")


@pytest.fixture
def bob(district: District) -> User:
    return make_user("bob", Role.COMMUNITY_ADMIN, district.community)


@pytest.fixture
def charlie(district: District) -> User:
    return make_user("charlie", Role.GRID_WORKER, district.grid_b)


@pytest.fixture
def hq(district: District) -> User:
    return make_user("hq", Role.HQ, district.district)


@pytest.fixture
def epi(district: District) -> User:
    return make_user("epi", Role.EPIDEMIOLOGIST, district.district)


@pytest.fixture
def person_a(district: District) -> Any:
    return PersonFactory(area=district.household_a, name="张三", phone="13812345678")


@pytest.fixture
def person_b(district: District) -> Any:
    return PersonFactory(area=district.household_b, name="李四")


@pytest.fixture
def resident(person_a: Any) -> User:
    user = User.objects.create_user(username="r13812345678", phone=person_a.phone, person=person_a)
    return user


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def browser() -> Any:
    """Debian's chromium driven by Playwright (never a downloaded browser)."""
    import os

    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop; Django must still allow its ORM in the test thread.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def phone_page(browser: Any) -> Any:
    """A phone-sized page, in Chinese like a phone in the district."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True)
    page = context.new_page()
    yield page
    context.close()
