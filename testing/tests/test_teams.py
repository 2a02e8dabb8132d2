"""An admin (bob, community admin) moves home visits between teams of a round and disbands a team; a
team with visits to make is not disbanded until they are moved."""

from __future__ import annotations

import pytest

from audit.models import AuditEntry
from audit.services import Actor
from common.errors import DomainError
from people.tests.factories import PersonFactory
from testing import services
from testing.models import HomeSamplingRequest, HomeTeam, HomeTeamMember
from testing.tests.conftest import NOW

pytestmark = pytest.mark.usefixtures("clock")


@pytest.fixture
def teams(rnd, district, sampler):
    """Team A works in grid A (with the sampler), team B in grid A's building 1, team C in grid B."""
    building = district.household_a.parent.parent
    a = services.home_team_create(
        actor=Actor.system(), rnd=rnd, name="1网格队", area=district.grid_a, members=[sampler], now=NOW
    )
    b = services.home_team_create(actor=Actor.system(), rnd=rnd, name="1号楼队", area=building, members=[], now=NOW)
    c = services.home_team_create(actor=Actor.system(), rnd=rnd, name="2网格队", area=district.grid_b, members=[],
                                  now=NOW)
    return a, b, c


@pytest.fixture
def visits(teams, rnd, district, alice):
    """Two visits in grid A given to team A (raised while team B did not exist yet in their building)."""
    people = [PersonFactory(area=district.household_a, name="赵大爷"), PersonFactory(area=district.household_a)]
    reqs = [services.home_request_create(actor=Actor(alice), rnd=rnd, person=p, reason="request", now=NOW)
            for p in people]
    HomeSamplingRequest.objects.update(team=teams[0])
    return reqs


def test_an_admin_moves_one_visit_to_a_team_whose_area_holds_the_home(client, bob, teams, visits):
    a, b, _c = teams
    client.force_login(bob)
    page = client.get(f"/testing/teams/{a.pk}/").content.decode()
    assert "赵*" in page and "赵大爷" not in page  # masked
    assert "1号楼队" in page and "2网格队" in page  # the teams bob manages
    r = client.post(f"/testing/teams/{a.pk}/move/", {"to_team": b.pk, "request": [visits[0].pk]})
    assert r.status_code == 302 and r.url == f"/testing/teams/{a.pk}/"
    assert HomeSamplingRequest.objects.get(pk=visits[0].pk).team == b
    assert HomeSamplingRequest.objects.get(pk=visits[1].pk).team == a
    entry = AuditEntry.objects.get(action="testing.home_request_move")
    assert entry.actor == bob and entry.object_id == str(b.pk)
    assert entry.extra == {"from_team": a.pk, "requests": [visits[0].pk]}
    assert "1 个上门采样任务已移交给 1号楼队" in client.get(f"/testing/teams/{a.pk}/").content.decode()


def test_all_visits_to_make_move_at_once_but_closed_ones_stay(client, bob, teams, visits):
    a, b, _c = teams
    services.home_request_close(actor=Actor(bob), request=visits[1], outcome="absent", now=NOW)
    client.force_login(bob)
    client.post(f"/testing/teams/{a.pk}/move/", {"to_team": b.pk, "everything": "on"})
    assert dict(HomeSamplingRequest.objects.values_list("pk", "team_id")) == {visits[0].pk: b.pk, visits[1].pk: a.pk}


def test_a_home_never_goes_to_a_team_of_another_area(client, bob, teams, visits):
    a, _b, c = teams
    client.force_login(bob)
    r = client.post(f"/testing/teams/{a.pk}/move/", {"to_team": c.pk, "request": [v.pk for v in visits]}, follow=True)
    assert "2 户不在 2网格队 的范围内" in r.content.decode()
    assert set(HomeSamplingRequest.objects.values_list("team_id", flat=True)) == {a.pk}
    assert not AuditEntry.objects.filter(action="testing.home_request_move").exists()


def test_a_closed_visit_or_a_team_outside_the_admins_scope_is_refused(client, teams, visits, district, bob):
    from accounts.roles import Role
    from conftest import make_user

    a, b, c = teams
    services.home_request_close(actor=Actor(bob), request=visits[0], outcome="refused", now=NOW)
    with pytest.raises(DomainError) as refused:
        services.home_requests_move(actor=Actor(bob), team=a, request_ids=[visits[0].pk], to_team=b, now=NOW)
    assert refused.value.code == "visits_changed"
    admin_a = make_user("admin_a", Role.COMMUNITY_ADMIN, district.grid_a)
    client.force_login(admin_a)
    page = client.get(f"/testing/teams/{a.pk}/").content.decode()
    assert "1号楼队" in page and "2网格队" not in page
    r = client.post(f"/testing/teams/{a.pk}/move/", {"to_team": c.pk, "request": [visits[1].pk]}, follow=True)
    assert "请选择本轮的另一个队" in r.content.decode()
    assert HomeSamplingRequest.objects.get(pk=visits[1].pk).team == a


def test_a_team_with_visits_to_make_is_not_disbanded_until_they_move(client, bob, teams, visits, sampler):
    a, b, _c = teams
    client.force_login(bob)
    page = client.get(f"/testing/teams/{a.pk}/").content.decode()
    assert "还有 2 个上门采样任务" in page
    r = client.post(f"/testing/teams/{a.pk}/delete/", follow=True)
    assert "还有 2 个上门采样任务" in r.content.decode() and HomeTeam.objects.filter(pk=a.pk).exists()

    services.home_request_close(actor=Actor(bob), request=visits[1], outcome="absent", now=NOW)
    client.post(f"/testing/teams/{a.pk}/move/", {"to_team": b.pk, "everything": "on"})
    r = client.post(f"/testing/teams/{a.pk}/delete/")
    assert r.status_code == 302 and r.url == f"/testing/rounds/{a.round_id}/teams/"
    assert not HomeTeam.objects.filter(pk=a.pk).exists() and not HomeTeamMember.objects.filter(user=sampler).exists()
    closed = HomeSamplingRequest.objects.get(pk=visits[1].pk)
    assert closed.team is None and closed.closed_by == bob and closed.status == "absent"
    entry = AuditEntry.objects.get(action="testing.home_team_delete")
    assert entry.extra["name"] == "1网格队" and entry.extra["members"] == [sampler.pk]
    assert entry.extra["closed_visits"] == 1
    assert "1网格队 已解散" in client.get(r.url).content.decode()


def test_grid_workers_cannot_reorganise_teams_and_get_is_405(client, alice, bob, teams, visits):
    a, b, _c = teams
    client.force_login(alice)
    assert client.post(f"/testing/teams/{a.pk}/move/", {"to_team": b.pk, "everything": "on"}).status_code == 404
    assert client.post(f"/testing/teams/{a.pk}/delete/").status_code == 404
    client.force_login(bob)
    assert client.get(f"/testing/teams/{a.pk}/move/").status_code == 405
    assert client.get(f"/testing/teams/{a.pk}/delete/").status_code == 405
    assert HomeTeam.objects.count() == 3
