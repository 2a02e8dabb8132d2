"""Venue check-in benchmark (DESIGN §5): requests/s and p50/p99 of the check-in endpoint beside a
bare JSON endpoint on the same server in the same run, then a 5× surge.

    .venv/bin/python bench/venues_checkin.py --db sqlite        # or --db postgres
    options: --residents 100000 --venues 2000 --sessions 2000 --seconds 20 --connections 16
    --quick: a smoke run of a few seconds on a small database of its own (not a measurement)

Data: its own database (var/bench_venues.sqlite3 or PostgreSQL database fangyi_bench), residents
spread over households, approved venues with one code each, and Django sessions for a sample of
the residents (the load generator logs in as them). Load: wrk in its own process, keep-alive
connections, each request a new idempotency key (so each one writes). Server: granian as `make run`
starts it (config/serve.py). The surge runs 5× the connections for the same time while a probe process
sends one request every 50 ms and times each answer, giving the rejection latency and the
recovery time after the surge stops. The plain phase also reports its CPU per answered check-in
(``cpu_ms_per_ok``: the server's processes, the database's PostgreSQL backends, wrk).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from serving import cpu_of, cpu_spent, machine_busy, start_server  # bench/serving.py

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
PORT = 8765


def env_for(db: str, name: str = "") -> dict[str, str]:
    """The environment of the benchmark's server; ``name`` picks another database than the full run's
    (the database is built once and reused, whatever the sizes asked for later)."""
    env = dict(os.environ)
    env["FANGYI_ENV"] = "demo"
    env.pop("DJANGO_SETTINGS_MODULE", None)
    if db == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{VAR / (name or 'bench_venues')}.sqlite3"
    else:
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{name or 'fangyi_bench'}"
    return env


def create_pg_database(name: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", f"CREATE DATABASE {name}"], capture_output=True)


def build(db: str, residents: int, venues: int, sessions: int, name: str = "") -> Path:
    """Create the database and the fixture file for wrk (runs in a child with the bench env)."""
    code = f"""
import django, datetime as dt, random
django.setup()
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
from django.db import connection
call_command("migrate", verbosity=0)
from territory.services import area_create
from territory.models import Area, AreaKind
from people.models import Person
from accounts.models import User
from venues.models import Venue, Entrance, VenueCode
from venues.codes import make_code_token
from common.idnumber import with_check_digit
if not Area.objects.filter(name="基准区").exists():
    d = area_create(parent=None, kind=AreaKind.DISTRICT, name="基准区")
    s = area_create(parent=d, kind=AreaKind.SUBDISTRICT, name="基准街道")
    c = area_create(parent=s, kind=AreaKind.COMMUNITY, name="基准社区")
    grids = [area_create(parent=c, kind=AreaKind.GRID1, name=f"{{i}}网格") for i in range(20)]
    now = dt.datetime.now(dt.UTC)
    people = []
    for i in range({residents}):
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=i // 900)
        ident = with_check_digit(f"370811{{birth:%Y%m%d}}{{i % 900 + 100:03d}}")
        g = grids[i % 20]
        people.append(Person(name=f"居民{{i}}", id_number=ident, birth_date=birth, sex="M" if i % 2 else "F",
                             phone=f"1{{3000000000 + i}}", area=g, area_path=g.path))
    Person.objects.bulk_create(people, batch_size=5000)
    for i in range({venues}):
        g = grids[i % 20]
        v = Venue.objects.create(name=f"场所{{i}}", category="supermarket", address=f"基准路{{i}}号", area=g,
                                 area_path=g.path, contact_name="店长", contact_phone="13900000000",
                                 status="approved", committed_at=now, created_at=now,
                                 latitude=35.4 + (i % 50) * 0.001, longitude=116.59)
        e = Entrance.objects.create(venue=v, number=1, name="正门", created_at=now)
        VenueCode.objects.create(entrance=e, serial=1, created_at=now)
