"""Departments and the cadres they send down (下沉干部), with their memberships on grid nodes.

- 园区发展服务中心: 35 cadres over 接庄街道's 25 level-1 and 108 level-2 grids. 25 of them lead a
  level-1 grid (网格长, "处长变身网格长"), 10 are building leaders (楼长, "科长变身楼长"); every
  level-2 grid is assigned (包保) to one of the 35 as cadre.
- 投资促进局 and its 新一代信息技术产业处 and 新材料产业处: 30 cadres helping in 泇河街道's compounds,
  two of them on checkpoint duty at 阳光盛景园.

Cadres cannot log in (unusable passwords): hashing a password per user would cost most of the
generator's time, and the demo accounts (demo/accounts.py) cover every role.
"""

from __future__ import annotations

import random

from django.contrib.auth.hashers import make_password

from accounts.models import Department, Membership, User
from accounts.roles import Role
from demo.generator import data
from demo.generator.people import PersonMaker
from territory.models import Area, AreaKind
from territory.selectors import subtree_q

PARK_CENTRE = "园区发展服务中心"
PARK_CENTRE_UNITS = ["综合处", "企业服务处", "规划建设处"]
INVESTMENT_BUREAU = "投资促进局"
INVESTMENT_UNITS = ["新一代信息技术产业处", "新材料产业处"]
PARK_CADRES = 35
INVESTMENT_CADRES = 30


def departments_create() -> dict[str, Department]:
    """The departments by name, created if missing (idempotent, so demo accounts can rely on it)."""
    found: dict[str, Department] = {}
    for root, units in ((PARK_CENTRE, PARK_CENTRE_UNITS), (INVESTMENT_BUREAU, INVESTMENT_UNITS)):
        parent, _ = Department.objects.get_or_create(parent=None, name=root)
        found[root] = parent
        for unit in units:
            found[unit], _ = Department.objects.get_or_create(parent=parent, name=unit)
    return found


def _grids(subdistrict: Area, kind: str) -> list[Area]:
    return list(Area.objects.filter(subtree_q(subdistrict.path, "path"), kind=kind).order_by("path"))


def cadres_create(*, seed: int) -> tuple[int, int]:
    """Create the 65 cadres and their memberships; returns (users, memberships)."""
    rng = random.Random(seed + 1)  # its own stream: adding cadres must not change the residents
    maker = PersonMaker(rng)
    departments = departments_create()
    district = Area.objects.get(parent=None, kind=AreaKind.DISTRICT, name=data.DISTRICT)
    jz = Area.objects.get(parent=district, name=data.JIEZHUANG)
    jh = Area.objects.get(parent=district, name=data.JIAHE)
    grid1s = _grids(jz, AreaKind.GRID1)
    grid2s = _grids(jz, AreaKind.GRID2)
    estates = list(
        Area.objects.filter(subtree_q(jh.path, "path"), kind=AreaKind.ESTATE, name__in=list(data.NAMED_ESTATES))
        .order_by("path")
    )
    unusable = make_password(None)

    users: list[User] = []
    for n in range(1, PARK_CADRES + 1):
        unit = PARK_CENTRE_UNITS[n % len(PARK_CENTRE_UNITS)] if n > len(grid1s) else PARK_CENTRE
        users.append(User(username=f"yqzx{n:02d}", display_name=maker.name(rng.random() < 0.6),
                          password=unusable, department=departments[unit]))
    for n in range(1, INVESTMENT_CADRES + 1):
        unit = [INVESTMENT_BUREAU, *INVESTMENT_UNITS][n % 3]
        users.append(User(username=f"tcj{n:02d}", display_name=maker.name(rng.random() < 0.6),
                          password=unusable, department=departments[unit]))
    User.objects.bulk_create(users, batch_size=500)  # sets the ids on SQLite and PostgreSQL alike
    park, bureau = users[:PARK_CADRES], users[PARK_CADRES:]

    rows: list[Membership] = []
    for user, grid in zip(park, grid1s, strict=False):
        rows.append(Membership(user=user, area=grid, role=Role.GRID_LEADER))
    for i, grid in enumerate(grid2s):
        cadre = park[i % len(park)]
        rows.append(Membership(user=cadre, area=grid, role=Role.CADRE))
        if park.index(cadre) >= len(grid1s):
            rows.append(Membership(user=cadre, area=grid, role=Role.BUILDING_LEADER))
    checkpoint = next((e for e in estates if e.name == data.CHECKPOINT_ESTATE), None)
    for i, user in enumerate(bureau):
        if estates:
            rows.append(Membership(user=user, area=estates[i % len(estates)], role=Role.CADRE))
        if checkpoint is not None and i < 2:
            rows.append(Membership(user=user, area=checkpoint, role=Role.CHECKPOINT))
    Membership.objects.bulk_create(rows, batch_size=500)
    return len(users), len(rows)
