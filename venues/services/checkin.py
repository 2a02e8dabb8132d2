"""The check-in write path: kept lean, since it is the one path that takes a surge.

Per request: the cached code and status reads, one indexed read of the subject's recent check-ins
(abuse checks), and one write of the idempotency row and the check-ins (one statement on
PostgreSQL; see checkin_sql). The check-in rows are their own audit trail (who scanned, which
device or account, when, where, the status shown), so no separate audit row is written per scan;
that would double the hottest write.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError
from django.utils.translation import gettext as _

from common import idnumber
from common.errors import Conflict, DomainError, NotFound
from health import selectors as health_selectors
from people import selectors as people_selectors
from venues import partitions
from venues.models import CheckIn, CheckinRequest, Method
from venues.policy import decide, distance_km
from venues.selectors.codes import EntranceInfo, venue_location
from venues.services import checkin_sql

_CLIENT_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


@dataclass(frozen=True)
class CheckinOutcome:
    scan_key: str
    replayed: bool
    rows: list[CheckIn]


def _check_key(client_key: str) -> str:
    if not isinstance(client_key, str) or not _CLIENT_KEY.match(client_key):
        raise DomainError("client_key_invalid", _("The request carries no valid retry key."))
    return client_key


def _abuse_flag(*, subject: tuple[str, int | None], entrance: EntranceInfo, now: dt.datetime) -> str:
    """ "burst" or "far_apart" when the subject's recent check-ins make this one suspicious.

    One indexed read of the subject's latest check-ins, without a join: the previous venue's
    position comes from the cached venue locations (a join made PostgreSQL plan every partition
    against the venue table on each scan)."""
    policy = settings.FANGYI
    limit = int(policy["CHECKIN_MAX_PER_MINUTE"])
    column, value = subject
    recent = checkin_sql.recent_checkins(
        column=column, value=value, since=now - dt.timedelta(hours=6), until=now, limit=limit
    )
    if len(recent) >= limit and recent[limit - 1][0] > now - dt.timedelta(minutes=1):
        return "burst"
    if recent and entrance.latitude is not None and recent[0][1] != entrance.venue_id:
        at, venue_id = recent[0]
        lat, lon = venue_location(venue_id)
        if lat is None or lon is None:
            return ""
        km = distance_km(lat, lon, entrance.latitude, entrance.longitude)
        hours = max((now - at).total_seconds(), 1.0) / 3600
        if km >= float(policy["CHECKIN_FLAG_MIN_KM"]) and km / hours > float(policy["CHECKIN_MAX_SPEED_KMH"]):
            return "far_apart"
    return ""


def _replay(client_key: str, account_id: int | None) -> CheckinOutcome:
    from venues.selectors.checkins import scan_rows

    request = CheckinRequest.objects.filter(client_key=client_key).first()
    if request is None:
        raise Conflict("checkin_conflict", _("The check-in could not be recorded. Please try again."))
    if request.account_id != account_id:
        raise Conflict("client_key_reused", _("This retry key belongs to another request."))
    return CheckinOutcome(scan_key=request.scan_key, replayed=True, rows=scan_rows(request.scan_key, account_id))


def _write(request: CheckinRequest, rows: list[CheckIn]) -> None:
    checkin_sql.insert_checkins(request, rows)


def checkin_record(
    *,
    account: Any,
    entrance: EntranceInfo,
    person_ids: list[int],
    method: str,
    client_key: str,
    scan_key: str | None = None,
    now: dt.datetime,
) -> CheckinOutcome:
    """Check ``person_ids`` in at ``entrance``; a retry with the same client key changes nothing and
    returns the first answer. ``scan_key`` groups companions with the scan they came with."""
    _check_key(client_key)
    scan_key = _check_key(scan_key) if scan_key else client_key
    account_id = account.pk if account is not None else None
    # No look-up of the key first: a retry is rare, and the unique key catches it on INSERT.
    ids = list(dict.fromkeys(person_ids))
    if not ids:
        raise DomainError("nobody", _("Choose at least one person."))
    views = health_selectors.status_views(ids, now=now)
    if len(views) != len(ids):
        raise NotFound("person_not_found", _("No such person."))
    flag = ""
    if method != Method.COMPANION:
        subject = ("account_id", account_id) if method == Method.SCAN else ("person_id", ids[0])
        flag = _abuse_flag(subject=subject, entrance=entrance, now=now)
    rows = []
    for pid in ids:
        view = views[pid]
        verdict, reason = decide(
            colour=view.colour, hours_since_negative=view.hours_since_negative, category=entrance.category
        )
        rows.append(
            CheckIn(
                checked_in_at=now,
                venue_id=entrance.venue_id,
                entrance_id=entrance.entrance_id,
                person_id=pid,
                account_id=account_id,
                method=method,
                scan_key=scan_key,
                colour=view.colour,
                reason_code=reason,
                badge=view.badge,
                verdict=verdict,
                is_flagged=bool(flag),
                flag_reason=flag,
            )
        )
    request = CheckinRequest(client_key=client_key, scan_key=scan_key, account_id=account_id, created_at=now)
    try:
        _write(request, rows)
    except IntegrityError as exc:
        if "no partition" not in str(exc):
            # The client key won a race with a concurrent retry: answer what that one recorded.
            return _replay(client_key, account_id)
        # The day's partition is missing (the maintenance job did not run): create it and retry.
        day = now.astimezone(partitions.local_zone()).date()
        partitions.ensure_partitions(day, day + dt.timedelta(days=1))
        _write(request, rows)
    from venues.selectors.checkins import scan_rows

    return CheckinOutcome(
        scan_key=scan_key, replayed=False, rows=rows if scan_key == client_key else scan_rows(scan_key, account_id)
    )


def _person_from_code(raw: str, *, now: dt.datetime) -> int:
    text = (raw or "").strip()
    if len(text) > 200:
        raise DomainError("token_invalid", _("This code is not valid."))
    normal = idnumber.normalize(text)
    if len(normal) == 18 and normal[:17].isdigit():
        person = people_selectors.person_by_id_number(normal)
        if person is None:
            raise NotFound("person_not_found", _("No registered person has this ID number."))
        return person.pk
    return health_selectors.person_id_from_health_token(text, now=now)


def sentinel_checkin(
    *, account: Any, entrance: EntranceInfo, code: str, client_key: str, now: dt.datetime
) -> CheckinOutcome:
    """The venue's device scanned a health code (or staff typed an ID number): same check-in."""
    _check_key(client_key)
    if CheckinRequest.objects.filter(client_key=client_key).exists():
        return _replay(client_key, account.pk)
    person_id = _person_from_code(code, now=now)
    return checkin_record(
        account=account,
        entrance=entrance,
        person_ids=[person_id],
        method=Method.SENTINEL,
        client_key=client_key,
        now=now,
    )
