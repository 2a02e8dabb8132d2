from __future__ import annotations

from typing import Any

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


def own_import_errors(user: Any, *, action: str, entry_id: int) -> list[list[Any]] | None:
    """The refused rows ``[line, code, column, reason]`` that an import (audit ``action``) kept in its
    audit row (the first 1,000), for the user who ran it; None for anybody else's or an unknown id.
    Rows from before the reason was kept get an empty one."""
    entry = AuditEntry.objects.filter(pk=entry_id, action=action, actor_id=user.pk).only("extra").first()
    if entry is None:
        return None
    return [row if len(row) > 3 else [*row, ""] for row in entry.extra.get("errors", [])]
