"""The short URLs printed in venue codes: /v/<token>/ (kept short so the QR stays coarse)."""

from django.urls import path

from venues.views import scan

app_name = "scan"
urlpatterns = [
    path("ping/", scan.ping, name="ping"),
    path("s/<str:scan_key>/", scan.result, name="result"),
    path("s/<str:scan_key>/companions/", scan.companions, name="companions"),
    path("<str:token>/", scan.scan, name="scan"),
]
