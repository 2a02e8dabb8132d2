"""Remind command HQ of open testing rounds past their deadline, and list them.

Rounds are not closed automatically (README "Testing rounds"): closing cannot be undone, refuses every
later sample (an offline site's queue, a home team's tubes) and fixes the figures, so it stays command
HQ's decision; a round past its deadline is flagged on its pages and its HQ accounts with a phone get an
SMS at once, then again every TESTING_OVERDUE_REMIND_HOURS (2) until HQ closes the round or sets a new
deadline. The server (config/serve.py) runs this every FANGYI_OVERDUE_MINUTES (10) minutes; cron or a systemd
timer may run it instead, on any number of nodes: each reminder is claimed in the database, so it is
sent once per interval. Exit status 0.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from testing.services import rounds_overdue_remind
from testing.services.rounds import overdue_remind_interval


class Command(BaseCommand):
    help = "Remind command HQ of open testing rounds past their deadline (repeated per policy); close nothing."

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        rows = rounds_overdue_remind(now=now)
        interval = overdue_remind_interval()
        for rnd, reminded in rows:
            hours = (now - rnd.deadline_at).total_seconds() / 3600
            last = rnd.overdue_reminded_at
            if reminded is None and last is None:
                told = "reminded by another process just now"
            elif reminded is None and last is not None:
                after = timezone.localtime(last + interval).strftime("%m-%d %H:%M")
                told = f"reminded earlier, next reminder from {after}"
            else:
                told = f"{reminded} HQ account(s) reminded now (reminder {rnd.overdue_reminder_count})"
            self.stdout.write(f"round {rnd.pk} {rnd.name}: {hours:.1f} h past its deadline, still open; {told}")
        self.stdout.write(f"{len(rows)} open round(s) past their deadline")
