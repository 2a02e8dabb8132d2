"""Resident ID numbers (居民身份证号码, GB 11643-1999).

18 characters: 6-digit region, 8-digit birth date, 3-digit sequence (odd for men), and an
ISO 7064 MOD 11-2 check character (0-9 or X). python-stdnum does the check digit and the region;
we add normalisation of what people really type (full-width digits, spaces, lowercase x) and the
refusal of birth dates in the future.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from stdnum import exceptions as stdnum_exc
from stdnum.cn import ric

_SEPARATORS = re.compile(r"[\s\-]+")


class InvalidIdNumber(ValueError):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class IdNumber:
    value: str
    birth_date: dt.date
    sex: str  # "M" or "F"


def normalize(raw: str) -> str:
    """Full-width to half-width, no spaces or dashes, upper-case X."""
    text = unicodedata.normalize("NFKC", raw or "")
    return _SEPARATORS.sub("", text).upper()


def parse(raw: str, *, today: dt.date | None = None) -> IdNumber:
    """Validate and normalise; raise InvalidIdNumber with a machine code and an English reason."""
    value = normalize(raw)
    if not value:
        raise InvalidIdNumber("id_empty", "ID number is empty")
    if len(value) != 18:
        raise InvalidIdNumber("id_length", f"ID number must have 18 characters, got {len(value)}")
    if not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        raise InvalidIdNumber("id_format", "ID number must be 17 digits followed by a digit or X")
    try:
        birth = ric.get_birth_date(value)
    except stdnum_exc.ValidationError:
        raise InvalidIdNumber("id_birth_date", "ID number contains an impossible birth date") from None
    today = today or dt.date.today()
    if birth > today or birth.year < 1880:
        raise InvalidIdNumber("id_birth_date", "ID number contains an impossible birth date")
    if value[17] != ric.calc_check_digit(value):
        raise InvalidIdNumber("id_checksum", "ID number check digit is wrong")
    if not _region_known(value[:6]):
        raise InvalidIdNumber("id_region", "ID number has an unknown region code")
    sex = "M" if int(value[16]) % 2 == 1 else "F"
    return IdNumber(value=value, birth_date=birth, sex=sex)


def _region_known(code: str) -> bool:
    """Whether the 6-digit region code was ever assigned.

    python-stdnum's own check also requires the county to have existed in the birth year, which
    refuses real cards: a person born in 1950 in a county created in 1983 carries that county's
    code, assigned when the card was issued.
    """
    from stdnum import numdb

    return any("county" in props for _part, props in numdb.get("cn/loc").info(code))


def with_check_digit(first17: str) -> str:
    """Complete 17 digits with their check character (used by the demo generator and tests)."""
    return first17 + ric.calc_check_digit(first17 + "0")
