"""Django admin for venues: shops, venues with their entrances and codes.

Not registered, on purpose: check-ins, retry keys, saved companions and flag reviews. Each of them
says where a named person was or whom they go out with; the admin has neither the masking nor the
audited reveal that DESIGN §3.1 requires, and the venue manager's rule ("never a visitor list")
must not have a back door. Those rows are seen only through the trail and flag-review pages.

Venues are applied for, reviewed, and their codes rotated on the audited pages; here staff correct
a venue's details (each change audited), and nothing that check-ins point at can be deleted.
Staff who are not superusers see the venues of their own territory only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.roles import Cap
from accounts.selectors import scope_for
from audit.services import Actor, audit_record
from common.masking import mask_phone
from venues.models import Entrance, Shop, Venue, VenueCode, shop_name_key


def _scoped(request: HttpRequest, qs: QuerySet[Any]) -> QuerySet[Any]:
    if request.user.is_superuser:
        return qs
    return qs.filter(scope_for(request.user, Cap.VENUES_MANAGE).q())


def _audit_change(request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
    audit_record(
        actor=Actor.from_request(request),
        action=f"{obj._meta.model_name}.admin_{'change' if change else 'add'}",
        obj=obj,
        extra={"fields": sorted(form.changed_data)},
    )


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    list_display = ("name", "category", "address", "area", "source")
    list_filter = ("category", "source")
    search_fields = ("name",)
    raw_id_fields = ("area",)
    list_select_related = ("area",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Shop]:
        return _scoped(request, super().get_queryset(request))

    def save_model(self, request: HttpRequest, obj: Shop, form: Any, change: bool) -> None:
        obj.area_path = obj.area.path  # the promotion page finds shops by path
        obj.name_key = shop_name_key(obj.name, obj.address)
        super().save_model(request, obj, form, change)
        _audit_change(request, obj, form, change)


class EntranceInline(admin.TabularInline):
    model = Entrance
    fields = ("number", "name", "created_at")
    readonly_fields = ("number", "created_at")
    extra = 0
    can_delete = False  # check-ins point at entrances; a closed door has its code withdrawn instead

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # a new entrance needs its first code: "Add entrance" on the venue page


@admin.register(Venue)
class VenueAdmin(admin.ModelAdmin):
    list_display = ("name", "category", "area", "status", "masked_contact_phone", "created_at")
    list_filter = ("status", "category")
    search_fields = ("name", "address")
    list_select_related = ("area",)
    show_full_result_count = False
    fields = (
        "name",
        "category",
        "address",
        "area",
        "contact_name",
        "contact_phone",
        "latitude",
        "longitude",
        "manager",
        "status",
        "reviewed_at",
        "review_note",
        "committed_at",
        "created_at",
    )
    # Status changes go through the audited review page; the grid decides who serves the venue.
    readonly_fields = ("area", "status", "reviewed_at", "review_note", "committed_at", "created_at")
    raw_id_fields = ("manager",)
    inlines = [EntranceInline]

    @admin.display(description=_("contact phone"))
    def masked_contact_phone(self, obj: Venue) -> str:
        return mask_phone(obj.contact_phone)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Venue]:
        return _scoped(request, super().get_queryset(request))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # an application carries the commitment, entrances and codes: "Apply" page

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # check-ins and daily counts name the venue; reject or withdraw its codes instead

    def save_model(self, request: HttpRequest, obj: Venue, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)  # the save drops the cached codes (signals)
        _audit_change(request, obj, form, change)


@admin.register(VenueCode)
class VenueCodeAdmin(admin.ModelAdmin):
    """Read-only: rotation and withdrawal are on the venue page, where they are audited."""

    list_display = ("number", "venue_name", "serial", "created_at", "revoked_at")
    list_select_related = ("entrance__venue",)
    list_filter = ("revoked_at",)
    search_fields = ("entrance__venue__name",)
    show_full_result_count = False

    @admin.display(description=_("venue"))
    def venue_name(self, obj: VenueCode) -> str:
        return obj.entrance.venue.name

    def get_queryset(self, request: HttpRequest) -> QuerySet[VenueCode]:
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(scope_for(request.user, Cap.VENUES_MANAGE).q("entrance__venue__area_path"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
