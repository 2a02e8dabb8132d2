from __future__ import annotations

import hashlib
import io
import re
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import Department, Membership, User
from accounts.roles import Role
from common import idnumber
from demo.accounts import ACCOUNTS, DEMO_PASSWORD, RESIDENT_USERNAME
from demo.generator import data
from demo.generator.district import build_district
from demo.generator.writer import MemorySink
from people.models import Person
from territory.models import Area, AreaKind
from territory.selectors import segment, subtree_q
from territory.services import area_create
from venues.models import Shop

SMALL = 300
pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("demo_district", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def demo(settings: Any) -> str:
    # A fast hasher: the login test checks sixteen accounts, and PBKDF2 costs ~0.5 s each by design.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return run("--residents", str(SMALL), "--seed", "2022")


def node(*names: str) -> Area:
    area = Area.objects.get(parent=None, name=data.DISTRICT)
    for name in names:
        area = Area.objects.get(parent=area, name=name)
    return area


def fingerprint(rows: list[tuple[str, str, str]]) -> str:
    return hashlib.sha256(repr(sorted(rows)).encode()).hexdigest()


def memory_rows(residents: int, seed: int) -> MemorySink:
    sink = MemorySink()
    build_district(sink, residents=residents, seed=seed, start_ids={"areas": 1, "people": 1, "shops": 1})
    return sink


# --- the places of the report ----------------------------------------------------------------


def test_it_builds_the_named_subdistricts_communities_and_estates(demo: str) -> None:
    assert node(data.JIEZHUANG).kind == AreaKind.SUBDISTRICT
    assert node(data.JIAHE).kind == AreaKind.SUBDISTRICT
    for community in (data.JIEZHUANG_COMMUNITY, data.LONGCHENG_COMMUNITY):
        assert node(data.JIEZHUANG, community).kind == AreaKind.COMMUNITY
    for community in data.JIAHE_COMMUNITIES:
        assert node(data.JIAHE, community).kind == AreaKind.COMMUNITY
    jiahe = node(data.JIAHE)
    estates = set(
        Area.objects.filter(subtree_q(jiahe.path, "path"), kind=AreaKind.ESTATE).values_list("name", flat=True)
    )
    assert {"阳光城市花园", "阳光盛景园", "警韵之家", "新世纪广场东侧检察院宿舍", "管委会宿舍"} <= estates
    assert node(data.JIEZHUANG, data.JIEZHUANG_COMMUNITY, "接庄社区15网格").kind == AreaKind.GRID1
    assert node(data.JIEZHUANG, data.LONGCHENG_COMMUNITY, "龙城一号网格").kind == AreaKind.GRID1


def test_jiezhuang_has_exactly_25_level1_and_108_level2_grids(demo: str) -> None:
    jz = node(data.JIEZHUANG)
    grid1 = Area.objects.filter(subtree_q(jz.path, "path"), kind=AreaKind.GRID1)
    grid2 = Area.objects.filter(subtree_q(jz.path, "path"), kind=AreaKind.GRID2)
    assert grid1.count() == 25
    assert grid2.count() == 108
    names = set(grid1.values_list("name", flat=True))
    assert {f"接庄社区{n}网格" for n in range(1, 16)} <= names
    assert {f"龙城{c}号网格" for c in "一二三四五六七八九十"} <= names
    for g in grid1:
        assert Area.objects.filter(parent=g, kind=AreaKind.GRID2).count() in (4, 5)
    assert Area.objects.filter(parent__name="接庄社区15网格", name="15网格-3包保").exists()


def test_grids_do_not_scale_with_residents() -> None:
    small, large = memory_rows(200, 1), memory_rows(3000, 1)
    for kind in (AreaKind.GRID1, AreaKind.GRID2):
        assert sum(r[2] == kind for r in small.rows["areas"]) == sum(r[2] == kind for r in large.rows["areas"])
    assert len(large.rows["areas"]) > len(small.rows["areas"])


# --- people --------------------------------------------------------------------------------------


def test_every_id_number_is_valid_unique_and_matches_birth_date_and_sex(demo: str) -> None:
    people = list(Person.objects.all())
    assert len(people) == SMALL
    assert len({p.id_number for p in people}) == SMALL
    for p in people:
        parsed = idnumber.parse(p.id_number)
        assert parsed.value == p.id_number
        assert parsed.birth_date == p.birth_date
        assert parsed.sex == p.sex


def test_paths_are_consistent_for_areas_people_and_shops(demo: str) -> None:
    areas = {a.id: a for a in Area.objects.all()}
    for a in areas.values():
        parent = areas.get(a.parent_id) if a.parent_id else None
        assert a.path == (parent.path if parent else "") + segment(a.id)
        assert a.depth == (parent.depth + 1 if parent else 0)
    for p in Person.objects.all():
        assert p.area_path == areas[p.area_id].path
        assert areas[p.area_id].kind == AreaKind.HOUSEHOLD
    for s in Shop.objects.all():
        assert s.area_path == areas[s.area_id].path


def test_households_hold_two_to_three_and_a_half_people_on_average(demo: str) -> None:
    households = Area.objects.filter(kind=AreaKind.HOUSEHOLD)
    occupied = set(Person.objects.values_list("area_id", flat=True))
    assert set(households.values_list("id", flat=True)) == occupied  # no empty homes
    assert 2.0 <= Person.objects.count() / households.count() <= 3.5


def test_people_look_like_a_district() -> None:
    rows = memory_rows(20_000, 2022).rows["people"]
    n = len(rows)
    # Columns: id, name, id_number, birth_date, sex, phone, area, area_path, category, doses, alone, impaired, no_phone
    assert 0.02 <= sum(r[10] for r in rows) / n <= 0.045  # elderly living alone, ~3 %
    assert 0.01 <= sum(r[11] for r in rows) / n <= 0.035  # limited mobility, ~2 %
    assert 0.05 <= sum(r[8] == "floating" for r in rows) / n <= 0.2
    assert 0.45 <= sum(r[4] == "M" for r in rows) / n <= 0.55
    assert {r[9] for r in rows} <= {0, 1, 2, 3, 4}
    assert all(re.fullmatch(r"1[3-9]\d{9}", r[5]) for r in rows if r[5])
    assert all(r[12] for r in rows if not r[5])  # no phone → flagged for companion check-in
    assert sum(int(r[2][6:10]) <= 1947 for r in rows) / n > 0.05  # the elderly are there


def test_the_demo_resident_lives_in_grid_15_with_the_demo_phone(demo: str) -> None:
    people = Person.objects.filter(phone=data.DEMO_RESIDENT_PHONE)
    assert people.count() == 1
    grid = node(data.JIEZHUANG, data.JIEZHUANG_COMMUNITY, data.SAMPLING_GRID)
    assert people.get().area_path.startswith(grid.path)
    user = User.objects.get(username=RESIDENT_USERNAME)
    assert user.person_id == people.get().id and user.phone == data.DEMO_RESIDENT_PHONE


# --- determinism -----------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_people_and_another_seed_does_not() -> None:
    def key(sink: MemorySink) -> str:
        return fingerprint([(r[2], r[1], r[7]) for r in sink.rows["people"]])

    assert key(memory_rows(500, 7)) == key(memory_rows(500, 7))
    assert key(memory_rows(500, 7)) != key(memory_rows(500, 8))


def test_the_database_holds_exactly_what_the_generator_core_produces(demo: str) -> None:
    # Ids are preassigned from max(id)+1, so in an empty database they start at 1 like here.
    expected = memory_rows(SMALL, 2022).rows["people"]
    stored = Person.objects.values_list("id_number", "name", "area_path")
    assert fingerprint(list(stored)) == fingerprint([(r[2], r[1], r[7]) for r in expected])


# --- the command -------------------------------------------------------------------------------


def test_if_empty_keeps_existing_data_and_prints_the_accounts(demo: str) -> None:
    before = (Person.objects.count(), Area.objects.count(), User.objects.count())
    ids = fingerprint(list(Person.objects.values_list("id_number", "name", "area_path")))
    out = run("--if-empty", "--residents", "1000", "--seed", "99")
    assert (Person.objects.count(), Area.objects.count(), User.objects.count()) == before
    assert fingerprint(list(Person.objects.values_list("id_number", "name", "area_path"))) == ids
    assert "gridworker" in out and DEMO_PASSWORD in out and data.DEMO_RESIDENT_PHONE in out


def test_without_if_empty_an_existing_district_is_refused(demo: str) -> None:
    with pytest.raises(CommandError):
        run("--residents", "100")


def test_quiet_prints_nothing() -> None:
    assert run("--residents", "50", "--quiet") == ""


def test_new_rows_after_the_generator_get_fresh_ids(demo: str) -> None:
    # On PostgreSQL the identity sequences must have been moved past the preassigned ids.
    grid = node(data.JIEZHUANG, data.JIEZHUANG_COMMUNITY, data.SAMPLING_GRID)
    area = area_create(parent=grid, kind=AreaKind.GRID2, name="新网格")
    assert area.id > max(Area.objects.exclude(pk=area.pk).values_list("id", flat=True))


def test_cadres_are_spread_over_the_grids(demo: str) -> None:
    park = Department.objects.get(parent=None, name="园区发展服务中心")
    bureau = Department.objects.get(parent=None, name="投资促进局")
    assert set(bureau.units.values_list("name", flat=True)) >= {"新一代信息技术产业处", "新材料产业处"}
    park_cadres = User.objects.filter(username__startswith="yqzx")
    assert park_cadres.count() == 35
    assert all(u.department in (park, *park.units.all()) for u in park_cadres)
    jz = node(data.JIEZHUANG)
    led = Membership.objects.filter(user__in=park_cadres, role=Role.GRID_LEADER, area__kind=AreaKind.GRID1)
    assert led.values("area").distinct().count() == 25
    covered = Membership.objects.filter(user__in=park_cadres, role=Role.CADRE, area__kind=AreaKind.GRID2,
                                        area__path__startswith=jz.path)
    assert covered.values("area").distinct().count() == 108
    assert Membership.objects.filter(user__in=park_cadres, role=Role.BUILDING_LEADER).exists()
    jh = node(data.JIAHE)
    helpers = Membership.objects.filter(user__username__startswith="tcj")
    assert helpers.values("user").distinct().count() == 30
    assert all(m.area.path.startswith(jh.path) for m in helpers)


def test_shops_line_the_grids_with_many_in_longcheng_one(demo: str) -> None:
    assert Shop.objects.count() >= SMALL / 60
    grid = node(data.JIEZHUANG, data.LONGCHENG_COMMUNITY, data.SHOP_PROMOTION_GRID)
    assert Shop.objects.filter(subtree_q(grid.path)).count() >= 12
    assert {"supermarket", "restaurant"} <= set(Shop.objects.values_list("category", flat=True))


# --- demo accounts -------------------------------------------------------------------------------


def test_every_role_has_a_demo_account_that_logs_in_with_the_printed_password(demo: str) -> None:
    assert {a.role for a in ACCOUNTS} == set(Role)
    for account in ACCOUNTS:
        assert account.username in demo
        user = authenticate(username=account.username, password=DEMO_PASSWORD)
        assert user is not None, account.username
        assert Membership.objects.filter(user=user, role=account.role).exists()
    assert authenticate(username="gridworker", password="wrong") is None


def test_grid_accounts_sit_on_grid_15(demo: str) -> None:
    grid = node(data.JIEZHUANG, data.JIEZHUANG_COMMUNITY, data.SAMPLING_GRID)
    for username, role in (("gridleader", Role.GRID_LEADER), ("gridworker", Role.GRID_WORKER)):
        assert Membership.objects.get(user__username=username, role=role).area == grid
    assert Membership.objects.get(user__username="hq").area.kind == AreaKind.DISTRICT


def test_the_demo_resident_logs_in_with_a_code_from_the_outbox(demo: str) -> None:
    from accounts.services import otp_request, otp_verify
    from notices.models import SmsMessage

    now = timezone.now()
    otp_request(phone=data.DEMO_RESIDENT_PHONE, ip="127.0.0.1", now=now)
    body = SmsMessage.objects.filter(phone=data.DEMO_RESIDENT_PHONE).latest("id").body
    code = re.search(r"\d{6}", body)
    assert code is not None
    user = otp_verify(phone=data.DEMO_RESIDENT_PHONE, code=code.group(), ip="127.0.0.1", now=now)
    assert user.username == RESIDENT_USERNAME
