"""Testing-round benchmarks on PostgreSQL (database fangyi_bench_testing).

    .venv/bin/python bench/testing_bench.py [--people 1000000] [--tubes 100000] [--seconds 15] [--skip-station]

1. station: sample registrations/s through the station API (granian, 4 workers; wrk with one connection
   per thread so each thread opens a tube, fills it with 10 people and seals it, in order), once with
   one submission per request and then through the batch endpoint with ``--station-batch`` whole tubes
   per request (default 1 and 10; a tube is 12 submissions: open, 10 scans, seal), as a station's
   offline queue or a fast scanner session sends them; p50/p99 per request, the data size and the
   machine's load printed with the figures;
2. lab batch: 100 k sealed 10-in-1 tubes (1 M person links) ingested through results_ingest, the
   health app's share timed apart;
3. positive pool: one pooled positive tube resolved to its members (recheck tasks, statuses);
4. coverage: one grid, and the whole district;
5. close: closing the round (its figures kept per household), then the coverage of the closed round
   (rolled back).
Data are inserted with set-based SQL (generate_series), so a 1 M district takes a minute, not an hour.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from testing_station import PG, PY, ROOT, _root, station  # the station part: bench/testing_station.py

sys.path.insert(0, str(ROOT))
GRIDS = 200


def setup_django() -> None:
    os.environ["DATABASE_URL"] = PG
    os.environ.setdefault("FANGYI_ENV", "demo")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    import django

    django.setup()


def prepare_db() -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", "CREATE DATABASE fangyi_bench_testing"],
        capture_output=True,
        check=False,
    )
    env = {**os.environ, "DATABASE_URL": PG, "FANGYI_ENV": "demo"}
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)


def seed(people: int, tubes: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from audit.services import Actor
    from territory.models import Area, AreaKind
    from territory.services import area_create
    from testing import services
    from testing.models import Laboratory

    if Area.objects.filter(parent=None, name="基准区").exists():
        print("data present")
        return
    t0 = time.perf_counter()
    root = area_create(parent=None, kind=AreaKind.DISTRICT, name="基准区")
    for s in range(2):
        sub = area_create(parent=root, kind=AreaKind.SUBDISTRICT, name=f"街道{s}")
        for c in range(5):
            com = area_create(parent=sub, kind=AreaKind.COMMUNITY, name=f"社区{s}-{c}")
            for g in range(GRIDS // 10):
                area_create(parent=com, kind=AreaKind.GRID1, name=f"{s}-{c}-{g}网格")
    households = (people + 2) // 3
    with connection.cursor() as cur:
        cur.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM territory_area")
        base = cur.fetchone()[0]
        cur.execute(
            """
            WITH g AS (SELECT row_number() OVER (ORDER BY id) - 1 AS idx, id, path FROM territory_area
                       WHERE kind = 'grid1' AND path >= %s AND path < %s)
            INSERT INTO territory_area (id, parent_id, kind, name, path, depth, created_at)
            SELECT %s + j, g.id, 'household', 'H' || j, g.path || lpad((%s + j)::text, 8, '0'), 4, now()
            FROM generate_series(0, %s - 1) j JOIN g ON g.idx = j %% %s
            """,
            [root.path, str(int(root.path) + 1).zfill(len(root.path)), base, base, households, GRIDS],
        )
        cur.execute(
            "SELECT setval(pg_get_serial_sequence('territory_area', 'id'), (SELECT MAX(id) FROM territory_area))"
        )
        cur.execute(
            """
            INSERT INTO people_person (name, id_number, birth_date, sex, phone, area_id, area_path, category,
                vaccine_doses, is_elderly_alone, is_mobility_impaired, has_no_smartphone, created_at, updated_at)
            SELECT '王' || i, 'B' || lpad(i::text, 17, '0'), date '1950-01-01' + (i %% 20000),
                   CASE WHEN i %% 2 = 0 THEN 'M' ELSE 'F' END, '1380000' || lpad((i %% 10000)::text, 4, '0'),
                   a.id, a.path, 'resident', 2, false, i %% 200 = 0, false, now(), now()
            FROM generate_series(0, %s - 1) i JOIN territory_area a ON a.id = %s + i / 3
            """,
            [people, base],
        )
    print(f"seeded {people:,} people in {households:,} households, {GRIDS} grids: {time.perf_counter() - t0:.1f} s")
    now = timezone.now()
    lab = Laboratory.objects.create(name="基准检测中心")
    rnd = services.round_create(
        actor=Actor.system(), name="基准轮", area=root, pool_size=10, starts_at=now, laboratory=lab, now=now
    )
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute(
            """
            INSERT INTO testing_tube (barcode, round_id, site_id, pool_size, member_count, status, laboratory_id,
                opened_by_id, opened_at, sealed_at, is_home_sampling)
            SELECT 'LB' || lpad(t::text, 8, '0'), %s, NULL, 10, 10, 'sealed', %s, NULL, now(), now(), false
            FROM generate_series(0, %s - 1) t
            """,
            [rnd.pk, lab.pk, tubes],
        )
        cur.execute(
            """
            INSERT INTO testing_sample (tube_id, person_id, round_id, site_id, area_path, sampled_at, device_at,
                is_clock_skewed, is_green_channel, is_repeat_in_round, by_id_number, sampler_id)
            SELECT tb.id, p.id, %s, NULL, p.area_path, now() - interval '10 hours' + p.rn * interval '30 ms', NULL,
                   false, false, false, false, NULL
            FROM (SELECT id, area_path, row_number() OVER (ORDER BY id) - 1 AS rn FROM people_person
                  WHERE area_path >= %s AND area_path < %s) p
            JOIN testing_tube tb ON tb.barcode = 'LB' || lpad((p.rn / 10)::text, 8, '0')
            WHERE p.rn < %s
            """,
            [rnd.pk, root.path, str(int(root.path) + 1).zfill(len(root.path)), tubes * 10],
        )
        cur.execute("ANALYZE")
    print(f"seeded {tubes:,} sealed tubes and {tubes * 10:,} samples: {time.perf_counter() - t0:.1f} s")


def lab_reset(lab_id: int) -> None:
    """Back to the state a laboratory batch meets: the LB tubes without results, tasks or cases, and in
    the health app what the stations wrote when the members were sampled (``samples_recorded``, see
    health/services/sampling.py): one pending sample per member, referenced as the station references it,
    at its sampling time, and a (green, default_green) status row whose latest sampling is that sample.
    Seeds before 2026-11-30 sampled every member at one instant; stations sample one person at a time
    (the seed now spreads them 30 ms apart over ~8 h). Rows of the pool and station runs are dropped.
    TRUNCATE, VACUUM and CHECKPOINT, so no dead rows or pending writes slow the next run."""
    from django.db import connection

    from health.selectors import current_rules

    t = time.perf_counter()
    lb = "SELECT id FROM testing_tube WHERE barcode LIKE 'LB%%' AND laboratory_id = %s"
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM testing_rechecktask WHERE tube_id IN ({lb})", [lab_id])  # noqa: S608
        cur.execute(f"DELETE FROM testing_case WHERE tube_id IN ({lb})", [lab_id])  # noqa: S608
        cur.execute(
            f"DELETE FROM testing_resultcorrection WHERE result_id IN "  # noqa: S608
            f"(SELECT id FROM testing_result WHERE tube_id IN ({lb}))",
            [lab_id],
        )
        cur.execute(f"DELETE FROM testing_result WHERE tube_id IN ({lb})", [lab_id])  # noqa: S608
        cur.execute("TRUNCATE health_sample, health_healthstatus, health_statushistory")
        cur.execute(
            "INSERT INTO health_sample (person_id, sample_ref, sampled_at, result, is_pooled, result_at, "
            "recorded_at) SELECT s.person_id, t.barcode || ':' || s.person_id, s.sampled_at, 'pending', false, "
            "NULL, s.sampled_at FROM testing_sample s JOIN testing_tube t ON t.id = s.tube_id "
            "WHERE t.barcode LIKE 'LB%%' AND t.laboratory_id = %s",
            [lab_id],
        )
        cur.execute(
            "INSERT INTO health_healthstatus (person_id, colour, reason_code, evidence, rule_version, "
            "latest_sampled_at, latest_result, latest_negative_sampled_at, since, evaluated_at) "
            "SELECT person_id, 'green', 'default_green', '', %s, max(sampled_at), 'pending', NULL, "
            "min(sampled_at), max(sampled_at) FROM health_sample GROUP BY person_id",
            [current_rules().version],
        )
    with connection.cursor() as cur:  # VACUUM cannot run in a transaction; Django autocommits here
        for table in ("testing_result", "testing_rechecktask", "testing_case", "health_sample", "health_healthstatus"):
            cur.execute(f"VACUUM ANALYZE {table}")
        cur.execute("CHECKPOINT")
    print(
        "lab batch: earlier results removed, the health app as the stations left it (a pending sample and a "
        f"green row per member) ({time.perf_counter() - t:.1f} s)"
    )


def lab_batch(tubes: int) -> None:
    from django.db import transaction
    from django.utils import timezone

    from audit.services import Actor
    from testing import health_port, services
    from testing.models import Laboratory

    lab = Laboratory.objects.get(name="基准检测中心")
    lab_reset(lab.pk)
    # One pooled positive per 10,000 tubes (pooling suits low prevalence).
    text = "试管条码,结果\n" + "".join(f"LB{t:08d},{'阳性' if t % 10000 == 4242 else '阴性'}\n" for t in range(tubes))
    data = text.encode()
    spent = {"health": 0.0}
    original = health_port.results_recorded

    def timed(**kw: object) -> None:
        t = time.perf_counter()
        original(**kw)  # type: ignore[arg-type]
        spent["health"] += time.perf_counter() - t

    health_port.results_recorded = timed  # type: ignore[assignment]
    backend = _backend_cpu()
    cpu0, db0 = time.process_time(), backend()
    print(f"lab batch: load average at start {os.getloadavg()[0]:.1f}")
    t0 = time.perf_counter()
    rows = services.parse_result_file(name="batch.csv", data=data)
    t1 = time.perf_counter()
    # The same single transaction as a bare call; held open here only to time its COMMIT apart (the
    # deferred foreign-key checks of every inserted row run then).
    with transaction.atomic():
        report = services.results_ingest(
            actor=Actor.system(), laboratory=lab, rows=rows, filename="batch.csv", now=timezone.now()
        )
        tc = time.perf_counter()
        cpu_c, db_c = time.process_time(), backend()
    t2 = time.perf_counter()
    cpu1, db1 = time.process_time(), backend()
    health_port.results_recorded = original  # type: ignore[assignment]
    print(
        f"lab batch: {tubes:,} tubes / {tubes * 10:,} person links: parse {t1 - t0:.1f} s, ingest {t2 - t1:.1f} s "
        f"(of which health.results_recorded {spent['health']:.1f} s, commit {t2 - tc:.1f} s), "
        f"total {t2 - t0:.1f} s; fates {report.counts}; load average at end {os.getloadavg()[0]:.1f}"
    )
    # CPU seconds follow the code more than the load does (wall time on a busy machine is mostly waiting
    # for a core); the backend's figure is its own process only (no parallel workers).
    print(
        f"lab batch CPU: this process {cpu1 - cpu0:.1f} s, its PostgreSQL backend {db1 - db0:.1f} s "
        f"(of which the commit {db1 - db_c:.1f} s; this process in the commit {cpu1 - cpu_c:.1f} s)"
    )
    t3 = time.perf_counter()
    again = services.results_ingest(
        actor=Actor.system(), laboratory=lab, rows=rows, filename="batch.csv", now=timezone.now()
    )
    print(f"lab batch re-upload (changes nothing): {time.perf_counter() - t3:.1f} s; fates {again.counts}")


def _backend_cpu() -> Callable[[], float]:
    """CPU seconds (user + system) of this connection's PostgreSQL backend so far, from /proc (the
    server runs on this machine); nan where /proc cannot be read."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        pid = cur.fetchone()[0]

    def read() -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    return read


