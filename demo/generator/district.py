"""The demo district, written as rows to a sink: the fixed upper tree (district → grids), then the
estates, buildings, units, households and residents under the level-2 grids, then street shops.

Grids are fixed by the seed report; everything below them scales with the number of residents.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

from demo.generator import data
from demo.generator.people import PersonMaker, Weighted
from demo.generator.writer import Sink
from territory.models import AreaKind
from territory.selectors import segment
from venues.models import shop_name_key

AREA_FIELDS = ["parent", "kind", "name", "path", "depth"]
PERSON_FIELDS = [
    "name", "id_number", "birth_date", "sex", "phone", "area", "area_path", "category", "vaccine_doses",
    "is_elderly_alone", "is_mobility_impaired", "has_no_smartphone",
]
SHOP_FIELDS = ["name", "category", "address", "area", "area_path", "contact_phone", "name_key"]


@dataclass(slots=True)
class Node:
    id: int
    path: str
    depth: int
    name: str


@dataclass
class Grid2:
    node: Node
    grid1: Node
    road: str
    weight: float
    estate: str = ""
    households: int = 0


@dataclass
class Counts:
    areas: int = 0
    people: int = 0
    households: int = 0
    shops: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)


class DistrictBuilder:
    def __init__(self, sink: Sink, *, seed: int, start_ids: dict[str, int]) -> None:
        self.sink = sink
        self.rng = random.Random(seed)
        self.maker = PersonMaker(self.rng)
        self.ids = dict(start_ids)
        self.counts = Counts()
        self.grid2s: list[Grid2] = []

    # --- rows ------------------------------------------------------------------------------

    def _id(self, table: str) -> int:
        value = self.ids[table]
        self.ids[table] = value + 1
        return value

    def area(self, parent: Node | None, kind: str, name: str) -> Node:
        area_id = self._id("areas")
        path = (parent.path if parent else "") + segment(area_id)
        depth = parent.depth + 1 if parent else 0
        self.sink.add("areas", (area_id, parent.id if parent else None, kind, name, path, depth))
        self.counts.areas += 1
        self.counts.by_kind[kind] = self.counts.by_kind.get(kind, 0) + 1
        return Node(area_id, path, depth, name)

    # --- the fixed tree ----------------------------------------------------------------------

    def build_grids(self) -> None:
        district = self.area(None, AreaKind.DISTRICT.value, data.DISTRICT)
        jz = self.area(district, AreaKind.SUBDISTRICT.value, data.JIEZHUANG)
        jh = self.area(district, AreaKind.SUBDISTRICT.value, data.JIAHE)
        # The university park is a node of its own so campus roles have a territory that holds
        # none of the district's residents.
        self.area(district, AreaKind.COMMUNITY.value, data.CAMPUS)

        jz_grid1: list[tuple[Node, str]] = []
        community = self.area(jz, AreaKind.COMMUNITY.value, data.JIEZHUANG_COMMUNITY)
        for n in range(1, 16):
            jz_grid1.append((self.area(community, AreaKind.GRID1.value, f"接庄社区{n}网格"), f"{n}网格"))
        community = self.area(jz, AreaKind.COMMUNITY.value, data.LONGCHENG_COMMUNITY)
        for numeral in data.CHINESE_NUMERALS:
            name = f"龙城{numeral}号网格"
            jz_grid1.append((self.area(community, AreaKind.GRID1.value, name), name))
        assert len(jz_grid1) == data.JIEZHUANG_GRID1_COUNT

        # 108 level-2 grids over 25 level-1 grids: 4 each, and a fifth for eight of them, spread
        # evenly (every third grid from the 15th, which the report singles out).
        extra = data.JIEZHUANG_GRID2_COUNT - 4 * len(jz_grid1)
        order = [(14 + 3 * k) % len(jz_grid1) for k in range(len(jz_grid1))]
        five = set(order[:extra])
        for index, (grid1, short) in enumerate(jz_grid1):
            road = self.rng.choice(data.ROADS)
            for k in range(1, (5 if index in five else 4) + 1):
                node = self.area(grid1, AreaKind.GRID2.value, f"{short}-{k}包保")
                self.grid2s.append(Grid2(node, grid1, road, self.rng.uniform(0.6, 1.4)))

        for community_name, grid_names in data.JIAHE_COMMUNITIES.items():
            community = self.area(jh, AreaKind.COMMUNITY.value, community_name)
            for grid_name in grid_names:
                grid1 = self.area(community, AreaKind.GRID1.value, grid_name)
                short = grid_name.replace("社区", "")
                road = self.rng.choice(data.ROADS)
                for k in range(1, data.JIAHE_GRID2_PER_GRID1 + 1):
                    node = self.area(grid1, AreaKind.GRID2.value, f"{short}-{k}包保")
                    self.grid2s.append(Grid2(node, grid1, road, self.rng.uniform(0.6, 1.4)))

        by_name = {g.node.name: g for g in self.grid2s}
        for estate, (grid_name, weight) in data.NAMED_ESTATES.items():
            by_name[grid_name].estate = estate
            by_name[grid_name].weight = weight
        synthetic = [p + s for p in data.ESTATE_PREFIXES for s in data.ESTATE_SUFFIXES]
        self.rng.shuffle(synthetic)
        names = iter(synthetic)
        for g in self.grid2s:
            if not g.estate:
                g.estate = next(names)

    # --- residents ----------------------------------------------------------------------------

    def _allocate(self, households: int) -> None:
        """Largest-remainder split of the households over the level-2 grids by weight; the demo
        resident's grid always gets at least one."""
        total = sum(g.weight for g in self.grid2s)
        shares = [households * g.weight / total for g in self.grid2s]
        for g, share in zip(self.grid2s, shares, strict=True):
            g.households = int(share)
        left = households - sum(g.households for g in self.grid2s)
        by_remainder = sorted(range(len(shares)), key=lambda i: (-(shares[i] % 1), i))
        for i in by_remainder[:left]:
            self.grid2s[i].households += 1
        special = next(g for g in self.grid2s if g.node.name == data.RESIDENT_GRID2)
        if special.households == 0:
            donor = max(self.grid2s, key=lambda g: g.households)
            donor.households -= 1
            special.households = 1

    def _building_shape(self) -> tuple[int, int]:
        """(units, floors) of a new building: mostly six-storey walk-ups, some towers."""
        r = self.rng.random()
        if r < 0.70:
            return self.rng.choice((2, 3, 3, 4)), 6
        if r < 0.90:
            return 2, 11
        return 2, 18

    def build_residents(self, residents: int) -> None:
        sizes: list[int] = []
        left = residents
        while left > 0:
            n = min(self.maker.household_size(), left)
            sizes.append(n)
            left -= n
        self._allocate(len(sizes))
        sizes_iter = iter(sizes)
        for g in self.grid2s:
            estate = self.area(g.node, AreaKind.ESTATE.value, g.estate)
            todo = g.households
            building_no = 0
            while todo > 0:
                building_no += 1
                units, floors = self._building_shape()
                building = self.area(estate, AreaKind.BUILDING.value, f"{building_no}号楼")
                for unit_no in range(1, units + 1):
                    if todo == 0:
                        break
                    unit = self.area(building, AreaKind.UNIT.value, f"{unit_no}单元")
                    for floor in range(1, floors + 1):
                        for door in (1, 2):
                            if todo == 0:
                                break
                            home = self.area(unit, AreaKind.HOUSEHOLD.value, f"{floor}{door:02d}")
                            first = g.node.name == data.RESIDENT_GRID2 and todo == g.households
                            self._people(home, next(sizes_iter), demo_resident=first)
                            todo -= 1

    def _people(self, home: Node, size: int, *, demo_resident: bool = False) -> None:
        sink = self.sink
        self.counts.households += 1
        members = self.maker.household(size)
        if demo_resident:
            # The householder of the first home in 15网格 is the demo resident who logs in by phone.
            members[0] = replace(members[0], phone=data.DEMO_RESIDENT_PHONE, has_no_smartphone=False)
        for p in members:
            sink.add("people", (
                self._id("people"), p.name, p.id_number, sink.prep_date(p.birth_date), p.sex, p.phone,
                home.id, home.path, p.category, p.vaccine_doses, p.is_elderly_alone, p.is_mobility_impaired,
                p.has_no_smartphone,
            ))
            self.counts.people += 1

    # --- street shops --------------------------------------------------------------------------

    def build_shops(self, residents: int) -> None:
        """About one street shop per 60 residents, along the grids; 龙城一号网格 gets a large share
        (the report's shop-code push there), the rest follow where people live."""
        rng = self.rng
        total = max(40, round(residents / 60))
        promo = [g for g in self.grid2s if g.grid1.name == data.SHOP_PROMOTION_GRID]
        others = [g for g in self.grid2s if g.grid1.name != data.SHOP_PROMOTION_GRID]
        in_promo = max(12, round(total * 0.12))
        kinds = Weighted([(k, w) for k, (w, _) in data.SHOP_KINDS.items()])
        spread = Weighted([(g, g.households + 1) for g in others])
        numbers: dict[str, int] = {}
        for i in range(total):
            g = promo[i % len(promo)] if i < in_promo else spread.pick(rng)
            assert isinstance(g, Grid2)
            kind = str(kinds.pick(rng))
            name = rng.choice(data.SHOP_BRANDS) + rng.choice(data.SHOP_KINDS[kind][1])
            numbers[g.road] = numbers.get(g.road, 0) + rng.randint(1, 6)
            address = f"{data.DISTRICT}{g.road}{numbers[g.road]}号"
            self.sink.add("shops", (
                self._id("shops"), name, kind, address, g.node.id, g.node.path, self.maker.phone(),
                shop_name_key(name, address),
            ))
            self.counts.shops += 1


def build_district(sink: Sink, *, residents: int, seed: int, start_ids: dict[str, int]) -> Counts:
    builder = DistrictBuilder(sink, seed=seed, start_ids=start_ids)
    builder.build_grids()
    builder.build_residents(residents)
    builder.build_shops(residents)
    sink.flush()
    return builder.counts
