"""The sampler station in Debian's chromium: a keyboard-wedge scanner types each code and presses
Enter; the network drops mid-tube and the queued scans are sent when it returns."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.roles import Role
from audit.services import Actor
from conftest import make_user
from people.tests.factories import PersonFactory
from testing import services
from testing.health_port import sampling_token_for
from testing.models import Sample, Tube

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def wedge(page, text: str) -> None:
    """What a keyboard-wedge barcode scanner does: type fast, then Enter."""
    page.locator("#scan").focus()
    page.keyboard.type(text, delay=2)
    page.keyboard.press("Enter")


def test_sampler_fills_a_tube_offline_and_online_and_seals_it(live_server, phone_page, district):
    now = timezone.now()
    lab = services.laboratory_create(actor=Actor.system(), name="检测中心", now=now)
    rnd = services.round_create(
        actor=Actor.system(),
        name="第四轮",
        area=district.district,
        pool_size=10,
        starts_at=now - dt.timedelta(hours=1),
        laboratory=lab,
        now=now,
    )
    site = services.site_create(
        actor=Actor.system(), rnd=rnd, name="15网格检测点", location="广场", grid=district.grid_a, now=now
    )
    services.site_staff_add(
        actor=Actor.system(), site=site, user=make_user("caiyang", Role.SAMPLER, district.grid_a), now=now
    )
    people = PersonFactory.create_batch(10, area=district.household_a)
    codes = [sampling_token_for(p.pk, now=now) for p in people]

    page = phone_page
    page.goto(f"{live_server.url}/accounts/login/?next=/testing/station/")
    page.fill("#id_username", "caiyang")
    page.fill("#id_password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/testing/station/{site.pk}/")
    assert page.locator("#prompt").inner_text() == "请扫描新试管条码"

    wedge(page, "JN20220420001")
    page.wait_for_selector("#log li:has-text('已开管')")
    for code in codes[:6]:
        wedge(page, code)
    page.wait_for_function("document.querySelectorAll('#log li.log-ok').length >= 7")
    assert page.locator("#tube-count").inner_text() == "6"
    assert page.locator("#tube-pool").inner_text() == "10"
    assert Sample.objects.count() == 6

    # The same person again is refused on the spot.
    wedge(page, codes[0])
    page.wait_for_selector("#log li.log-error")
    assert page.locator("#tube-count").inner_text() == "6"

    # The network drops: scans are kept on the phone and shown as waiting.
    page.context.set_offline(True)
    for code in codes[6:9]:
        wedge(page, code)
    page.wait_for_function("document.getElementById('pending-count').textContent === '3'")
    assert page.locator("#pending").is_visible()
    assert page.locator("#tube-count").inner_text() == "9"
    assert Sample.objects.count() == 6

    # It comes back: the queue drains with the same keys, nothing twice.
    page.context.set_offline(False)
    page.wait_for_selector("#pending", state="hidden", timeout=15000)
    assert Sample.objects.count() == 9

    wedge(page, codes[9])
    page.wait_for_function("document.getElementById('tube-count').textContent === '10'")
    page.wait_for_function("document.querySelectorAll('#log li.log-ok').length >= 11")
    page.click("#seal")
    page.wait_for_selector("#log li:has-text('已封管')")
    tube = Tube.objects.get(barcode="JN20220420001")
    assert tube.status == "sealed" and tube.member_count == 10 and tube.laboratory == lab
    assert page.locator("#prompt").inner_text() == "请扫描新试管条码"


def test_typed_id_number_fallback_and_green_channel(live_server, phone_page, district):
    now = timezone.now()
    rnd = services.round_create(
        actor=Actor.system(),
        name="第四轮",
        area=district.district,
        pool_size=5,
        starts_at=now - dt.timedelta(hours=1),
        now=now,
    )
    site = services.site_create(
        actor=Actor.system(), rnd=rnd, name="检测点", location="-", grid=district.grid_a, now=now
    )
    services.site_staff_add(
        actor=Actor.system(), site=site, user=make_user("caiyang", Role.SAMPLER, district.grid_a), now=now
    )
    elder = PersonFactory(area=district.household_a, name="张爷爷")
    page = phone_page
    page.goto(f"{live_server.url}/accounts/login/?next=/testing/station/{site.pk}/")
    page.fill("#id_username", "caiyang")
    page.fill("#id_password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/testing/station/{site.pk}/")
    wedge(page, "JN20220420002")
    page.wait_for_selector("#log li:has-text('已开管')")
    page.check("#green")
    page.click("summary")
    page.fill("#idnum", elder.id_number.lower())
    page.click("#idnum-send")
    page.wait_for_selector("#log li:has-text('绿色通道')")
    sample = Sample.objects.get()
    assert sample.person == elder and sample.is_green_channel and sample.by_id_number
