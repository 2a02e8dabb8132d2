"""The daily retention purge: the server's scheduler (driven by a fake clock, never by
sleeping) and the database claim that lets one process of one node purge per day."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditEntry
from venues import scheduler
from venues.models import RetentionRun
from venues.services import retention_claim, retention_finish
from venues.services.retention import BUSY, CLAIMED, DONE

ZONE = scheduler.ZONE


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def info(self, msg: str, *args: Any) -> None:
        self.lines.append(("info", msg % args))

    def error(self, msg: str, *args: Any) -> None:
        self.lines.append(("error", msg % args))

    def exception(self, msg: str, *args: Any) -> None:
        self.lines.append(("exception", msg % args))


class Clock:
    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at.timestamp()

    def wait(self, seconds: float) -> None:
        self.at += dt.timedelta(seconds=seconds)


def _local(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2022, 4, day, hour, minute, tzinfo=ZONE)


def _scheduler(clock: Clock, outcomes: list[tuple[int, str]]) -> tuple[scheduler.RetentionScheduler, list[dt.datetime]]:
    runs: list[dt.datetime] = []

    def run() -> tuple[int, str]:
        runs.append(clock.at)
        return outcomes.pop(0) if outcomes else (0, "purged")

    return scheduler.RetentionScheduler(hour=3, run=run, log=Log(), clock=clock), runs


def test_runs_once_a_day_at_the_hour() -> None:
    clock = Clock(_local(20, 1, 30))
    s, runs = _scheduler(clock, [])
    for _ in range(200):  # about four days of steps
        clock.wait(s.step())
    assert runs[:4] == [_local(20, 3), _local(21, 3), _local(22, 3), _local(23, 3)]
    assert len({r.date() for r in runs}) == len(runs)  # never twice a day


def test_a_server_started_after_the_hour_catches_up_at_once() -> None:
    clock = Clock(_local(20, 15, 7))
    s, runs = _scheduler(clock, [])
    for _ in range(30):
        clock.wait(s.step())
    assert runs == [_local(20, 15, 7), _local(21, 3)]


def test_failures_and_a_busy_node_are_retried_the_same_day() -> None:
    clock = Clock(_local(20, 3))
    s, runs = _scheduler(clock, [(1, "Traceback: database is down"), (scheduler.EX_TEMPFAIL, ""), (0, "done")])
    for _ in range(10):
        clock.wait(s.step())
    step = dt.timedelta(seconds=scheduler.RETRY_SECONDS)
    assert runs[:3] == [_local(20, 3), _local(20, 3) + step, _local(20, 3) + 2 * step]
    assert all(r.date() == dt.date(2022, 4, 21) for r in runs[3:])
    levels = [level for level, _msg in s.log.lines]
    assert levels[:3] == ["error", "info", "info"] and "database is down" in s.log.lines[0][1]


def test_the_thread_survives_an_exception() -> None:
    import threading

    def run() -> tuple[int, str]:
        raise RuntimeError("boom")

    s = scheduler.RetentionScheduler(hour=3, run=run, log=Log(), clock=Clock(_local(20, 3)))

    class OneTurn(threading.Event):
        waited: float | None = None

        def wait(self, timeout: float | None = None) -> bool:
            self.waited = timeout
            self.set()
            return True

    stop = OneTurn()
    s.loop(stop)
    assert stop.waited == scheduler.RETRY_SECONDS and s.log.lines[0][0] == "exception"


def test_hour_from_the_environment() -> None:
    assert scheduler.hour_from_env({}) == 3
    assert scheduler.hour_from_env({"FANGYI_RETENTION_HOUR": "04"}) == 4
    assert scheduler.hour_from_env({"FANGYI_RETENTION_HOUR": "off"}) is None
    with pytest.raises(ValueError):
        scheduler.hour_from_env({"FANGYI_RETENTION_HOUR": "24"})
    assert scheduler.start_from_env(Log(), {"FANGYI_RETENTION_HOUR": "off"}) is None


def test_the_server_starts_it_before_its_workers(monkeypatch: Any) -> None:
    """config/serve.py (``make run``) starts the daily purge in the main process, through a startup hook
    of granian's that runs before the workers are started."""
    from config import serve

    started = []
    monkeypatch.setattr(scheduler, "start_from_env", lambda log: started.append(log))
    monkeypatch.setattr("common.scheduler.start_every_from_env", lambda log, **kw: None)
    log = Log()
    serve.start_jobs(log)  # type: ignore[arg-type]
    assert started == [log]


