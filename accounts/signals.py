"""Cache invalidation only (STYLE.md): a token, user or membership that changes drops the cached
bearer-token entries it affects (a user also its cached session user, accounts.sessions), so a
revoked token or a removed role stops working at once in this process (and in every process with a
shared cache). Changes that bypass signals (queryset updates, raw SQL) are bounded by the entry's
short life instead."""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import ApiToken, Membership, User
from accounts.services import token_cache_key, user_tokens_cache_key
from accounts.sessions import forget_session_user


def _drop_user_tokens(user_id: int | None) -> None:
    if user_id is None:
        return
    forget_session_user(user_id)
    index = user_tokens_cache_key(user_id)
    prefixes = cache.get(index)
    if prefixes:
        cache.delete_many([index, *(token_cache_key(p) for p in prefixes)])


def _drop_token(prefix: str) -> None:
    cache.delete(token_cache_key(prefix))


# Now, and again after commit: a request between the two may have cached the old rows.


@receiver([post_save, post_delete], sender=ApiToken)
def _token_changed(sender: Any, instance: ApiToken, **kwargs: Any) -> None:
    _drop_token(instance.prefix)
    transaction.on_commit(lambda: _drop_token(instance.prefix))


@receiver([post_save, post_delete], sender=User)
def _user_changed(sender: Any, instance: User, **kwargs: Any) -> None:
    user_id = instance.pk  # a deleted instance loses its pk once the signals have run
    _drop_user_tokens(user_id)
    transaction.on_commit(lambda: _drop_user_tokens(user_id))


@receiver([post_save, post_delete], sender=Membership)
def _membership_changed(sender: Any, instance: Membership, **kwargs: Any) -> None:
    _drop_user_tokens(instance.user_id)
    transaction.on_commit(lambda: _drop_user_tokens(instance.user_id))
