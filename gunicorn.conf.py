"""gunicorn settings for `make run` (and a sane production start)."""

import multiprocessing
import os

bind = os.environ.get("FANGYI_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("FANGYI_WORKERS", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = int(os.environ.get("FANGYI_THREADS", 4))
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 20000
max_requests_jitter = 2000
accesslog = os.environ.get("FANGYI_ACCESS_LOG") or None
errorlog = "-"
proc_name = "fangyi"
