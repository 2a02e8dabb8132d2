"""Writes of the venues app: venue applications and codes, check-ins, retention."""

from venues.services.checkin import CheckinOutcome, checkin_record, sentinel_checkin
from venues.services.export import venues_export
from venues.services.flags import flag_review
from venues.services.retention import (
    PurgeResult,
    checkins_purge,
    partitions_maintain,
    retention_claim,
    retention_finish,
)
from venues.services.shop_import import ShopImportReport, shop_import
from venues.services.shops import shop_register
from venues.services.venue import (
    VenueData,
    code_revoke,
    code_rotate,
    companion_remove,
    companion_save,
    entrance_add,
    poster_printed,
    venue_apply,
    venue_review,
)

__all__ = [
    "CheckinOutcome",
    "PurgeResult",
    "ShopImportReport",
    "VenueData",
    "checkin_record",
    "checkins_purge",
    "code_revoke",
    "code_rotate",
    "companion_remove",
    "companion_save",
    "entrance_add",
    "flag_review",
    "partitions_maintain",
    "poster_printed",
    "retention_claim",
    "retention_finish",
    "sentinel_checkin",
    "shop_import",
    "shop_register",
    "venue_apply",
    "venue_review",
    "venues_export",
]
