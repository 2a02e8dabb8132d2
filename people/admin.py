from django.contrib import admin

from people.models import Person


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ("masked_name", "masked_id_number", "category", "vaccine_doses")
    list_filter = ("category",)
    raw_id_fields = ("area",)
    readonly_fields = ("id_number", "birth_date", "sex", "area_path")
