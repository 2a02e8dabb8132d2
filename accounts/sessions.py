"""Sessions and the signed-in user, read and written with less work on every request.

SESSION_ENGINE is this module. Sessions are Django's database ones (not cached_db: the default
cache is per process, so a logout or a rotated key in one server process would leave the old
session alive in the others' caches for hours), with one difference on PostgreSQL: an update of an
existing session (the idle timeout's last-seen time, written at most once
a minute per session, and any other change a view makes) is one UPDATE that commits without waiting
for the WAL flush (synchronous_commit off for that statement's transaction only). What that keeps: the
UPDATE is committed inside PostgreSQL before the response leaves, so killing the app server loses
nothing. What it gives up: a crash of the PostgreSQL host (or its OS) within the last fraction of a
second (at most 3 × wal_writer_delay, 0.6 s by default) may lose that update, which at worst logs a
resident out earlier or undoes the last change to their session. Creating a session (a login) still
waits for the flush. SQLite in WAL mode with synchronous=NORMAL makes the same trade for everything.

``session_user`` is Django's ``auth.get_user`` with the user row kept in the cache for
SESSION_USER_CACHE_SECONDS (default 5): the session's hash is still checked against the user's
password on every request. Saving or deleting the user drops the entry at once (accounts.signals); a
change behind the models' back (a queryset update, another server process with a per-process cache)
is seen within those seconds, as for API tokens.
"""

from __future__ import annotations

from functools import cache as memoize
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends import db
from django.contrib.sessions.backends.base import UpdateError
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connection, connections, router
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from accounts.models import User
from common.db import column_converters, convert_row, prepared_cursor

_UPDATE = (
    "UPDATE {table} SET {data} = %s, {expires} = %s "
    "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS lazy_commit WHERE {key} = %s"
)


_LOAD = "SELECT {data} FROM {table} WHERE {key} = %s AND {expires} > %s"
# With the user row, when this process has seen the session before and knows whose it is.
_LOAD_WITH_USER = (
    "SELECT s.{data}, {user_columns} FROM {table} s LEFT JOIN {user_table} u ON u.{user_pk} = %s "
    "WHERE s.{key} = %s AND s.{expires} > %s"
)

# Session key -> its user's id, for the sessions this process has loaded: a key's user never changes
# (logging in rotates the key), so the next load of the session reads the user row in the same
# statement instead of a second one. Only a hint: the decoded session must name the same user.
_USER_OF_SESSION: dict[str, Any] = {}
_USER_OF_SESSION_MAX = 100_000


@memoize
def _load_statement(using: str, with_user: bool = False) -> str:
    from django.contrib.sessions.models import Session

    meta = Session._meta
    quote = connections[using].ops.quote_name
    names = {
        "data": quote(meta.get_field("session_data").column),
        "table": quote(meta.db_table),
        "key": quote(meta.get_field("session_key").column),
        "expires": quote(meta.get_field("expire_date").column),
    }
    if not with_user:
        return _LOAD.format(**names)
    return _LOAD_WITH_USER.format(
        **names,
        user_columns=", ".join(f"u.{quote(f.column)}" for f in User._meta.concrete_fields),
        user_table=quote(User._meta.db_table),
        user_pk=quote(User._meta.pk.column),
    )


class SessionStore(db.SessionStore):
    def load(self) -> dict[str, Any]:
        """Django's ``load`` (the session of this key unless expired, else none and no key) by a plain
        SELECT: every signed-in request reads its session, and the ORM spent more CPU building that
        query than the database spent answering it."""
        row = None
        key = self.session_key
        hint = _USER_OF_SESSION.get(key) if key is not None else None
        if key is not None:
            using = router.db_for_read(self.model)
            now = connections[using].ops.adapt_datetimefield_value(timezone.now())
            params = [key, now] if hint is None else [hint, key, now]
            with prepared_cursor() if using == DEFAULT_DB_ALIAS else connections[using].cursor() as cur:
                cur.execute(_load_statement(using, hint is not None), params)
                row = cur.fetchone()
        if row is None:
            self._session_key = None
            return {}
        data = self.decode(row[0])  # corrupted data: an empty session, logged, as Django's
        user_id = data.get(SESSION_KEY)
        if hint is not None and row[1] is not None and str(user_id) == str(hint):
            self._user_row = row[1:]
        elif user_id is not None and key is not None:
            if len(_USER_OF_SESSION) >= _USER_OF_SESSION_MAX:
                _USER_OF_SESSION.clear()
            _USER_OF_SESSION[key] = _user_pk(user_id)
        return data

    def save(self, must_create: bool = False) -> None:
        using = router.db_for_write(self.model)
        connection = connections[using]
        if (
            must_create
            or self.session_key is None
            or connection.vendor != "postgresql"
            or connection.in_atomic_block  # a SET LOCAL would reach the caller's other writes
        ):
            super().save(must_create)
            return
        meta = self.model._meta
        quote = connection.ops.quote_name
        sql = _UPDATE.format(
            table=quote(meta.db_table),
            data=quote(meta.get_field("session_data").column),
            expires=quote(meta.get_field("expire_date").column),
            key=quote(meta.get_field("session_key").column),
        )
        data = self.encode(self._get_session(no_load=False))  # type: ignore[attr-defined]
        expires = connection.ops.adapt_datetimefield_value(self.get_expiry_date())
        with connection.cursor() as cur:  # autocommit: committed (lazily) when execute returns
            cur.execute(sql, [data, expires, self.session_key])
            if cur.rowcount == 0:
                raise UpdateError  # the session was deleted meanwhile, as Django's own save says


