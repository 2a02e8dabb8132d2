from django.contrib import admin
from django.urls import include, path

from config.api import api

urlpatterns = [
    path("", include("dashboard.urls")),
    path("accounts/", include("accounts.urls")),
    path("people/", include("people.urls")),
    path("territory/", include("territory.urls")),
    path("audit/", include("audit.urls")),
    path("testing/", include("testing.urls")),
    path("health/", include("health.urls")),
    path("venues/", include("venues.urls")),
    path("v/", include("venues.scan_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
]
