from django.urls import path

from venues.views import flags, manage, resident, shops

app_name = "venues"
urlpatterns = [
    path("", manage.venue_list, name="list"),
    path("apply/", manage.venue_apply, name="apply"),
    path("promotion/", manage.promotion, name="promotion"),
    path("export.csv", manage.venue_export, name="export"),
    path("shops/new/", shops.shop_new, name="shop_new"),
    path("shops/import/", shops.shop_import, name="shop_import"),
    path("shops/import/template.xlsx", shops.shop_import_template, name="shop_import_template"),
    path("shops/import/<int:pk>/errors.xlsx", shops.shop_import_errors, name="shop_import_errors"),
    path("trail/", resident.my_trail, name="my_trail"),
    path("trail/<int:person_id>/", resident.person_trail, name="person_trail"),
    path("flags/", flags.flag_list, name="flags"),
    path("flags/<int:checkin_id>/review/", flags.flag_review, name="flag_review"),
    path("companions/", resident.companions, name="companions"),
    path("companions/<int:companion_id>/remove/", resident.companion_remove, name="companion_remove"),
    path("<int:pk>/", manage.venue_detail, name="detail"),
    path("<int:pk>/review/", manage.venue_review, name="review"),
    path("<int:pk>/entrances/", manage.entrance_add, name="entrance_add"),
    path("<int:pk>/entrances/<int:entrance_id>/rotate/", manage.code_rotate, name="code_rotate"),
    path("<int:pk>/entrances/<int:entrance_id>/revoke/", manage.code_revoke, name="code_revoke"),
    path("<int:pk>/entrances/<int:entrance_id>/poster.pdf", manage.poster, name="poster"),
    path("<int:pk>/sentinel/", manage.sentinel, name="sentinel"),
]
