"""Cache invalidation (the one use of signals, STYLE.md): a saved or deleted code, entrance or venue
drops the cached code rows and venue location that the scan path reads (venues.selectors.codes).

The entries are dropped at once and again after the commit, so a scan racing the transaction cannot
put the old row back for long. Bulk ``update()`` calls skip signals; the services that use one call
``forget_codes`` themselves.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from venues.models import Entrance, Venue, VenueCode
from venues.selectors.codes import forget_codes


def _forget(code_ids: list[int], venue_ids: list[int]) -> None:
    forget_codes(code_ids=code_ids, venue_ids=venue_ids)
    transaction.on_commit(lambda: forget_codes(code_ids=code_ids, venue_ids=venue_ids))


@receiver([post_save, post_delete], sender=VenueCode)
def code_changed(sender: Any, instance: VenueCode, **kwargs: Any) -> None:
    _forget([instance.pk], [])


@receiver([post_save, post_delete], sender=Entrance)
def entrance_changed(sender: Any, instance: Entrance, created: bool = False, **kwargs: Any) -> None:
    if not created:
        _forget(list(VenueCode.objects.filter(entrance_id=instance.pk).values_list("pk", flat=True)), [])


@receiver([post_save, post_delete], sender=Venue)
def venue_changed(sender: Any, instance: Venue, created: bool = False, **kwargs: Any) -> None:
    if not created:
        codes = VenueCode.objects.filter(entrance__venue_id=instance.pk).values_list("pk", flat=True)
        _forget(list(codes), [instance.pk])
