"""Pluggable SMS delivery. settings.FANGYI["SMS_BACKEND"] names the class to use."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SmsBackend(Protocol):
    def send(self, *, phone: str, body: str, now: dt.datetime) -> None: ...


class OutboxBackend:
    """Writes each message to the local outbox table (the demo shows it); sends nothing."""

    def send(self, *, phone: str, body: str, now: dt.datetime) -> None:
        from notices.models import SmsMessage

        SmsMessage.objects.create(phone=phone, body=body, created_at=now)


class LogBackend:
    def send(self, *, phone: str, body: str, now: dt.datetime) -> None:
        logger.warning("SMS to %s: %s", phone, body)


def get_backend() -> SmsBackend:
    backend: SmsBackend = import_string(str(settings.FANGYI["SMS_BACKEND"]))()
    return backend
