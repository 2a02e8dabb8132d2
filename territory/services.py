"""Writes to the territory tree."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from common.errors import Conflict, DomainError
from territory.models import KIND_ORDER, Area, AreaKind
from territory.selectors import segment


def _check_kind(parent: Area | None, kind: str) -> None:
    if kind not in KIND_ORDER:
        raise DomainError("area_kind_invalid", _("Unknown kind of area."))
    if parent is None:
        if kind != AreaKind.DISTRICT:
            raise DomainError("area_parent_required", _("Only a district can be a root."))
        return
    if KIND_ORDER.index(kind) <= KIND_ORDER.index(parent.kind):
        raise DomainError("area_kind_order", _("This kind of area cannot be placed under that one."))


@transaction.atomic
def area_create(*, parent: Area | None, kind: str, name: str) -> Area:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise DomainError("area_name_invalid", _("The name must have 1 to 100 characters."))
    _check_kind(parent, kind)
    try:
        with transaction.atomic():
            area = Area.objects.create(parent=parent, kind=kind, name=name, depth=(parent.depth + 1) if parent else 0)
    except IntegrityError:
        raise Conflict("area_exists", _("An area with this name already exists here.")) from None
    area.path = (parent.path if parent else "") + segment(area.id)
    area.save(update_fields=["path"])
    return area


def area_get_or_create(*, parent: Area, kind: str, name: str) -> tuple[Area, bool]:
    existing = Area.objects.filter(parent=parent, name=name.strip()).first()
    if existing:
        return existing, False
    return area_create(parent=parent, kind=kind, name=name), True
