"""The demo-district generator (DESIGN §2): 济宁高新区 at any number of residents, deterministic
for a seed. ``generate`` writes it into the database; ``district.build_district`` with a
``MemorySink`` produces the same rows without one."""

from __future__ import annotations

import datetime as dt
import gc
import time
from dataclasses import dataclass

from django.db import transaction

from demo.generator import data
from demo.generator.district import AREA_FIELDS, PERSON_FIELDS, SHOP_FIELDS, Counts, build_district
from demo.generator.staff import cadres_create
from demo.generator.writer import DatabaseSink, Progress, TableSpec, indexes_deferred, next_id, tune_connection
from people.models import Person
from territory.models import Area, AreaKind
from venues.models import Shop

__all__ = ["GenerateResult", "district_exists", "generate"]


@dataclass
class GenerateResult:
    counts: Counts
    users: int
    memberships: int
    seconds: float
    tables: list[tuple[str, int, float]]

    @property
    def rows(self) -> int:
        return sum(n for _, n, _ in self.tables) + self.users + self.memberships


def district_exists() -> bool:
    return Area.objects.filter(parent=None, kind=AreaKind.DISTRICT, name=data.DISTRICT).exists()


def table_specs() -> list[TableSpec]:
    # Parents before children: areas, then the people and shops that point at them.
    return [
        TableSpec("areas", Area, AREA_FIELDS),
        TableSpec("people", Person, PERSON_FIELDS),
        TableSpec("shops", Shop, SHOP_FIELDS),
    ]


def generate(*, residents: int, seed: int, now: dt.datetime, batch_size: int = 5000,
             progress: Progress | None = None) -> GenerateResult:
    """Build the district in one transaction: all of it, or nothing (so ``--if-empty`` can trust
    that an existing district is complete)."""
    started = time.perf_counter()
    specs = table_specs()
    tune_connection()
    # Millions of short-lived tuples would trigger the cyclic collector over and over; none of
    # them form cycles.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        with transaction.atomic():
            start_ids = {s.key: next_id(s.model) for s in specs}
            sink = DatabaseSink(specs, now=now, batch_size=batch_size, progress=progress)
            with indexes_deferred([s.model for s in specs]):
                counts = build_district(sink, residents=residents, seed=seed, start_ids=start_ids)
                index_started = time.perf_counter()
            index_seconds = time.perf_counter() - index_started
            if progress:
                progress(f"  indexes and constraints rebuilt in {index_seconds:.1f} s")
            sink.reset_sequences()
            users, memberships = cadres_create(seed=seed)
    finally:
        if gc_was_enabled:
            gc.enable()
    return GenerateResult(counts=counts, users=users, memberships=memberships,
                          seconds=time.perf_counter() - started, tables=sink.summary())
