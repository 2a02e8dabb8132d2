"""A resident scans a poster: checked in once, the door staff see the verdict."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from health import services as health_services
from venues.models import CheckIn, CheckinRequest
from venues.tests.conftest import make_venue, token_of

pytestmark = pytest.mark.django_db


def _checkin(client: Client, token: str, key: str = "key-0000001") -> Any:
    return client.post(f"/v/{token}/", {"client_key": key})


def test_get_shows_an_auto_submitting_page_and_writes_nothing(resident_client: Client, token: str) -> None:
    r = resident_client.get(f"/v/{token}/")
    assert r.status_code == 200
    assert "接庄超市" in r.content.decode()
    assert 'name="client_key"' in r.content.decode()
    assert CheckIn.objects.count() == 0


def test_scan_checks_in_and_shows_the_verification_page(resident_client: Client, token: str, person_a: Any) -> None:
    r = _checkin(resident_client, token)
    assert r.status_code == 302 and r["Location"] == "/v/s/key-0000001/"
    row = CheckIn.objects.get()
    assert (row.person_id, row.colour, row.verdict, row.method) == (person_a.pk, "green", "allow", "scan")
    page = resident_client.get(r["Location"]).content.decode()
    assert "张*" in page and "张三" not in page
    assert "接庄超市" in page and "崇文大道" in page
    assert 'data-colour="green"' in page and 'data-verdict="allow"' in page
    assert 'id="server-clock"' in page and 'class="pulse"' in page


def test_a_retry_with_the_same_key_is_recorded_once(resident_client: Client, token: str) -> None:
    first = _checkin(resident_client, token)
    second = _checkin(resident_client, token)
    assert first["Location"] == second["Location"]
    assert CheckIn.objects.count() == 1 and CheckinRequest.objects.count() == 1


def test_another_account_cannot_reuse_a_key(resident_client: Client, token: str, person_b: Any) -> None:
    from accounts.models import User

    _checkin(resident_client, token)
    other = Client()
    other.force_login(User.objects.create_user(username="r2", phone="13700000000", person=person_b))
    assert _checkin(other, token).status_code == 409
    assert CheckIn.objects.count() == 1


def test_not_signed_in_goes_through_phone_login_and_back(client: Client, token: str) -> None:
    r = client.get(f"/v/{token}/")
    assert r.status_code == 302
    assert r["Location"] == f"/accounts/login/phone/?next=%2Fv%2F{token}%2F"
    assert CheckIn.objects.count() == 0


def test_staff_account_cannot_check_in(alice: Any, token: str) -> None:
    c = Client()
    c.force_login(alice)
    assert _checkin(c, token).status_code == 403
    assert CheckIn.objects.count() == 0


def test_red_code_is_refused_at_the_door(resident_client: Client, token: str, person_a: Any) -> None:
    now = dt.datetime.now(dt.UTC)
    health_services.result_recorded(
        person_id=person_a.pk, sample_ref="T1", result="positive", pooled=False, sampled_at=now, now=now
    )
    page = resident_client.get(_checkin(resident_client, token)["Location"]).content.decode()
    assert 'data-colour="red"' in page and 'data-verdict="deny"' in page
    assert "禁止" in page


def test_yellow_code_is_restricted(resident_client: Client, token: str, person_a: Any) -> None:
    now = dt.datetime.now(dt.UTC)
    health_services.companion_flagged(person_id=person_a.pk, case_ref="C1", exposed_at=now, now=now)
    page = resident_client.get(_checkin(resident_client, token)["Location"]).content.decode()
    assert 'data-colour="yellow"' in page and 'data-verdict="restrict"' in page


def test_school_requires_a_recent_negative_test(resident_client: Client, district: Any, vm: Any, person_a: Any) -> None:
    school = make_venue(district, manager=vm, name="高新区实验学校", category="school")
    page = resident_client.get(_checkin(resident_client, token_of(school))["Location"]).content.decode()
    assert 'data-verdict="deny"' in page and "48" in page
    now = dt.datetime.now(dt.UTC)
    health_services.result_recorded(
        person_id=person_a.pk,
        sample_ref="N1",
        result="negative",
        pooled=True,
        sampled_at=now - dt.timedelta(hours=20),
        now=now,
    )
    page = resident_client.get(_checkin(resident_client, token_of(school), "key-0000002")["Location"]).content.decode()
    assert 'data-verdict="allow"' in page


def test_companions_each_get_their_own_check_in_and_verdict(
    resident_client: Client, token: str, family_member: Any, person_b: Any
) -> None:
    now = dt.datetime.now(dt.UTC)
    health_services.companion_flagged(person_id=family_member.pk, case_ref="C9", exposed_at=now, now=now)
    location = _checkin(resident_client, token)["Location"]
    page = resident_client.get(location).content.decode()
    assert "张**" in page  # the household member is offered
    # An outsider's id smuggled into the form is ignored.
    r = resident_client.post(
        f"{location}companions/", {"client_key": "comp-000001", "person": [family_member.pk, person_b.pk]}
    )
    assert r.status_code == 302
    rows = {c.person_id: c for c in CheckIn.objects.all()}
    assert person_b.pk not in rows and len(rows) == 2
    assert rows[family_member.pk].method == "companion" and rows[family_member.pk].verdict == "restrict"
    page = resident_client.get(location).content.decode()
    assert page.count('class="verify ') == 2
    assert 'data-verdict="allow"' in page and 'data-verdict="restrict"' in page
    # Retried companion submission: nothing more.
    resident_client.post(f"{location}companions/", {"client_key": "comp-000001", "person": [family_member.pk]})
    assert CheckIn.objects.count() == 2


def test_saved_companion_without_phone(resident_client: Client, token: str, district: Any) -> None:
    from people.tests.factories import PersonFactory

    grandma = PersonFactory(area=district.household_b, name="李奶奶", has_no_smartphone=True)
    r = resident_client.post("/venues/companions/", {"name": "李奶奶", "id_number": "110101190001011234"})
    assert r.status_code == 400  # a wrong number never reveals whether the name exists
    r = resident_client.post("/venues/companions/", {"name": "李奶奶", "id_number": grandma.id_number})
    assert r.status_code == 302
    location = _checkin(resident_client, token)["Location"]
    resident_client.post(f"{location}companions/", {"client_key": "comp-000002", "person": [grandma.pk]})
    assert CheckIn.objects.filter(person_id=grandma.pk, method="companion").count() == 1


def test_wrong_method(resident_client: Client, token: str) -> None:
    assert resident_client.put(f"/v/{token}/").status_code == 405


def test_the_resident_finds_the_trail_and_companions_on_their_page(resident_client: Client) -> None:
    page = resident_client.get("/people/me/").content.decode()
    assert 'href="/venues/trail/"' in page and 'href="/venues/companions/"' in page and "行动轨迹" in page
