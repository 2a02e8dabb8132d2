"""The person behind one station scan, with what the tube rules need to know about them, in one
statement: already in this tube, already sampled in this round, pre-registered for the green channel.

This runs once per swab, the hottest read of a round, so it is plain SQL: composing the same query with
three EXISTS subqueries through the ORM cost more CPU than the database took to answer it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

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
    """The person's facts, each probed through the person (a tube holds at most 20 people; a person has
    one sample and at most one pre-registration per round).

    On PostgreSQL the round's samples and pre-registrations are read per person behind ``OFFSET 0``, so
    no plan can start from the round instead: a round is new when its sampling starts, the table's
    statistics know nothing of it until autovacuum analyzes (after a tenth of the table has changed),
    and the planner then took the round's index as if the round had one sample, reading every sample
    of the round for every scan (13 ms at 30 k samples, growing with the round)."""
    person, sample, prereg = (m._meta.db_table for m in (Person, Sample, PreRegistration))
    fence = "OFFSET 0" if connection.vendor == "postgresql" else "LIMIT -1 OFFSET 0"
    return f"""
        SELECT p.id, p.name, p.area_path,
               EXISTS (SELECT 1 FROM {sample} s WHERE s.tube_id = %s AND s.person_id = p.id),
               EXISTS (SELECT 1 FROM (SELECT s.round_id FROM {sample} s WHERE s.person_id = p.id {fence}) s
                       WHERE s.round_id = %s),
               EXISTS (SELECT 1 FROM (SELECT g.round_id FROM {prereg} g
                                      WHERE g.person_id = p.id AND g.needs_green_channel {fence}) g
                       WHERE g.round_id = %s)
        FROM {person} p WHERE {where}
    """  # noqa: S608 (table names come from model metadata; every value is a parameter)


@cache
def _by_id() -> str:
    return _sql("p.id = %s")


@cache
def _by_id_number() -> str:
    # A typed number resolves only inside the round's territory (its path range), so the field cannot
    # probe other districts.
    return _sql("p.id_number = %s AND p.area_path >= %s AND p.area_path < %s")


def person_for_scan(
    rnd: Round, tube_id: int, *, person_id: int | None = None, id_number: str = ""
) -> ScanPerson | None:
    """The person of a sampling code (``person_id``, anyone) or of a typed ID number (only residents of
    the round's territory); None when nobody matches."""
    head: list[int | str] = [tube_id, rnd.pk, rnd.pk]
    if person_id is not None:
        sql, params = _by_id(), [*head, person_id]
    else:
        value = idnumber.normalize(id_number)
        if len(value) != 18:
            return None
        sql, params = _by_id_number(), [*head, value, *path_range(rnd.area_path)]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
    if row is None:
        return None
    pk, name, area_path, in_tube, in_round, green = row
    return ScanPerson(pk, name, area_path, bool(in_tube), bool(in_round), bool(green))
