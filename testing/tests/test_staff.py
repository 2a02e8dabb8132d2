"""Staffing: a community admin (bob) assigns samplers to sites and sets up home-sampling teams; a sampler
sees only the sites they staff; a team sees its home visits by building and floor and closes them."""

from __future__ import annotations

import pytest

from accounts.roles import Role
from audit.models import AuditEntry
from audit.services import Actor
from common.errors import DomainError
from conftest import make_user
from people.tests.factories import PersonFactory
from territory.models import AreaKind
from territory.services import area_create
from testing import services
from testing.models import HomeSamplingRequest, HomeTeam, HomeTeamMember, SiteStaff
from testing.tests.conftest import NOW

pytestmark = pytest.mark.usefixtures("clock")


def test_a_community_admin_assigns_a_sampler_who_then_sees_the_site(client, bob, sampler, site):
    client.force_login(sampler)
    assert "不在任何" in client.get("/testing/station/").content.decode()

    client.force_login(bob)
    page = client.get(f"/testing/sites/{site.pk}/staff/").content.decode()
    assert "采样员甲" in page and "还没有" in page
    r = client.post(f"/testing/sites/{site.pk}/staff/", {"user": sampler.pk})
    assert r.status_code == 302 and SiteStaff.objects.filter(site=site, user=sampler).exists()
    assert AuditEntry.objects.filter(action="testing.site_staff_add", actor=bob).exists()
    round_page = client.get(f"/testing/rounds/{site.round.pk}/").content.decode()
    assert f'href="/testing/sites/{site.pk}/staff/">1<' in round_page  # one sampler, linked to the staff page

    client.force_login(sampler)
    assert client.get("/testing/station/").url == f"/testing/station/{site.pk}/"

    client.force_login(bob)
    r = client.post(f"/testing/sites/{site.pk}/staff/{sampler.pk}/remove/")
    assert r.status_code == 302 and not SiteStaff.objects.exists()
    assert AuditEntry.objects.filter(action="testing.site_staff_remove").exists()
    client.force_login(sampler)
    assert client.get(f"/testing/station/{site.pk}/").status_code == 404


def test_only_samplers_of_the_site_territory_can_staff_it(client, bob, alice, site, district):
    far = area_create(parent=None, kind=AreaKind.DISTRICT, name="任城区")
    stranger = make_user("far_sampler", Role.SAMPLER, far)
    client.force_login(bob)
    page = client.get(f"/testing/sites/{site.pk}/staff/").content.decode()
    assert "far_sampler" not in page and "alice" not in page
    r = client.post(f"/testing/sites/{site.pk}/staff/", {"user": alice.pk})
    assert r.status_code == 400 and not SiteStaff.objects.exists()
    for user in (alice, stranger):
        with pytest.raises(DomainError) as refused:
            services.site_staff_add(actor=Actor(bob), site=site, user=user, now=NOW)
        assert refused.value.code == "not_a_sampler"
    # A sampler of the whole district may staff a site of one of its grids.
    services.site_staff_add(
        actor=Actor(bob), site=site, user=make_user("district_sampler", Role.SAMPLER, district.district), now=NOW
    )


def test_grid_workers_cannot_manage_staff(client, alice, site, rnd):
    client.force_login(alice)
    assert client.get(f"/testing/sites/{site.pk}/staff/").status_code == 404
    assert client.get(f"/testing/rounds/{rnd.pk}/teams/").status_code == 404


def test_wrong_method_on_removal_is_405(client, bob, site, sampler):
    client.force_login(bob)
    assert client.get(f"/testing/sites/{site.pk}/staff/{sampler.pk}/remove/").status_code == 405


@pytest.fixture
def visits(district, rnd, alice):
    """Grid A: building 1, flats 101 and 1502 (floor 15), each with a resident sampled at home."""
    unit = district.household_a.parent
    flat_1502 = area_create(parent=unit, kind=AreaKind.HOUSEHOLD, name="1502")
    people = [PersonFactory(area=district.household_a), PersonFactory(area=flat_1502, is_mobility_impaired=True)]
    reqs = [
        services.home_request_create(actor=Actor(alice), rnd=rnd, person=people[0], reason="request", now=NOW),
        services.home_request_create(actor=Actor(alice), rnd=rnd, person=people[1], reason="mobility", now=NOW),
    ]
    return reqs


