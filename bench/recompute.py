"""Full recompute rate and lab-batch rate at city scale (default 1 M people) on PostgreSQL.

    .venv/bin/python bench/recompute.py [--people 1000000] [--database-url postgres://.../fangyi_bench_recompute]

Builds the people once (bench/health_data.py, which also times one laboratory batch for everyone),
then times `manage.py recompute_status` twice: after a rule edit (everyone re-evaluated, rule version
written) and again with nothing changed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv/bin/python")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=1_000_000)
    ap.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/fangyi_bench_recompute")
    args = ap.parse_args()
    env = {**os.environ, "DATABASE_URL": args.database_url, "FANGYI_ENV": "demo"}
    if args.database_url.startswith("postgres"):
        name = args.database_url.rsplit("/", 1)[1]
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", f"CREATE DATABASE {name}"],
            capture_output=True,
            check=False,
        )
    print(f"cpus={os.cpu_count()} load={os.getloadavg()} (other engineers' work shares this machine)")
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)
    subprocess.run([PY, "bench/health_data.py", str(args.people)], env=env, cwd=ROOT, check=True)
    # rules_update refuses without the HQ capability; the benchmark writes the version directly.
    bump = (
        "from django.utils import timezone; from health.models import RuleVersion as R;"
        "v=(R.objects.order_by('-version').values_list('version', flat=True).first() or 1)+1;"
        "R.objects.create(version=v, overdue_hours=72, note='bench', created_at=timezone.now())"
    )
    subprocess.run([PY, "manage.py", "shell", "-c", bump], env=env, cwd=ROOT, check=True)
    for label in ("after a rule edit", "nothing changed"):
        started = time.perf_counter()
        out = (
            subprocess.run(
                [PY, "manage.py", "recompute_status"], env=env, cwd=ROOT, check=True, capture_output=True, text=True
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        took = time.perf_counter() - started
        print(
            f"full recompute ({label}): {args.people:,} people in {took:.1f} s = {args.people / took:,.0f} persons/s"
            f" | {out}"
        )


if __name__ == "__main__":
    main()
