"""One venue check-in in-process: milliseconds and database queries per request, optionally under cProfile.

    .venv/bin/python bench/venues_checkin_profile.py [--db sqlite|postgres] [--requests 2000] [--profile]
    options: --residents 20000 --venues 200 --sessions 200 --quick (2,000 residents, 300 requests)

Builds its database the way bench/venues_checkin.py does (residents, approved venues with one code
each, resident sessions), in a database of its own (var/bench_venues_profile.sqlite3 or PostgreSQL
fangyi_bench_venues_profile), then drives Django's test client in this process through the whole
middleware stack, CSRF enforced as for a browser: first one check-in per session (to warm the session
and status caches, as the warm-up of the wrk run does), then --requests check-ins round-robin over
the sessions, each with a new retry key. Reported per path: the API (`POST /api/v1/venues/checkins`),
the poster scan (`POST /v/<token>/`, answered with a redirect) and the verification page it redirects
to (`GET /v/s/<key>/`), and the API check-in again through the WSGI application the server serves
(config.wsgi: the admission gate and venues/fastpath.py): median and mean wall milliseconds, this
process's CPU milliseconds and the queries of one request. With --profile the
measured loop of each path runs under cProfile and the top functions are printed.

This is the cost of the code alone (no HTTP parsing, no network, one thread); wrk figures are in
bench/README.md.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import venues_checkin  # noqa: E402  (the same database builder as the wrk benchmark)

CSRF = "bench" * 6 + "12"


def setup(db: str, name: str) -> None:
    env = venues_checkin.env_for(db, name)
    os.environ["FANGYI_ENV"] = "test"  # as demo, but static files without a collected manifest
    os.environ["DATABASE_URL"] = env["DATABASE_URL"]
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's host name


def clients(fixtures: Path) -> list[tuple[Any, str]]:
    from django.test import Client

    out = []
    for line in fixtures.read_text().splitlines():
        if not line.strip():
            continue
        session, token = line.split()
        c = Client(enforce_csrf_checks=True)
        c.cookies["sessionid"] = session
        c.cookies["csrftoken"] = CSRF
        out.append((c, token))
    return out


def api(c: Any, token: str, key: str) -> Any:
    body = f'{{"code":"{token}","client_key":"{key}"}}'
    r = c.post("/api/v1/venues/checkins", body, content_type="application/json", HTTP_X_CSRFTOKEN=CSRF)
    assert r.status_code == 200, (r.status_code, r.content[:200])
    return r


def fast(c: Any, token: str, key: str) -> None:
    """The same check-in through the WSGI application the server serves (config.wsgi): the admission
    gate and the check-in fast path (venues/fastpath.py), as wrk's requests go."""
    from django.test import RequestFactory

    from config.wsgi import application

    body = f'{{"code":"{token}","client_key":"{key}"}}'.encode()
    cookie = f"sessionid={c.cookies['sessionid'].value}; csrftoken={CSRF}"
    request = RequestFactory().generic(
        "POST", "/api/v1/venues/checkins", body, "application/json", HTTP_X_CSRFTOKEN=CSRF, HTTP_COOKIE=cookie
    )
    environ = request.environ
    status: list[str] = []
    result = application(environ, lambda s, h: status.append(s))
    b"".join(result)
    getattr(result, "close", lambda: None)()
    assert status[0].startswith("200"), status


def scan(c: Any, token: str, key: str) -> Any:
    r = c.post(f"/v/{token}/", {"client_key": key, "csrfmiddlewaretoken": CSRF})
    assert r.status_code == 302, (r.status_code, r.content[:200])
    return r


def measure(label: str, calls: list[Any], profile: bool) -> dict[str, float]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as q:
        calls[0]()
    sample = [x["sql"] for x in q.captured_queries]
    times = []
    prof = cProfile.Profile() if profile else None
    cpu0 = time.process_time()
    for call in calls[1:]:
        t0 = time.perf_counter()
        if prof:
            prof.enable()
        call()
        if prof:
            prof.disable()
        times.append((time.perf_counter() - t0) * 1000)
    result = {
        "median_ms": round(statistics.median(times), 2),
        "mean_ms": round(statistics.fmean(times), 2),
        # CPU of this process only (Django and the driver; not the database server's).
        "cpu_ms": round((time.process_time() - cpu0) * 1000 / len(times), 2),
        "queries": len(sample),
    }
    print(
        f"{label:<28} median {result['median_ms']:6.2f} ms  mean {result['mean_ms']:6.2f} ms  "
        f"cpu {result['cpu_ms']:5.2f} ms  queries {result['queries']}  ({len(times)} requests)"
    )
    if os.environ.get("SHOW_SQL"):
        for sql in sample:
            print("    ", sql[:160])
    if prof:
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out).strip_dirs()
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(20)
        print(out.getvalue())
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--residents", type=int, default=20_000)
    ap.add_argument("--venues", type=int, default=200)
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--requests", type=int, default=2_000)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--quick", action="store_true", help="2,000 residents, 50 venues, 100 sessions, 300 requests")
    args = ap.parse_args()
    name = "bench_venues_profile"
    if args.quick:
        args.residents, args.venues, args.sessions, args.requests = 2_000, 50, 100, 300
        name = "bench_venues_profile_quick"
    if args.db == "postgres":
        name = "fangyi_" + name
        venues_checkin.create_pg_database(name)
    fixtures = venues_checkin.build(args.db, args.residents, args.venues, args.sessions, name)
    setup(args.db, name)
    pairs = clients(fixtures)
    run = uuid.uuid4().hex[:8]
    for i, (c, token) in enumerate(pairs):  # warm sessions and statuses, as wrk's warm-up does
        api(c, token, f"w{run}-{i}")
    n = args.requests
    keys = [f"p{run}-{i}" for i in range(n + 1)]
    pick = [pairs[i % len(pairs)] for i in range(n + 1)]
    api_calls = [lambda c=c, t=t, k=k: api(c, t, "a" + k) for (c, t), k in zip(pick, keys, strict=True)]
    fast_calls = [lambda c=c, t=t, k=k: fast(c, t, "f" + k) for (c, t), k in zip(pick, keys, strict=True)]
    scan_calls = [lambda c=c, t=t, k=k: scan(c, t, "s" + k) for (c, t), k in zip(pick, keys, strict=True)]
    page_calls = [lambda c=c, k=k: c.get(f"/v/s/s{k}/") for (c, _t), k in zip(pick, keys, strict=True)]
    from django.db import connection

    print(
        f"{args.db} ({connection.vendor}), {args.residents} residents, {args.venues} venues, "
        f"{len(pairs)} sessions, cpus {os.cpu_count()}, load {os.getloadavg()[0]:.1f}"
    )
    measure("API check-in (fast path)", fast_calls, args.profile)
    measure("API check-in (Django)", api_calls, args.profile)
    measure("scan POST /v/<token>/", scan_calls, args.profile)
    measure("result GET /v/s/<key>/", page_calls, args.profile)


if __name__ == "__main__":
    main()
