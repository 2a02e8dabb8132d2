"""The sampler station API in-process: milliseconds and database queries per scan, and a cProfile.

    .venv/bin/python bench/station_profile.py [--people 20000] [--tubes 30] [--profile 20] [--quick]

PostgreSQL only (database ``fangyi_bench_station``, created, migrated and seeded on first use with the
set-based seed of ``testing_bench.py``). A sampler with a bearer API token (the way a station device
and ``testing_bench.py``'s wrk run authenticate) opens a tube, scans 10 sampling codes and seals it,
``--tubes`` times, through ``django.test.Client``: no HTTP server, no other clients, so what is left is
the CPU and the round trips of one request. Prints, per kind of submission (open, sample, seal, and
the batch endpoint with one whole tube and with ``--batch-tubes`` whole tubes per request, 12 items a
tube: open, 10 scans, seal), the median and p90 wall milliseconds, the median CPU
milliseconds of this process (Django's share; the database server's CPU is not in it) and the queries
(statements through Django's cursor, plus COMMITs), then the top of a cProfile of ``--profile`` tubes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
DB = "fangyi_bench_station"
PG = f"postgres://postgres@127.0.0.1:5432/{DB}"
PY = str(ROOT / ".venv/bin/python")


def prepare_db(fresh: bool) -> None:
    if fresh:
        subprocess.run(["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DB], capture_output=True, check=False)
    env = {**os.environ, "DATABASE_URL": PG, "FANGYI_ENV": "demo"}
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)


def setup_django() -> None:
    os.environ["DATABASE_URL"] = PG
    os.environ["FANGYI_ENV"] = "demo"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import warnings

    import django

    warnings.filterwarnings("ignore", message="No directory at")  # no collectstatic needed in-process
    django.setup()


class HealthShare:
    """Time and statements spent inside the health app's ``sample_recorded`` (a scan) and
    ``samples_recorded`` (the batch endpoint's samples, recorded together at its end)."""

    def __init__(self) -> None:
        self.ms = self.cpu = 0.0
        self.statements = 0

    def install(self, counter: Counter) -> None:
        from testing import health_port

        share = self

        def timed(original: Any) -> Any:
            def call(**kw: Any) -> None:
                before = counter.statements
                t0, c0 = time.perf_counter(), time.process_time()
                try:
                    original(**kw)
                finally:
                    share.ms += (time.perf_counter() - t0) * 1000
                    share.cpu += (time.process_time() - c0) * 1000
                    share.statements += counter.statements - before

            return call

        self._restore = [(name, getattr(health_port, name)) for name in ("sample_recorded", "samples_recorded")]
        for name, original in self._restore:
            setattr(health_port, name, timed(original))

    def uninstall(self) -> None:
        from testing import health_port

        for name, original in self._restore:
            setattr(health_port, name, original)


class Counter:
    """Statements through Django's cursor and COMMITs on the default connection."""

    def __init__(self) -> None:
        self.statements = 0
        self.commits = 0

    def __enter__(self) -> Counter:
        from django.db import connection

        self._wrapper = connection.execute_wrapper(self._count)
        self._wrapper.__enter__()
        self._commit = connection._commit
        connection._commit = self._counted_commit  # type: ignore[method-assign]
        return self

    def _count(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.statements += 1
        return execute(sql, params, many, context)

    def _counted_commit(self) -> Any:
        self.commits += 1
        return self._commit()

    def __exit__(self, *exc: object) -> None:
        from django.db import connection

        connection._commit = self._commit  # type: ignore[method-assign]
        self._wrapper.__exit__(*exc)  # type: ignore[arg-type]


def fixtures() -> tuple[Any, int, list[str]]:
    """A round, a site staffed by the bench sampler, its bearer token, and sampling codes."""
    from django.utils import timezone

    from accounts.models import Membership, User
    from accounts.roles import Role
    from accounts.services import api_token_create
    from audit.services import Actor
    from people.models import Person
    from territory.models import Area, AreaKind
    from testing import health_port, services
    from testing.models import Round, Site

    root = Area.objects.get(parent=None, name="基准区")
    now = timezone.now()
    rnd = Round.objects.filter(name="基准站点轮").first() or services.round_create(
        actor=Actor.system(), name="基准站点轮", area=root, pool_size=10, starts_at=now, now=now
    )
    grid = Area.objects.filter(kind=AreaKind.GRID1, path__startswith=root.path).order_by("path").first()
    assert grid is not None
    site = Site.objects.filter(round=rnd).first() or services.site_create(
        actor=Actor.system(), rnd=rnd, name="基准采样点", location="-", grid=grid, now=now
    )
    user, created = User.objects.get_or_create(username="bench-sampler")
    if created:
        Membership.objects.create(user=user, area=grid, role=Role.SAMPLER)
    services.site_staff_add(actor=Actor.system(), site=site, user=user, now=now)
    _tok, raw = api_token_create(actor=Actor.system(), user=user, name="bench")
    ids = list(Person.objects.filter(area_path__startswith=root.path).order_by("-id").values_list("pk", flat=True))
    codes = [health_port.sampling_token_for(pid, now=now) for pid in ids]
    return site, raw, codes


def run(client: Any, site: Any, codes: list[str], tubes: int, *, batch: int, stats: dict[str, list[Any]]) -> None:
    """``tubes`` tubes of 10: one submission per request (``batch`` 0), or ``batch`` tubes per request."""
    nonce = time.time_ns()
    pending: list[dict[str, Any]] = []
    for t in range(tubes):
        bc = f"S{nonce}-{t}"
        people = [codes[(nonce // 1000 + t * 10 + i) % len(codes)] for i in range(10)]
        steps: list[tuple[str, str, dict[str, Any]]] = [
            ("open", "tubes", {"key": f"o{bc}", "site_id": site.pk, "barcode": bc}),
            *[("sample", "samples", {"key": f"s{bc}-{i}", "barcode": bc, "code": c}) for i, c in enumerate(people)],
            ("seal", "seal", {"key": f"c{bc}", "barcode": bc}),
        ]
        if batch:
            pending += [{"kind": kind, **body} for kind, _path, body in steps]
            if len(pending) < 12 * batch:
                continue
            steps, pending = [(f"batch{batch}", "batch", {"items": pending})], []
        for kind, path, body in steps:
            health = HealthShare()
            with Counter() as n:
                health.install(n)
                t0, c0 = time.perf_counter(), time.process_time()
                try:
                    r = client.post(
                        f"/api/v1/testing/station/{path}", json.dumps(body), content_type="application/json"
                    )
                finally:
                    health.uninstall()
                ms, cpu = (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000
            if r.status_code != 200:
                raise SystemExit(f"{kind}: {r.status_code} {r.content[:300]!r}")
            if batch:
                bad = [x for x in r.json()["results"] if x["status"] != 200]
                if bad:
                    raise SystemExit(f"batch: {bad[:2]}")
            stats[kind].append((ms, n.statements, n.commits, cpu, health.ms, health.cpu, health.statements))


def report(stats: dict[str, list[Any]], batches: list[int]) -> None:
    print(f"{'submission':<26}{'n':>5}{'median ms':>11}{'p90 ms':>9}{'cpu ms':>9}{'queries':>9}{'commits':>9}")
    for kind in ("open", "sample", "seal", *[f"batch{b}" for b in batches]):
        rows = stats.get(kind)
        if not rows:
            continue
        ms = sorted(r[0] for r in rows)
        q = statistics.median(r[1] for r in rows)
        c = statistics.median(r[2] for r in rows)
        cpu = statistics.median(r[3] for r in rows)
        label = f"batch ({kind[5:]} tube(s), {12 * int(kind[5:])} items)" if kind.startswith("batch") else kind
        p90 = ms[int(len(ms) * 0.9)]
        print(f"{label:<26}{len(rows):>5}{statistics.median(ms):>11.2f}{p90:>9.2f}{cpu:>9.2f}{q:>9.0f}{c:>9.0f}")
        if any(r[6] for r in rows):
            hm, hc, hq = (statistics.median(r[i] for r in rows) for i in (4, 5, 6))
            print(f"{'  of which health':<26}{'':>5}{hm:>11.2f}{'':>9}{hc:>9.2f}{hq:>9.0f}")
    if all(stats.get(k) for k in ("open", "sample", "seal")):
        for i, what in ((0, "wall"), (3, "cpu")):
            med = {k: statistics.median(r[i] for r in stats[k]) for k in ("open", "sample", "seal")}
            per_tube = med["open"] + 10 * med["sample"] + med["seal"]
            print(f"one tube of 10 as single submissions: {per_tube:.1f} ms {what} -> {per_tube / 10:.2f} per person")
    for n in batches:
        for i, what in ((0, "wall"), (3, "cpu")):
            b = statistics.median(r[i] for r in stats[f"batch{n}"])
            print(
                f"{n} tube(s) of 10 per batch request: {b:.1f} ms {what} -> {b / (10 * n):.2f} per person, "
                f"at most {1000 * 10 * n / b:,.0f} registrations/s per core of Django {what}"
            )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=20_000)
    ap.add_argument("--tubes", type=int, default=30, help="tubes of 10 measured per mode")
    ap.add_argument("--profile", type=int, default=20, help="tubes of 10 under cProfile (0: none)")
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--fresh", action="store_true", help="drop and re-seed the database")
    ap.add_argument("--batch-tubes", default="1,10", help="whole tubes per batch request, comma-separated")
    ap.add_argument("--quick", action="store_true", help="5 tubes, profile 5")
    args = ap.parse_args()
    batches = [int(b) for b in args.batch_tubes.split(",") if b]
    if args.quick:
        args.tubes, args.profile, args.top = 5, 5, 15
    print(f"cpus={os.cpu_count()} load={tuple(round(x, 1) for x in os.getloadavg())} (shared machine)")
    prepare_db(args.fresh)
    setup_django()
    import testing_bench
    from django.test import Client

    testing_bench.seed(args.people, 0)
    site, raw, codes = fixtures()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_HOST="127.0.0.1")
    warm: dict[str, list[Any]] = defaultdict(list)
    run(client, site, codes, 2, batch=0, stats=warm)
    for n in batches:
        run(client, site, codes, n, batch=n, stats=warm)
    stats: dict[str, list[Any]] = defaultdict(list)
    run(client, site, codes, args.tubes, batch=0, stats=stats)
    for n in batches:
        run(client, site, codes, max(args.tubes, 3 * n), batch=n, stats=stats)
    report(stats, batches)
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        run(client, site, codes, args.profile, batch=0, stats=defaultdict(list))
        prof.disable()
        print(f"\ncProfile of {args.profile} tubes as single submissions ({args.profile * 12} requests)")
        _print_profile(prof, args.top)
    if args.profile and batches:
        n = max(batches)
        prof = cProfile.Profile()
        prof.enable()
        run(client, site, codes, max(args.profile, n), batch=n, stats=defaultdict(list))
        prof.disable()
        print(f"\ncProfile of {max(args.profile, n)} tubes in batches of {n} tubes")
        _print_profile(prof, args.top)


def _print_profile(prof: cProfile.Profile, top: int) -> None:
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(prof, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        print(f"-- by {order}:")
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))


if __name__ == "__main__":
    main()
