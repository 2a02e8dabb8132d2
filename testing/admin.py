from django.contrib import admin

from testing.models import Laboratory, LaboratoryMember, Round, Site, SiteStaff


@admin.register(Laboratory)
class LaboratoryAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")


@admin.register(LaboratoryMember)
class LaboratoryMemberAdmin(admin.ModelAdmin):
    list_display = ("user", "laboratory")


@admin.register(Round)
class RoundAdmin(admin.ModelAdmin):
    list_display = ("name", "area", "pool_size", "status", "starts_at", "deadline_at")
    # Opening, closing (which keeps the figures) and the overdue reminder go through the audited
    # services only; the admin must not flip a round's state around them.
    readonly_fields = ("area_path", "status", "closed_at", "overdue_reminded_at", "final_figures")


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ("name", "round", "area", "hours")
    readonly_fields = ("area_path",)


@admin.register(SiteStaff)
class SiteStaffAdmin(admin.ModelAdmin):
    list_display = ("site", "user")
