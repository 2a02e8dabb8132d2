"""Jobs the server's main process runs every few minutes: driven by a fake clock, never by sleeping."""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any

import pytest

from common import scheduler


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def _add(self, level: str, msg: str, *args: Any) -> None:
        self.lines.append((level, msg % args))

    def debug(self, msg: str, *args: Any) -> None:
        self._add("debug", msg, *args)

    def info(self, msg: str, *args: Any) -> None:
        self._add("info", msg, *args)

    def error(self, msg: str, *args: Any) -> None:
        self._add("error", msg, *args)

    def exception(self, msg: str, *args: Any) -> None:
        self._add("exception", msg, *args)


class Clock:
    def __init__(self) -> None:
        self.at = 1000.0

    def __call__(self) -> float:
        return self.at


def test_runs_every_interval_counted_from_each_start() -> None:
    clock = Clock()
    runs: list[float] = []

    def run() -> tuple[int, str]:
        runs.append(clock.at)
        clock.at += 40  # the command takes 40 s
        return 0, "0 open round(s) past their deadline\n"

    s = scheduler.IntervalScheduler(name="overdue", every=600, run=run, log=Log(), clock=clock)
    for _ in range(3):
        wait = s.step()
        clock.at += wait
    assert runs == [1000, 1600, 2200]
    assert s.log.lines[0] == ("debug", "overdue: 0 open round(s) past their deadline")


def test_a_failure_is_logged_and_the_next_turn_comes_as_usual() -> None:
    clock = Clock()
    outcomes = [(1, "Traceback ...\nOperationalError: database is locked"), (0, "done")]
    s = scheduler.IntervalScheduler(name="overdue", every=600, run=lambda: outcomes.pop(0), log=Log(), clock=clock)
    assert s.step() == 600
    assert s.log.lines[0][0] == "error" and "database is locked" in s.log.lines[0][1]
    assert s.step() == 600 and s.log.lines[1][0] == "debug"


def test_the_thread_survives_an_exception() -> None:
    def run() -> tuple[int, str]:
        raise RuntimeError("boom")

    s = scheduler.IntervalScheduler(name="overdue", every=600, run=run, log=Log(), clock=Clock())

    class OneTurn(threading.Event):
        waited: float | None = None

        def wait(self, timeout: float | None = None) -> bool:
            self.waited = timeout
            self.set()
            return True

    stop = OneTurn()
    s.loop(stop)
    assert stop.waited == 600 and s.log.lines[0][0] == "exception"


def test_the_command_runs_in_a_child_process(monkeypatch: Any) -> None:
    calls: list[list[str]] = []

    def fake_run(args: list[str], **kwargs: Any) -> Any:
        calls.append(args)
        return subprocess.CompletedProcess(args, 0, "1 open round(s) past their deadline\n", "")

    monkeypatch.setattr(scheduler.subprocess, "run", fake_run)
    assert scheduler.command_runner(["testing_overdue"])() == (0, "1 open round(s) past their deadline\n")
    assert calls == [[sys.executable, str(scheduler.ROOT / "manage.py"), "testing_overdue"]]


def test_interval_from_the_environment() -> None:
    assert scheduler.minutes_from_env("FANGYI_OVERDUE_MINUTES", 10, {}) == 10
    assert scheduler.minutes_from_env("FANGYI_OVERDUE_MINUTES", 10, {"FANGYI_OVERDUE_MINUTES": "5"}) == 5
    assert scheduler.minutes_from_env("FANGYI_OVERDUE_MINUTES", 10, {"FANGYI_OVERDUE_MINUTES": "off"}) is None
    for bad in ("0", "-3", "soon"):
        with pytest.raises(ValueError):
            scheduler.minutes_from_env("FANGYI_OVERDUE_MINUTES", 10, {"FANGYI_OVERDUE_MINUTES": bad})


def test_off_and_test_processes_start_no_thread() -> None:
    kw: dict[str, Any] = {"name": "overdue", "command": ["testing_overdue"], "variable": "FANGYI_OVERDUE_MINUTES",
                          "default_minutes": 10}
    log = Log()
    assert scheduler.start_every_from_env(log, environ={"FANGYI_OVERDUE_MINUTES": "off"}, **kw) is None
    assert log.lines == [("info", "overdue off (FANGYI_OVERDUE_MINUTES)")]
    assert scheduler.start_every_from_env(Log(), environ={"FANGYI_ENV": "test"}, **kw) is None
