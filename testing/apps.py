from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TestingConfig(AppConfig):
    name = "testing"
    label = "testing"
    verbose_name = _("Nucleic-acid testing")


# The navigation (accounts.context_processors) shows these labels; they are marked here too so this
# app's catalogue carries their Chinese (Django merges every app's catalogue).
NAV_LABELS = (_("Testing"), _("Sampler station"), _("Laboratory"))
