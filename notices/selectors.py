from __future__ import annotations

from django.db.models import QuerySet

from notices.models import SmsMessage


def outbox_recent(limit: int = 20) -> QuerySet[SmsMessage]:
    return SmsMessage.objects.order_by("-created_at", "-id")[:limit]
