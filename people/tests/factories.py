from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import factory

from common.idnumber import with_check_digit
from people.models import Person

_seq = itertools.count(1)


def make_id_number(birth: dt.date = dt.date(1985, 6, 15), region: str = "370811", sex: str = "M") -> str:
    """A valid, unique synthetic ID number."""
    n = next(_seq) % 500
    order = n * 2 + (1 if sex == "M" else 0)
    return with_check_digit(f"{region}{birth:%Y%m%d}{order:03d}")


def _id_for(obj: Any) -> str:
    day = dt.date(1950, 1, 1) + dt.timedelta(days=next(_seq) * 37 % 25000)
    return make_id_number(day)


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    name = factory.Sequence(lambda n: f"王{n}")
    id_number = factory.LazyAttribute(_id_for)
    birth_date = factory.LazyAttribute(
        lambda o: dt.date(int(o.id_number[6:10]), int(o.id_number[10:12]), int(o.id_number[12:14]))
    )
    sex = factory.LazyAttribute(lambda o: "M" if int(o.id_number[16]) % 2 else "F")
    phone = ""
    area_path = factory.LazyAttribute(lambda o: o.area.path)
