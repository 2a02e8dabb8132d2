"""The door rule: 红码禁止、黄码限制、绿码通行, and a category's negative-test requirement."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from venues.models import Colour, Verdict


@dataclass(frozen=True)
class Decision:
    verdict: str
    headline: str  # what the door staff read first
    detail: str


def required_negative_hours(category: str) -> int | None:
    hours = settings.FANGYI.get("VENUE_NEGATIVE_TEST_HOURS", {}).get(category)
    return int(hours) if hours else None


def decide(*, colour: str, hours_since_negative: float | None, category: str) -> tuple[str, str]:
    """(verdict, reason code) for a status at a venue of ``category``."""
    if colour == Colour.RED:
        return Verdict.DENY, "red"
    if colour == Colour.YELLOW:
        return Verdict.RESTRICT, "yellow"
    hours = required_negative_hours(category)
    if hours is not None and (hours_since_negative is None or hours_since_negative > hours):
        return Verdict.DENY, f"no_negative_{hours}h"
    return Verdict.ALLOW, "green"


def explain(verdict: str, code: str) -> Decision:
    """The words on the verification page, translated at render time."""
    if code == "red":
        return Decision(verdict, _("Do not let in"), _("Red code: entry is forbidden."))
    if code == "yellow":
        return Decision(
            verdict, _("Restricted"), _("Yellow code: entry is restricted; refer to the venue's duty staff.")
        )
    if code.startswith("no_negative_"):
        hours = code.removeprefix("no_negative_").removesuffix("h")
        return Decision(
            verdict,
            _("Do not let in"),
            _("This venue requires a negative test sampled within %(hours)s hours.") % {"hours": hours},
        )
    return Decision(verdict, _("Let in"), _("Green code: entry allowed."))


def distance_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(float(lat1)), math.radians(float(lat2))
    dp, dl = p2 - p1, math.radians(float(lon2) - float(lon1))
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))
