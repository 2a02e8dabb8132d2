"""Home visits no team covers do not vanish: the grid worker is told, the community admin sees them
listed (and counted where the teams are) and gives each to a team of the home's area; and a disbanded
team's name can be used again in the same round."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEntry
from audit.services import Actor
from common.errors import DomainError
from people.tests.factories import PersonFactory
from testing import services
from testing.models import HomeSamplingRequest, HomeStatus, HomeTeam
from testing.tests.conftest import NOW

pytestmark = pytest.mark.usefixtures("clock")


@pytest.fixture
def grandpa(district):
    return PersonFactory(area=district.household_a, name="张爷爷", is_mobility_impaired=True)


def test_a_request_no_team_covers_is_flagged_to_the_grid_worker(client, alice, rnd, grandpa):
    client.force_login(alice)
    r = client.post(f"/testing/rounds/{rnd.pk}/people/{grandpa.pk}/home/", {"reason": "mobility"}, follow=True)
    body = r.content.decode()
    assert "此处暂无上门采样队负责" in body
    assert HomeSamplingRequest.objects.get().team is None
    assert "暂无采样队" in client.get(f"/testing/rounds/{rnd.pk}/home/").content.decode()


def test_the_admin_sees_the_count_and_the_list_and_assigns_one(client, bob, alice, rnd, district, grandpa):
    req = services.home_request_create(actor=Actor(alice), rnd=rnd, person=grandpa, reason="mobility", now=NOW)
    building = district.household_a.parent.parent
    # Teams set up elsewhere first: grid B's, which cannot take a home of grid A.
    services.home_team_create(actor=Actor(bob), rnd=rnd, name="2网格队", area=district.grid_b, members=[], now=NOW)
    client.force_login(bob)
    teams_page = client.get(f"/testing/rounds/{rnd.pk}/teams/").content.decode()
    assert "有 1 个上门采样请求没有采样队负责,请分派。" in teams_page
    assert "有 1 个上门采样请求没有采样队负责" in client.get(f"/testing/rounds/{rnd.pk}/").content.decode()

    listing = client.get(f"/testing/rounds/{rnd.pk}/home/uncovered/").content.decode()
    assert "张*" in listing and "张爷爷" not in listing  # masked
    assert "1号楼" in listing and "您管理的采样队中没有负责此处的。" in listing  # grid B's team is not offered

    # A team of the building, set up with a name already used for nothing: the assignment is offered.
    team = HomeTeam.objects.create(round=rnd, name="1号楼队", area=building, area_path=building.path)
    listing = client.get(f"/testing/rounds/{rnd.pk}/home/uncovered/").content.decode()
    assert "1号楼队" in listing and "2网格队" not in listing[listing.index('id="uncovered-list"') :]

    r = client.post(f"/testing/rounds/{rnd.pk}/home/uncovered/", {"team": team.pk, "request": [req.pk]}, follow=True)
    assert "已将 1 个上门采样任务分派给1号楼队。" in r.content.decode()
    assert "所有上门采样任务都有采样队负责。" in r.content.decode()
    assert HomeSamplingRequest.objects.get(pk=req.pk).team == team
    entry = AuditEntry.objects.get(action="testing.home_request_assign")
    assert (
        entry.actor == bob
        and entry.object_id == str(team.pk)
        and entry.extra == {"round": rnd.pk, "requests": [req.pk]}
    )
    assert "没有采样队负责" not in client.get(f"/testing/rounds/{rnd.pk}/teams/").content.decode()


def test_a_home_is_never_given_to_a_team_of_another_area(bob, alice, rnd, district, grandpa):
    req = services.home_request_create(actor=Actor(alice), rnd=rnd, person=grandpa, reason="mobility", now=NOW)
    other = services.home_team_create(
        actor=Actor(bob), rnd=rnd, name="2网格队", area=district.grid_b, members=[], now=NOW
    )
    with pytest.raises(DomainError) as refused:
        services.home_requests_assign(actor=Actor(bob), rnd=rnd, request_ids=[req.pk], team=other, now=NOW)
    assert refused.value.code == "outside_team_area"
    assert HomeSamplingRequest.objects.get(pk=req.pk).team is None


def test_a_visit_assigned_meanwhile_is_refused_with_the_reason(client, bob, alice, rnd, district, grandpa):
    req = services.home_request_create(actor=Actor(alice), rnd=rnd, person=grandpa, reason="mobility", now=NOW)
    services.home_request_close(actor=Actor(alice), request=req, outcome="absent", now=NOW)
    team = HomeTeam.objects.create(round=rnd, name="1网格队", area=district.grid_a, area_path=district.grid_a.path)
    client.force_login(bob)
    r = client.post(f"/testing/rounds/{rnd.pk}/home/uncovered/", {"team": team.pk, "request": [req.pk]}, follow=True)
    assert "其中部分任务已被关闭或已分派,本次未分派任何任务。" in r.content.decode()
    assert not AuditEntry.objects.filter(action="testing.home_request_assign").exists()


def test_grid_workers_do_not_assign_and_the_list_reads_in_constant_queries(client, alice, bob, rnd, district):
    client.force_login(alice)
    assert client.get(f"/testing/rounds/{rnd.pk}/home/uncovered/").status_code == 404
    people = PersonFactory.create_batch(6, area=district.household_a)
    for p in people:
        services.home_request_create(actor=Actor(alice), rnd=rnd, person=p, reason="request", now=NOW)
    client.force_login(bob)
    client.get(f"/testing/rounds/{rnd.pk}/home/uncovered/")
    with CaptureQueriesContext(connection) as six:
        client.get(f"/testing/rounds/{rnd.pk}/home/uncovered/")
    for p in PersonFactory.create_batch(6, area=district.household_b):
        services.home_request_create(actor=Actor(alice), rnd=rnd, person=p, reason="request", now=NOW)
    cache.clear()
    client.get(f"/testing/rounds/{rnd.pk}/home/uncovered/")
    with CaptureQueriesContext(connection) as twelve:
        page = client.get(f"/testing/rounds/{rnd.pk}/home/uncovered/")
    assert page.content.decode().count('name="request"') == 0  # no team anywhere yet: nothing to pick
    assert len(twelve) == len(six)


def test_a_disbanded_teams_name_is_free_again_and_its_closed_visits_stay_its_own(bob, alice, rnd, district, grandpa):
    old = services.home_team_create(
        actor=Actor(bob), rnd=rnd, name="1网格上门队", area=district.grid_a, members=[], now=NOW
    )
    req = services.home_request_create(actor=Actor(alice), rnd=rnd, person=grandpa, reason="mobility", now=NOW)
    assert req.team == old
    services.home_request_close(actor=Actor(alice), request=req, outcome="refused", now=NOW)
    services.home_team_delete(actor=Actor(bob), team=old, now=NOW)

    new = services.home_team_create(
        actor=Actor(bob), rnd=rnd, name="1网格上门队", area=district.grid_a, members=[], now=NOW
    )
    assert new.pk != old.pk and new.name == "1网格上门队"
    closed = HomeSamplingRequest.objects.get(pk=req.pk)
    assert closed.team is None and closed.status == HomeStatus.REFUSED  # not the new team's visit
    assert AuditEntry.objects.filter(action="testing.home_team_create").count() == 2


def test_a_live_teams_name_is_refused_for_another_area(client, bob, rnd, district):
    services.home_team_create(actor=Actor(bob), rnd=rnd, name="上门队", area=district.grid_a, members=[], now=NOW)
    with pytest.raises(DomainError) as refused:
        services.home_team_create(actor=Actor(bob), rnd=rnd, name="上门队", area=district.grid_b, members=[], now=NOW)
    assert refused.value.code == "team_exists"
    client.force_login(bob)
    r = client.post(f"/testing/rounds/{rnd.pk}/teams/", {"name": "上门队", "area": district.grid_b.pk})
    assert r.status_code == 400 and "本轮已有同名采样队(负责1网格),请换一个名称。" in r.content.decode()
    # The same name and area again is the same team (setting up is idempotent).
    again = services.home_team_create(
        actor=Actor(bob), rnd=rnd, name="上门队", area=district.grid_a, members=[], now=NOW
    )
    assert HomeTeam.objects.filter(round=rnd).count() == 1 and again.area == district.grid_a
