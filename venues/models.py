"""Street shops and other places found by the census or the roster. Venue codes (场所码) build on them."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class VenueCategory(models.TextChoices):
    SUPERMARKET = "supermarket", _("Supermarket")
    HOTEL = "hotel", _("Hotel")
    RESTAURANT = "restaurant", _("Restaurant")
    PHARMACY = "pharmacy", _("Pharmacy")
    BARBER = "barber", _("Barber")
    MARKET = "market", _("Farmers' market")
    SCHOOL = "school", _("School")
    CLINIC = "clinic", _("Medical institution")
    ESTATE = "estate", _("Residential estate")
    OFFICE = "office", _("Office")
    OTHER = "other", _("Other")


class Shop(models.Model):
    name = models.CharField(_("name"), max_length=100)
    category = models.CharField(_("category"), max_length=16, choices=VenueCategory.choices)
    address = models.CharField(_("address"), max_length=200)
    area = models.ForeignKey("territory.Area", on_delete=models.PROTECT, related_name="+")
    area_path = models.CharField(max_length=80, db_index=True, editable=False)
    contact_phone = models.CharField(_("contact phone"), max_length=11, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("shop")
        verbose_name_plural = _("shops")

    def __str__(self) -> str:
        return self.name
