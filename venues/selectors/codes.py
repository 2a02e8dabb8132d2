"""Resolving a scanned venue code to its entrance."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils.translation import gettext as _

from common.db import convert_row, prepared_cursor
from common.errors import DomainError
from venues.codes import InvalidCode, read_code_token
from venues.models import Venue, VenueCode, VenueStatus


@dataclass(frozen=True)
class EntranceInfo:
    code_id: int
    entrance_id: int
    entrance_name: str
    venue_id: int
    venue_name: str
    venue_address: str
    category: str
    latitude: Decimal | None
    longitude: Decimal | None


def invalid_code() -> DomainError:
    return DomainError("venue_code_invalid", _("Invalid venue code"))


_ROW_FIELDS = (
    "revoked_at",
    "entrance_id",
    "entrance__name",
    "entrance__venue_id",
    "entrance__venue__name",
    "entrance__venue__address",
    "entrance__venue__category",
    "entrance__venue__latitude",
    "entrance__venue__longitude",
    "entrance__venue__status",
)


def _cache_seconds() -> int:
    return int(settings.FANGYI.get("VENUE_CODE_CACHE_SECONDS", 30))


def code_cache_key(code_id: int) -> str:
    return f"venues:code:{code_id}"


def location_cache_key(venue_id: int) -> str:
    return f"venues:loc:{venue_id}"


def _code_row(code_id: int) -> tuple[Any, ...] | None:
    """The code's row with its entrance and venue, from the cache when it was read lately.

    Every scan of a poster reads it, so it is cached (VENUE_CODE_CACHE_SECONDS). A change to a code,
    entrance or venue removes the entry (venues.signals, and the services for bulk updates); with a
    per-process cache (no REDIS_URL) the other server processes see a revocation when their entry
    expires, so a withdrawn poster stops working everywhere within that many seconds.
    """
    key = code_cache_key(code_id)
    row = cache.get(key)
    if row is None:
        row = _read_code_row(code_id)
        if row is None:
            return None
        cache.set(key, row, _cache_seconds())
    return tuple(row)


_row_query: list[tuple[str, list[tuple[Any, list[Any]]]]] = []


def _read_code_row(code_id: int) -> tuple[Any, ...] | None:
    """``_ROW_FIELDS`` of one code by a plain SELECT with the ORM's conversions: every cache entry
    expires after VENUE_CODE_CACHE_SECONDS in every server process, so with thousands of venues many
    scans pay this read, and the ORM spent ~2.7 ms of CPU building it (the SELECT itself ~0.3 ms)."""
    if not _row_query:
        query = VenueCode.objects.filter(pk=0).values_list(*_ROW_FIELDS).query
        compiler = query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        if list(params) != [0]:
            raise RuntimeError("unexpected parameters in the code row query")
        cols = [col for col, _sql, _alias in compiler.select]
        _row_query.append((sql, [(col, compiler.get_converters([col]).get(0, ([], col))[0]) for col in cols]))
    sql, converters = _row_query[0]
    with prepared_cursor() as cur:
        cur.execute(sql, [code_id])
        found = cur.fetchone()
    return None if found is None else convert_row(found, converters)


def entrance_for_token(token: object) -> EntranceInfo:
    """The entrance behind a poster's token (cached; at most one query); refuses forged, revoked and
    unapproved codes."""
    try:
        code_id = read_code_token(token)
    except InvalidCode:
        raise invalid_code() from None
    row = _code_row(code_id)
    if row is None:
        raise invalid_code()
    revoked_at, entrance_id, entrance_name, venue_id, name, address, category, lat, lon, status = row
    if revoked_at is not None:
        raise DomainError(
            "venue_code_revoked",
            _("This venue code is no longer valid. Please scan the new code posted at the entrance."),
            status=410,
        )
    if status != VenueStatus.APPROVED:
        raise DomainError("venue_not_approved", _("This venue code is not in service yet."), status=409)
    return EntranceInfo(code_id, entrance_id, entrance_name, venue_id, name, address, category, lat, lon)


def venue_location(venue_id: int) -> tuple[Decimal | None, Decimal | None]:
    """(latitude, longitude) of a venue, cached like the codes (the abuse check reads it per scan)."""
    key = location_cache_key(venue_id)
    found = cache.get(key)
    if found is None:
        found = Venue.objects.filter(pk=venue_id).values_list("latitude", "longitude").first() or (None, None)
        cache.set(key, found, _cache_seconds())
    return found[0], found[1]


def forget_codes(*, code_ids: Iterable[int] = (), venue_ids: Iterable[int] = ()) -> None:
    """Drop cached code rows (and venue locations): after a commit that changed them."""
    keys = [code_cache_key(c) for c in code_ids] + [location_cache_key(v) for v in venue_ids]
    if keys:
        cache.delete_many(keys)


def entrance_info(entrance_id: int) -> EntranceInfo:
    """The same facts for staff who pick the entrance themselves (the sentinel)."""
    code = (
        VenueCode.objects.select_related("entrance__venue")
        .filter(entrance_id=entrance_id, revoked_at__isnull=True)
        .first()
    )
    if code is None or code.entrance.venue.status != VenueStatus.APPROVED:
        raise DomainError("venue_code_revoked", _("This entrance has no valid venue code."), status=409)
    e, v = code.entrance, code.entrance.venue
    return EntranceInfo(code.pk, e.pk, e.name, v.pk, v.name, v.address, v.category, v.latitude, v.longitude)


def entrance_summary(entrance_id: int) -> EntranceInfo:
    """Facts of an entrance for showing a past scan, whatever the state of its code now."""
    from venues.models import Entrance

    return entrance_summary_of(Entrance.objects.select_related("venue").get(pk=entrance_id))


def entrance_summary_of(e: Any) -> EntranceInfo:
    """``entrance_summary`` of an entrance already read with its venue."""
    v = e.venue
    return EntranceInfo(0, e.pk, e.name, v.pk, v.name, v.address, v.category, v.latitude, v.longitude)
