"""Recompute everyone's health status (after a rule edit, or at a validity rollover)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from health import services


class Command(BaseCommand):
    help = "Recompute the health status of every person from evidence and the current rule version."

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()

        def progress(done: int, total: int) -> None:
            rate = done / max(time.perf_counter() - started, 1e-9)
            self.stdout.write(f"{done}/{total} ({rate:,.0f} persons/s)")

        job = services.status_recompute_all(now=timezone.now(), progress=progress)
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"recomputed {job.done} persons, {job.changed} changed, rule v{job.rule_version}, "
                f"{elapsed:.1f} s, {job.done / max(elapsed, 1e-9):,.0f} persons/s"
            )
        )
