"""The production server for `make run` (and a sane production start): ``python -m config.serve``.

granian serves ``config.wsgi:application``: its HTTP layer (parsing, keep-alive, writing) is Rust, so
a request costs Python only the application's own work. On the 2-core benchmark machine the check-in
endpoint went from 699 to 982 answers/s over gunicorn gthread in back-to-back runs, and the goodput
of a 5x surge from 69 % to 95 % (bench/README.md): a refusal from the admission gate no longer pays
for gunicorn's Python HTTP parsing.

The main process never sets Django up. Before it starts the workers it starts the jobs that run
without a task runner: the daily check-in purge (``venues.scheduler``, FANGYI_RETENTION_HOUR) and the
reminders of testing rounds past their deadline (``common.scheduler``, FANGYI_OVERDUE_MINUTES). A
worker that dies is started again.

Settings (environment): FANGYI_BIND (127.0.0.1:8000), FANGYI_WORKERS (processes, 2 a core),
FANGYI_THREADS (threads a process runs the application on, 24), FANGYI_ACCESS_LOG (1 to log every
request), FANGYI_WORKER_MAX_RSS_MB (1024: a process grown past it is replaced). Each worker takes its
GIL switch interval from FANGYI_GIL_SWITCH_MS (config/wsgi.py).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Options:
    host: str
    port: int
    workers: int
    threads: int
    access_log: bool
    max_rss_mb: int


def options(environ: dict[str, str] | os._Environ[str] = os.environ) -> Options:
    host, _sep, port = environ.get("FANGYI_BIND", "127.0.0.1:8000").rpartition(":")
    return Options(
        host=host or "127.0.0.1",
        port=int(port),
        workers=int(environ.get("FANGYI_WORKERS") or multiprocessing.cpu_count() * 2),
        # More threads than the admission gate's slots (FANGYI_ADMISSION_MAX, 4 by default): the spare
        # threads are where the excess of a surge waits its few milliseconds for a slot and is then
        # answered 503; a request that finds every thread busy waits inside granian, where no one can
        # refuse it (common.admission).
        threads=int(environ.get("FANGYI_THREADS") or 24),
        access_log=environ.get("FANGYI_ACCESS_LOG", "") not in ("", "0", "off"),
        # A process whose memory grows past this is replaced (checked every 30 s), as gunicorn's
        # max_requests used to recycle workers: a safety net, not something a normal day reaches (a
        # process serves the demo district in about 100 MiB).
        max_rss_mb=int(environ.get("FANGYI_WORKER_MAX_RSS_MB") or 1024),
    )


def start_jobs(log: logging.Logger) -> None:
    """The scheduled jobs of this node, as threads of the main process."""
    from common.scheduler import start_every_from_env
    from venues.scheduler import start_from_env

    start_from_env(log)
    start_every_from_env(
        log,
        name="testing overdue reminders",
        command=["testing_overdue"],
        variable="FANGYI_OVERDUE_MINUTES",
        default_minutes=10,
    )


def main() -> None:
    from granian import Granian
    from granian.constants import Interfaces

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="[%(levelname)s] %(name)s: %(message)s")
    log = logging.getLogger("fangyi.serve")
    opts = options()
    server = Granian(
        "config.wsgi:application",
        address=opts.host,
        port=opts.port,
        interface=Interfaces.WSGI,
        workers=opts.workers,
        blocking_threads=opts.threads,
        runtime_threads=1,
        websockets=False,
        log_access=opts.access_log,
        respawn_failed_workers=True,
        workers_kill_timeout=20,  # a graceful stop waits this long for the requests in flight
        workers_max_rss=opts.max_rss_mb,
    )
    server.on_startup(lambda: start_jobs(log))
    log.info(
        "%d processes x %d threads on %d cores, chosen by measurement (bench/README.md): "
        "granian's warnings about more threads and processes than cores are expected",
        opts.workers,
        opts.threads,
        multiprocessing.cpu_count(),
    )
    server.serve()


if __name__ == "__main__":
    main()
