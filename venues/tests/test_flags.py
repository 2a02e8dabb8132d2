"""Review of flagged check-ins: epidemiologists of the territory see them masked, newest first, paged,
and record a finding that is audited and changes nobody's colour; nobody else sees them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.roles import Role
from audit.models import AuditEntry
from conftest import make_user
from health import selectors as health_selectors
from venues.models import CheckIn, FlagReview
from venues.tests.conftest import make_venue, token_of

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2022, 4, 20, 2, 0, tzinfo=dt.UTC)  # 10:00 in Jining


def _login(user: Any) -> Client:
    c = Client()
    c.force_login(user)
    return c


def _far_apart(district: Any, vm: Any, resident: Any, start: dt.datetime, n: int = 1) -> list[int]:
    """``n`` flagged check-ins: the resident at 济宁店, then 10 minutes later at 济南店 (145 km), and
    back, ``n`` times. Returns the flagged ids."""
    jining = make_venue(district, manager=vm, name="济宁店", lat="35.4100", lon="116.5900")
    jinan = make_venue(district, manager=vm, name="济南店", lat="36.6512", lon="117.1201")
    c = Client()
    tokens = [token_of(jining), token_of(jinan)]
    for i in range(n + 1):
        with time_machine.travel(start + dt.timedelta(minutes=10 * i), tick=False):
            c.force_login(resident)
            c.post(f"/v/{tokens[i % 2]}/", {"client_key": f"far-{start:%H%M}-{i:04d}"})
    return list(CheckIn.objects.filter(is_flagged=True).order_by("-checked_in_at").values_list("id", flat=True))


@pytest.fixture
def flagged(district: Any, vm: Any, resident: Any) -> int:
    with time_machine.travel(T0, tick=False):
        ids = _far_apart(district, vm, resident, T0)
    assert len(ids) == 1
    return ids[0]


def test_the_epidemiologist_sees_the_flag_masked_with_what_preceded_it(
    epi: Any, flagged: int, person_a: Any
) -> None:
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        page = _login(epi).get("/venues/flags/").content.decode()
    assert f'id="flag-{flagged}"' in page
    assert "张*" in page and "张三" not in page and person_a.id_number not in page
    assert person_a.id_number[:4] + "*" in page  # the masked number
    assert "济南店" in page and "济宁店" in page  # the flagged venue and the one just before it
    assert "145" in page or "146" in page  # km between them
    assert "两地" in page or "too far" in page


def test_review_is_audited_and_changes_no_colour(epi: Any, flagged: int, person_a: Any) -> None:
    c = _login(epi)
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        before = health_selectors.status_view(person_a.pk, now=T0).colour
        r = c.post(f"/venues/flags/{flagged}/review/", {"outcome": "misuse", "note": "借用他人手机  扫码"})
        assert r.status_code == 302 and r["Location"].endswith(f"#flag-{flagged}")
        review = FlagReview.objects.get(checkin_id=flagged)
        assert (review.outcome, review.note, review.reviewed_by) == ("misuse", "借用他人手机 扫码", epi)
        entry = AuditEntry.objects.get(action="venue.flag_review")
        assert entry.object_id == str(flagged) and entry.extra["outcome"] == "misuse" and entry.actor == epi
        assert health_selectors.status_view(person_a.pk, now=T0).colour == before == "green"
        assert CheckIn.objects.get(pk=flagged).colour == "green"
        # Reviewed: gone from the open list, shown under "reviewed".
        assert f'id="flag-{flagged}"' not in c.get("/venues/flags/").content.decode()
        assert "借用他人手机" in c.get("/venues/flags/?state=reviewed").content.decode()
    # A second review, by another epidemiologist, corrects the first: both kept, the newest shown, audited.
    with time_machine.travel(T0 + dt.timedelta(hours=2), tick=False):
        other = _login(make_user("epi2", Role.EPIDEMIOLOGIST, epi.memberships.get().area))
        r = other.post(f"/venues/flags/{flagged}/review/", {"outcome": "genuine", "note": "本人家属代扫"})
        assert r.status_code == 302
        page = other.get("/venues/flags/?state=reviewed").content.decode()
    assert "本人家属代扫" in page and "借用他人手机" not in page
    kept = FlagReview.objects.filter(checkin_id=flagged).order_by("id").values_list("outcome", flat=True)
    assert list(kept) == ["misuse", "genuine"]
    correction = AuditEntry.objects.filter(action="venue.flag_review").order_by("id").last()
    assert correction.extra["supersedes"] == {"review": review.pk, "outcome": "misuse"}
    assert AuditEntry.objects.filter(action="venue.flag_review").count() == 2


def test_bad_input_and_wrong_method(epi: Any, flagged: int) -> None:
    c = _login(epi)
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        assert c.post(f"/venues/flags/{flagged}/review/", {"outcome": "guilty"}).status_code == 302
        assert c.post(f"/venues/flags/{flagged}/review/", {"outcome": "device", "note": "长" * 201}).status_code == 302
        assert not FlagReview.objects.exists()
        assert c.get(f"/venues/flags/{flagged}/review/").status_code == 405
        assert c.post("/venues/flags/").status_code == 405
        unflagged = CheckIn.objects.filter(is_flagged=False).first()
        assert c.post(f"/venues/flags/{unflagged.pk}/review/", {"outcome": "genuine"}).status_code == 404


def test_nobody_else_sees_flags(
    flagged: int, vm: Any, alice: Any, bob: Any, hq: Any, resident: Any, district: Any
) -> None:
    epi_b = make_user("epi_b", Role.EPIDEMIOLOGIST, district.grid_b)
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        for user in (vm, alice, bob, hq, resident):
            c = _login(user)
            assert c.get("/venues/flags/").status_code == 404, user
            assert c.post(f"/venues/flags/{flagged}/review/", {"outcome": "genuine"}).status_code == 404, user
        # An epidemiologist of another grid: an empty list, and 404 on this check-in.
        c = _login(epi_b)
        assert f'id="flag-{flagged}"' not in c.get("/venues/flags/").content.decode()
        assert c.post(f"/venues/flags/{flagged}/review/", {"outcome": "genuine"}).status_code == 404
    assert not FlagReview.objects.exists()


def test_the_list_is_newest_first_paged_and_has_no_n_plus_one(
    epi: Any, district: Any, vm: Any, resident: Any, settings: Any
) -> None:
    settings.FANGYI = {**settings.FANGYI, "PAGE_SIZE": 5}
    with time_machine.travel(T0, tick=False):
        ids = _far_apart(district, vm, resident, T0, n=2)
    c = _login(epi)
    with time_machine.travel(T0 + dt.timedelta(hours=2), tick=False):
        c.get("/venues/flags/")  # warm the session and the per-process caches
        with CaptureQueriesContext(connection) as few:
            page = c.get("/venues/flags/").content.decode()
        assert page.index(f'id="flag-{ids[0]}"') < page.index(f'id="flag-{ids[1]}"')  # newest first
        more = _far_apart(district, vm, resident, T0 + dt.timedelta(hours=1), n=8)
        assert len(more) == 10
        with CaptureQueriesContext(connection) as many:
            page = c.get("/venues/flags/").content.decode()
        assert page.count('class="card flag-card"') == 5
        assert len(many) == len(few)
        second = c.get("/venues/flags/?page=2").content.decode()
        assert second.count('class="card flag-card"') == 5 and f'id="flag-{more[-1]}"' in second


def test_reviews_are_purged_with_their_check_ins(epi: Any, flagged: int) -> None:
    from django.core.management import call_command

    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        _login(epi).post(f"/venues/flags/{flagged}/review/", {"outcome": "device"})
    with time_machine.travel(T0 + dt.timedelta(days=29), tick=False):
        call_command("venues_retention")
    assert not FlagReview.objects.exists() and not CheckIn.objects.exists()