def positive_pool() -> None:
    from django.db import connection
    from django.utils import timezone

    from audit.services import Actor
    from testing import services
    from testing.models import Laboratory, RecheckTask, Round, Sample, Tube

    lab = Laboratory.objects.get(name="基准检测中心")
    rnd = Round.objects.get(name="基准轮")
    times, member_ms = [], []
    people = list(Sample.objects.filter(round=rnd).order_by("-id").values_list("person_id", "area_path")[:200])
    for k in range(10):
        barcode = f"PP{time.time_ns()}{k}"
        tube = Tube.objects.create(
            barcode=barcode,
            round=rnd,
            pool_size=10,
            member_count=10,
            status="sealed",
            laboratory=lab,
            opened_at=timezone.now(),
            sealed_at=timezone.now(),
        )
        Sample.objects.bulk_create(
            [
                Sample(tube=tube, person_id=pid, round=rnd, area_path=path, sampled_at=timezone.now())
                for pid, path in people[k * 10 : k * 10 + 10]
            ]
        )
        t = time.perf_counter()
        services.results_ingest(
            actor=Actor.system(), laboratory=lab, rows=[(1, barcode, "阳性")], filename="pp", now=timezone.now()
        )
        times.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        assert RecheckTask.objects.filter(tube=tube).count() == 10
        member_ms.append((time.perf_counter() - t) * 1000)
    print(
        f"positive pool -> 10 members yellow + 10 recheck tasks (whole upload call): median "
        f"{statistics.median(times):.1f} ms, max {max(times):.1f} ms; "
        f"members lookup {statistics.median(member_ms):.2f} ms"
        f" [{connection.vendor}]"
    )


