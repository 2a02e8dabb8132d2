"""Verification read benchmark: POST /api/v1/health/verify against the bare /health/ping/ on the same
server (granian, config/serve.py) in the same run, with wrk as the load generator in a second process.

    .venv/bin/python bench/verify.py [--people 100000] [--seconds 15] [--backends sqlite,postgres] [--threads 1]

Each backend gets its own database (var/bench_health.sqlite3, PostgreSQL fangyi_bench_health).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

from serving import start_server  # bench/serving.py

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv/bin/python")
PORT = 8765
PG = "postgres://postgres@127.0.0.1:5432/fangyi_bench_health"
SQLITE = f"sqlite:///{ROOT / 'var/bench_health.sqlite3'}"


def run(cmd: list[str], env: dict[str, str]) -> str:
    out = subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True, text=True)
    return out.stdout


def prepare(url: str, people: int) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": url, "FANGYI_ENV": "demo"}
    if url.startswith("postgres"):
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", "CREATE DATABASE fangyi_bench_health"],
            capture_output=True,
            check=False,
        )
    run([PY, "manage.py", "migrate", "--noinput"], env)
    print(run([PY, "bench/health_data.py", str(people)], env).strip())
    return env


def wrk(url: str, seconds: int, script: str | None = None) -> dict[str, float]:
    cmd = ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    return {
        "rps": rps,
        "p50": ms("50%"),
        "p99": ms("99%"),
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
        "requests": float(total.group(1)) if total else 0.0,
    }


def serve(env: dict[str, str], threads: int = 1) -> subprocess.Popen[bytes]:
    server_env = {
        **env,
        "FANGYI_BIND": f"127.0.0.1:{PORT}",
        "FANGYI_WORKERS": os.environ.get("WORKERS", "4"),
        "FANGYI_THREADS": str(threads),
        "FANGYI_ADMISSION_MAX": "64",
        "ALLOWED_HOSTS": "127.0.0.1",
        "FANGYI_RETENTION_HOUR": "off",  # no scheduled purge in the middle of a measurement
    }
    run([PY, "manage.py", "collectstatic", "--noinput", "-v0"], env)
    return start_server(server_env, port=PORT, ready_path="/health/ping/")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--backends", default="postgres,sqlite")
    # More than one thread per worker lets PostgreSQL flush several verifications' audit rows with one
    # WAL fsync (group commit); one thread waits for its own flush.
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    print(f"cpus={os.cpu_count()} load={os.getloadavg()} (other engineers' work shares this machine)")
    for backend in args.backends.split(","):
        env = prepare(PG if backend == "postgres" else SQLITE, args.people)
        proc = serve(env, args.threads)
        try:
            script = str(ROOT / "var/bench_verify.lua")
            wrk(f"http://127.0.0.1:{PORT}/health/ping/", 3)  # warm up every worker
            bare = wrk(f"http://127.0.0.1:{PORT}/health/ping/", args.seconds)
            run([PY, "bench/health_data.py", "wrk-script", script, "5000"], env)  # tokens live 60 s: mint now
            wrk(f"http://127.0.0.1:{PORT}/api/v1/health/verify", 3, script)
            verify = wrk(f"http://127.0.0.1:{PORT}/api/v1/health/verify", args.seconds, script)
        finally:
            proc.terminate()
            proc.wait()
        for name, r in (("bare JSON", bare), ("verify", verify)):
            print(
                f"{backend:9} {name:10} {r['rps']:8,.0f} req/s  p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms  "
                f"non-2xx {int(r['errors'])}/{int(r['requests'])}"
            )
        sys.stdout.flush()


if __name__ == "__main__":
    main()
