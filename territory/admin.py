from django.contrib import admin

from territory.models import Area


@admin.register(Area)
class AreaAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "path", "depth")
    list_filter = ("kind",)
    search_fields = ("name",)
    raw_id_fields = ("parent",)
    readonly_fields = ("path", "depth")

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False  # paths are assigned by territory.services.area_create
