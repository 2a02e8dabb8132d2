"""The server the HTTP benchmarks drive: `make run`'s (``python -m config.serve``, granian), started over
the benchmark's database and waited for."""

from __future__ import annotations

import subprocess
import time
import urllib.request
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
