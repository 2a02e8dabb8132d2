from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SmsMessage(models.Model):
    """The local SMS outbox: what the default backend "sends". A real gateway backend replaces it."""

    phone = models.CharField(max_length=11, db_index=True)
    body = models.CharField(max_length=500)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("SMS message")
        verbose_name_plural = _("SMS outbox")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.phone}: {self.body[:20]}"
