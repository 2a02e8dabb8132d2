"""Roster import and export figures: 5,000 new rows, the same file again, and an export of them.

Run: FANGYI_ENV=test .venv/bin/python bench/roster_import.py [rows]  (DATABASE_URL selects PostgreSQL)
It builds a throw-away test database, so it never touches real data.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("FANGYI_ENV", "test")

import django

django.setup()

from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.test.utils import setup_databases, setup_test_environment, teardown_databases  # noqa: E402
from django.utils import timezone  # noqa: E402


def main(n: int) -> None:
    from accounts.roles import Role
    from audit.services import Actor
    from common.idnumber import with_check_digit
    from conftest import build_district, make_user
    from people.roster import people_export, roster_import
    from people.tests.roster_helpers import xlsx_bytes

    district = build_district()
    user = make_user("bench", Role.COMMUNITY_ADMIN, district.community)
    rows = []
    for i in range(n):
        ident = with_check_digit(f"370811{1950 + i % 60}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}")
        rows.append([f"居民{i}", ident, f"138{i:08d}", "1网格" if i % 2 else "2网格", "", f"{i % 40}号楼",
                     f"{i % 4}单元", f"{i % 1000}", "常住", i % 4, "否", "否", "否"])
    # Distinct ID numbers only: the synthetic scheme above may repeat for large n.
    seen: set[str] = set()
    rows = [r for r in rows if not (r[1] in seen or seen.add(r[1]))]
    data = xlsx_bytes(rows)
    actor = Actor(user=user)
    for label in ("first import", "same file again"):
        start = time.perf_counter()
        report = roster_import(actor=actor, file=SimpleUploadedFile("b.xlsx", data), now=timezone.now())
        took = time.perf_counter() - start
        print(f"{label:16s} {len(rows):6d} rows {took:6.2f} s  created={report.created} "
              f"unchanged={report.unchanged} errors={report.error_count}")
    start = time.perf_counter()
    export = people_export(actor=actor, fmt="xlsx", now=timezone.now())
    took = time.perf_counter() - start
    print(f"{'export .xlsx':16s} {export.row_count:6d} rows {took:6.2f} s")


if __name__ == "__main__":
    setup_test_environment()
    config = setup_databases(verbosity=0, interactive=False)
    try:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
    finally:
        teardown_databases(config, verbosity=0)
