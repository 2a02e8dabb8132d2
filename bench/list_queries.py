"""List pages stay O(1) in queries: the person list page (/people/) and the API list
(/api/v1/people) for a grid worker, with 100 and with 10,000 people in the grid.

    .venv/bin/python bench/list_queries.py [--sizes 100,10000] [--requests 20] [--postgres] [--quick]

Builds the grids in a throwaway database (a temporary SQLite file; with --postgres a database
`fangyi_bench_lists`, dropped afterwards), then prints per grid and endpoint the number of queries
of one request and the median time of --requests requests. Exits with status 1 if an endpoint's
query count differs between the sizes (an N+1). --quick: 100 and 1,000 people, 5 requests.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG_SERVER = os.environ.get("PG_SERVER", "postgres://postgres@127.0.0.1:5432")
PG_DB = "fangyi_bench_lists"
ENDPOINTS = ["/people/", "/api/v1/people"]


def setup_django(postgres: bool, tmp: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["FANGYI_ENV"] = "test"
    os.environ["FANGYI_VAR_DIR"] = tmp
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    if postgres:
        psql(f"DROP DATABASE IF EXISTS {PG_DB}")
        psql(f"CREATE DATABASE {PG_DB}")
        os.environ["DATABASE_URL"] = f"{PG_SERVER}/{PG_DB}"
    else:
        os.environ.pop("DATABASE_URL", None)
    import django

    django.setup()
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    setup_test_environment()  # allows the test client's host name
    warnings.filterwarnings("ignore", message="No directory at")  # no collectstatic in a throwaway dir
    call_command("migrate", verbosity=0)


def psql(sql: str) -> None:
    subprocess.run(["psql", f"{PG_SERVER}/postgres", "-qc", sql], check=True, capture_output=True)


def build_grid(district_name: str, people: int, seed: int) -> object:
    """A grid with `people` residents in households of about three, and its grid worker."""
    import random

    from accounts.models import Membership, User
    from accounts.roles import Role
    from demo.generator.people import PersonMaker
    from people.models import Person
    from territory.models import AreaKind
    from territory.services import area_create

    district = area_create(parent=None, kind=AreaKind.DISTRICT, name=district_name)
    subdistrict = area_create(parent=district, kind=AreaKind.SUBDISTRICT, name="接庄街道")
    community = area_create(parent=subdistrict, kind=AreaKind.COMMUNITY, name="接庄社区")
    grid = area_create(parent=community, kind=AreaKind.GRID1, name="接庄社区15网格")
    maker = PersonMaker(random.Random(seed))
    batch: list[Person] = []
    made = 0
    building_no = 0
    while made < people:
        building_no += 1
        building = area_create(parent=grid, kind=AreaKind.BUILDING, name=f"{building_no}号楼")
        for unit_no in (1, 2, 3):
            unit = area_create(parent=building, kind=AreaKind.UNIT, name=f"{unit_no}单元")
            for floor in range(1, 7):
                for door in (1, 2):
                    if made >= people:
                        break
                    home = area_create(parent=unit, kind=AreaKind.HOUSEHOLD, name=f"{floor}{door:02d}")
                    for p in maker.household(min(3, people - made)):
                        batch.append(Person(name=p.name, id_number=p.id_number, birth_date=p.birth_date, sex=p.sex,
                                            phone=p.phone, area=home, area_path=home.path, category=p.category,
                                            vaccine_doses=p.vaccine_doses))
                        made += 1
    Person.objects.bulk_create(batch, batch_size=2000)
    worker = User.objects.create_user(username=f"worker{people}", password=None)
    Membership.objects.create(user=worker, area=grid, role=Role.GRID_WORKER)
    return worker


def measure(worker: object, url: str, requests: int) -> tuple[int, float, int]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(worker)  # type: ignore[arg-type]
    status = client.get(url).status_code  # warm-up: templates, translations, caches
    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    queries = len(ctx.captured_queries)  # read now: every request_started empties the query log
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - start) * 1000)
    return queries, statistics.median(times), status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,10000", help="people in the grid, comma-separated")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 people, 5 requests")
    args = parser.parse_args()
    sizes = [100, 1000] if args.quick else [int(s) for s in args.sizes.split(",")]
    requests = 5 if args.quick else args.requests

    with tempfile.TemporaryDirectory(prefix="fangyi-lists-") as tmp:
        setup_django(args.postgres, tmp)
        try:
            from django.db import connection

            print(f"List queries for a grid worker ({connection.vendor}, {os.cpu_count()} CPUs, "
                  f"load {os.getloadavg()[0]:.1f}); {requests} requests each, median")
            print(f"{'people':>8}  {'endpoint':<16}{'status':>7}{'queries':>9}{'median ms':>11}")
            counts: dict[str, set[int]] = {url: set() for url in ENDPOINTS}
            for i, size in enumerate(sizes):
                worker = build_grid(f"测试区{i + 1}", size, seed=2022 + i)
                for url in ENDPOINTS:
                    queries, ms, status = measure(worker, url, requests)
                    counts[url].add(queries)
                    print(f"{size:>8,}  {url:<16}{status:>7}{queries:>9}{ms:>11.1f}", flush=True)
        finally:
            if args.postgres:
                from django.db import connections

                connections.close_all()
                psql(f"DROP DATABASE IF EXISTS {PG_DB}")
    bad = [url for url, seen in counts.items() if len(seen) != 1]
    for url, seen in counts.items():
        print(f"{url}: query count {'equal' if len(seen) == 1 else 'DIFFERS'} across sizes ({sorted(seen)})")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
