from django.contrib import admin

from health.models import ChangeRequest, RuleVersion, StatusHistory


@admin.register(RuleVersion)
class RuleVersionAdmin(admin.ModelAdmin):
    list_display = ("version", "positive_single_colour", "pool_recheck_colour", "companion_colour", "created_at")

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False  # versions are immutable; HQ adds a new one on the rules page


@admin.register(ChangeRequest)
class ChangeRequestAdmin(admin.ModelAdmin):
    list_display = ("id", "colour", "reason_code", "person_count", "applied_count", "state", "requested_at")
    readonly_fields = [f.name for f in ChangeRequest._meta.fields]


@admin.register(StatusHistory)
class StatusHistoryAdmin(admin.ModelAdmin):
    list_display = ("person_id", "at", "previous_colour", "colour", "reason_code", "rule_version")
    readonly_fields = [f.name for f in StatusHistory._meta.fields]
