"""Roster export at district scale: the whole district as .xlsx and as .csv, with time and peak memory.

    .venv/bin/python bench/export.py [--residents 100000] [--postgres] [--quick]

Builds the demo district with N residents into a throw-away database (a temporary SQLite file, or the
PostgreSQL database fangyi_bench_export, created and dropped), then runs each export in a fresh child
process as the command-HQ account (whole district, masked) and prints rows, seconds, rows/s, file size
and the child's peak RSS. Goal (DESIGN §5): 100 k rows streamed in ≤ 30 s and ≤ 500 MB RSS.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from generator import machine  # bench/ is the script's directory, so on sys.path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv/bin/python")
PG_DB = "fangyi_bench_export"

CHILD = r"""
import os, sys, time, resource
sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django
django.setup()
from django.utils import timezone
from accounts.models import User
from audit.services import Actor
from people.roster import people_export

fmt = sys.argv[1]
start = time.perf_counter()
export = people_export(actor=Actor(user=User.objects.get(username="hq")), fmt=fmt, now=timezone.now())
size = 0
if export.stream is not None:
    for part in export.stream:
        size += len(part)
else:
    while chunk := export.file.read(1 << 20):
        size += len(chunk)
took = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(f"{fmt} {export.row_count} {took:.2f} {size} {rss}")
"""


def run(args: list[str], env: dict[str, str]) -> str:
    return subprocess.run(args, env=env, cwd=ROOT, check=True, capture_output=True, text=True).stdout


def psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=False, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--quick", action="store_true", help="10 k residents")
    opts = parser.parse_args()
    residents = 10_000 if opts.quick else opts.residents
    with tempfile.TemporaryDirectory() as tmp:
        if opts.postgres:
            psql(f"DROP DATABASE IF EXISTS {PG_DB}")
            psql(f"CREATE DATABASE {PG_DB}")
            url = f"postgres://postgres@127.0.0.1:5432/{PG_DB}"
        else:
            url = f"sqlite:///{tmp}/export.sqlite3"
        env = {**os.environ, "DATABASE_URL": url, "FANGYI_ENV": "demo"}
        try:
            run([PY, "manage.py", "migrate", "--noinput", "-v0"], env)
            run([PY, "manage.py", "demo_district", "--residents", str(residents), "--seed", "2022"], env)
            backend = "PostgreSQL" if opts.postgres else "SQLite"
            print("; ".join([*machine(), f"database {backend}", f"{residents:,} residents"]))
            for fmt in ("xlsx", "csv"):
                out = run([PY, "-c", CHILD, fmt], env).split()
                rows, took, size, rss = int(out[1]), float(out[2]), int(out[3]), int(out[4])
                print(f"export .{fmt:4s} {rows:8,d} rows  {took:6.2f} s  {rows / took:8,.0f} rows/s  "
                      f"{size / 1e6:6.1f} MB file  peak RSS {rss} MB")
        finally:
            if opts.postgres:
                psql(f"DROP DATABASE IF EXISTS {PG_DB}")


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - start:.0f} s", file=sys.stderr)
