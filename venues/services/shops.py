"""Shops found by the door-to-door census (入户摸排) or imported from a roster: the promotion page counts
them with and without a venue code, and grid staff apply for a code on a shop's behalf.

A shop is one record per level-1 grid: the same normalised name and address (``shop_name_key``)
anywhere under one level-1 grid is the same shop, whether a worker registered it at the level-1 or
at a level-2 grid. The database backs this per grid node (``shop_unique_name_key_per_grid``).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from audit.services import Actor, audit_record
from common.errors import Conflict, DomainError
from common.phone import InvalidPhone, normalize_phone
from territory.models import Area, AreaKind
from territory.selectors import subtree_q
from venues.models import ADDRESS_MAX, NAME_MAX, Shop, ShopSource, VenueCategory, shop_name_key

GRID_KINDS = (AreaKind.GRID1, AreaKind.GRID2)

# The words rosters and workers write for a category; the labels of VenueCategory in Chinese first.
CATEGORY_WORDS: dict[str, str] = {
    "超市": VenueCategory.SUPERMARKET,
    "便利店": VenueCategory.SUPERMARKET,
    "商店": VenueCategory.SUPERMARKET,
    "宾馆": VenueCategory.HOTEL,
    "酒店": VenueCategory.HOTEL,
    "旅馆": VenueCategory.HOTEL,
    "餐饮": VenueCategory.RESTAURANT,
    "饭店": VenueCategory.RESTAURANT,
    "餐馆": VenueCategory.RESTAURANT,
    "药店": VenueCategory.PHARMACY,
    "药房": VenueCategory.PHARMACY,
    "理发": VenueCategory.BARBER,
    "理发店": VenueCategory.BARBER,
    "美发": VenueCategory.BARBER,
    "农贸市场": VenueCategory.MARKET,
    "菜市场": VenueCategory.MARKET,
    "学校": VenueCategory.SCHOOL,
    "医疗机构": VenueCategory.CLINIC,
    "诊所": VenueCategory.CLINIC,
    "医院": VenueCategory.CLINIC,
    "小区": VenueCategory.ESTATE,
    "办公场所": VenueCategory.OFFICE,
    "办公": VenueCategory.OFFICE,
    "写字楼": VenueCategory.OFFICE,
    "其他": VenueCategory.OTHER,
    "其它": VenueCategory.OTHER,
    **{c.value: c.value for c in VenueCategory},
}
# The word a file should carry for each category (the template's notes list them).
CATEGORY_OUT: dict[str, str] = {
    VenueCategory.SUPERMARKET: "超市", VenueCategory.HOTEL: "宾馆", VenueCategory.RESTAURANT: "餐饮",
    VenueCategory.PHARMACY: "药店", VenueCategory.BARBER: "理发", VenueCategory.MARKET: "农贸市场",
    VenueCategory.SCHOOL: "学校", VenueCategory.CLINIC: "医疗机构", VenueCategory.ESTATE: "小区",
    VenueCategory.OFFICE: "办公场所", VenueCategory.OTHER: "其他",
}  # fmt: skip


def parse_category(text: str) -> str | None:
    word = unicodedata.normalize("NFKC", text or "").strip()
    return CATEGORY_WORDS.get(word) or CATEGORY_WORDS.get(word.lower())


@dataclass(frozen=True)
class CleanShop:
    name: str
    category: str
    address: str
    contact_phone: str

    @property
    def key(self) -> str:
        return shop_name_key(self.name, self.address)


def _text(value: str, limit: int, field: str, required_message: Any) -> str:
    text = " ".join((value or "").split())
    if not text:
        raise DomainError(f"{field}_required", required_message, field=field)
    if len(text) > limit:
        raise DomainError(f"{field}_too_long", _("At most %(limit)d characters.") % {"limit": limit}, field=field)
    return text


def shop_clean(*, name: str, category: str, address: str, contact_phone: str) -> CleanShop:
    """Validated, length-limited values; a DomainError naming the field otherwise. Text is kept as
    typed (one space between words): a name such as "=HYPERLINK(…)" is a name, escaped on every
    page and neutralised in every export, never refused or altered."""
    clean_name = _text(name, NAME_MAX, "name", _("The shop name is missing."))
    clean_address = _text(address, ADDRESS_MAX, "address", _("The address is missing."))
    if not (category or "").strip():
        raise DomainError("category_required", _("The category is missing."), field="category")
    value = parse_category(category)
    if value is None:
        raise DomainError(
            "category_invalid",
            _("Unknown category; write one of %(words)s.") % {"words": "、".join(CATEGORY_OUT.values())},
            field="category",
        )
    phone = ""
    if (contact_phone or "").strip():
        try:
            phone = normalize_phone(contact_phone)
        except InvalidPhone:
            raise DomainError(
                "phone_invalid", _("The contact phone must be an 11-digit mobile number."), field="contact_phone"
            ) from None
    if shop_name_key(clean_name, "") == "|":  # punctuation only: nothing to tell two shops apart by
        raise DomainError("name_invalid", _("The name and address must contain letters or digits."), field="name")
    return CleanShop(name=clean_name, category=value, address=clean_address, contact_phone=phone)


def duplicate_area_path(grid: Area) -> str:
    """The subtree where a shop must be unique: the level-1 grid holding ``grid`` (or ``grid``)."""
    ids = grid.ancestor_ids()
    level1 = Area.objects.filter(id__in=ids, kind=AreaKind.GRID1).only("path").order_by("-depth").first()
    return level1.path if level1 is not None else grid.path


def shop_find_duplicate(grid_path: str, key: str) -> Shop | None:
    return Shop.objects.filter(subtree_q(grid_path), name_key=key).order_by("id").first()


def _duplicate_error(existing: Shop) -> Conflict:
    return Conflict(
        "shop_duplicate",
        _("This shop is already registered in this grid (%(name)s, %(address)s).")
        % {"name": existing.name, "address": existing.address},
        field="name",
        shop_id=existing.pk,
    )


@transaction.atomic
def shop_register(
    *, actor: Actor, grid: Area, name: str, category: str, address: str, contact_phone: str = "", now: dt.datetime
) -> Shop:
    """A grid worker registers a shop found door to door. The caller has checked that ``grid`` is a
    grid of the actor's territory. A shop already registered in the same level-1 grid under the same
    normalised name and address is refused (409), naming the record that exists."""
    if grid.kind not in GRID_KINDS:
        raise DomainError("grid_invalid", _("Choose a grid."), field="grid")
    clean = shop_clean(name=name, category=category, address=address, contact_phone=contact_phone)
    existing = shop_find_duplicate(duplicate_area_path(grid), clean.key)
    if existing is not None:
        raise _duplicate_error(existing)
    try:
        with transaction.atomic():
            shop = Shop.objects.create(
                name=clean.name,
                category=clean.category,
                address=clean.address,
                contact_phone=clean.contact_phone,
                area=grid,
                area_path=grid.path,
                name_key=clean.key,
                source=ShopSource.CENSUS,
                registered_by=actor.user,
            )
    except IntegrityError:
        # Registered by someone else between the check and the insert.
        raise _duplicate_error(Shop.objects.get(area=grid, name_key=clean.key)) from None
    audit_record(actor=actor, action="venue.shop_register", obj=shop, now=now, extra={"grid": grid.pk})
    return shop
