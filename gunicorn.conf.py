"""gunicorn settings for `make run` (and a sane production start)."""

import multiprocessing
import os
from typing import Any

bind = os.environ.get("FANGYI_BIND", "127.0.0.1:8000")
# Three processes a core: each has its own GIL, so fewer threads contend for one (the check-in
# benchmark on two cores: 6 × 24 served 899 check-ins/s where 3 × 32 served 627–749/s; bench/README.md).
workers = int(os.environ.get("FANGYI_WORKERS", multiprocessing.cpu_count() * 3))
worker_class = "gthread"
# More threads than the admission limit (settings FANGYI["ADMISSION_MAX_CONCURRENT"], 4 by default):
# the spare threads are where the excess of a surge waits its few milliseconds for a slot and is then
# answered 503 by common.admission; a request that finds every thread busy waits inside gunicorn,
# where no one can refuse it. Waiting threads hold no CPU.
threads = int(os.environ.get("FANGYI_THREADS", 24))
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 20000
max_requests_jitter = 2000
accesslog = os.environ.get("FANGYI_ACCESS_LOG") or None
errorlog = "-"
proc_name = "fangyi"


def post_fork(server: Any, worker: Any) -> None:
    """The GIL switch interval of each worker (FANGYI_GIL_SWITCH_MS, Python's 5 ms by default): how
    long a thread that holds the GIL may keep it while others wait, e.g. one that only has to answer
    a refusal. 1 ms was tried for the refusal latency and cost throughput (bench/README.md)."""
    import sys

    sys.setswitchinterval(float(os.environ.get("FANGYI_GIL_SWITCH_MS", "5")) / 1000)


def when_ready(server: Any) -> None:
    """The master is up: start the daily check-in purge (venues.scheduler; FANGYI_RETENTION_HOUR) and
    the jobs run every few minutes (common.scheduler): reminders of testing rounds past their deadline
    (FANGYI_OVERDUE_MINUTES)."""
    from venues.scheduler import start_from_env

    start_from_env(server.log)

    from common.scheduler import start_every_from_env

    start_every_from_env(
        server.log,
        name="testing overdue reminders",
        command=["testing_overdue"],
        variable="FANGYI_OVERDUE_MINUTES",
        default_minutes=10,
    )
