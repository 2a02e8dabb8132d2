"""The station part of testing_bench.py: sample registrations/s through the station API, served by
granian (config/serve.py) and driven by wrk (single submissions, then whole tubes per batch request), with where the
CPU went per registration.

    .venv/bin/python bench/testing_bench.py --only station [--seconds 15] [--station-batch 1,10]
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from serving import cpu_of, cpu_spent, machine_busy, start_server  # bench/serving.py

ROOT = Path(__file__).resolve().parent.parent
PG = "postgres://postgres@127.0.0.1:5432/fangyi_bench_testing"
PY = str(ROOT / ".venv/bin/python")
PORT = 8766


def _root() -> object:
    """The benchmark district (seeded by testing_bench.seed)."""
    from territory.models import Area

    return Area.objects.get(parent=None, name="基准区")

# --- station through HTTP -------------------------------------------------------------------------


def station_script(path: str, batch: int) -> int:
    """The wrk script: one submission per request (``batch`` 0) or ``batch`` whole tubes per request."""
    from django.utils import timezone

    from accounts.models import Membership, User
    from accounts.roles import Role
    from accounts.services import api_token_create
    from audit.services import Actor
    from territory.models import Area, AreaKind
    from testing import health_port, services
    from testing.models import Round, Site

    root = _root()
    now = timezone.now()
    rnd = Round.objects.filter(name="基准站点轮").first() or services.round_create(
        actor=Actor.system(), name="基准站点轮", area=root, pool_size=10, starts_at=now, now=now
    )  # type: ignore[arg-type]
    grid = Area.objects.filter(kind=AreaKind.GRID1, path__startswith=root.path).order_by("path").first()  # type: ignore[attr-defined]
    site = Site.objects.filter(round=rnd).first() or services.site_create(
        actor=Actor.system(), rnd=rnd, name="基准采样点", location="-", grid=grid, now=now
    )  # type: ignore[arg-type]
    user, created = User.objects.get_or_create(username="bench-sampler")
    if created:
        Membership.objects.create(user=user, area=grid, role=Role.SAMPLER)
    services.site_staff_add(actor=Actor.system(), site=site, user=user, now=now)  # samplers work at their site
    _tok, raw = api_token_create(actor=Actor.system(), user=user, name="bench")
    from people.models import Person

    ids = list(
        Person.objects.filter(area_path__startswith=root.path).order_by("-id").values_list("pk", flat=True)[:30000]
    )  # type: ignore[attr-defined]
    codes = [health_port.sampling_token_for(pid, now=now) for pid in ids]
    nonce = str(time.time_ns())[-9:]
    with open(path, "w") as f:
        f.write("local codes = {" + ",".join(f'"{c}"' for c in codes) + "}\n")
        f.write(f'local site = {site.pk}\nlocal nonce = "{nonce}"\nlocal batch = {batch}\n')
        f.write(
            f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Authorization"] = "Bearer {raw}"\n'
        )
        f.write(LUA)
    return int(site.pk)


LUA = r"""
local counter = 0
function setup(thread) thread:set("tid", counter); counter = counter + 1 end
function init(args) step = 0; tube = 0; ci = (tid * 7919) % #codes; warm = false end
local function nextcode() ci = ci % #codes + 1; return codes[ci] end
function request()
  -- wrk loses one thread's first request (it never reaches the server); a ping goes first, so no tube
  -- is left unopened and its scans do not come back 404.
  if not warm then warm = true; return wrk.format("GET", "/health/ping/") end
  local bc
  if batch > 0 then
    local items = {}
    for _ = 1, batch do
      tube = tube + 1
      bc = "W" .. nonce .. "-" .. tid .. "-" .. tube
      items[#items + 1] = '{"kind":"open","key":"o' .. bc .. '","site_id":' .. site .. ',"barcode":"' .. bc .. '"}'
      for i = 1, 10 do
        items[#items + 1] = '{"kind":"sample","key":"s' .. bc .. '-' .. i .. '","barcode":"' .. bc
          .. '","code":"' .. nextcode() .. '"}'
      end
      items[#items + 1] = '{"kind":"seal","key":"c' .. bc .. '","barcode":"' .. bc .. '"}'
    end
    return wrk.format(nil, "/api/v1/testing/station/batch", nil, '{"items":[' .. table.concat(items, ",") .. ']}')
  end
  if step == 0 then tube = tube + 1 end
  bc = "W" .. nonce .. "-" .. tid .. "-" .. tube
  local path, body
  if step == 0 then
    path = "/api/v1/testing/station/tubes"
    body = '{"key":"o' .. bc .. '","site_id":' .. site .. ',"barcode":"' .. bc .. '"}'
  elseif step <= 10 then
    path = "/api/v1/testing/station/samples"
    body = '{"key":"s' .. bc .. '-' .. step .. '","barcode":"' .. bc .. '","code":"' .. nextcode() .. '"}'
  else
    path = "/api/v1/testing/station/seal"
    body = '{"key":"c' .. bc .. '","barcode":"' .. bc .. '"}'
  end
  step = (step + 1) % 12
  return wrk.format(nil, path, nil, body)
end
"""


def _wrk(threads: int, seconds: int, script: str) -> str:
    """wrk's report of ``threads`` connections (one a thread) running ``script`` for ``seconds``."""
    return subprocess.run(
        ["wrk", f"-t{threads}", f"-c{threads}", f"-d{seconds}s", "--latency", "-s", script, f"http://127.0.0.1:{PORT}/"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def station(seconds: int, batches: list[int]) -> None:
    import re

    from people.models import Person
    from testing.models import Sample

    env = {
        **os.environ,
        "DATABASE_URL": PG,
        "FANGYI_ENV": "demo",
        "FANGYI_BIND": f"127.0.0.1:{PORT}",
        # The server as `make run` starts it (config/serve.py: 2 processes a core, 24 threads each, 4
        # admission slots a process) unless WORKERS, THREADS or ADMISSION_MAX say otherwise.
        "FANGYI_WORKERS": os.environ.get("WORKERS", str(2 * (os.cpu_count() or 1))),
        "FANGYI_THREADS": os.environ.get("THREADS", "24"),
        "FANGYI_ADMISSION_MAX": os.environ.get("ADMISSION_MAX", "4"),
        "ALLOWED_HOSTS": "127.0.0.1",
        "FANGYI_RETENTION_HOUR": "off",  # no scheduled purge in the middle of a measurement
    }
    subprocess.run([PY, "manage.py", "collectstatic", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)
    proc = start_server(env, port=PORT, ready_path="/accounts/login/")
    try:
        threads = int(os.environ.get("WRK_THREADS", "8"))
        people = Person.objects.count()
        print(
            f"station: {people:,} residents, granian {env['FANGYI_WORKERS']} workers x {env['FANGYI_THREADS']} "
            f"threads (admission {env['FANGYI_ADMISSION_MAX']} a worker), wrk {threads} "
            f"threads x 1 connection, {seconds} s per mode, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}"
        )
        script = str(ROOT / "var/bench_station.lua")
        # A few seconds of single submissions first, not counted: a station's server has been running
        # (cold processes prepare their statements and fill their caches, and the admission gate
        # refused some of the first requests, an opening among them, whose tube's scans then failed).
        station_script(script, 0)
        _wrk(threads, 3, script)
        for batch in (0, *batches):
            station_script(script, batch)
            before = Sample.objects.count()
            # Where the two cores went during the run: the server's workers, the PostgreSQL backends of
            # this database, the other PostgreSQL processes (WAL writer, checkpointer, autovacuum, other
            # engineers' databases), wrk, and the machine as a whole.
            workers: Callable[[str, int, str], bool] = lambda _comm, ppid, _cmd: ppid == proc.pid  # noqa: E731
            ours: Callable[[str, int, str], bool] = lambda comm, _ppid, cmd: (  # noqa: E731
                comm == "postgres" and " fangyi_bench_testing " in cmd
            )
            rest: Callable[[str, int, str], bool] = lambda comm, _ppid, cmd: (  # noqa: E731
                comm == "postgres" and " fangyi_bench_testing " not in cmd
            )
            cpu0 = (cpu_of(workers), cpu_of(ours), cpu_of(rest), resource.getrusage(resource.RUSAGE_CHILDREN))
            busy0 = machine_busy()
            out = _wrk(threads, seconds, script)
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            busy1 = machine_busy()
            cpu = (
                cpu_spent(cpu0[0], cpu_of(workers)),
                cpu_spent(cpu0[1], cpu_of(ours)),
                usage.ru_utime + usage.ru_stime - cpu0[3].ru_utime - cpu0[3].ru_stime,
                cpu_spent(cpu0[2], cpu_of(rest)),
            )
            added = Sample.objects.count() - before
            rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
            non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
            p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
            p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
            label = f"batch ({batch} tube(s) = {12 * batch} submissions/request)" if batch else "single submissions"
            print(
                f"station {label}: {rps:,.0f} requests/s, {added / seconds:,.0f} sample registrations/s "
                f"({added:,} in {seconds} s), p50 {p50.group(1) if p50 else '?'} p99 {p99.group(1) if p99 else '?'}"
                f" per request, non-2xx {non2xx.group(1) if non2xx else 0}, load {os.getloadavg()[0]:.1f}"
            )
            per = 1000 / max(added, 1)
            print(
                f"  CPU in {seconds} s: server workers {cpu[0]:.1f} s, its PostgreSQL backends {cpu[1]:.1f} s, "
                f"wrk {cpu[2]:.1f} s, other PostgreSQL processes {cpu[3]:.1f} s, "
                f"machine {busy1[0] - busy0[0]:.1f} of {busy1[1] - busy0[1]:.1f} s; per registration "
                f"{cpu[0] * per:.2f} / {cpu[1] * per:.2f} / {cpu[2] * per:.2f} ms (workers / backends / wrk)"
            )
    finally:
        proc.terminate()
        proc.wait()
