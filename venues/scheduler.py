"""The daily retention purge without a task runner: a thread in the server's main process.

``config/serve.py`` calls ``start_from_env`` before it starts the workers. Once a day, at
FANGYI_RETENTION_HOUR (local time, default 03; ``off`` disables it), the thread runs
``manage.py venues_retention --daily`` in a child process, so the purge's memory and any crash stay
out of the server, and logs the outcome through the server's logger. The command claims the day in
the database: on several nodes every server tries, one purges, the others are told it is done.
A server started after the hour catches up STARTUP_DELAY_SECONDS later (not while it warms up or a
deployment restarts every node); a failed or contended run is retried every RETRY_SECONDS until it
succeeds that day.

Standard library only: the server's main process never sets Django up.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
import zoneinfo
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common.scheduler import command_runner, run_steps

ROOT = Path(__file__).resolve().parent.parent
ZONE = zoneinfo.ZoneInfo("Asia/Shanghai")  # settings.TIME_ZONE: the day a purge belongs to
EX_TEMPFAIL = 75  # the command: another process is purging right now
RETRY_SECONDS = 600
MAX_WAIT_SECONDS = 3600  # wake at least hourly, so a changed clock cannot postpone a run for long
STARTUP_DELAY_SECONDS = 600
RUN_TIMEOUT_SECONDS = 3 * 3600

_started: threading.Thread | None = None


class RetentionScheduler:
    """Decides when to run; ``step`` does what is due at the clock's time and says how long to wait,
    so tests drive it with a fake clock instead of sleeping."""

    def __init__(
        self,
        *,
        hour: int,
        run: Callable[[], tuple[int, str]],
        log: Any,
        clock: Callable[[], float] = time.time,
        zone: dt.tzinfo = ZONE,
    ) -> None:
        if not 0 <= hour <= 23:
            raise ValueError(f"retention hour {hour} is not 0-23")
        self.hour = hour
        self.run = run
        self.log = log
        self.clock = clock
        self.zone = zone
        self.done_on: dt.date | None = None

    def _at_hour(self, day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(self.hour), tzinfo=self.zone)

    def step(self) -> float:
        now = dt.datetime.fromtimestamp(self.clock(), self.zone)
        today = now.date()
        if self.done_on == today:
            return min((self._at_hour(today + dt.timedelta(days=1)) - now).total_seconds(), MAX_WAIT_SECONDS)
        if now < self._at_hour(today):
            return min((self._at_hour(today) - now).total_seconds(), MAX_WAIT_SECONDS)
        code, output = self.run()
        if code == 0:
            self.done_on = today
            self.log.info("venues retention: %s", output.strip() or f"{today} done")
            return min((self._at_hour(today + dt.timedelta(days=1)) - now).total_seconds(), MAX_WAIT_SECONDS)
        if code == EX_TEMPFAIL:
            self.log.info("venues retention %s: another node is purging; checking again later", today)
        else:
            self.log.error("venues retention %s failed (exit %s): %s", today, code, output.strip()[-2000:])
        return RETRY_SECONDS

    def loop(self, stop: threading.Event, *, delay: float = 0.0) -> None:
        run_steps(self.step, stop, log=self.log, name="venues retention", wait_after_error=RETRY_SECONDS, delay=delay)


# ``manage.py venues_retention --daily`` in a child process with the server's environment.
run_command = command_runner(["venues_retention", "--daily"], timeout=RUN_TIMEOUT_SECONDS)


def hour_from_env(environ: dict[str, str] | os._Environ[str] = os.environ) -> int | None:
    """FANGYI_RETENTION_HOUR: an hour 0-23 (default 3), or off/none/empty to disable."""
    raw = environ.get("FANGYI_RETENTION_HOUR", "3").strip().lower()
    if raw in {"", "off", "none", "no", "false"}:
        return None
    hour = int(raw)
    if not 0 <= hour <= 23:
        raise ValueError(f"FANGYI_RETENTION_HOUR={raw} is not an hour 0-23")
    return hour


def start_from_env(log: Any, environ: dict[str, str] | os._Environ[str] = os.environ) -> threading.Thread | None:
    """Start the daily thread once per process (config/serve.py); None when disabled."""
    global _started
    hour = hour_from_env(environ)
    if hour is None:
        log.info("venues retention scheduler off (FANGYI_RETENTION_HOUR)")
        return None
    if _started is not None and _started.is_alive():
        return _started
    scheduler = RetentionScheduler(hour=hour, run=run_command, log=log)
    _started = threading.Thread(
        target=scheduler.loop,
        args=(threading.Event(),),
        kwargs={"delay": STARTUP_DELAY_SECONDS},
        name="venues-retention",
        daemon=True,
    )
    _started.start()
    log.info("venues retention scheduled daily at %02d:00 %s", hour, ZONE)
    return _started
