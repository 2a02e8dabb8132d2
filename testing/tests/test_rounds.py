"""A round's life: scheduled (its start ahead) takes no samples, open takes them, closed takes no new
ones but lets filled tubes be sealed, and keeps its figures."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from audit.services import Actor
from common.errors import Conflict
from people.tests.factories import PersonFactory
from testing import selectors, services
from testing.models import RoundPhase, Sample, Site, Tube
from testing.tests.conftest import NOW, token

pytestmark = pytest.mark.usefixtures("clock")


@pytest.fixture
def later(district, hq, lab):
    """第五轮, starting tomorrow morning."""
    return services.round_create(
        actor=Actor(hq), name="第五轮", area=district.district, pool_size=10,
        starts_at=NOW + dt.timedelta(hours=24), laboratory=lab, now=NOW,
    )


def test_a_round_whose_start_is_ahead_is_scheduled_and_takes_no_tube(later, district, sampler):
    site = services.site_create(actor=Actor.system(), rnd=later, name="检测点", location="广场", grid=district.grid_a,
                                now=NOW)
    assert later.phase(NOW) == RoundPhase.SCHEDULED
    with pytest.raises(Conflict) as refused, transaction.atomic():
        services.tube_open(actor=Actor(sampler), site=site, barcode="F0001", now=NOW)
    assert refused.value.code == "round_not_started" and not Tube.objects.exists()
    assert later.phase(NOW + dt.timedelta(hours=24)) == RoundPhase.OPEN
    services.tube_open(actor=Actor(sampler), site=site, barcode="F0001", now=NOW + dt.timedelta(hours=24))


def test_a_tube_opened_by_other_means_still_refuses_samples_before_the_start(later, sampler, person_a):
    tube = Tube.objects.create(barcode="F0002", round=later, pool_size=10, opened_at=NOW)
    with pytest.raises(Conflict) as refused, transaction.atomic():
        services.sample_register(actor=Actor(sampler), tube=tube, code=token(person_a), now=NOW)
    assert refused.value.code == "round_not_started" and not Sample.objects.exists()


def test_scheduled_round_can_be_prepared_before_it_starts(later, alice, person_a):
    """Pre-registration and home-sampling requests are made before the round starts."""
    services.preregistration_create(actor=Actor(alice), rnd=later, person=person_a, now=NOW)
    services.home_request_create(actor=Actor(alice), rnd=later, person=person_a, reason="request", now=NOW)


def test_the_round_list_and_page_show_a_scheduled_round(client, hq, later):
    client.force_login(hq)
    assert "未开始" in client.get("/testing/").content.decode()
    assert "开始前" in client.get(f"/testing/rounds/{later.pk}/").content.decode()


def test_a_closed_round_refuses_new_samples_with_a_clear_code_but_seals_filled_tubes(rnd, site, sampler, hq, district):
    people = PersonFactory.create_batch(2, area=district.household_a)
    tube = services.tube_open(actor=Actor(sampler), site=site, barcode="Z0001", now=NOW)
    services.sample_register(actor=Actor(sampler), tube=tube, code=token(people[0]), now=NOW)
    services.round_close(actor=Actor(hq), rnd=rnd, now=NOW)
    with pytest.raises(Conflict) as refused, transaction.atomic():
        services.sample_register(actor=Actor(sampler), tube=tube, code=token(people[1]), now=NOW)
    assert refused.value.code == "round_closed"
    with pytest.raises(Conflict) as refused, transaction.atomic():
        services.tube_open(actor=Actor(sampler), site=Site.objects.get(pk=site.pk), barcode="Z0002", now=NOW)
    assert refused.value.code == "round_closed"
    assert services.tube_seal(actor=Actor(sampler), tube=tube, now=NOW).status == "sealed"
    assert Sample.objects.count() == 1


def test_a_closed_round_keeps_its_figures_when_the_roster_changes(client, hq, rnd, site, sampler, person_a, district):
    from testing.tests.conftest import fill_tube

    fill_tube(site, sampler, "Z0003", [person_a])
    closed = services.round_close(actor=Actor(hq), rnd=rnd, now=NOW)
    PersonFactory.create_batch(5, area=district.household_a)  # moved in after the round
    client.force_login(hq)
    body = client.get(f"/testing/rounds/{rnd.pk}/").content.decode()
    assert "已结束" in body
    text = b"".join(client.get(f"/testing/rounds/{rnd.pk}/ledger.csv").streaming_content).decode("utf-8-sig")
    grid_a = next(line for line in text.splitlines() if "1网格" in line).split(",")
    assert grid_a[1:3] == ["1", "1"]  # the figures at closing: 1 to test, 1 tested
    assert closed.final_figures["total"] == 1
    assert selectors.coverage_total(closed)["total"] == 1  # the roster moves on; a closed round's figures do not


def test_residents_see_when_a_scheduled_sites_sampling_starts(client, resident, later, district):
    services.site_create(actor=Actor.system(), rnd=later, name="明日检测点", location="广场", grid=district.grid_a,
                         now=NOW)
    client.force_login(resident)
    body = client.get("/testing/near/").content.decode()
    assert "明日检测点" in body and "04-21 15:00" in body and "开始采样" in body
