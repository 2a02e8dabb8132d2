"""Management commands run every few minutes by the server's main process, without a task runner.

``config/serve.py`` starts one thread per job with ``start_every_from_env`` before it starts the workers.
Each turn runs ``manage.py <command>`` in a child process, so its memory and any crash stay out of the
server, and logs a failure through the server's logger; the next turn comes at the usual time either way.
A job's command must be idempotent and safe on several nodes at once (it claims its work in the
database), since every node's server runs it. The daily check-in purge keeps its own scheduler at an
hour of the day (``venues.scheduler``).

Standard library only: the server's main process never sets Django up.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT_SECONDS = 15 * 60
MIN_WAIT_SECONDS = 1.0

_started: dict[str, threading.Thread] = {}


class IntervalScheduler:
    """Runs ``run`` every ``every`` seconds, counted from the start of each run; ``step`` runs once and
    says how long to wait, so tests drive it with a fake clock instead of sleeping."""

    def __init__(
        self,
        *,
        name: str,
        every: float,
        run: Callable[[], tuple[int, str]],
        log: Any,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if every <= 0:
            raise ValueError(f"{name}: interval {every} is not positive")
        self.name = name
        self.every = every
        self.run = run
        self.log = log
        self.clock = clock

    def step(self) -> float:
        started = self.clock()
        code, output = self.run()
        if code == 0:
            self.log.debug("%s: %s", self.name, output.strip()[-500:] or "done")
        else:
            self.log.error("%s failed (exit %s): %s", self.name, code, output.strip()[-2000:])
        return max(self.every - (self.clock() - started), MIN_WAIT_SECONDS)

    def loop(self, stop: threading.Event, *, delay: float = 0.0) -> None:
        run_steps(self.step, stop, log=self.log, name=self.name, wait_after_error=self.every, delay=delay)


def run_steps(
    step: Callable[[], float],
    stop: threading.Event,
    *,
    log: Any,
    name: str,
    wait_after_error: float,
    delay: float = 0.0,
) -> None:
    """A scheduler thread's body: after ``delay``, call ``step`` and wait the seconds it returns, until
    ``stop`` is set. An exception is logged and waited out, never let through: the thread must live
    for the next turn."""
    if delay and stop.wait(delay):
        return
    while not stop.is_set():
        try:
            wait = step()
        except Exception:
            log.exception("%s scheduler", name)
            wait = wait_after_error
        stop.wait(max(wait, MIN_WAIT_SECONDS))


def command_runner(command: list[str], *, timeout: float = RUN_TIMEOUT_SECONDS) -> Callable[[], tuple[int, str]]:
    """A ``run`` for ``IntervalScheduler``: ``manage.py <command>`` in a child process with the
    server's environment; (exit status, output)."""

    def run() -> tuple[int, str]:
        try:
            done = subprocess.run(  # noqa: S603 (a fixed argument list, no shell)
                [sys.executable, str(ROOT / "manage.py"), *command],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return 1, f"{type(exc).__name__}: {exc}"
        return done.returncode, done.stdout + done.stderr

    return run


def minutes_from_env(
    variable: str, default: int, environ: dict[str, str] | os._Environ[str] = os.environ
) -> int | None:
    """A job's interval in minutes from ``variable`` (``default`` when unset), or None for off/none."""
    raw = environ.get(variable, str(default)).strip().lower()
    if raw in {"", "off", "none", "no", "false"}:
        return None
    minutes = int(raw)
    if minutes <= 0:
        raise ValueError(f"{variable}={raw} is not a number of minutes")
    return minutes


def start_every_from_env(
    log: Any,
    *,
    name: str,
    command: list[str],
    variable: str,
    default_minutes: int,
    environ: dict[str, str] | os._Environ[str] = os.environ,
) -> threading.Thread | None:
    """Start ``name``'s thread once per process: ``command`` every ``variable`` minutes, the first turn
    one interval after the start (not while the server warms up). None when off, and in a test
    process (FANGYI_ENV=test), where a real thread would run commands against whatever database the
    environment names: tests drive ``IntervalScheduler.step`` instead."""
    minutes = minutes_from_env(variable, default_minutes, environ)
    if minutes is None:
        log.info("%s off (%s)", name, variable)
        return None
    if environ.get("FANGYI_ENV") == "test":
        return None
    running = _started.get(name)
    if running is not None and running.is_alive():
        return running
    scheduler = IntervalScheduler(name=name, every=minutes * 60, run=command_runner(command), log=log)
    thread = threading.Thread(
        target=scheduler.loop, args=(threading.Event(),), kwargs={"delay": minutes * 60}, name=name, daemon=True
    )
    _started[name] = thread
    thread.start()
    log.info("%s every %d min: manage.py %s", name, minutes, " ".join(command))
    return thread
