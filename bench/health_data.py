"""Synthetic people for the health benchmarks: a tiny territory and N persons, inserted in bulk.

Run as `python bench/health_data.py N` with DATABASE_URL set; prints nothing but a summary line.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from common.idnumber import with_check_digit  # noqa: E402
from health import services  # noqa: E402
from people.models import Person  # noqa: E402
from territory.models import Area, AreaKind  # noqa: E402
from territory.services import area_create  # noqa: E402


def id_number(i: int) -> str:
    day = dt.date(1940, 1, 1) + dt.timedelta(days=i % 25000)
    order = (i // 25000) % 1000
    region = 370800 + (i // 25_000_000) % 99
    return with_check_digit(f"{region}{day:%Y%m%d}{order:03d}")


def build(n: int) -> None:
    have = Person.objects.count()
    if have >= n:
        print(f"{have} people already present")
        return
    root = Area.objects.filter(parent=None).first() or area_create(
        parent=None, kind=AreaKind.DISTRICT, name="济宁高新区"
    )
    home = Area.objects.filter(kind=AreaKind.HOUSEHOLD).first()
    if home is None:
        g = area_create(parent=root, kind=AreaKind.SUBDISTRICT, name="接庄街道")
        home = area_create(parent=g, kind=AreaKind.HOUSEHOLD, name="101")
    started = time.perf_counter()
    batch = []
    for i in range(have, n):
        num = id_number(i)
        batch.append(
            Person(
                name=f"王{i}",
                id_number=num,
                birth_date=dt.date(int(num[6:10]), int(num[10:12]), int(num[12:14])),
                sex="M" if int(num[16]) % 2 else "F",
                area=home,
                area_path=home.path,
                vaccine_doses=i % 4,
            )
        )
        if len(batch) == 10_000:
            Person.objects.bulk_create(batch)
            batch = []
    if batch:
        Person.objects.bulk_create(batch)
    print(f"inserted {n - have} people in {time.perf_counter() - started:.1f} s")
    # A laboratory batch for everyone: 1 % pooled positives, the rest negative, sampled in the last 60 h.
    now = timezone.now()
    ids = list(Person.objects.order_by("pk").values_list("pk", flat=True))
    items = [
        (pid, f"B{pid}", "positive" if pid % 100 == 0 else "negative", True, now - dt.timedelta(hours=pid % 60))
        for pid in ids
    ]
    started = time.perf_counter()
    services.results_recorded(items=items, now=now)
    took = time.perf_counter() - started
    print(
        f"lab batch: {len(items)} results recorded and recomputed in {took:.1f} s ({len(items) / took:,.0f}/s) "
        f"on {connection.vendor}"
    )


def write_wrk_script(path: str, count: int) -> None:
    """A wrk Lua script that posts fresh health-code tokens of random people, as a venue device would."""
    from accounts.models import Membership, User
    from accounts.roles import Role
    from accounts.services import api_token_create
    from audit.services import Actor
    from health import selectors

    user, created = User.objects.get_or_create(username="bench-sentinel")
    if created:
        Membership.objects.create(user=user, area=Area.objects.filter(parent=None).first(), role=Role.VENUE_MANAGER)
    _tok, raw = api_token_create(actor=Actor.system(), user=user, name="bench")
    now = timezone.now()
    ids = list(Person.objects.order_by("?").values_list("pk", flat=True)[:count])
    tokens = [selectors.health_token_for(pid, now=now)[0] for pid in ids]
    with open(path, "w") as f:
        f.write("local tokens = {" + ",".join(f'"{t}"' for t in tokens) + "}\n")
        f.write('wrk.method = "POST"\n')
        f.write('wrk.headers["Content-Type"] = "application/json"\n')
        f.write(f'wrk.headers["Authorization"] = "Bearer {raw}"\n')
        f.write("request = function()\n  local t = tokens[math.random(#tokens)]\n")
        f.write("  return wrk.format(nil, nil, nil, '{\"token\":\"' .. t .. '\"}')\nend\n")


if __name__ == "__main__":
    if sys.argv[1] == "wrk-script":
        write_wrk_script(sys.argv[2], int(sys.argv[3]))
    else:
        build(int(sys.argv[1]))
