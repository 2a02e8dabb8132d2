"""Mainland mobile numbers: 11 digits starting with 1[3-9]; +86 and separators are tolerated."""

from __future__ import annotations

import re
import unicodedata

_MOBILE = re.compile(r"^1[3-9]\d{9}$")


class InvalidPhone(ValueError):
    code = "phone_invalid"


def normalize_phone(raw: str) -> str:
    text = unicodedata.normalize("NFKC", raw or "")
    text = re.sub(r"[\s\-()]", "", text)
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    if not _MOBILE.match(text):
        raise InvalidPhone("phone number must be an 11-digit mainland mobile number")
    return text