def test_an_admin_sets_up_a_team_which_takes_the_pending_visits_of_its_area(client, bob, rnd, district, visits,
                                                                           sampler, alice, charlie):
    client.force_login(bob)
    r = client.post(f"/testing/rounds/{rnd.pk}/teams/", {"name": "1网格上门采样队", "area": district.grid_a.pk})
    team = HomeTeam.objects.get()
    assert r.status_code == 302 and r.url == f"/testing/teams/{team.pk}/"
    assert set(HomeSamplingRequest.objects.values_list("team_id", flat=True)) == {team.pk}
    page = client.get(f"/testing/teams/{team.pk}/").content.decode()
    assert "采样员甲" in page and "网格员甲" in page and "charlie" not in page  # charlie works in grid B
    for user in (sampler, alice):
        assert client.post(f"/testing/teams/{team.pk}/", {"user": user.pk}).status_code == 302
    assert client.post(f"/testing/teams/{team.pk}/", {"user": charlie.pk}).status_code == 400
    assert set(HomeTeamMember.objects.values_list("user_id", flat=True)) == {sampler.pk, alice.pk}
    listing = client.get(f"/testing/rounds/{rnd.pk}/teams/").content.decode()
    assert "1网格上门采样队" in listing and "采样员甲" in listing
    r = client.post(f"/testing/teams/{team.pk}/members/{alice.pk}/remove/")
    assert r.status_code == 302 and not HomeTeamMember.objects.filter(user=alice).exists()
    assert AuditEntry.objects.filter(action__startswith="testing.home_team").count() == 4


def test_a_team_outside_the_round_or_without_a_name_is_refused(bob, rnd, district):
    far = area_create(parent=None, kind=AreaKind.DISTRICT, name="任城区")
    with pytest.raises(DomainError):
        services.home_team_create(actor=Actor(bob), rnd=rnd, name="外区队", area=far, members=[], now=NOW)
    with pytest.raises(DomainError):
        services.home_team_create(actor=Actor(bob), rnd=rnd, name="  ", area=district.grid_a, members=[], now=NOW)


def test_a_team_sampler_sees_the_list_by_building_and_floor_and_closes_visits(client, rnd, district, visits,
                                                                             sampler):
    team = services.home_team_create(
        actor=Actor.system(), rnd=rnd, name="1网格上门采样队", area=district.grid_a, members=[sampler], now=NOW
    )
    client.force_login(sampler)
    index = client.get("/testing/station/").content.decode()
    assert "1网格上门采样队" in index and f"/testing/rounds/{rnd.pk}/home/" in index
    page = client.get(f"/testing/rounds/{rnd.pk}/home/").content.decode()
    assert "1号楼" in page and "15层" in page and "1层" in page
    assert f"/testing/rounds/{rnd.pk}/home/flagged/" not in page  # raising requests is for grid staff
    first, second = visits
    r = client.post(f"/testing/rounds/{rnd.pk}/home/{first.pk}/close/", {"outcome": "refused", "note": "本人拒绝"})
    assert r.status_code == 302
    r = client.post(f"/testing/rounds/{rnd.pk}/home/{second.pk}/close/", {"outcome": "sampled", "barcode": "H1502"})
    assert r.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("refused", "sampled") and second.tube.barcode == "H1502"
    assert team.requests.filter(status="pending").count() == 0


def test_another_team_cannot_close_a_visit(client, rnd, district, visits):
    nurse_b = make_user("nurse_b", Role.SAMPLER, district.grid_b)
    services.home_team_create(actor=Actor.system(), rnd=rnd, name="A组", area=district.grid_a, members=[], now=NOW)
    services.home_team_create(actor=Actor.system(), rnd=rnd, name="B组", area=district.grid_b, members=[nurse_b],
                              now=NOW)
    client.force_login(nurse_b)
    assert "1号楼" not in client.get(f"/testing/rounds/{rnd.pk}/home/").content.decode()
    r = client.post(f"/testing/rounds/{rnd.pk}/home/{visits[0].pk}/close/", {"outcome": "absent"})
    assert r.status_code == 404
    visits[0].refresh_from_db()
    assert visits[0].status == "pending"
