"""The server `make run` starts (config/serve.py): its settings from the environment, the granian it
builds, and the scheduled jobs started before the workers."""

from __future__ import annotations

import multiprocessing
from typing import Any

import pytest

from config import serve


def test_the_defaults_are_two_processes_a_core_and_24_threads() -> None:
    opts = serve.options({})
    assert (opts.host, opts.port) == ("127.0.0.1", 8000)
    assert opts.workers == 2 * multiprocessing.cpu_count()
    assert (opts.threads, opts.access_log, opts.max_rss_mb) == (24, False, 1024)


def test_the_environment_sets_them() -> None:
    opts = serve.options(
        {
            "FANGYI_BIND": "0.0.0.0:8080",
            "FANGYI_WORKERS": "3",
            "FANGYI_THREADS": "8",
            "FANGYI_ACCESS_LOG": "1",
            "FANGYI_WORKER_MAX_RSS_MB": "512",
        }
    )
    assert opts == serve.Options(host="0.0.0.0", port=8080, workers=3, threads=8, access_log=True, max_rss_mb=512)  # noqa: S104


def test_main_serves_the_wsgi_application_and_starts_the_jobs_first(monkeypatch: pytest.MonkeyPatch) -> None:
    built: dict[str, Any] = {}
    events: list[str] = []

    class FakeGranian:
        def __init__(self, target: str, **kw: Any) -> None:
            built.update(target=target, **kw)
            self.hooks: list[Any] = []

        def on_startup(self, hook: Any) -> None:
            self.hooks.append(hook)

        def serve(self) -> None:  # granian runs its startup hooks, then starts the workers
            for hook in self.hooks:
                hook()
            events.append("workers")

    monkeypatch.setattr("granian.Granian", FakeGranian)
    monkeypatch.setattr(serve, "start_jobs", lambda log: events.append("jobs"))
    monkeypatch.setenv("FANGYI_BIND", "127.0.0.1:8123")
    monkeypatch.setenv("FANGYI_THREADS", "12")
    serve.main()
    assert built["target"] == "config.wsgi:application"
    assert str(built["interface"]) == "wsgi"
    assert (built["address"], built["port"], built["blocking_threads"]) == ("127.0.0.1", 8123, 12)
    assert built["respawn_failed_workers"] is True and built["websockets"] is False
    assert events == ["jobs", "workers"]
