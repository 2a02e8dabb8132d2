"""Venue applications, review, entrances and their codes, saved companions."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from audit.services import Actor, audit_record
from common.errors import Conflict, DomainError
from people import selectors as people_selectors
from territory.models import Area, AreaKind
from venues.models import (
    ADDRESS_MAX,
    NAME_MAX,
    Entrance,
    SavedCompanion,
    Shop,
    Venue,
    VenueCategory,
    VenueCode,
    VenueStatus,
)
from venues.selectors.codes import forget_codes

GRID_KINDS = {AreaKind.GRID1, AreaKind.GRID2}


@dataclass(frozen=True)
class VenueData:
    name: str
    category: str
    address: str
    contact_name: str
    contact_phone: str
    committed: bool
    entrance_names: tuple[str, ...] = ("正门",)
    latitude: Decimal | None = None
    longitude: Decimal | None = None


def _clean_text(value: str, limit: int, field: str) -> str:
    text = " ".join((value or "").split())
    if not text:
        raise DomainError(f"{field}_required", _("This field is required."), field=field)
    if len(text) > limit:
        raise DomainError(f"{field}_too_long", _("At most %(limit)d characters.") % {"limit": limit}, field=field)
    return text


def _new_code(entrance: Entrance, *, serial: int, now: dt.datetime) -> VenueCode:
    return VenueCode.objects.create(entrance=entrance, serial=serial, created_at=now)


def _add_entrance(venue: Venue, *, number: int, name: str, now: dt.datetime) -> Entrance:
    entrance = Entrance.objects.create(venue=venue, number=number, name=name, created_at=now)
    _new_code(entrance, serial=1, now=now)
    return entrance


@transaction.atomic
def venue_apply(
    *, actor: Actor, data: VenueData, grid: Area, shop: Shop | None = None, manager: Any = None, now: dt.datetime
) -> Venue:
    """A venue manager (or grid staff on a shop's behalf) applies for a code.

    The caller has checked that ``grid`` is within the actor's territory. Without review (a
    policy), the venue is approved at once.
    """
    if not data.committed:
        raise DomainError("commitment_required", _("Tick the commitment to apply."), field="committed")
    if data.category not in VenueCategory.values:
        raise DomainError("category_invalid", _("Choose a category."), field="category")
    if grid.kind not in GRID_KINDS:
        raise DomainError("grid_invalid", _("Choose a grid."), field="grid")
    if shop is not None and hasattr(shop, "venue"):
        raise Conflict("shop_has_venue", _("This shop already has a venue code."))
    names = [_clean_text(n, 30, "entrance") for n in data.entrance_names if n.strip()] or ["正门"]
    review = bool(settings.FANGYI["VENUE_REVIEW_REQUIRED"])
    venue = Venue.objects.create(
        name=_clean_text(data.name, NAME_MAX, "name"),
        category=data.category,
        address=_clean_text(data.address, ADDRESS_MAX, "address"),
        area=grid,
        area_path=grid.path,
        shop=shop,
        contact_name=_clean_text(data.contact_name, 30, "contact_name"),
        contact_phone=_clean_text(data.contact_phone, 11, "contact_phone"),
        latitude=data.latitude,
        longitude=data.longitude,
        manager=manager,
        applied_by=actor.user,
        status=VenueStatus.PENDING if review else VenueStatus.APPROVED,
        committed_at=now,
        created_at=now,
    )
    for number, name in enumerate(names, start=1):
        _add_entrance(venue, number=number, name=name, now=now)
    audit_record(actor=actor, action="venue.apply", obj=venue, now=now, extra={"review": review})
    return venue


@transaction.atomic
def venue_review(*, actor: Actor, venue: Venue, approve: bool, note: str = "", now: dt.datetime) -> Venue:
    venue = Venue.objects.select_for_update().get(pk=venue.pk)
    if venue.status != VenueStatus.PENDING:
        raise Conflict("venue_not_pending", _("This application has already been reviewed."))
    venue.status = VenueStatus.APPROVED if approve else VenueStatus.REJECTED
    venue.reviewed_by = actor.user
    venue.reviewed_at = now
    venue.review_note = (note or "")[:200]
    venue.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])
    audit_record(actor=actor, action="venue.approve" if approve else "venue.reject", obj=venue, reason=note, now=now)
    return venue


@transaction.atomic
def entrance_add(*, actor: Actor, venue: Venue, name: str, now: dt.datetime) -> Entrance:
    # The venue row lock serialises two staff adding doors at once; the unique number backs it.
    Venue.objects.select_for_update().filter(pk=venue.pk).first()
    number = (
        Entrance.objects.filter(venue=venue).order_by("-number").values_list("number", flat=True).first() or 0
    ) + 1
    entrance = _add_entrance(venue, number=number, name=_clean_text(name, 30, "entrance"), now=now)
    audit_record(actor=actor, action="venue.entrance_add", obj=entrance, now=now)
    return entrance


@transaction.atomic
def code_rotate(*, actor: Actor, entrance: Entrance, now: dt.datetime) -> VenueCode:
    """Revoke the entrance's current code and issue the next; old posters stop working at once."""
    current = VenueCode.objects.select_for_update().filter(entrance=entrance).order_by("-serial").first()
    serial = 1
    if current is not None:
        serial = current.serial + 1
        if current.revoked_at is None:
            current.revoked_at = now
            current.save(update_fields=["revoked_at"])
    code = _new_code(entrance, serial=serial, now=now)
    audit_record(actor=actor, action="venue.code_rotate", obj=code, now=now, extra={"entrance": entrance.pk})
    return code


