from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import ApiToken, Department, Membership, User


class MembershipInline(admin.TabularInline):
    model = Membership
    raw_id_fields = ("area",)
    extra = 0


@admin.register(User)
class FangyiUserAdmin(UserAdmin):
    list_display = ("username", "display_name", "phone", "is_staff", "is_active")
    search_fields = ("username", "display_name")
    fieldsets = (*UserAdmin.fieldsets, ("Fangyi", {"fields": ("display_name", "phone", "department")}))  # type: ignore[misc]
    inlines = [MembershipInline]


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("name", "parent")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "key_hash")
