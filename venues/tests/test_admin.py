"""Django admin for venues: escaped names, audited corrections, no deletions, no visitor data, scoped."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from accounts.models import User
from accounts.roles import Role
from audit.models import AuditEntry
from conftest import make_user
from venues.models import Venue, VenueCode
from venues.selectors.codes import entrance_for_token
from venues.tests.conftest import make_venue

pytestmark = pytest.mark.django_db

EVIL = '<script>alert("x")</script>'


@pytest.fixture
def root(db: Any) -> Client:
    c = Client()
    c.force_login(User.objects.create_superuser(username="root", password="correct horse battery"))
    return c


def test_names_are_escaped_and_phones_masked(root: Client, district: Any, vm: Any) -> None:
    venue = make_venue(district, manager=vm, name=EVIL)
    for url in ("/admin/venues/venue/", f"/admin/venues/venue/{venue.pk}/change/", "/admin/venues/venuecode/"):
        page = root.get(url).content.decode()
        assert EVIL not in page and "&lt;script&gt;" in page, url
    listing = root.get("/admin/venues/venue/").content.decode()
    assert "13900000000" not in listing and "139****0000" in listing


def test_a_correction_is_audited_and_reaches_the_scan_at_once(root: Client, venue: Venue, token: str) -> None:
    assert entrance_for_token(token).venue_name == "接庄超市"  # cached now
    form = {
        "name": "接庄超市(崇文店)", "category": venue.category, "address": venue.address,
        "contact_name": venue.contact_name, "contact_phone": venue.contact_phone, "latitude": "35.41",
        "longitude": "116.59", "manager": venue.manager_id,
        "entrances-TOTAL_FORMS": "2", "entrances-INITIAL_FORMS": "2", "entrances-MIN_NUM_FORMS": "0",
        "entrances-MAX_NUM_FORMS": "1000",
    }
    for i, e in enumerate(venue.entrances.order_by("number")):
        form |= {f"entrances-{i}-id": str(e.pk), f"entrances-{i}-venue": str(venue.pk), f"entrances-{i}-name": e.name}
    r = root.post(f"/admin/venues/venue/{venue.pk}/change/", form)
    assert r.status_code == 302, r.content.decode()[:2000]
    entry = AuditEntry.objects.get(action="venue.admin_change")
    assert entry.object_id == str(venue.pk) and "name" in entry.extra["fields"]
    assert entrance_for_token(token).venue_name == "接庄超市(崇文店)"
    venue.refresh_from_db()
    assert venue.status == "approved"  # the status is not a field of the form


def test_nothing_is_deleted_or_added_here(root: Client, venue: Venue) -> None:
    code = VenueCode.objects.filter(entrance__venue=venue).first()
    assert root.get(f"/admin/venues/venue/{venue.pk}/delete/").status_code == 403
    assert root.get("/admin/venues/venue/add/").status_code == 403
    assert root.get(f"/admin/venues/venuecode/{code.pk}/delete/").status_code == 403
    assert root.post(f"/admin/venues/venuecode/{code.pk}/change/", {"serial": 9}).status_code == 403
    assert Venue.objects.filter(pk=venue.pk).exists() and VenueCode.objects.get(pk=code.pk).serial == code.serial


def test_no_visitor_data_in_the_admin(root: Client, resident_client: Client, token: str) -> None:
    resident_client.post(f"/v/{token}/", {"client_key": "admin-000001"})
    for model in ("checkin", "checkinrequest", "savedcompanion", "flagreview", "venuedailycount"):
        assert root.get(f"/admin/venues/{model}/").status_code == 404, model
    assert "张" not in root.get("/admin/venues/").content.decode()


def test_staff_see_only_their_territory(district: Any, vm: Any) -> None:
    mine = make_venue(district, manager=vm, name="一网格店")
    theirs = make_venue(district, manager=vm, name="二网格店", grid=district.grid_b)
    staff = make_user("staff_b", Role.COMMUNITY_ADMIN, district.grid_b, is_staff=True)
    codenames = ["view_venue", "change_venue", "view_venuecode"]
    staff.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    c = Client()
    c.force_login(staff)
    listing = c.get("/admin/venues/venue/").content.decode()
    assert "二网格店" in listing and "一网格店" not in listing
    assert c.get(f"/admin/venues/venue/{mine.pk}/change/").status_code == 302  # not found: back to the list
    assert c.get(f"/admin/venues/venue/{theirs.pk}/change/").status_code == 200
    codes = c.get("/admin/venues/venuecode/").content.decode()
    assert codes.count(f"{theirs.pk:06d}-") == 2 and f"{mine.pk:06d}-" not in codes
