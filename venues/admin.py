from django.contrib import admin

from venues.models import Shop


@admin.register(Shop)
class ShopAdmin(admin.ModelAdmin):
    list_display = ("name", "category", "address")
    list_filter = ("category",)
    raw_id_fields = ("area",)