# --- the claim, on the database ----------------------------------------------------------------

pytestmark_db = pytest.mark.django_db
DAY = dt.date(2022, 4, 20)
NOW = dt.datetime(2022, 4, 19, 19, 0, tzinfo=dt.UTC)  # 03:00 on the 20th in Jining


@pytestmark_db
def test_one_claim_per_day() -> None:
    state, run = retention_claim(day=DAY, owner="node-a:1", now=NOW)
    assert state == CLAIMED and run is not None
    assert retention_claim(day=DAY, owner="node-b:1", now=NOW) == (BUSY, None)
    retention_finish(run=run, ok=True, detail="ok", now=NOW)
    assert retention_claim(day=DAY, owner="node-b:1", now=NOW) == (DONE, None)
    assert retention_claim(day=DAY + dt.timedelta(days=1), owner="node-b:1", now=NOW)[0] == CLAIMED


@pytestmark_db
def test_a_failed_or_abandoned_claim_is_taken_over() -> None:
    _state, run = retention_claim(day=DAY, owner="node-a:1", now=NOW)
    assert run is not None
    retention_finish(run=run, ok=False, detail="OperationalError", now=NOW)
    state, again = retention_claim(day=DAY, owner="node-b:2", now=NOW + dt.timedelta(minutes=10))
    assert state == CLAIMED and again is not None and again.owner == "node-b:2"
    # node-b dies while purging: after two hours its claim is stale.
    assert retention_claim(day=DAY, owner="node-c:3", now=NOW + dt.timedelta(hours=1))[0] == BUSY
    assert retention_claim(day=DAY, owner="node-c:3", now=NOW + dt.timedelta(hours=3))[0] == CLAIMED
    assert RetentionRun.objects.get().owner == "node-c:3"


@pytestmark_db
def test_the_daily_command_purges_once_then_stands_back(capsys: Any) -> None:
    with time_machine.travel(NOW, tick=False):
        call_command("venues_retention", "--daily")
        call_command("venues_retention", "--daily")
    out = capsys.readouterr().out
    assert "check-ins deleted" in out and "already purged today" in out
    assert AuditEntry.objects.filter(action="venue.checkins_purge").count() == 1
    run = RetentionRun.objects.get()
    assert run.day == DAY and run.outcome == "done" and "check-ins deleted" in run.detail


@pytestmark_db
def test_the_daily_command_reports_a_busy_day_with_75() -> None:
    retention_claim(day=DAY, owner="node-a:1", now=NOW)
    with time_machine.travel(NOW + dt.timedelta(minutes=1), tick=False), pytest.raises(CommandError) as err:
        call_command("venues_retention", "--daily")
    assert err.value.returncode == 75
    assert not AuditEntry.objects.filter(action="venue.checkins_purge").exists()


@pytestmark_db
def test_a_failing_purge_is_recorded_and_retried(monkeypatch: Any) -> None:
    from venues.management.commands import venues_retention

    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(venues_retention, "checkins_purge", broken)
    with time_machine.travel(NOW, tick=False), pytest.raises(RuntimeError):
        call_command("venues_retention", "--daily")
    assert RetentionRun.objects.get().outcome == "failed"
    monkeypatch.undo()
    with time_machine.travel(NOW + dt.timedelta(minutes=10), tick=False):
        call_command("venues_retention", "--daily")
    assert RetentionRun.objects.get().outcome == "done"


def test_the_first_check_waits_for_the_startup_delay() -> None:
    import threading

    calls: list[int] = []

    def run() -> tuple[int, str]:
        calls.append(1)
        return 0, ""

    s = scheduler.RetentionScheduler(hour=3, run=run, log=Log(), clock=Clock(_local(20, 9)))

    class Stopped(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            self.waited = timeout
            return True  # asked to stop during the delay

    stop = Stopped()
    s.loop(stop, delay=scheduler.STARTUP_DELAY_SECONDS)
    assert stop.waited == scheduler.STARTUP_DELAY_SECONDS and calls == []
