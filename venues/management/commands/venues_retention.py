"""Purge expired check-ins (keeping daily counts) and prepare the coming days' partitions.

Run it daily in production (cron or a systemd timer: ``15 3 * * * manage.py venues_retention``);
it is idempotent, so running it twice or late is harmless.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from audit.services import Actor
from venues.services import checkins_purge


class Command(BaseCommand):
    help = "Delete check-ins older than the retention period; keep per-venue daily counts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None, help="Retention in days (default: the policy)")

    def handle(self, *args: Any, **options: Any) -> None:
        result = checkins_purge(actor=Actor.system(), now=timezone.now(), retention_days=options["days"])
        self.stdout.write(
            f"cutoff {result.cutoff:%Y-%m-%d %H:%M} UTC: {result.checkins_deleted} check-ins deleted, "
            f"{len(result.partitions_dropped)} partitions dropped, {result.requests_deleted} retry keys deleted, "
            f"{len(result.partitions_created)} partitions created"
        )
