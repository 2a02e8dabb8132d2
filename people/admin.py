from typing import Any

from django.contrib import admin

from people.models import Person


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    """Read-only and masked: people are changed through the audited pages and services, not here."""

    list_display = ("masked_name", "masked_id_number", "masked_phone", "category", "vaccine_doses")
    list_filter = ("category",)
    fields = ("masked_name", "masked_id_number", "masked_phone", "sex", "category", "vaccine_doses", "area_path")
    readonly_fields = fields
    show_full_result_count = False

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
