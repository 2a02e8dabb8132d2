"""Synthetic residents: names, valid and unique ID numbers, phones, flags.

Everything is drawn from one ``random.Random`` passed in, in a fixed order, so a seed always gives
the same people. Ages are taken as of the report's day (data.REFERENCE_DATE), not today.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import random
from dataclasses import dataclass
from functools import cache

from stdnum import exceptions as stdnum_exc
from stdnum.cn import ric

from common.idnumber import with_check_digit
from demo.generator import data


class Weighted:
    """Fast weighted choice: cumulative weights and a bisect (random.choices rebuilds them per call)."""

    def __init__(self, items: list[tuple[object, float]]) -> None:
        self.values = [v for v, _ in items]
        self.cum = list(itertools.accumulate(w for _, w in items))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> object:
        return self.values[bisect.bisect_right(self.cum, rng.random() * self.total)]


def region_valid(code: str, year: int) -> bool:
    """Whether python-stdnum (and so our validator) accepts the code for someone born that year."""
    try:
        ric.get_birth_place(with_check_digit(f"{code}{year:04d}0101001"))
    except stdnum_exc.ValidationError:
        return False
    return True


@cache
def _regions_for(pool: str, year: int) -> Weighted:
    items = data.LOCAL_REGIONS if pool == "local" else data.FLOATING_REGIONS
    valid = [(code, w) for code, w in items if region_valid(code, year)]
    if not valid:
        raise ValueError(f"no region code of pool {pool} is valid for {year}")
    return Weighted(list(valid))


@dataclass(frozen=True, slots=True)
class PersonRow:
    name: str
    id_number: str
    birth_date: dt.date
    sex: str
    phone: str
    category: str
    vaccine_doses: int
    is_elderly_alone: bool
    is_mobility_impaired: bool
    has_no_smartphone: bool


class PersonMaker:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.surnames = Weighted(list(data.SURNAMES))
        self.bands = Weighted([((lo, hi), w) for lo, hi, w in data.AGE_BANDS])
        self.adult_bands = Weighted([((lo, hi), w) for lo, hi, w in data.AGE_BANDS if lo >= 18])
        self.elder_bands = Weighted([((lo, hi), w) for lo, hi, w in data.AGE_BANDS if lo >= 65])
        self.sizes = Weighted([(n, w) for n, w in data.HOUSEHOLD_SIZES])
        self.male = data.GIVEN_MALE + data.GIVEN_COMMON
        self.female = data.GIVEN_FEMALE + data.GIVEN_COMMON
        self.ref_ordinal = data.REFERENCE_DATE.toordinal()
        # (first 14 digits + sex) → [random base, count used]: sequence numbers are handed out
        # from the base upwards, so no two people can share an ID number.
        self._sequences: dict[str, list[int]] = {}

    def household_size(self) -> int:
        return int(self.sizes.pick(self.rng))  # type: ignore[call-overload]

    def name(self, male: bool) -> str:
        r = self.rng.random
        chars = self.male if male else self.female
        n = len(chars)
        surname = str(self.surnames.pick(self.rng))
        if r() < 0.72:
            return surname + chars[int(r() * n)] + chars[int(r() * n)]
        return surname + chars[int(r() * n)]

    def _age(self, kind: str) -> int:
        bands = {"any": self.bands, "adult": self.adult_bands, "elder": self.elder_bands}[kind]
        band: tuple[int, int] = bands.pick(self.rng)  # type: ignore[assignment]
        return int(band[0] + self.rng.random() * (band[1] - band[0] + 1))

    def id_number(self, birth: dt.date, male: bool, floating: bool) -> tuple[str, dt.date]:
        """A unique ID number, and the birth date it holds (a day earlier in the rare case the
        day's 500 sequence numbers are all taken)."""
        rng = self.rng
        region = str(_regions_for("floating" if floating else "local", birth.year).pick(rng))
        sex_bit = 1 if male else 0
        while True:
            first14 = f"{region}{birth.year:04d}{birth.month:02d}{birth.day:02d}"
            key = f"{first14}{sex_bit}"
            slot = self._sequences.get(key)
            if slot is None:
                slot = self._sequences[key] = [rng.randrange(500), 0]
            if slot[1] < 500:
                seq = (slot[0] + slot[1]) % 500 * 2 + sex_bit
                slot[1] += 1
                return with_check_digit(f"{first14}{seq:03d}"), birth
            birth -= dt.timedelta(days=1)  # 500 people of one sex born that day there: try the day before

    def phone(self) -> str:
        r = self.rng.random
        while True:
            number = f"1{3 + int(r() * 7)}{int(r() * 1e9):09d}"
            if not number.startswith(data.RESERVED_PHONE_PREFIX):
                return number

    def _doses(self, age: int) -> int:
        r = self.rng.random()
        if age < 3:
            return 0
        if age < 12:
            return 2 if r < 0.85 else (1 if r < 0.93 else 0)
        if age >= 80:
            return 0 if r < 0.35 else (1 if r < 0.45 else (2 if r < 0.75 else 3))
        return 0 if r < 0.04 else (1 if r < 0.07 else (2 if r < 0.30 else (3 if r < 0.98 else 4)))

    def person(self, *, age_kind: str, floating: bool, alone: bool) -> PersonRow:
        rng = self.rng
        age = self._age(age_kind)
        # random() scaled by hand: randrange and randint cost several times more, at a million people.
        birth = dt.date.fromordinal(self.ref_ordinal - age * 365 - int(rng.random() * 365) - age // 4)
        male = rng.random() < 0.5
        id_number, birth = self.id_number(birth, male, floating)
        # Children under 12 have no phone of their own and are checked in as companions; of the
        # over-70s about a third have no smartphone either (they get a printed code card).
        no_phone = age < 12 or (age >= 70 and rng.random() < 0.35)
        phone = "" if no_phone else self.phone()
        r = rng.random()
        impaired = r < (0.25 if age >= 80 else 0.08 if age >= 70 else 0.03 if age >= 60 else 0.006)
        return PersonRow(
            name=self.name(male),
            id_number=id_number,
            birth_date=birth,
            sex="M" if male else "F",
            phone=phone,
            category="floating" if floating else "resident",
            vaccine_doses=self._doses(age),
            is_elderly_alone=alone and age >= 65,
            is_mobility_impaired=impaired,
            has_no_smartphone=no_phone,
        )

    def household(self, size: int) -> list[PersonRow]:
        """One household: an adult first (the householder), then members of any age.

        About a third of the one-person households are elderly people living alone, which makes them
        about 3 % of all residents, as in the brief.
        """
        rng = self.rng
        floating = rng.random() < 0.12
        if size == 1:
            elder = rng.random() < 0.32
            return [self.person(age_kind="elder" if elder else "adult", floating=floating, alone=True)]
        members = [self.person(age_kind="adult", floating=floating, alone=False)]
        members += [self.person(age_kind="any", floating=floating, alone=False) for _ in range(size - 1)]
        return members
