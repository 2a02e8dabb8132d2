"""The person behind one station scan, with what the tube rules need to know about them, in one
statement: already in this tube, already sampled in this round, pre-registered for the green channel.

This runs once per swab, the hottest read of a round, so it is plain SQL: composing the same query with
three EXISTS subqueries through the ORM cost more CPU than the database took to answer it.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from common import idnumber
from common.masking import mask_name
from people.models import Person
from territory.selectors import path_range
from testing.models import PreRegistration, Round, Sample


@dataclass(frozen=True)
class ScanPerson:
    pk: int
    name: str
    area_path: str
    is_in_tube: bool
    is_in_round: bool
    wants_green_channel: bool

    @property
    def masked_name(self) -> str:
        return mask_name(self.name)


def _sql(where: str) -> str:
    person, sample, prereg = (m._meta.db_table for m in (Person, Sample, PreRegistration))
    return f"""
        SELECT p.id, p.name, p.area_path,
               EXISTS (SELECT 1 FROM {sample} s WHERE s.round_id = %s AND s.person_id = p.id AND s.tube_id = %s),
               EXISTS (SELECT 1 FROM {sample} s WHERE s.round_id = %s AND s.person_id = p.id),
               EXISTS (SELECT 1 FROM {prereg} g
                       WHERE g.round_id = %s AND g.person_id = p.id AND g.needs_green_channel)
        FROM {person} p WHERE {where}
    """  # noqa: S608 (table names come from model metadata; every value is a parameter)


_BY_ID = _sql("p.id = %s")
# A typed number resolves only inside the round's territory (its path range), so the field cannot
# probe other districts.
_BY_ID_NUMBER = _sql("p.id_number = %s AND p.area_path >= %s AND p.area_path < %s")


def person_for_scan(
    rnd: Round, tube_id: int, *, person_id: int | None = None, id_number: str = ""
) -> ScanPerson | None:
    """The person of a sampling code (``person_id``, anyone) or of a typed ID number (only residents of
    the round's territory); None when nobody matches."""
    head: list[int | str] = [rnd.pk, tube_id, rnd.pk, rnd.pk]
    if person_id is not None:
        sql, params = _BY_ID, [*head, person_id]
    else:
        value = idnumber.normalize(id_number)
        if len(value) != 18:
            return None
        sql, params = _BY_ID_NUMBER, [*head, value, *path_range(rnd.area_path)]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
    if row is None:
        return None
    pk, name, area_path, in_tube, in_round, green = row
    return ScanPerson(pk, name, area_path, bool(in_tube), bool(in_round), bool(green))
