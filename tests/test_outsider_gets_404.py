"""Every page and API endpoint that names an object, asked by a user of another territory (or of another
venue, site, laboratory or household: whatever owns the object), answers 404 — and the same request by
the rightful user answers what it answers on success, so the 404 is real.

The table must cover every URL pattern with a parameter and every API operation with a path parameter:
a new route that is not listed here fails `test_every_parameterised_route_is_covered` until its case
is added (or its exemption explained).

Each case names its owner and its outsider (personas of the root conftest, or those of EXTRA_PERSONAS:
the same role on grid A and on grid B) and reaches the objects it needs through `World`, which builds
them lazily through the apps' own services.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.models import User
from accounts.roles import Role
from audit.services import Actor
from config.api import api
from conftest import District, make_user
from people.tests.factories import PersonFactory
from testing.tests.conftest import NOW, fill_tube


@dataclass
class Case:
    kwargs: Callable[[World], dict[str, Any]]
    method: str = "get"
    data: dict[str, Any] | Callable[[World], dict[str, Any]] = field(default_factory=dict)
    owner_status: int = 200
    owner: str = "alice"  # grid worker of grid A
    outsider: str = "charlie"  # grid worker of grid B
    leak: str = ""  # a known leak in an app this test may not fix: the case is a strict xfail


PERSON_A = Case(lambda w: {"pk": w.person_a.pk})
REVEAL = {"field": "phone", "reason": "回访"}

# URL name (pages) or "METHOD /api/v1/path" (API), with an optional " [variant]" for a second case of the
# same route -> how to ask for an object owned on the owner's side.
CASES: dict[str, Case] = {
    # people and territory
    "people:detail": PERSON_A,
    "people:edit": PERSON_A,
    "people:reveal": Case(lambda w: {"pk": w.person_a.pk}, method="post", data=REVEAL),
    "people:household": Case(lambda w: {"pk": w.d.household_a.pk}),
    "people:import_errors": Case(lambda w: {"pk": w.import_audit_id}),  # owned by who imported
    "venues:shop_import_errors": Case(lambda w: {"pk": w.shop_import_audit_id}),  # owned by who imported
    "territory:area": Case(lambda w: {"pk": w.d.grid_a.pk}),
    "GET /api/v1/people/{person_id}": Case(lambda w: {"person_id": w.person_a.pk}),
    "POST /api/v1/people/{person_id}/reveal": Case(lambda w: {"person_id": w.person_a.pk}, method="post", data=REVEAL),
    "GET /api/v1/territory/areas/{area_id}": Case(lambda w: {"area_id": w.d.grid_a.pk}),
    # testing: a round over grid A only (a district-wide round is rightly seen by both grids)
    "testing:round": Case(lambda w: {"pk": w.round_a.pk}),
    "testing:round_close": Case(
        lambda w: {"pk": w.round_a.pk}, method="post", owner_status=302, owner="hq", outsider="hq_b"
    ),
    "testing:round_deadline": Case(
        lambda w: {"pk": w.round_a.pk}, method="post", data={"deadline_at": "2022-04-22T02:00", "reason": "补采"},
        owner_status=302, owner="hq", outsider="hq_b",
    ),
    "POST /api/v1/testing/rounds/{round_id}/deadline": Case(
        lambda w: {"round_id": w.round_a.pk}, method="post",
        data={"deadline_at": "2022-04-22T02:00:00", "reason": "补采"}, owner="hq", outsider="hq_b",
    ),
    "testing:site_create": Case(lambda w: {"pk": w.round_a.pk}, owner="admin_a", outsider="admin_b"),
    "testing:coverage": Case(lambda w: {"pk": w.round_a.pk}),
    "testing:round_ledger": Case(lambda w: {"pk": w.round_a.pk}),
    "testing:round_ledger_xlsx": Case(lambda w: {"pk": w.round_a.pk}),
    "testing:calls": Case(lambda w: {"pk": w.round_a.pk}),
    "testing:home_list": Case(lambda w: {"pk": w.round_a.pk}),
    "testing:home_flagged": Case(lambda w: {"pk": w.round_a.pk}, method="post", owner_status=302),
    "GET /api/v1/testing/rounds/{round_id}/coverage": Case(lambda w: {"round_id": w.round_a.pk}),
    # ... and a district-wide round, whose parts are asked for by a query parameter
    "testing:coverage [?area=]": Case(lambda w: {"pk": w.round_all.pk}, data=lambda w: {"area": w.d.grid_a.pk}),
    "testing:calls [?area=]": Case(lambda w: {"pk": w.round_all.pk}, data=lambda w: {"area": w.d.household_a.pk}),
    "GET /api/v1/testing/rounds/{round_id}/coverage [?area_id=]": Case(
        lambda w: {"round_id": w.round_all.pk}, data=lambda w: {"area_id": w.d.household_a.pk}
    ),
    # testing: objects of grid A inside the district-wide round
    "testing:household": Case(lambda w: {"pk": w.round_all.pk, "household_pk": w.d.household_a.pk}),
    "testing:call_record": Case(
        lambda w: {"pk": w.round_all.pk, "household_pk": w.d.household_a.pk},
        method="post", data={"outcome": "away", "note": "出差"}, owner_status=302,
    ),
    "testing:person_action": Case(
        lambda w: {"pk": w.round_all.pk, "person_pk": w.person_a.pk, "action": "prereg"},
        method="post", owner_status=302,
    ),
    "testing:home_close": Case(
        lambda w: {"pk": w.round_all.pk, "request_pk": w.home_request_a.pk},
        method="post", data={"outcome": "absent"}, owner_status=302,
    ),
    "testing:site_ledger": Case(lambda w: {"site_pk": w.site_a.pk}),
    "testing:site_ledger_xlsx": Case(lambda w: {"site_pk": w.site_a.pk}),
    "testing:site_ledger_unmasked": Case(lambda w: {"site_pk": w.site_a.pk}, owner="admin_a", outsider="admin_b"),
    "testing:station": Case(lambda w: {"site_pk": w.site_a.pk}, owner="sampler_a", outsider="sampler_b"),
    # testing: staffing of grid A's site and home-sampling team, by the admins of grid A and grid B
    "testing:site_staff": Case(lambda w: {"site_pk": w.site_a.pk}, owner="admin_a", outsider="admin_b"),
    "testing:site_staff_remove": Case(
        lambda w: {"site_pk": w.site_a.pk, "user_pk": w.user("sampler_a").pk},
        method="post", owner_status=302, owner="admin_a", outsider="admin_b",
    ),
    "testing:home_teams": Case(lambda w: {"pk": w.round_a.pk}, owner="admin_a", outsider="admin_b"),
    "testing:home_uncovered": Case(lambda w: {"pk": w.round_a.pk}, owner="admin_a", outsider="admin_b"),
    "testing:home_uncovered [assign]": Case(
        lambda w: {"pk": w.round_all.pk}, method="post",
        data=lambda w: {"team": w.team_a.pk, "request": [w.uncovered_request_a.pk]},
        owner_status=302, owner="admin_a", outsider="admin_b",
    ),
    "testing:home_team": Case(lambda w: {"team_pk": w.team_a.pk}, owner="admin_a", outsider="admin_b"),
    "testing:home_team_leave": Case(
        lambda w: {"team_pk": w.team_a.pk, "user_pk": w.user("sampler_a").pk},
        method="post", owner_status=302, owner="admin_a", outsider="admin_b",
    ),
    "testing:home_team_move": Case(
        lambda w: {"team_pk": w.team_a.pk},
        method="post", data=lambda w: {"to_team": w.team_a2.pk, "request": [w.home_request_a.pk]},
        owner_status=302, owner="admin_a", outsider="admin_b",
    ),
    "testing:home_team_delete": Case(
        lambda w: {"team_pk": w.team_a.pk}, method="post", owner_status=302, owner="admin_a", outsider="admin_b"
    ),
    # testing: a laboratory's own rows
    "testing:correction_decide": Case(
        lambda w: {"pk": w.correction.pk, "decision": "reject"},
        method="post", owner_status=302, owner="lab_reviewer", outsider="other_lab_user",
    ),
    "testing:exception_resolve": Case(
        lambda w: {"pk": w.lab_exception.pk},
        method="post", data={"note": "条码误读, 已复核"}, owner_status=302, owner="lab_user", outsider="other_lab_user",
    ),
    # health
    "health:sampling_card": Case(lambda w: {"person_id": w.person_a.pk}, owner="resident", outsider="resident_b"),
    "health:approval_action": Case(
        lambda w: {"pk": w.change_request.pk, "action": "approve"}, method="post", owner_status=302, owner="hq"
    ),
    # venues: a venue of grid A, served by its grid staff and managed by vm
    "venues:detail": Case(lambda w: {"pk": w.venue.pk}),
    "venues:review": Case(
        lambda w: {"pk": w.venue_pending.pk},
        method="post", data={"decision": "approve", "note": ""}, owner_status=302, owner="bob", outsider="admin_b",
    ),
    "venues:entrance_add": Case(lambda w: {"pk": w.venue.pk}, method="post", data={"name": "侧门"}, owner_status=302),
    "venues:code_rotate": Case(
        lambda w: {"pk": w.venue.pk, "entrance_id": w.entrance.pk}, method="post", owner_status=302
    ),
    "venues:code_revoke": Case(
        lambda w: {"pk": w.venue.pk, "entrance_id": w.entrance.pk}, method="post", owner_status=302
    ),
    "venues:poster": Case(lambda w: {"pk": w.venue.pk, "entrance_id": w.entrance.pk}, owner="vm", outsider="vm_b"),
    "venues:sentinel": Case(lambda w: {"pk": w.venue.pk}, owner="vm", outsider="vm_b"),
    "venues:person_trail": Case(lambda w: {"person_id": w.person_a.pk}, owner="epi", outsider="epi_b"),
    "venues:flag_review": Case(
        lambda w: {"checkin_id": w.flagged_checkin},
        method="post", data={"outcome": "genuine", "note": ""}, owner_status=302, owner="epi", outsider="epi_b",
    ),
    "venues:companion_remove": Case(
        lambda w: {"companion_id": w.companion.pk},
        method="post", owner_status=302, owner="resident", outsider="resident_b",
    ),
    # the scan result page of a resident's own check-in
    "scan:result": Case(lambda w: {"scan_key": w.scan_key}, owner="resident", outsider="resident_b"),
    "scan:companions": Case(
        lambda w: {"scan_key": w.scan_key},
        method="post", data=lambda w: {"person": [w.family_member.pk], "client_key": "key-companion1"},
        owner_status=302, owner="resident", outsider="resident_b",
    ),
}

# Routes with parameters that are not objects of a territory, and why.
EXEMPT: dict[str, str] = {
    "admin:*": "Django admin: superusers only, not a territory view",
    "set_language": "no object",
    "scan:scan": "the public venue-code URL printed on posters (/v/<token>/): anyone may open it; forged or "
    "revoked tokens are refused by the token check, not by territory",
}

# Users who are not among the root conftest's personas: one role held on grid A (or an object of grid A)
# and the same role held on grid B (or another object).
EXTRA_PERSONAS: dict[str, Callable[[World], User]] = {
    "hq_b": lambda w: make_user("hq_b", Role.HQ, w.d.grid_b),
    "admin_a": lambda w: make_user("admin_a", Role.COMMUNITY_ADMIN, w.d.grid_a),
    "admin_b": lambda w: make_user("admin_b", Role.COMMUNITY_ADMIN, w.d.grid_b),
    "epi_b": lambda w: make_user("epi_b", Role.EPIDEMIOLOGIST, w.d.grid_b),
    "sampler_a": lambda w: w.staff(make_user("sampler_a", Role.SAMPLER, w.d.grid_a)),
    "sampler_b": lambda w: make_user("sampler_b", Role.SAMPLER, w.d.grid_b),
    "vm": lambda w: make_user("vm", Role.VENUE_MANAGER, w.d.grid_a),
    "vm_b": lambda w: make_user("vm_b", Role.VENUE_MANAGER, w.d.grid_a),  # same grid, another venue
    "lab_user": lambda w: w.lab_member("lab_user", w.lab),
    "lab_reviewer": lambda w: w.lab_member("lab_reviewer", w.lab),
    "other_lab_user": lambda w: w.lab_member("other_lab_user", w.other_lab),
    "resident_b": lambda w: User.objects.create_user(username="r13700000000", phone="13700000000", person=w.person_b),
}


# --- the tests --------------------------------------------------------------------------------


def test_every_parameterised_route_is_covered() -> None:
    routes = _page_patterns(get_resolver()) + _api_operations()
    covered = {_route(k) for k in CASES}
    missing = [r for r in routes if r not in covered and r not in EXEMPT]
    assert not missing, f"add an outsider case for: {missing}"


def test_every_case_names_a_route() -> None:
    routes = set(_page_patterns(get_resolver()) + _api_operations())
    gone = [k for k in CASES if _route(k) not in routes]
    assert not gone, f"cases for routes that are gone: {gone}"


def _params() -> list[Any]:
    return [
        pytest.param(k, marks=pytest.mark.xfail(strict=True, reason=f"leak: {c.leak}")) if c.leak else k
        for k, c in sorted(CASES.items())
    ]


@pytest.fixture(autouse=True)
def _frozen_and_fresh_cache() -> Iterator[None]:
    # Health statuses are cached by person id, and ids repeat between tests on SQLite.
    cache.clear()
    with time_machine.travel(NOW, tick=False):
        yield
    cache.clear()


@pytest.mark.parametrize("key", _params())
def test_outsider_gets_404_and_owner_does_not(client: Any, request: Any, district: District, key: str) -> None:
    case = CASES[key]
    world = World(request, district)
    owner, outsider = world.user(case.owner), world.user(case.outsider)
    client.force_login(outsider)
    response = _request(client, key, case, world)
    assert response.status_code == 404, (key, "outsider", response.status_code)
    client.force_login(owner)
    response = _request(client, key, case, world)
    assert response.status_code == case.owner_status, (key, "owner", response.status_code)


# --- the world: objects owned on grid A's side, built on first use through the apps' services ---


class World:
    def __init__(self, request: Any, district: District) -> None:
        self._request = request
        self.d = district
        self._users: dict[str, User] = {}

    def user(self, name: str) -> User:
        if name not in self._users:
            make = EXTRA_PERSONAS.get(name)
            self._users[name] = make(self) if make else self._request.getfixturevalue(name)
        return self._users[name]

    @cached_property
    def person_a(self) -> Any:
        return self._request.getfixturevalue("person_a")

    @cached_property
    def person_b(self) -> Any:
        return self._request.getfixturevalue("person_b")

    @cached_property
    def family_member(self) -> Any:
        return PersonFactory(area=self.d.household_a, name="张小妹")

    # people

    @cached_property
    def import_audit_id(self) -> int:
        from django.utils import timezone

        from people.roster import roster_import
        from people.tests.roster_helpers import upload

        bad_row = ["钱七", "37081119850615001", "", "1网格", "", "1号楼", "1单元", "101"]  # 17 characters
        report = roster_import(actor=Actor(self.user("alice")), file=upload([bad_row]), now=timezone.now())
        assert report.error_count == 1
        return int(report.audit_id)

    @cached_property
    def shop_import_audit_id(self) -> int:
        import io

        from django.utils import timezone

        from venues import services

        csv = "店铺名称,类别,地址,网格\n好再来饭店,餐饮,崇文大道2号,9网格\n".encode("utf-8-sig")
        report = services.shop_import(
            actor=Actor(self.user("alice")), file=io.BytesIO(csv), file_name="shops.csv", now=timezone.now()
        )
        assert report.error_count == 1
        return int(report.audit_id or 0)

    # testing

    def lab_member(self, username: str, laboratory: Any) -> User:
        from testing import services

        user = make_user(username, Role.LAB, self.d.district)
        services.laboratory_member_add(actor=Actor.system(), laboratory=laboratory, user=user, now=NOW)
        return user

    @cached_property
    def lab(self) -> Any:
        from testing import services

        return services.laboratory_create(actor=Actor.system(), name="济宁检测中心", now=NOW)

    @cached_property
    def other_lab(self) -> Any:
        from testing import services

        return services.laboratory_create(actor=Actor.system(), name="邻区检测所", now=NOW)

    def _round(self, area: Any, name: str) -> Any:
        from testing import services

        return services.round_create(
            actor=Actor(self.user("hq")), name=name, area=area, pool_size=10, starts_at=NOW, laboratory=self.lab,
            now=NOW,
        )

    @cached_property
    def round_a(self) -> Any:
        return self._round(self.d.grid_a, "1网格加测")

    @cached_property
    def round_all(self) -> Any:
        return self._round(self.d.district, "第四轮")

    @cached_property
    def site_a(self) -> Any:
        from testing import services

        return services.site_create(
            actor=Actor.system(), rnd=self.round_all, name="15网格检测点", location="接庄社区广场", grid=self.d.grid_a,
            hours="07:00-19:00", now=NOW,
        )

    def staff(self, user: User) -> User:
        """A sampler at site A (a sampler works at the sites they staff)."""
        from testing import services

        services.site_staff_add(actor=Actor.system(), site=self.site_a, user=user, now=NOW)
        return user

    @cached_property
    def team_a(self) -> Any:
        from testing import services

        return services.home_team_create(
            actor=Actor.system(), rnd=self.round_all, name="1网格上门采样队", area=self.d.grid_a,
            members=[self.user("sampler_a")], now=NOW,
        )

    @cached_property
    def team_a2(self) -> Any:
        """A second team of grid A, where team A's visits may go."""
        from testing import services

        return services.home_team_create(
            actor=Actor.system(), rnd=self.round_all, name="1号楼上门采样队", area=self.d.household_a.parent.parent,
            members=[], now=NOW,
        )

    @cached_property
    def home_request_a(self) -> Any:
        from testing import services

        return services.home_request_create(
            actor=Actor(self.user("alice")), rnd=self.round_all, person=self.person_a, reason="request", now=NOW
        )

    @cached_property
    def uncovered_request_a(self) -> Any:
        """A home visit in grid A raised before any team of the round worked there."""
        from testing import services
        from testing.models import HomeSamplingRequest

        req = services.home_request_create(
            actor=Actor(self.user("alice")), rnd=self.round_all, person=self.person_a, reason="request", now=NOW
        )
        HomeSamplingRequest.objects.filter(pk=req.pk).update(team=None)
        self.team_a  # noqa: B018 (the team that may take it, set up afterwards)
        HomeSamplingRequest.objects.filter(pk=req.pk).update(team=None)
        return req

    def _ingest(self, barcode: str) -> Any:
        from testing import services

        return services.results_ingest(
            actor=Actor(self.user("lab_user")), laboratory=self.lab, rows=[(2, barcode, "阴性")],
            filename="results.csv", now=NOW,
        )

    @cached_property
    def correction(self) -> Any:
        from testing import services
        from testing.models import Result

        fill_tube(self.site_a, self.user("sampler_a"), "P0001", [self.person_a])
        self._ingest("P0001")
        return services.correction_request(
            actor=Actor(self.user("lab_user")), result=Result.objects.get(tube__barcode="P0001"),
            new_value="invalid", reason="样本溶血, 复核", now=NOW,
        )

    @cached_property
    def lab_exception(self) -> Any:
        from testing.models import ResultException

        self.user("lab_user")
        self._ingest("NOPE99")
        return ResultException.objects.get(barcode="NOPE99", laboratory=self.lab)

    # health

    @cached_property
    def change_request(self) -> Any:
        """A bulk change above the approval threshold, waiting for command HQ."""
        from health import services

        people = [self.person_a, *PersonFactory.create_batch(20, area=self.d.household_a)]
        req = services.status_change_request(
            actor=Actor(self.user("epi")), person_ids=[p.pk for p in people], colour="yellow",
            reason_code="close_contact", note="流调报告 041", now=NOW,
        )
        assert req.state == "awaiting_approval"
        return req

    # venues

    @cached_property
    def venue(self) -> Any:
        from venues.tests.conftest import make_venue

        return make_venue(self.d, manager=self.user("vm"), now=NOW)

    @cached_property
    def venue_pending(self) -> Any:
        from venues.tests.conftest import make_venue

        return make_venue(self.d, manager=self.user("vm"), name="接庄理发店", category="barber", approve=False, now=NOW)

    @cached_property
    def entrance(self) -> Any:
        return self.venue.entrances.order_by("number").first()

    @cached_property
    def scan_key(self) -> str:
        from venues import services
        from venues.models import Method
        from venues.selectors.codes import entrance_for_token
        from venues.tests.conftest import token_of

        self.family_member  # noqa: B018 (a household member to check in along)
        outcome = services.checkin_record(
            account=self.user("resident"), entrance=entrance_for_token(token_of(self.venue)),
            person_ids=[self.person_a.pk], method=Method.SCAN, client_key="key-0000001", now=NOW,
        )
        return str(outcome.scan_key)

    @cached_property
    def flagged_checkin(self) -> int:
        """Resident A at a venue of grid A, then ten minutes later at one 145 km away: flagged."""
        import datetime as dt

        from venues import services
        from venues.models import CheckIn, Method
        from venues.selectors.codes import entrance_for_token
        from venues.tests.conftest import make_venue, token_of

        far = make_venue(self.d, manager=self.user("vm"), name="济南店", lat="36.6512", lon="117.1201", now=NOW)
        for key, venue, minutes in (("flag-000001", self.venue, 20), ("flag-000002", far, 10)):
            services.checkin_record(
                account=self.user("resident"), entrance=entrance_for_token(token_of(venue)),
                person_ids=[self.person_a.pk], method=Method.SCAN, client_key=key,
                now=NOW - dt.timedelta(minutes=minutes),
            )
        return int(CheckIn.objects.get(is_flagged=True).pk)

    @cached_property
    def companion(self) -> Any:
        """Someone without a phone, in another household, saved by the resident of household A."""
        from venues import services

        granny = PersonFactory(area=self.d.household_b, name="王奶奶", has_no_smartphone=True)
        services.companion_save(
            actor=Actor(self.user("resident")), owner_id=self.person_a.pk, name=granny.name,
            id_number=granny.id_number, now=NOW,
        )
        return granny


