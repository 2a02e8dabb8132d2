"""Resolving a scanned venue code to its entrance."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext as _

from common.errors import DomainError
from venues.codes import InvalidCode, read_code_token
from venues.models import VenueCode, VenueStatus


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


def entrance_for_token(token: object) -> EntranceInfo:
    """The entrance behind a poster's token, in one query; refuses forged, revoked and
    unapproved codes."""
    try:
        code_id = read_code_token(token)
    except InvalidCode:
        raise invalid_code() from None
    row = (
        VenueCode.objects.filter(pk=code_id)
        .values_list(
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
        .first()
    )
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

    e = Entrance.objects.select_related("venue").get(pk=entrance_id)
    v = e.venue
    return EntranceInfo(0, e.pk, e.name, v.pk, v.name, v.address, v.category, v.latitude, v.longitude)
