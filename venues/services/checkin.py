"""The check-in write path: kept lean, since it is the one path that takes a surge.

Per request: the cached code and status reads, then one statement on PostgreSQL (see checkin_sql)
that writes the idempotency row and the check-ins and reads the subject's recent check-ins as they
stood before, for the abuse checks; SQLite reads, then writes. A check-in the checks flag (rare) is
marked by a second statement right after: a crash of the app server in between leaves it recorded
and answered, unflagged. Flags only send a check-in to review and never change a colour. The
check-in rows are their own audit trail (who scanned, which device or account, when, where, the
status shown), so no separate audit row is written per scan; that would double the hottest write.
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


def _recent(*, method: str, account_id: int | None, person_id: int, now: dt.datetime) -> checkin_sql.Recent | None:
    """What the abuse checks read of the subject's recent check-ins (none for companions): the scanning
    account's, or the person's at a sentinel."""
    if method == Method.COMPANION:
        return None
    subject = ("account_id", account_id) if method == Method.SCAN else ("person_id", person_id)
    limit = int(settings.FANGYI["CHECKIN_MAX_PER_MINUTE"])
    return checkin_sql.Recent(*subject, since=now - dt.timedelta(hours=6), until=now, limit=limit)


def _abuse_flag(recent: list[tuple[dt.datetime, int]], *, limit: int, entrance: EntranceInfo, now: dt.datetime) -> str:
    """ "burst" or "far_apart" when the subject's recent check-ins (newest first, at most ``limit``)
    make this one suspicious. The previous venue's position comes from the cached venue locations (a
    join made PostgreSQL plan every partition against the venue table on each scan)."""
    policy = settings.FANGYI
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


def _write(
    request: CheckinRequest, rows: list[CheckIn], recent: checkin_sql.Recent | None
) -> list[tuple[dt.datetime, int]]:
    return checkin_sql.insert_checkins(request, rows, recent)


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
            )
        )
    request = CheckinRequest(client_key=client_key, scan_key=scan_key, account_id=account_id, created_at=now)
    recent = _recent(method=method, account_id=account_id, person_id=ids[0], now=now)
    try:
        before = _write(request, rows, recent)
    except IntegrityError as exc:
        if "no partition" not in str(exc):
            # The client key won a race with a concurrent retry: answer what that one recorded.
            return _replay(client_key, account_id)
        # The day's partition is missing (the maintenance job did not run): create it and retry.
        day = now.astimezone(partitions.local_zone()).date()
        partitions.ensure_partitions(day, day + dt.timedelta(days=1))
        before = _write(request, rows, recent)
    flag = _abuse_flag(before, limit=recent.limit, entrance=entrance, now=now) if recent is not None else ""
    if flag:  # rare: the rows are marked in a second statement, right after
        checkin_sql.flag_checkins(rows, flag)
        for row in rows:
            row.is_flagged, row.flag_reason = True, flag
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
