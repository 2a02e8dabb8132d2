"""Writing the audit log. Call inside the transaction of the change being audited."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import connection, models
from django.utils import timezone

from audit.models import AuditEntry


@dataclass(frozen=True)
class Actor:
    """Who acts and from where: built once at the edge (a view, a command) and passed down."""

    user: Any  # accounts.User or None for the system
    ip: str | None = None

    @property
    def label(self) -> str:
        if self.user is None:
            return "system"
        return str(self.user.get_username())

    @classmethod
    def system(cls) -> Actor:
        return cls(user=None)

    @classmethod
    def from_request(cls, request: Any) -> Actor:
        return cls(user=request.user if request.user.is_authenticated else None, ip=client_ip(request))


def client_ip(request: Any) -> str | None:
    # Behind the production proxy the first X-Forwarded-For hop is the client; otherwise REMOTE_ADDR.
    from django.conf import settings

    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return str(forwarded.split(",")[0].strip())
    addr = request.META.get("REMOTE_ADDR")
    return str(addr) if addr else None


def audit_record(
    *,
    actor: Actor,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    reason: str = "",
    row_count: int = 1,
    extra: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> AuditEntry:
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    user = actor.user if actor.user is not None and actor.user.pk else None
    return AuditEntry.objects.create(
        at=now or timezone.now(),
        actor=user,
        actor_label=actor.label,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        reason=reason,
        row_count=row_count,
        ip=actor.ip,
        extra=extra or {},
    )


_append_sql: dict[bool, str] = {}


def audit_append(
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | int,
    extra: dict[str, Any] | None = None,
    now: dt.datetime,
    wait_for_flush: bool = True,
) -> None:
    """The row ``audit_record`` writes, as one prepared INSERT without a model instance, for the hot
    paths (every verification writes one). Same table and values, in the caller's transaction; the
    database triggers keep it append-only like every other row.

    ``wait_for_flush=False`` (PostgreSQL) commits the row's transaction without waiting for the WAL
    flush (synchronous_commit off for that transaction only, set inside the same statement): a killed
    app server loses nothing, a crash of the database server itself may lose the last fraction of a
    second. Only for a transaction that writes nothing but this row (a verification, which is a read).
    SQLite in WAL mode with synchronous=NORMAL makes the same trade for every transaction."""
    lazy = not wait_for_flush and connection.vendor == "postgresql"
    sql = _append_sql.get(lazy)
    if sql is None:
        table, columns = _table_and_columns()
        marks = ", ".join(["%s"] * len(_APPEND_FIELDS))
        if lazy:
            # set_config(..., true) is SET LOCAL: it lasts until this (implicit) transaction ends,
            # and the commit reads it, so this one statement commits asynchronously.
            sql = (
                f"INSERT INTO {table} ({columns}) SELECT {marks} "  # noqa: S608
                "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS lazy_commit"
            )
        else:
            sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608
        _append_sql[lazy] = sql
    params = _row_params(actor, action, object_type, object_id, extra, now)
    with connection.cursor() as cur:
        cur.execute(sql, params)


def audit_append_many(
    *, actor: Actor, rows: list[tuple[str, str, str | int, dict[str, Any]]], now: dt.datetime
) -> None:
    """Several rows of ``audit_append`` (action, object type, object id, extra each) by one actor at one
    moment, in one multi-row INSERT in the caller's transaction (the station's batch path)."""
    if not rows:
        return
    table, columns = _table_and_columns()
    one = "(" + ", ".join(["%s"] * len(_APPEND_FIELDS)) + ")"
    sql = f"INSERT INTO {table} ({columns}) VALUES {', '.join([one] * len(rows))}"  # noqa: S608
    params = [
        value
        for action, object_type, object_id, extra in rows
        for value in _row_params(actor, action, object_type, object_id, extra, now)
    ]
    with connection.cursor() as cur:
        cur.execute(sql, params)


def audit_append_from(
    *, actor: Actor, action: str, object_type: str, source: str, extra: dict[str, Any], now: dt.datetime
) -> tuple[str, list[Any]]:
    """``audit_append``'s row as an INSERT for a caller's data-modifying WITH on PostgreSQL (the station's
    single seal): one row for each row of ``source``, a WITH item of the caller's statement whose ``id``
    is the object's id, so the row is written exactly when the caller's own write is. (SQL, parameters.)"""
    meta = AuditEntry._meta
    table, columns = _table_and_columns()
    values = ", ".join(
        f"{source}.id::text" if name == "object_id" else f"%s::{meta.get_field(name).db_type(connection)}"  # type: ignore[union-attr]
        for name in _APPEND_FIELDS
    )
    params = _row_params(actor, action, object_type, None, extra, now)
    del params[_APPEND_FIELDS.index("object_id")]  # the source's id, in the text
    return f"INSERT INTO {table} ({columns}) SELECT {values} FROM {source}", params  # noqa: S608


@cache
def _table_and_columns() -> tuple[str, str]:
    """The audit table and the ``_APPEND_FIELDS`` columns, quoted, for the append statements."""
    meta, quote = AuditEntry._meta, connection.ops.quote_name
    columns = ", ".join(quote(str(meta.get_field(name).column)) for name in _APPEND_FIELDS)  # type: ignore[union-attr]
    return quote(meta.db_table), columns


def _row_params(
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | int | None,
    extra: dict[str, Any] | None,
    now: dt.datetime,
) -> list[Any]:
    """The values of one appended row, in ``_APPEND_FIELDS`` order. The fields convert what the backend
    needs converted (aware datetime, inet, JSON)."""
    meta = AuditEntry._meta
    user = actor.user if actor.user is not None and actor.user.pk else None
    return [
        meta.get_field("at").get_db_prep_save(now, connection),
        user.pk if user else None,
        actor.label,
        action,
        object_type,
        str(object_id),
        "",
        1,
        meta.get_field("ip").get_db_prep_save(actor.ip, connection),
        meta.get_field("extra").get_db_prep_save(extra or {}, connection),
    ]


_APPEND_FIELDS = (
    "at",
    "actor",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "reason",
    "row_count",
    "ip",
    "extra",
)
