"""Compact signed tokens carrying one integer and an expiry (health code, sampling code).

A token is 42 URL-safe characters: version, random nonce, the encrypted (integer, expiry) and a
truncated HMAC-SHA256 tag. The integer is encrypted, not just signed, so a photographed code reveals
nothing but an opaque string. Keys derive from settings.SECRET_KEY per purpose; keys derived from
settings.SECRET_KEY_FALLBACKS still verify, so the secret can rotate without invalidating printed
cards at once. Input is checked for length and alphabet before any decoding, so oversized, truncated
or non-ASCII input is refused without work.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
from functools import lru_cache

_VERSION = 1
_NONCE = 6
_BODY = 12  # uint64 value + uint32 expiry (unix seconds)
_TAG = 12
_RAW = 1 + _NONCE + _BODY + _TAG
TOKEN_LENGTH = (_RAW * 4 + 2) // 3  # base64url without padding: 42
_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class TokenError(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class TokenInvalid(TokenError):
    def __init__(self) -> None:
        super().__init__("token_invalid")


class TokenExpired(TokenError):
    def __init__(self) -> None:
        super().__init__("token_expired")


@lru_cache(maxsize=64)
def _derive(secret: str, purpose: str) -> tuple[bytes, bytes]:
    base = hashlib.sha256(f"fangyi.tokens:{purpose}:{secret}".encode()).digest()
    mac_key = hmac.new(base, b"mac", hashlib.sha256).digest()
    enc_key = hmac.new(base, b"enc", hashlib.sha256).digest()
    return mac_key, enc_key


def _keys(purpose: str) -> list[tuple[bytes, bytes]]:
    from django.conf import settings

    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [_derive(s, purpose) for s in secrets]


def _pad(enc_key: bytes, nonce: bytes) -> bytes:
    return hmac.new(enc_key, nonce, hashlib.sha256).digest()[:_BODY]


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def make_token(purpose: str, value: int, *, expires_at: int) -> str:
    """A token for ``value`` (0 ≤ value < 2**64) valid until the unix time ``expires_at``."""
    mac_key, enc_key = _keys(purpose)[0]
    nonce = os.urandom(_NONCE)
    body = _xor(struct.pack(">QI", value, expires_at), _pad(enc_key, nonce))
    head = bytes([_VERSION]) + nonce + body
    tag = hmac.new(mac_key, head, hashlib.sha256).digest()[:_TAG]
    return base64.urlsafe_b64encode(head + tag).decode("ascii").rstrip("=")


def read_token(purpose: str, token: str, *, now_ts: float) -> int:
    """The value of a genuine, unexpired token; TokenInvalid or TokenExpired otherwise."""
    if not isinstance(token, str) or len(token) != TOKEN_LENGTH or not _ALPHABET.issuperset(token):
        raise TokenInvalid
    try:
        raw = base64.urlsafe_b64decode(token + "==")
    except ValueError as exc:
        raise TokenInvalid from exc
    # Only the canonical encoding: otherwise the unused low bits of the last character would let
    # several strings pass for one token.
    if len(raw) != _RAW or raw[0] != _VERSION or base64.urlsafe_b64encode(raw).rstrip(b"=") != token.encode():
        raise TokenInvalid
    head, tag = raw[:-_TAG], raw[-_TAG:]
    for mac_key, enc_key in _keys(purpose):
        expected = hmac.new(mac_key, head, hashlib.sha256).digest()[:_TAG]
        if hmac.compare_digest(expected, tag):
            nonce, body = head[1 : 1 + _NONCE], head[1 + _NONCE :]
            value, expires_at = struct.unpack(">QI", _xor(body, _pad(enc_key, nonce)))
            if now_ts > expires_at:
                raise TokenExpired
            return int(value)
    raise TokenInvalid
