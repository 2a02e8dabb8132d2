"""Far-apart and burst check-ins are flagged without touching anyone's colour; retention purges rows
and keeps daily counts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client

from health import selectors as health_selectors
from venues.models import CheckIn, CheckinRequest, VenueDailyCount
from venues.selectors.checkins import venue_stats
from venues.tests.conftest import make_venue, token_of

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2022, 4, 20, 2, 0, tzinfo=dt.UTC)  # 10:00 in Jining


def test_two_venues_too_far_apart_are_flagged(district: Any, vm: Any, resident_client: Client, person_a: Any) -> None:
    jining = make_venue(district, manager=vm, name="济宁店", lat="35.4100", lon="116.5900")
    jinan = make_venue(district, manager=vm, name="济南店", lat="36.6512", lon="117.1201")  # about 145 km away
    with time_machine.travel(T0, tick=False):
        resident_client.post(f"/v/{token_of(jining)}/", {"client_key": "far-000001"})
    with time_machine.travel(T0 + dt.timedelta(minutes=10), tick=False):
        location = resident_client.post(f"/v/{token_of(jinan)}/", {"client_key": "far-000002"})["Location"]
        page = resident_client.get(location).content.decode()
        assert health_selectors.status_view(person_a.pk, now=T0).colour == "green"
    first, second = CheckIn.objects.order_by("checked_in_at")
    assert not first.is_flagged
    assert second.is_flagged and second.flag_reason == "far_apart"
    assert second.colour == "green" and second.verdict == "allow"  # recorded, colour untouched
    assert "复核" in page


def test_hours_later_the_same_trip_is_fine(district: Any, vm: Any, resident_client: Client) -> None:
    jining = make_venue(district, manager=vm, name="济宁店", lat="35.4100", lon="116.5900")
    jinan = make_venue(district, manager=vm, name="济南店", lat="36.6512", lon="117.1201")
    with time_machine.travel(T0, tick=False):
        resident_client.post(f"/v/{token_of(jining)}/", {"client_key": "far-000001"})
    with time_machine.travel(T0 + dt.timedelta(hours=3), tick=False):
        resident_client.post(f"/v/{token_of(jinan)}/", {"client_key": "far-000002"})
    assert not CheckIn.objects.filter(is_flagged=True).exists()


def test_a_burst_of_check_ins_is_flagged(resident_client: Client, token: str, settings: Any) -> None:
    settings.FANGYI = {**settings.FANGYI, "CHECKIN_MAX_PER_MINUTE": 3}
    for i in range(4):
        with time_machine.travel(T0 + dt.timedelta(seconds=10 * i), tick=False):
            resident_client.post(f"/v/{token}/", {"client_key": f"burst-{i:04d}"})
    flags = list(CheckIn.objects.order_by("checked_in_at").values_list("flag_reason", flat=True))
    assert flags == ["", "", "", "burst"]


def test_retention_purges_rows_and_keeps_daily_counts(venue: Any, resident: Any, token: str) -> None:
    resident_client = Client()
    for at, key in ((T0, "old-000001"), (T0 + dt.timedelta(days=20), "new-000001")):
        with time_machine.travel(at, tick=False):
            resident_client.force_login(resident)  # sessions expire over weeks of frozen time
            resident_client.post(f"/v/{token}/", {"client_key": key})
    with time_machine.travel(T0 + dt.timedelta(days=29), tick=False):
        resident_client.force_login(resident)
        call_command("venues_retention")
        assert list(CheckIn.objects.values_list("checked_in_at", flat=True)) == [T0 + dt.timedelta(days=20)]
        assert not CheckinRequest.objects.filter(client_key="old-000001").exists()
        daily = VenueDailyCount.objects.get(venue=venue)
        assert (daily.day, daily.checkin_count) == (dt.date(2022, 4, 20), 1)
        # The resident's trail no longer shows the purged visit.
        assert resident_client.get("/venues/trail/").content.decode().count("接庄超市") == 1
        call_command("venues_retention")  # idempotent
        assert VenueDailyCount.objects.get(venue=venue).checkin_count == 1


def test_manager_counts_per_hour_and_day(venue: Any, resident_client: Client, token: str, person_a: Any) -> None:
    from health import services as health_services

    with time_machine.travel(T0, tick=False):
        health_services.companion_flagged(person_id=person_a.pk, case_ref="C1", exposed_at=T0, now=T0)
        resident_client.post(f"/v/{token}/", {"client_key": "cnt-000001"})
        stats = venue_stats(venue.pk, now=T0 + dt.timedelta(minutes=5))
    assert dict(stats.hourly)[10] == 1 and stats.today_count == 1
    assert stats.daily[-1] == (dt.date(2022, 4, 20), 1)
    assert [c for _at, _e, c in stats.alerts] == ["yellow"]
