"""Issue #4's "done when", walked in Chromium with the demo district's own accounts: the demo venue
manager prints a poster; the QR in the PDF decodes; the demo resident's phone-sized browser opens it,
logs in with a one-time code, sees the verification page and checks in a companion; the venue's
sentinel page checks the companion in again from a typed ID number. It lives here, not in venues,
because it uses the demo generator's accounts, which no domain app may import."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from pypdf import PdfReader

from demo.accounts import DEMO_PASSWORD
from demo.generator import data
from people.models import Person
from venues.models import CheckIn, Venue, VenueCode
from venues.tests.test_manage import decode_poster

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(settings: Any) -> None:
    # A fast hasher: PBKDF2 costs ~0.5 s per account by design.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("demo_district", "--residents", "300", "--seed", "2022", stdout=io.StringIO())
    call_command("venues_demo", stdout=io.StringIO())


def test_demo_manager_prints_resident_scans_with_companion_sentinel_types_an_id(
    demo: None, live_server: Any, browser: Any, phone_page: Any
) -> None:
    from notices.selectors import outbox_recent

    base = live_server.url
    resident = Person.objects.get(phone=data.DEMO_RESIDENT_PHONE)

    # The demo venue manager, on a phone too, finds their venue and prints the poster of its first door.
    staff = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True).new_page()
    staff.goto(f"{base}/accounts/login/")
    staff.fill("#id_username", "venue")
    staff.fill("#id_password", DEMO_PASSWORD)
    staff.click("main button[type=submit]")
    staff.goto(f"{base}/venues/")
    venue = Venue.objects.filter(manager__username="venue", status="approved").order_by("id").first()
    assert venue is not None
    staff.click(f"a[href='/venues/{venue.pk}/']")
    href = staff.locator("text=打印海报（PDF）").first.get_attribute("href")
    with staff.expect_download() as dl:
        staff.evaluate(
            "(href) => { const a = document.createElement('a'); a.href = href; a.download = 'p.pdf'; "
            "document.body.appendChild(a); a.click(); }",
            href,
        )
    pdf = Path(dl.value.path()).read_bytes()
    code = VenueCode.objects.get(entrance__venue=venue, entrance__number=1, revoked_at__isnull=True)
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "逢进必扫" in text and venue.name in text.replace("\n", "")
    assert code.number in text and f"{timezone.localdate():%Y-%m-%d}" in text
    url = decode_poster(pdf)
    assert url.startswith(f"{base}/v/")

    # The demo resident's phone scans it: phone-code login, then the verification page.
    page = phone_page
    page.goto(url)
    assert "/accounts/login/phone/" in page.url
    page.fill("#id_phone", data.DEMO_RESIDENT_PHONE)
    page.click("main button[type=submit]")
    sms = re.search(r"\d{6}", outbox_recent(1)[0].body)
    assert sms is not None
    page.fill("#id_code", sms.group(0))
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/v/s/[^/]+/$"))
    assert page.locator("h1.venue-name").inner_text() == venue.name
    own = page.locator("section.verify").first
    assert own.get_attribute("data-colour") in ("green", "yellow", "red")
    assert resident.name not in own.inner_text() and f"{resident.name[0]}*" in own.inner_text()

    # A companion without a phone: a member of the household, or one saved on the companions page.
    member = Person.objects.filter(area_id=resident.area_id).exclude(pk=resident.pk).order_by("id").first()
    if member is None:
        member = Person.objects.exclude(area_id=resident.area_id).order_by("id").first()
        assert member is not None
        page.goto(f"{base}/venues/companions/")
        page.fill("#id_name", member.name)
        page.fill("#id_id_number", member.id_number)
        page.click("main form:has(#id_name) button[type=submit]")
        page.goto(url)
        page.wait_for_url(re.compile(r"/v/s/[^/]+/$"))
    page.check(f"#companions input[value='{member.pk}']")
    page.click("#companions button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("section.verify").count() >= 2
    assert CheckIn.objects.filter(venue_id=venue.pk, person_id=member.pk, method="companion").count() == 1

    # The venue's sentinel page, the ID number typed by the door staff.
    staff.goto(f"{base}/venues/{venue.pk}/sentinel/")
    staff.fill("#id_code", member.id_number)
    staff.press("#id_code", "Enter")
    staff.wait_for_selector("section.verify")
    assert staff.locator("section.verify").get_attribute("data-verdict") in ("allow", "restrict", "deny")
    assert member.id_number not in staff.content()
    assert CheckIn.objects.filter(venue_id=venue.pk, person_id=member.pk, method="sentinel").count() == 1