tokens = [make_code_token(pk) for pk in VenueCode.objects.values_list("pk", flat=True)]
ids = list(Person.objects.order_by("?").values_list("pk", "phone")[:{sessions}])
lines = []
for pid, phone in ids:
    user, _ = User.objects.get_or_create(username=f"b{{phone}}", defaults={{"phone": phone, "person_id": pid}})
    s = SessionStore()
    s["_auth_user_id"] = str(user.pk)
    s["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    s["_auth_user_hash"] = user.get_session_auth_hash()
    s["_fy_last_seen"] = int(dt.datetime.now(dt.UTC).timestamp())  # accounts.middleware.KEY
    s.set_expiry(12 * 3600)
    s.create()
    lines.append(f"{{s.session_key}} {{random.choice(tokens)}}")
open("{VAR}/bench_checkin_{db}{name and '_' + name}.txt", "w").write("\\n".join(lines) + "\\n")
print("people", Person.objects.count(), "venues", Venue.objects.count(), "sessions", len(lines))
"""
    subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env_for(db, name), "DJANGO_SETTINGS_MODULE": "config.settings"},
        check=True,
    )
    return VAR / f"bench_checkin_{db}{name and '_' + name}.txt"


def serve(db: str, workers: int, threads: int, name: str = "") -> subprocess.Popen[bytes]:
    env = {
        **env_for(db, name),
        "FANGYI_BIND": f"127.0.0.1:{PORT}",
        "FANGYI_WORKERS": str(workers),
        "FANGYI_THREADS": str(threads),
        "FANGYI_RETENTION_HOUR": "off",  # no scheduled purge inside the measurement
    }
    return start_server(env, port=PORT, ready_path="/v/ping/")


def wrk(
    path_script: str | None, fixtures: Path, connections: int, seconds: int, url_path: str = "/"
) -> dict[str, float]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if path_script:
        cmd += ["-s", path_script]
    cmd.append(f"http://127.0.0.1:{PORT}{url_path}")
    out = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, "CHECKIN_FIXTURES": str(fixtures)}
    ).stdout
    m = re.search(r"RESULT requests=(\d+) duration_us=(\d+) non2xx=(\d+) p50_us=(\d+) p99_us=(\d+) timeouts=(\d+)", out)
    if m:
        req, dur, bad, p50, p99, to = map(int, m.groups())
    else:  # a plain run (the bare endpoint): parse wrk's own summary
        req = int(re.search(r"(\d+) requests in", out).group(1))
        dur = int(float(re.search(r"requests in ([\d.]+)s", out).group(1)) * 1e6)
        bad_m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        bad = int(bad_m.group(1)) if bad_m else 0
        p50 = _us(re.search(r"50%\s+([\d.]+\w+)", out).group(1))
        p99 = _us(re.search(r"99%\s+([\d.]+\w+)", out).group(1))
        to = 0
    secs = dur / 1e6
    return {
        "rps": req / secs,
        "ok_rps": (req - bad) / secs,
        "rejected": bad,
        "requests": req,
        "p50_ms": p50 / 1000,
        "p99_ms": p99 / 1000,
        "timeouts": to,
    }


def measured(server: subprocess.Popen[bytes], name: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``run``'s figures with where the CPU went meanwhile, in ms per 2xx answer: the server's processes,
    the PostgreSQL backends of the benchmark's database (the SQLite work is the server's), wrk and the
    machine as a whole."""
    database = f" {name or 'fangyi_bench'} "
    workers: Callable[[str, int, str], bool] = lambda _comm, ppid, _cmd: ppid == server.pid  # noqa: E731
    backends: Callable[[str, int, str], bool] = lambda comm, _ppid, cmd: (  # noqa: E731
        comm == "postgres" and database in cmd
    )
    before = [cpu_of(match) for match in (workers, backends)]
    children, busy = resource.getrusage(resource.RUSAGE_CHILDREN), machine_busy()
    figures = run()
    spent = [cpu_spent(b, cpu_of(match)) for b, match in zip(before, (workers, backends), strict=True)]
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent.append(usage.ru_utime + usage.ru_stime - children.ru_utime - children.ru_stime)
    ok = max(figures["ok_rps"] * figures["requests"] / max(figures["rps"], 1e-9), 1)
    busy_after = machine_busy()
    figures["cpu_ms_per_ok"] = {
        part: round(1000 * sec / ok, 3) for part, sec in zip(("server", "postgres", "wrk"), spent, strict=True)
    }
    figures["machine_busy_pct"] = round(100 * (busy_after[0] - busy[0]) / max(busy_after[1] - busy[1], 1e-9), 1)
    return figures


def _us(text: str) -> float:
    value, unit = float(re.match(r"[\d.]+", text).group(0)), re.search(r"[a-z]+$", text).group(0)
    return value * {"us": 1, "ms": 1000, "s": 1_000_000}[unit]


class Probe(threading.Thread):
    """One check-in every 50 ms on its own connection, timed: what a user sees during the surge."""

    def __init__(self, fixtures: Path) -> None:
        super().__init__(daemon=True)
        self.lines = [line.split() for line in fixtures.read_text().splitlines() if line]
        self.samples: list[tuple[float, int, float]] = []  # (t, status, latency ms)
        self.stop = threading.Event()

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            session, token = random.choice(self.lines)
            n += 1
            body = json.dumps({"code": token, "client_key": f"probe-{time.time_ns()}-{n}"})
            headers = {
                "Content-Type": "application/json",
                "Cookie": f"sessionid={session}; csrftoken={'bench' * 6}12",
                "X-CSRFToken": "bench" * 6 + "12",
            }
            t0 = time.perf_counter()
            try:
                c = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
                c.request("POST", "/api/v1/venues/checkins", body, headers)
                status = c.getresponse().status
                c.close()
            except OSError:
                status = 0
            self.samples.append((time.time(), status, (time.perf_counter() - t0) * 1000))
            time.sleep(0.05)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--residents", type=int, default=100_000)
    ap.add_argument("--venues", type=int, default=2_000)
    ap.add_argument("--sessions", type=int, default=2_000)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--workers", type=int, default=4)  # config/serve.py: 2 a core
    ap.add_argument("--threads", type=int, default=24)
    ap.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 2,000 residents, 50 venues, 2 workers, 4 connections, 3 s per phase, its own database",
    )
    args = ap.parse_args()
    name = ""
    if args.quick:
        args.residents, args.venues, args.sessions = 2_000, 50, 100
        args.seconds, args.connections, args.workers, args.threads = 3, 4, 2, 8
        name = "bench_venues_quick"
    if args.db == "postgres":
        create_pg_database(name or "fangyi_bench")
    fixtures = build(args.db, args.residents, args.venues, args.sessions, name)
    server = serve(args.db, args.workers, args.threads, name)
    here = str(Path(__file__).resolve().parent / "venues_checkin.lua")
    try:
        wrk(here, fixtures, args.connections, 2 if args.quick else 5)  # warm the per-process caches
        bare = wrk(None, fixtures, args.connections, args.seconds, "/v/ping/")
        steady = measured(server, name, lambda: wrk(here, fixtures, args.connections, args.seconds))
        probe = Probe(fixtures)
        probe.start()
        time.sleep(2)
        surge_start = time.time()
        surge = wrk(here, fixtures, args.connections * 5, args.seconds)
        surge_end = time.time()
        time.sleep(max(5, args.seconds // 2))
        probe.stop.set()
        probe.join()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    during = [s for s in probe.samples if surge_start <= s[0] <= surge_end]
    rejected_ms = [ms for _t, st, ms in during if st in (429, 503)]
    admitted_ms = [ms for _t, st, ms in during if st == 200]
    after = [s for s in probe.samples if s[0] > surge_end]
    normal = pct([ms for _t, st, ms in probe.samples if st == 200 and s_before(_t, surge_start)], 0.99)
    recovered_at = next((t for t, st, ms in after if st == 200 and ms <= max(normal * 2, 100)), None)
    report = {
        "db": args.db,
        "residents": args.residents,
        "venues": args.venues,
        "connections": args.connections,
        "workers": args.workers,
        "threads": args.threads,
        "cpus": os.cpu_count(),
        "bare_json": bare,
        "checkin": steady,
        "surge_5x": surge,
        "surge_goodput_pct": round(100 * surge["ok_rps"] / steady["ok_rps"], 1) if steady["ok_rps"] else None,
        "probe_rejected_n": len(rejected_ms),
        "probe_rejected_p50_ms": pct(rejected_ms, 0.5),
        "probe_rejected_p99_ms": pct(rejected_ms, 0.99),
        "probe_admitted_p99_ms": pct(admitted_ms, 0.99),
        "recovery_s": round(recovered_at - surge_end, 2) if recovered_at else None,
    }
    print(json.dumps(report, indent=1, default=float))
    out = VAR / f"bench_venues_{args.db}{'_quick' if args.quick else ''}_{dt.datetime.now():%Y%m%d%H%M}.json"
    out.write_text(json.dumps(report, indent=1, default=float))


def s_before(t: float, start: float) -> bool:
    return t < start


if __name__ == "__main__":
    main()
