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
    readonly_fields = ("area_path", "final_figures")


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ("name", "round", "area", "hours")
    readonly_fields = ("area_path",)


@admin.register(SiteStaff)
class SiteStaffAdmin(admin.ModelAdmin):
    list_display = ("site", "user")
