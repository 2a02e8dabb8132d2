"""Venue code tokens: the opaque part of the poster URL /v/<token>/.

28 URL-safe characters: a version byte, the code id (uint64) and a truncated HMAC-SHA256 tag.
A code does not expire by itself; it stops working when its VenueCode row is revoked (rotation),
so a printed poster can be withdrawn at once. Input is checked for exact length and alphabet
before any decoding: forged, tampered, truncated, oversized or non-UTF-8 input is refused without
work. Keys derive from SECRET_KEY per purpose; SECRET_KEY_FALLBACKS still verify, so the secret
can rotate without invalidating every poster in the district.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from functools import lru_cache

_VERSION = 1
_TAG = 12
_RAW = 1 + 8 + _TAG
TOKEN_LENGTH = 28
_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class InvalidCode(Exception):
    pass


@lru_cache(maxsize=8)
def _key(secret: str) -> bytes:
    return hashlib.sha256(f"fangyi.venues.code:{secret}".encode()).digest()


def _keys() -> list[bytes]:
    from django.conf import settings

    return [_key(s) for s in [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]]


def make_code_token(code_id: int) -> str:
    head = bytes([_VERSION]) + struct.pack(">Q", code_id)
    tag = hmac.new(_keys()[0], head, hashlib.sha256).digest()[:_TAG]
    return base64.urlsafe_b64encode(head + tag).decode("ascii")


def read_code_token(token: object) -> int:
    """The code id of a genuine token; InvalidCode otherwise."""
    if not isinstance(token, str) or len(token) != TOKEN_LENGTH or not _ALPHABET.issuperset(token):
        raise InvalidCode
    try:
        raw = base64.urlsafe_b64decode(token)
    except ValueError as exc:
        raise InvalidCode from exc
    if len(raw) != _RAW or raw[0] != _VERSION:
        raise InvalidCode
    head, tag = raw[:-_TAG], raw[-_TAG:]
    for key in _keys():
        if hmac.compare_digest(hmac.new(key, head, hashlib.sha256).digest()[:_TAG], tag):
            return int(struct.unpack(">Q", head[1:])[0])
    raise InvalidCode
