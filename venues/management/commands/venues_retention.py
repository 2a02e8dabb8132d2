"""Purge expired check-ins (keeping daily counts) and prepare the coming days' partitions.

In production the server runs ``venues_retention --daily`` once a day by itself
(config/serve.py, FANGYI_RETENTION_HOUR); a cron job or systemd timer can run the same command
instead (README "Retention"). With ``--daily`` the first process of the day claims the run in the
database and every other one (another node, a second timer) stands back, so any number of nodes
may schedule it. Without it the purge simply runs: it is idempotent, so running it twice or late
is harmless.

Exit status: 0 when purged or already purged today; 75 (EX_TEMPFAIL) when another process is
purging right now (try again later); 1 when the purge failed.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from audit.services import Actor
from venues import partitions
from venues.services import PurgeResult, checkins_purge, retention_claim, retention_finish
from venues.services.retention import BUSY, DONE

EX_TEMPFAIL = 75


def _summary(result: PurgeResult) -> str:
    return (
        f"cutoff {result.cutoff:%Y-%m-%d %H:%M} UTC: {result.checkins_deleted} check-ins deleted, "
        f"{len(result.partitions_dropped)} partitions dropped, {result.requests_deleted} retry keys deleted, "
        f"{len(result.partitions_created)} partitions created"
    )


class Command(BaseCommand):
    help = "Delete check-ins older than the retention period; keep per-venue daily counts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="Retention in days (default: the policy)")
        parser.add_argument(
            "--daily", action="store_true", help="Run at most once a day across all nodes (for schedulers)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        if not options["daily"]:
            result = checkins_purge(actor=Actor.system(), now=now, retention_days=options["days"])
            self.stdout.write(_summary(result))
            return
        day = now.astimezone(partitions.local_zone()).date()
        state, run = retention_claim(day=day, owner=f"{socket.gethostname()}:{os.getpid()}", now=now)
        if state == DONE:
            self.stdout.write(f"{day}: already purged today")
            return
        if state == BUSY or run is None:
            raise CommandError(f"{day}: another process is purging now", returncode=EX_TEMPFAIL)
        try:
            result = checkins_purge(actor=Actor.system(), now=now, retention_days=options["days"])
        except Exception as exc:
            retention_finish(run=run, ok=False, detail=f"{type(exc).__name__}: {exc}", now=timezone.now())
            raise
        retention_finish(run=run, ok=True, detail=_summary(result), now=timezone.now())
        self.stdout.write(f"{day}: {_summary(result)}")