def session_user_cache_seconds() -> float:
    return float(settings.FANGYI.get("SESSION_USER_CACHE_SECONDS", 5))


def session_user_cache_key(user_id: Any) -> str:
    return f"acc:suser:{user_id}"


def forget_session_user(user_id: Any) -> None:
    cache.delete(session_user_cache_key(user_id))


_MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
_user_query: list[tuple[str, list[str], list[tuple[Any, list[Any]]]]] = []


def _user_statement() -> tuple[str, list[str], list[tuple[Any, list[Any]]]]:
    """The SELECT of a user row, its attribute names and each column's converters (built once)."""
    if not _user_query:
        meta = User._meta
        fields = list(meta.concrete_fields)
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in fields)
        pk_column = quote(meta.pk.column)
        sql = f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {pk_column} = %s"  # noqa: S608
        converters = column_converters([f.get_col(meta.db_table) for f in fields])
        _user_query.append((sql, [f.attname for f in fields], converters))
    return _user_query[0]


def _user_pk(user_id: Any) -> Any:
    try:
        return User._meta.pk.to_python(user_id)
    except ValidationError:
        return None


def _load_user(user_id: Any) -> User | None:
    """The active user with this id, as ModelBackend.get_user reads it, by a plain SELECT (the ORM
    spent more CPU building that query than the rest of the lookup)."""
    pk = _user_pk(user_id)
    if pk is None:
        return None
    sql, _names, _converters = _user_statement()
    with prepared_cursor() as cur:
        cur.execute(sql, [pk])
        row = cur.fetchone()
    return None if row is None else _user_from_row(row)


def _user_from_row(row: tuple[Any, ...]) -> User | None:
    """The user of a row of ``_user_statement``'s columns, if active."""
    _sql, names, converters = _user_statement()
    user = User.from_db(DEFAULT_DB_ALIAS, names, list(convert_row(row, converters)))
    return user if user.is_active else None


def quick_session_user(session: Any) -> User | None:
    """The user of ``session`` when the quick way applies, else None (then ask Django).

    The quick way (the cache, else one plain SELECT) is only taken for a session of Django's
    ModelBackend that carries the hash of the active user's current password; anything else (no user,
    another backend, a hash made with a fallback secret, a deleted or deactivated user) answers None."""
    user_id = session.get(SESSION_KEY)
    session_hash = session.get(HASH_SESSION_KEY)
    if (
        user_id is None
        or not session_hash
        or session.get(BACKEND_SESSION_KEY) != _MODEL_BACKEND
        or _MODEL_BACKEND not in settings.AUTHENTICATION_BACKENDS
    ):
        return None
    row = getattr(session, "_user_row", None)
    if row is not None:  # read with the session (SessionStore.load)
        user = _user_from_row(row)
        if (
            user is not None
            and str(user.pk) == str(user_id)
            and constant_time_compare(session_hash, user.get_session_auth_hash())
        ):
            return user
        return None
    key = session_user_cache_key(user_id)
    user = cache.get(key)
    if user is not None and constant_time_compare(session_hash, user.get_session_auth_hash()):
        return user
    user = _load_user(user_id)
    if user is not None and constant_time_compare(session_hash, user.get_session_auth_hash()):
        cache.set(key, user, session_user_cache_seconds())
        return user
    return None


def session_user(request: Any) -> Any:
    """The user of the request's session, as ``django.contrib.auth.get_user`` returns it: the quick
    way when it applies; otherwise Django's own function, which also flushes a session whose hash no
    longer verifies."""
    return quick_session_user(request.session) or auth.get_user(request)