# --- helpers ----------------------------------------------------------------------------------


def _page_patterns(resolver: URLResolver, prefix: str = "") -> list[str]:
    names = []
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            ns = f"{p.namespace}:" if p.namespace else prefix
            if p.namespace == "api" or p.namespace == "admin":
                continue
            names += _page_patterns(p, ns)
        elif isinstance(p, URLPattern) and p.pattern.converters and p.name:
            names.append(prefix + p.name)
    return names


def _api_operations() -> list[str]:
    schema = api.get_openapi_schema()
    ops = []
    for path, methods in schema["paths"].items():
        if "{" in path:
            ops += [f"{m.upper()} {path}" for m in methods]
    return ops


def _route(key: str) -> str:
    """The route of a case key: "testing:calls [?area=]" is a second case of "testing:calls"."""
    return key.split(" [", 1)[0]


def _request(client: Any, key: str, case: Case, world: World) -> Any:
    kwargs = case.kwargs(world)
    data = case.data(world) if callable(case.data) else case.data
    route = _route(key)
    if route.split(" ")[0] in {"GET", "POST", "PUT", "PATCH", "DELETE"}:
        url = route.split(" ", 1)[1].format(**kwargs)
        if case.method == "get":
            return client.get(url, data)
        return getattr(client, case.method)(url, data, content_type="application/json")
    return getattr(client, case.method)(reverse(route, kwargs=kwargs), data)
