"""Demo-district generator benchmark: `manage.py demo_district` into a fresh throwaway database.

    .venv/bin/python bench/generator.py [--sizes 100000,1000000] [--postgres] [--no-sqlite] [--quick]

SQLite goes to a temporary directory (FANGYI_VAR_DIR); with --postgres a database `fangyi_bench_generator`
is created on 127.0.0.1 (PG_SERVER overrides the server) and dropped afterwards. Migrations are run
first and not timed. Prints wall seconds of the command, persons/s and rows/s (all tables), with
the machine's facts. --quick: 20,000 residents on SQLite only.
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv/bin/python")
PG_SERVER = os.environ.get("PG_SERVER", "postgres://postgres@127.0.0.1:5432")
PG_DB = "fangyi_bench_generator"  # bench/venues_checkin.py uses fangyi_bench


def machine() -> list[str]:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem_kb = int(line.split()[1])
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return [f"nproc {os.cpu_count()}", f"CPU {cpu}", f"RAM {mem_kb / 1024 / 1024:.1f} GiB",
            f"load average {load} (other work on the machine skews the figures)"]


def pg(sql: str) -> str:
    out = subprocess.run(["psql", f"{PG_SERVER}/postgres", "-tAc", sql], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def manage(args: list[str], env: dict[str, str]) -> str:
    out = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.stderr.write(out.stdout + out.stderr)
        raise SystemExit(f"manage.py {' '.join(args)} failed")
    return out.stdout


def rows_written(output: str) -> tuple[int, int]:
    """(persons, all rows) from the command's summary lines."""
    counts = {m[1]: int(m[2].replace(",", "")) for m in re.finditer(r"^\s+(\w+)\s+([\d,]+) rows in", output, re.M)}
    users = re.search(r"^\s+users\s+([\d,]+)\s+memberships ([\d,]+)", output, re.M)
    extra = int(users[1].replace(",", "")) + int(users[2].replace(",", "")) if users else 0
    return counts.get("people", 0), sum(counts.values()) + extra


def run_one(backend: str, residents: int) -> tuple[float, int, int]:
    env = {**os.environ, "FANGYI_ENV": "demo", "LOG_LEVEL": "ERROR"}
    with tempfile.TemporaryDirectory(prefix="fangyi-bench-") as tmp:
        env["FANGYI_VAR_DIR"] = tmp
        if backend == "postgresql":
            pg(f"DROP DATABASE IF EXISTS {PG_DB}")
            pg(f"CREATE DATABASE {PG_DB}")
            env["DATABASE_URL"] = f"{PG_SERVER}/{PG_DB}"
        else:
            env.pop("DATABASE_URL", None)
        try:
            manage(["migrate", "--noinput", "-v", "0"], env)
            start = time.perf_counter()
            output = manage(["demo_district", "--residents", str(residents), "--seed", "2022"], env)
            seconds = time.perf_counter() - start
        finally:
            if backend == "postgresql":
                pg(f"DROP DATABASE IF EXISTS {PG_DB}")
    persons, rows = rows_written(output)
    return seconds, persons, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000", help="residents, comma-separated")
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL")
    parser.add_argument("--no-sqlite", action="store_true", help="skip SQLite")
    parser.add_argument("--quick", action="store_true", help="20,000 residents, SQLite only")
    args = parser.parse_args()
    sizes = [20_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    backends = [] if args.no_sqlite else ["sqlite"]
    if args.postgres and not args.quick:
        backends.append("postgresql")

    print("Demo-district generator benchmark")
    for fact in machine():
        print(f"  {fact}")
    print(f"  SQLite {sqlite3.sqlite_version}")
    if "postgresql" in backends:
        print(f"  PostgreSQL {pg('SHOW server_version')}")
    print()
    print(f"{'backend':<11}{'residents':>11}{'seconds':>10}{'persons/s':>12}{'rows':>12}{'rows/s':>10}")
    for backend in backends:
        for residents in sizes:
            seconds, persons, rows = run_one(backend, residents)
            print(f"{backend:<11}{residents:>11,}{seconds:>10.1f}{persons / seconds:>12,.0f}"
                  f"{rows:>12,}{rows / seconds:>10,.0f}", flush=True)


if __name__ == "__main__":
    main()
