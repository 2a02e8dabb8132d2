"""The check-in hot path: a fixed, small number of queries; cached codes that still stop working the
moment they are rotated, revoked or their venue withdrawn; answered check-ins are committed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.services import Actor
from venues import partitions, services
from venues.models import CheckIn, Entrance, Method, VenueStatus
from venues.selectors.codes import entrance_for_token
from venues.tests.conftest import token_of

pytestmark = pytest.mark.django_db

_TRANSACTION = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK")


def _statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(_TRANSACTION)]


def _api(client: Client, token: str, key: str) -> Any:
    return client.post("/api/v1/venues/checkins", {"code": token, "client_key": key}, content_type="application/json")


def test_a_check_in_reads_no_venue_table_and_writes_once(resident_client: Client, token: str) -> None:
    assert _api(resident_client, token, "warm-000001").status_code == 200  # user, status, code cached
    with CaptureQueriesContext(connection) as queries:
        assert _api(resident_client, token, "hot-0000001").status_code == 200
    sql = _statements(queries)
    assert not [s for s in sql if "venues_venuecode" in s or '"venues_venue"' in s or "venues_entrance" in s]
    reads = [s for s in sql if s.startswith("SELECT")]
    writes = [s for s in sql if not s.startswith("SELECT")]
    # The session (in the database: a logout in another server process must count here too) and the
    # subject's recent check-ins; the write: one statement on PostgreSQL.
    assert len(reads) == 2 and "django_session" in reads[0] and "venues_checkin" in reads[1]
    assert len(writes) == (1 if connection.vendor == "postgresql" else 2)
    assert CheckIn.objects.count() == 2


def test_the_scan_page_costs_the_same(resident_client: Client, token: str) -> None:
    resident_client.post(f"/v/{token}/", {"client_key": "warm-000002"})
    with CaptureQueriesContext(connection) as queries:
        assert resident_client.post(f"/v/{token}/", {"client_key": "hot-0000002"}).status_code == 302
    assert len([s for s in _statements(queries) if s.startswith("SELECT")]) == 2  # the session, recent check-ins


def test_a_cached_code_stops_working_when_rotated(resident_client: Client, venue: Any, vm_client: Client) -> None:
    old = token_of(venue)
    assert resident_client.post(f"/v/{old}/", {"client_key": "key-00000001"}).status_code == 302  # cached now
    entrance = Entrance.objects.get(venue=venue, number=1)
    vm_client.post(f"/venues/{venue.pk}/entrances/{entrance.pk}/rotate/")
    assert resident_client.post(f"/v/{old}/", {"client_key": "key-00000002"}).status_code == 410
    assert resident_client.post(f"/v/{token_of(venue)}/", {"client_key": "key-00000003"}).status_code == 302


def test_a_cached_code_stops_working_when_revoked(resident_client: Client, venue: Any, vm: Any) -> None:
    old = token_of(venue, 2)
    assert resident_client.post(f"/v/{old}/", {"client_key": "key-00000004"}).status_code == 302
    services.code_revoke(actor=Actor(user=vm), entrance=Entrance.objects.get(venue=venue, number=2), now=timezone.now())
    assert resident_client.post(f"/v/{old}/", {"client_key": "key-00000005"}).status_code == 410


def test_a_cached_code_follows_its_venue(resident_client: Client, venue: Any, token: str) -> None:
    entrance_for_token(token)
    venue.name = "接庄超市(新店)"
    venue.save(update_fields=["name"])
    assert entrance_for_token(token).venue_name == "接庄超市(新店)"
    venue.status = VenueStatus.REJECTED
    venue.save(update_fields=["status"])
    assert resident_client.post(f"/v/{token}/", {"client_key": "key-00000006"}).status_code == 409


def test_the_far_apart_check_uses_the_previous_venue_s_new_position(
    district: Any, vm: Any, resident_client: Client
) -> None:
    from venues.tests.conftest import make_venue

    first = make_venue(district, manager=vm, name="甲店", lat="35.4100", lon="116.5900")
    second = make_venue(district, manager=vm, name="乙店", lat="35.4100", lon="116.5901")
    resident_client.post(f"/v/{token_of(first)}/", {"client_key": "move-000001"})
    resident_client.post(f"/v/{token_of(second)}/", {"client_key": "move-000002"})
    first.latitude, first.longitude = 36.6512, 117.1201  # the first shop was mapped wrongly: it is in Jinan
    first.save(update_fields=["latitude", "longitude"])
    resident_client.post(f"/v/{token_of(first)}/", {"client_key": "move-000003"})
    assert list(CheckIn.objects.order_by("id").values_list("flag_reason", flat=True)) == ["", "", "far_apart"]


@pytest.mark.django_db(transaction=True)
def test_an_answered_check_in_is_committed(resident_client: Client, token: str, person_a: Any) -> None:
    """Nothing stays in an open transaction after the answer: another connection (a new server
    process after a crash) already sees the check-in and its retry key."""
    assert _api(resident_client, token, "durable-0001").status_code == 200
    assert not connection.in_atomic_block
    if connection.vendor == "postgresql":
        # The check-in's own transaction skipped the WAL flush wait; the connection's later ones do not.
        with connection.cursor() as cur:
            cur.execute("SHOW synchronous_commit")
            assert cur.fetchone()[0] == "on"
    # A retry outside any transaction (as in production): the unique key refuses it, the answer is replayed.
    assert _api(resident_client, token, "durable-0001").json()["replayed"] is True
    other = connections.create_connection("default")
    try:
        with other.cursor() as cur:
            cur.execute("SELECT count(*) FROM venues_checkin WHERE person_id = %s", [person_a.pk])
            assert cur.fetchone()[0] == 1
            cur.execute("SELECT count(*) FROM venues_checkinrequest WHERE client_key = %s", ["durable-0001"])
            assert cur.fetchone()[0] == 1
    finally:
        other.close()


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="partitions exist on PostgreSQL only")
def test_a_missing_day_partition_is_made_on_the_spot(resident: Any, token: str, person_a: Any) -> None:
    later = dt.datetime(2031, 3, 3, 4, 0, tzinfo=dt.UTC)  # no partition is made this far ahead
    day = later.astimezone(partitions.local_zone()).date()
    assert day not in partitions.existing_partitions()
    outcome = services.checkin_record(
        account=resident,
        entrance=entrance_for_token(token),
        person_ids=[person_a.pk],
        method=Method.SCAN,
        client_key="future-00001",
        now=later,
    )
    assert not outcome.replayed and day in partitions.existing_partitions()
    assert CheckIn.objects.filter(checked_in_at=later).count() == 1


def test_the_verification_page_after_a_scan_costs_five_queries(
    resident_client: Client, token: str, family_member: Any, django_assert_num_queries: Any
) -> None:
    url = resident_client.post(f"/v/{token}/", {"client_key": "page-000001"})["Location"]
    resident_client.post(f"{url}companions/", {"person": [family_member.pk], "client_key": "page-000002"})
    resident_client.get(url)  # statuses cached, as at the door
    # The session, the scan's check-ins with entrance and venue, the resident's household, their saved
    # companions, the menu's memberships (the user is cached); nothing more for a companion.
    with django_assert_num_queries(5):
        page = resident_client.get(url)
    html = page.content.decode()
    assert page.status_code == 200 and html.count('class="verify') == 2
    assert "接庄超市" in html and "接庄街道崇文大道1号" in html and "正门" in html
    assert family_member.masked_name in html and "张" in html


def test_a_code_read_cold_gives_the_venue_s_own_facts(venue: Any, token: str) -> None:
    """The plain SELECT behind a cold code cache gives what the models give (types included)."""
    from django.core.cache import cache

    from venues.selectors.codes import entrance_summary

    cache.clear()
    cold = entrance_for_token(token)
    expected = entrance_summary(cold.entrance_id)
    assert cold.code_id > 0 and cold.venue_name == "接庄超市"
    assert cold.__dict__ | {"code_id": 0} == expected.__dict__
    assert type(cold.latitude) is type(expected.latitude) and cold.latitude == expected.latitude
