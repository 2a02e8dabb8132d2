"""Fixed-window rate limits stored in the database, so every server process shares them."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import F

from accounts.models import RateCounter


def _window(now: dt.datetime, seconds: int) -> dt.datetime:
    epoch = int(now.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % seconds, tz=dt.UTC)


def hit(key: str, *, seconds: int, now: dt.datetime) -> int:
    """Count one event for ``key`` in the current window and return the window's count."""
    start = _window(now, seconds)
    with transaction.atomic():
        updated = RateCounter.objects.filter(key=key, window_start=start).update(count=F("count") + 1)
        if not updated:
            try:
                with transaction.atomic():
                    RateCounter.objects.create(key=key, window_start=start, count=1)
                return 1
            except IntegrityError:
                RateCounter.objects.filter(key=key, window_start=start).update(count=F("count") + 1)
    counter = RateCounter.objects.get(key=key, window_start=start)
    return counter.count


def count(key: str, *, seconds: int, now: dt.datetime) -> int:
    row = RateCounter.objects.filter(key=key, window_start=_window(now, seconds)).first()
    return row.count if row else 0


def reset(key: str, *, seconds: int, now: dt.datetime) -> None:
    RateCounter.objects.filter(key=key, window_start=_window(now, seconds)).delete()


def purge_before(when: dt.datetime) -> int:
    deleted, _ = RateCounter.objects.filter(window_start__lt=when).delete()
    return deleted
