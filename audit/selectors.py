from __future__ import annotations

from django.db.models import QuerySet

from audit.models import AuditEntry


def audit_entries(*, action: str = "", object_type: str = "", object_id: str = "") -> QuerySet[AuditEntry]:
    qs = AuditEntry.objects.select_related("actor")
    if action:
        qs = qs.filter(action=action)
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id:
        qs = qs.filter(object_id=object_id)
    return qs.order_by("-at", "-id")


def audit_entries_for_object(object_type: str, object_id: str | int) -> QuerySet[AuditEntry]:
    return audit_entries(object_type=object_type, object_id=str(object_id))
