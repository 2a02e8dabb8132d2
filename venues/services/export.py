"""The venue ledger (场所码台账) as a streamed CSV: every venue of the user's territory with its
entrances and live code numbers. Cells that a spreadsheet would run as formulas are neutralised
(common.spreadsheet), contact phones stay masked, and one audit row is written before any data
leaves (DESIGN §3.9)."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from audit.services import Actor, audit_record
from common.masking import mask_phone
from common.spreadsheet import csv_safe
from venues.models import Venue


class _Line:
    def write(self, value: str) -> str:
        return value


def venues_export(*, actor: Actor, venues: QuerySet[Venue], now: dt.datetime) -> Iterator[bytes]:
    """``venues`` comes from ``selectors.venues.venues_for_user`` (scoped, entrances and live codes
    prefetched: a constant number of queries per 2,000 rows)."""
    count = venues.count()
    with transaction.atomic():
        audit_record(actor=actor, action="venue.export", object_type="venues.venue", row_count=count, now=now)
    headers = [
        _("Venue"), _("Category"), _("Address"), _("Grid"), _("Status"), _("Entrances and code numbers"),
        _("Contact person"), _("Contact phone"), _("Applied on"),
    ]
    return _stream([str(h) for h in headers], venues)


def _stream(headers: list[str], venues: QuerySet[Venue]) -> Iterator[bytes]:
    writer = csv.writer(_Line())
    yield "\ufeff".encode() + writer.writerow(headers).encode()  # the BOM: Excel reads UTF-8, not GBK
    for v in venues.iterator(chunk_size=2000):
        entrances = "; ".join(
            f"{e.name} {' '.join(c.number for c in e.codes.all()) or '-'}" for e in v.entrances.all()
        )
        row: list[Any] = [
            v.name, v.get_category_display(), v.address, v.area.name, v.get_status_display(), entrances,
            v.contact_name, mask_phone(v.contact_phone), f"{v.created_at:%Y-%m-%d}",
        ]
        yield writer.writerow([csv_safe(c) for c in row]).encode()
