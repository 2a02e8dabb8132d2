"""Remind command HQ of open testing rounds past their deadline, once per round, and list them.

Rounds are not closed automatically (README "Testing rounds"): closing cannot be undone, refuses every
later sample (an offline site's queue, a home team's tubes) and fixes the figures, so it stays command
HQ's decision; a round past its deadline is flagged on its pages and its HQ accounts with a phone get
one SMS. The gunicorn master runs this every FANGYI_OVERDUE_MINUTES (10) minutes; cron or a systemd
timer may run it instead, on any number of nodes: each round's reminder is claimed in the database, so
it is sent once. Exit status 0.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from testing.services import rounds_overdue_remind


class Command(BaseCommand):
    help = "Remind command HQ of open testing rounds past their deadline (once per round); close nothing."

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        rows = rounds_overdue_remind(now=now)
        for rnd, reminded in rows:
            hours = (now - rnd.deadline_at).total_seconds() / 3600
            told = "reminded earlier" if reminded is None else f"{reminded} HQ account(s) reminded now"
            self.stdout.write(f"round {rnd.pk} {rnd.name}: {hours:.1f} h past its deadline, still open; {told}")
        self.stdout.write(f"{len(rows)} open round(s) past their deadline")
