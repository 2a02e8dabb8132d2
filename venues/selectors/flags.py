"""Flagged check-ins for review: masked, newest first, within the reviewer's territory.

Who may review is who may see anyone's check-ins (``Cap.VENUES_TRACE``, the epidemiologists): a
flagged check-in says where a named person was, which DESIGN §3.3 keeps from everyone else. A
check-in is in a reviewer's territory when its venue or its person is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from accounts.roles import Cap
from accounts.selectors import scope_for
from common.masking import mask_id_number, mask_name
from venues.models import CheckIn, FlagReason, FlagReview, Method
from venues.policy import distance_km

STATES = ("open", "reviewed", "all")

_FIELDS = (
    "id",
    "checked_in_at",
    "flag_reason",
    "method",
    "colour",
    "account_id",
    "person_id",
    "venue_id",
    "venue__name",
    "venue__address",
    "venue__latitude",
    "venue__longitude",
    "entrance__name",
    "person__name",
    "person__id_number",
)


def _since(now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(days=int(settings.FANGYI["CHECKIN_RETENTION_DAYS"]))


def flagged_checkins(user: Any, *, state: str = "open", now: dt.datetime) -> QuerySet[CheckIn]:
    """Flagged check-ins the user may review, newest first (rows as dicts of ``_FIELDS``); 404 for
    users without the capability."""
    scope = scope_for(user, Cap.VENUES_TRACE)
    if scope.is_empty:
        raise Http404
    reviewed = Exists(FlagReview.objects.filter(checkin_id=OuterRef("id")))
    in_scope = scope.q("venue__area_path") | scope.q("person__area_path")
    qs = CheckIn.objects.filter(in_scope, is_flagged=True, checked_in_at__gte=_since(now))
    if state == "open":
        qs = qs.filter(~reviewed)
    elif state == "reviewed":
        qs = qs.filter(reviewed)
    return qs.order_by("-checked_in_at", "-id").values(*_FIELDS)


@dataclass(frozen=True)
class Previous:
    """The subject's check-in just before a flagged one: what made it look impossible."""

    checked_in_at: dt.datetime
    venue_name: str
    km: float | None


@dataclass(frozen=True)
class FlagRow:
    checkin_id: int
    checked_in_at: dt.datetime
    flag_reason: str
    method: str
    colour: str
    person_id: int
    masked_name: str
    masked_id_number: str
    venue_name: str
    venue_address: str
    entrance_name: str
    previous: Previous | None
    review: FlagReview | None

    @property
    def reason_label(self) -> str:
        return str(FlagReason(self.flag_reason).label) if self.flag_reason in FlagReason.values else self.flag_reason


def flag_rows(rows: list[dict[str, Any]]) -> list[FlagRow]:
    """A page of flagged check-ins with their reviews and preceding check-ins: two queries, whatever
    the page length."""
    if not rows:
        return []
    reviews = {
        r.checkin_id: r
        for r in FlagReview.objects.filter(checkin_id__in=[r["id"] for r in rows])
        .select_related("reviewed_by")
        .order_by("reviewed_at", "id")  # the newest review of a check-in is the one kept here
    }
    previous = _previous(rows)
    return [
        FlagRow(
            checkin_id=r["id"],
            checked_in_at=r["checked_in_at"],
            flag_reason=r["flag_reason"],
            method=r["method"],
            colour=r["colour"],
            person_id=r["person_id"],
            masked_name=mask_name(r["person__name"] or ""),
            masked_id_number=mask_id_number(r["person__id_number"] or ""),
            venue_name=r["venue__name"] or "",
            venue_address=r["venue__address"] or "",
            entrance_name=r["entrance__name"] or "",
            previous=previous.get(r["id"]),
            review=reviews.get(r["id"]),
        )
        for r in rows
    ]


def _subject(row: dict[str, Any]) -> tuple[str, int]:
    # The abuse check follows the account for own scans and the person for sentinel scans.
    if row["method"] == Method.SCAN and row["account_id"] is not None:
        return "account_id", row["account_id"]
    return "person_id", row["person_id"]


def _previous(rows: list[dict[str, Any]]) -> dict[int, Previous]:
    """For each flagged row, the subject's own check-in just before it (within the abuse window)."""
    window = dt.timedelta(hours=6)
    accounts = {v for k, v in map(_subject, rows) if k == "account_id"}
    people = {v for k, v in map(_subject, rows) if k == "person_id"}
    first = min(r["checked_in_at"] for r in rows) - window
    last = max(r["checked_in_at"] for r in rows)
    candidates = (
        CheckIn.objects.filter(Q(account_id__in=accounts) | Q(person_id__in=people))
        .filter(checked_in_at__gte=first, checked_in_at__lt=last)
        .exclude(method=Method.COMPANION)
        .order_by("checked_in_at", "id")
        .values_list("account_id", "person_id", "checked_in_at", "venue__name", "venue__latitude", "venue__longitude")
    )
    by_subject: dict[tuple[str, int], list[tuple[Any, ...]]] = {}
    for account_id, person_id, at, name, lat, lon in candidates:
        for key in (("account_id", account_id), ("person_id", person_id)):
            by_subject.setdefault(key, []).append((at, name, lat, lon))
    out: dict[int, Previous] = {}
    for r in rows:
        at = r["checked_in_at"]
        before = [c for c in by_subject.get(_subject(r), []) if at - window <= c[0] < at]
        if not before:
            continue
        prev_at, name, lat, lon = before[-1]
        km = None
        if None not in (lat, lon, r["venue__latitude"], r["venue__longitude"]):
            km = round(distance_km(lat, lon, r["venue__latitude"], r["venue__longitude"]), 1)
        out[r["id"]] = Previous(prev_at, name or "", km)
    return out


def get_flagged_for_user(user: Any, checkin_id: int, *, now: dt.datetime) -> dict[str, Any]:
    """One flagged check-in the user may review; 404 if it is not flagged, not in the user's
    territory, purged, or the user may not review."""
    row = flagged_checkins(user, state="all", now=now).filter(id=checkin_id).first()
    if row is None:
        raise Http404
    return row  # type: ignore[return-value]