def coverage() -> None:
    from territory.models import Area, AreaKind
    from testing import selectors
    from testing.models import Round

    rnd = Round.objects.get(name="基准轮")
    root = _root()
    grid = Area.objects.filter(kind=AreaKind.GRID1, path__startswith=root.path).order_by("path").first()  # type: ignore[attr-defined]
    for label, node in (("one grid", grid), ("district", root)):
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            total, children = selectors.coverage_children(rnd, node)  # type: ignore[arg-type]
            runs.append((time.perf_counter() - t) * 1000)
        print(
            f"coverage {label}: {total.total:,} people, {len(children)} children: "
            f"median {statistics.median(runs):.0f} ms "
            f"(runs {', '.join(f'{r:.0f}' for r in runs)})"
        )


def close() -> None:
    """Closing the round: its figures kept per household in one INSERT ... SELECT, then the coverage of
    the closed round read from them. Rolled back, so the other measures still see the open round."""
    from django.db import connection, transaction
    from django.utils import timezone

    from audit.services import Actor
    from territory.models import Area, AreaKind
    from testing import selectors, services
    from testing.models import Round, RoundFigure

    rnd = Round.objects.get(name="基准轮")
    root = _root()
    grid = Area.objects.filter(kind=AreaKind.GRID1, path__startswith=root.path).order_by("path").first()  # type: ignore[attr-defined]
    with transaction.atomic():
        t = time.perf_counter()
        closed = services.round_close(actor=Actor.system(), rnd=rnd, now=timezone.now())
        close_ms = (time.perf_counter() - t) * 1000
        rows = RoundFigure.objects.filter(round=closed).count()
        with connection.cursor() as cur:
            cur.execute("SELECT pg_size_pretty(pg_total_relation_size('testing_roundfigure'))")
            size = cur.fetchone()[0]
        print(f"close: {close_ms:.0f} ms, {rows:,} household rows kept ({size} with the index)")
        for label, node in (("one grid", grid), ("district", root)):
            runs = []
            for _ in range(3):
                t = time.perf_counter()
                total, children = selectors.coverage_children(closed, node)  # type: ignore[arg-type]
                runs.append((time.perf_counter() - t) * 1000)
            print(
                f"coverage of the closed round, {label}: {total.total:,} people, {len(children)} children: "
                f"median {statistics.median(runs):.0f} ms (runs {', '.join(f'{r:.0f}' for r in runs)})"
            )
        transaction.set_rollback(True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=1_000_000)
    ap.add_argument("--tubes", type=int, default=100_000)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--skip-station", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("--station-batch", default="1,10", help="whole tubes per batch request, comma-separated")
    args = ap.parse_args()
    print(f"cpus={os.cpu_count()} load={os.getloadavg()} (shared with other engineers' work)")
    prepare_db()
    setup_django()
    seed(args.people, args.tubes)
    only = set(filter(None, args.only.split(",")))
    if not only or "coverage" in only:
        coverage()
    if not only or "close" in only:
        close()
    if not only or "lab" in only:
        lab_batch(args.tubes)
    if not only or "pool" in only:
        positive_pool()
    if (not only or "station" in only) and not args.skip_station:
        station(args.seconds, [int(b) for b in args.station_batch.split(",") if b])


if __name__ == "__main__":
    main()
