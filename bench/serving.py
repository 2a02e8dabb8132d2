"""The server the HTTP benchmarks drive: `make run`'s (``python -m config.serve``, granian), started over
the benchmark's database and waited for, and where the machine's CPU went while it ran."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_server(env: dict[str, str], *, port: int, ready_path: str) -> subprocess.Popen[bytes]:
    """The server with ``env`` (FANGYI_BIND and the database in it), once ``ready_path`` answers 2xx on
    ``port``. It runs in a process group of its own, so ``os.killpg`` stops it with its workers."""
    proc = subprocess.Popen(
        [str(ROOT / ".venv/bin/python"), "-m", "config.serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    for _ in range(150):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{ready_path}", timeout=1)
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start")


def cpu_of(match: Callable[[str, int, str], bool]) -> dict[int, float]:
    """User + system CPU seconds so far of every process whose (command name, parent pid, command line)
    match."""
    out = {}
    hz = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm, rest = (entry / "stat").read_text().split(" (", 1)[1].rsplit(") ", 1)
            cmdline = (entry / "cmdline").read_text()
        except (OSError, ValueError, IndexError):
            continue
        fields = rest.split()
        if match(comm, int(fields[1]), cmdline):
            out[int(entry.name)] = (int(fields[11]) + int(fields[12])) / hz
    return out


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two readings: a process started meanwhile counts whole, one gone counts 0."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - idle) / hz, sum(fields) / hz
