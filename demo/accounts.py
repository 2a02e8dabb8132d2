"""Demo accounts: one per role, on sensible nodes of the demo district, all with one shared
password, plus a resident who logs in with a phone number and a one-time SMS code.

The password is hashed once and the hash reused: PBKDF2 costs about 0.3 s per call by design.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth.hashers import make_password
from django.db import transaction

from accounts.models import Department, Membership, User
from accounts.roles import Role
from demo.generator import data
from demo.generator.staff import INVESTMENT_BUREAU, PARK_CENTRE, departments_create
from people.models import Person
from territory.models import Area, AreaKind
from territory.selectors import subtree_q
from venues.models import Shop

DEMO_PASSWORD = "Fangyi-demo-2022"  # noqa: S105 — printed on screen on purpose: demo data only
RESIDENT_USERNAME = "resident"


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: Role
    where: str  # how the node is described on screen
    locate: Callable[[], Area]
    department: str = ""


def _district() -> Area:
    return Area.objects.get(parent=None, kind=AreaKind.DISTRICT, name=data.DISTRICT)


def _named(*names: str) -> Callable[[], Area]:
    """A node found by the names on its way down from the district."""

    def locate() -> Area:
        node = _district()
        for name in names:
            node = Area.objects.get(parent=node, name=name)
        return node

    return locate


def _estate(name: str) -> Callable[[], Area]:
    def locate() -> Area:
        return Area.objects.get(subtree_q(_district().path, "path"), kind=AreaKind.ESTATE, name=name)

    return locate


def _sampling_grid() -> Area:
    return _named(data.JIEZHUANG, data.JIEZHUANG_COMMUNITY, data.SAMPLING_GRID)()


def _first_building() -> Area:
    grid2 = Area.objects.get(parent=_sampling_grid(), name=data.RESIDENT_GRID2)
    building = (
        Area.objects.filter(subtree_q(grid2.path, "path"), kind=AreaKind.BUILDING).order_by("path").first()
    )
    return building or grid2


def _shop_grid() -> Area:
    grid = _named(data.JIEZHUANG, data.LONGCHENG_COMMUNITY, data.SHOP_PROMOTION_GRID)()
    shop = Shop.objects.filter(subtree_q(grid.path)).order_by("id").first()
    return shop.area if shop else grid


ACCOUNTS: list[DemoAccount] = [
    DemoAccount("hq", Role.HQ, data.DISTRICT, _district),
    DemoAccount("jz_admin", Role.SUBDISTRICT_ADMIN, data.JIEZHUANG, _named(data.JIEZHUANG)),
    DemoAccount("jzsq_admin", Role.COMMUNITY_ADMIN, data.JIEZHUANG_COMMUNITY,
                _named(data.JIEZHUANG, data.JIEZHUANG_COMMUNITY)),
    DemoAccount("gridleader", Role.GRID_LEADER, data.SAMPLING_GRID, _sampling_grid, PARK_CENTRE),
    DemoAccount("gridworker", Role.GRID_WORKER, data.SAMPLING_GRID, _sampling_grid),
    DemoAccount("buildingleader", Role.BUILDING_LEADER, f"{data.RESIDENT_GRID2} 1号楼", _first_building,
                PARK_CENTRE),
    DemoAccount("cadre", Role.CADRE, data.SAMPLING_GRID, _sampling_grid, PARK_CENTRE),
    DemoAccount("checkpoint", Role.CHECKPOINT, data.CHECKPOINT_ESTATE, _estate(data.CHECKPOINT_ESTATE)),
    DemoAccount("venue", Role.VENUE_MANAGER, data.SHOP_PROMOTION_GRID, _shop_grid),
    DemoAccount("sampler", Role.SAMPLER, data.SAMPLING_GRID, _sampling_grid),
    DemoAccount("lab", Role.LAB, data.DISTRICT, _district),
    DemoAccount("epi", Role.EPIDEMIOLOGIST, data.DISTRICT, _district),
    DemoAccount("campus", Role.CAMPUS_ADMIN, data.CAMPUS, _named(data.CAMPUS)),
    DemoAccount("counsellor", Role.COUNSELLOR, data.CAMPUS, _named(data.CAMPUS)),
    DemoAccount("classreporter", Role.CLASS_REPORTER, data.CAMPUS, _named(data.CAMPUS)),
    DemoAccount("investment", Role.INVESTMENT_OFFICER, data.DISTRICT, _district, INVESTMENT_BUREAU),
]


def demo_resident() -> Person | None:
    return Person.objects.filter(phone=data.DEMO_RESIDENT_PHONE).order_by("id").first()


@transaction.atomic
def demo_accounts_create() -> int:
    """Create the accounts and memberships that are missing; returns how many users were created."""
    departments: dict[str, Department] = departments_create()
    password = make_password(DEMO_PASSWORD)
    created = 0
    for spec in ACCOUNTS:
        user, made = User.objects.get_or_create(
            username=spec.username,
            defaults={"password": password, "display_name": f"演示{spec.role.label}",
                      "department": departments.get(spec.department)},
        )
        created += made
        Membership.objects.get_or_create(user=user, area=spec.locate(), role=spec.role)
    person = demo_resident()
    if person is not None and not User.objects.filter(phone=data.DEMO_RESIDENT_PHONE).exists():
        user = User(username=RESIDENT_USERNAME, phone=data.DEMO_RESIDENT_PHONE, person=person,
                    display_name=person.name)
        user.set_unusable_password()  # residents log in with a one-time code, never a password
        user.save()
        created += 1
    return created


def _pad(text: str, width: int) -> str:
    """Pad to a width in terminal columns: a Chinese character takes two."""
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, width - used)


def demo_accounts_table() -> str:
    header = ("username", "password", "role", "territory")
    rows = [(a.username, DEMO_PASSWORD, str(a.role.value), a.where) for a in ACCOUNTS]
    widths = [max(len(r[i]) for r in [header, *rows]) + 2 for i in range(3)]
    lines = ["Demo accounts (log in at /accounts/login/):", ""]
    for row in [header, *rows]:
        lines.append("  " + "".join(_pad(c, w) for c, w in zip(row, widths, strict=False)) + row[3])
    lines += [
        "",
        f"Demo resident: phone {data.DEMO_RESIDENT_PHONE} at /accounts/login/phone/; "
        "the one-time code appears in the SMS outbox at /accounts/outbox/.",
    ]
    return "\n".join(lines)