@transaction.atomic
def code_revoke(*, actor: Actor, entrance: Entrance, now: dt.datetime) -> int:
    """Withdraw the entrance's code without a replacement (a door closed for good)."""
    count = VenueCode.objects.filter(entrance=entrance, revoked_at__isnull=True).update(revoked_at=now)
    # update() sends no signal: drop the cached rows the scan path would otherwise still trust.
    ids = list(VenueCode.objects.filter(entrance=entrance).values_list("pk", flat=True))
    forget_codes(code_ids=ids)
    transaction.on_commit(lambda: forget_codes(code_ids=ids))
    audit_record(actor=actor, action="venue.code_revoke", obj=entrance, now=now, row_count=count)
    return count


def poster_printed(*, actor: Actor, code: VenueCode, now: dt.datetime) -> None:
    audit_record(actor=actor, action="venue.poster_print", obj=code, now=now)


@transaction.atomic
def companion_save(*, actor: Actor, owner_id: int, name: str, id_number: str, now: dt.datetime) -> SavedCompanion:
    """A resident saves someone without a phone. Name and ID number must both match a registered
    person, so the form cannot be used to probe who is registered."""
    person = people_selectors.person_by_id_number(id_number)
    if person is None or person.name != (name or "").strip():
        raise DomainError("companion_not_found", _("No registered person has this name and ID number."))
    if person.pk == owner_id:
        raise DomainError("companion_self", _("You are always checked in yourself."))
    try:
        with transaction.atomic():
            saved = SavedCompanion.objects.create(owner_id=owner_id, companion=person, created_at=now)
    except IntegrityError:
        raise Conflict("companion_exists", _("This companion is already saved.")) from None
    audit_record(actor=actor, action="venue.companion_save", obj=saved, now=now)
    return saved


@transaction.atomic
def companion_remove(*, actor: Actor, owner_id: int, companion_id: int, now: dt.datetime) -> None:
    deleted, _rows = SavedCompanion.objects.filter(owner_id=owner_id, companion_id=companion_id).delete()
    if deleted:
        audit_record(
            actor=actor,
            action="venue.companion_remove",
            object_type="venues.savedcompanion",
            object_id=f"{owner_id}:{companion_id}",
            now=now,
        )
