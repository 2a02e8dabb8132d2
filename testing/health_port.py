"""The health-status calls this app makes, in one place.

Imported lazily so the testing app still loads while the health app evolves; every call goes through
the health app's public selectors and services only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any


def person_id_from_sampling_token(token: str, *, now: dt.datetime) -> int:
    from health.selectors import person_id_from_sampling_token as f

    return f(token, now=now)


def sample_recorded(*, person_id: int, sample_ref: str, sampled_at: dt.datetime, now: dt.datetime) -> None:
    from health.services import sample_recorded as f

    f(person_id=person_id, sample_ref=sample_ref, sampled_at=sampled_at, now=now)


def samples_recorded(*, items: list[tuple[int, str, dt.datetime, dt.datetime]]) -> None:
    """(person_id, sample_ref, sampled_at, now) per sample, in one call of the health app."""
    if not items:
        return
    from health.services import samples_recorded as f

    f(items=items)


def lone_pending(*, person_id: int, sample_ref: str, sampled_at: dt.datetime, now: dt.datetime) -> Any:
    """``health.services.LonePending``: one pending sample written inside the station's scan statement."""
    from health.services import LonePending

    return LonePending(person_id=person_id, sample_ref=sample_ref, sampled_at=sampled_at, now=now)


def results_recorded(*, items: list[tuple[int, str, str, bool, dt.datetime]], now: dt.datetime) -> None:
    if not items:
        return
    from health.services import results_recorded as f

    f(items=items, now=now)


def sample_ref(barcode: str, person_id: int) -> str:
    return f"{barcode}:{person_id}"


def sampling_token_for(person_id: int, *, now: dt.datetime) -> str:
    from health.selectors import sampling_token_for as f

    return f(person_id, now=now)[0]


def colour_of(person_id: int, *, now: dt.datetime) -> tuple[str, str]:
    """(colour, reason code) of a person's current status."""
    from health.selectors import status_view

    view = status_view(person_id, now=now)
    return view.colour, view.reason_code
