from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HealthConfig(AppConfig):
    name = "health"
    verbose_name = _("Health status")


# Labels that health adds to shared templates and the navigation (accounts, people); listed here so
# they are extracted into this app's catalogue, which gettext consults like any other.
SHARED_LABELS = (
    _("Status change"),
    _("Status approvals"),
    _("Status rules"),
    _("My codes"),
    _("Why my code has its colour"),
)
