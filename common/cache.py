"""The per-process cache backend: Django's LocMemCache with a bulk delete that takes its lock once.

Django's ``delete_many`` deletes key by key, validating each key character by character (a warning
about memcached compatibility, which a per-process cache does not need) and taking the lock each
time: about 6 µs a key. A laboratory batch drops the cached status of every changed person twice
(at once and after commit), ~12 s at a million people; this makes it one lock and plain deletes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.cache.backends import locmem


class LocMemCache(locmem.LocMemCache):
    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        made = [self.make_key(key, version=version) for key in keys]
        with self._lock:  # type: ignore[attr-defined]
            for key in made:
                self._delete(key)  # type: ignore[attr-defined]
