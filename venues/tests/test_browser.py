"""End to end in Chromium: apply → review → print → decode the PDF's QR → scan → check in with a
companion; the sentinel with a typed ID number, and its camera where the browser has no BarcodeDetector
(jsQR on video frames)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import segno
from django.utils import timezone

from health import selectors as health_selectors
from venues.models import CheckIn, Venue
from venues.tests.test_manage import decode_poster

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _staff_login(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "correct horse battery")
    page.click("main button[type=submit]")


def test_apply_review_print_scan_with_companion(
    live_server: Any, browser: Any, phone_page: Any, district: Any, vm: Any, bob: Any, resident: Any, family_member: Any
) -> None:
    from notices.selectors import outbox_recent

    base = live_server.url
    staff = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN").new_page()
    _staff_login(staff, base, "vm")
    staff.goto(f"{base}/venues/apply/")
    staff.select_option("#id_category", "restaurant")
    staff.fill("#id_name", "龙城一号饭店")
    staff.fill("#id_address", "龙城一号网格8号")
    staff.fill("#id_contact_name", "王经理")
    staff.fill("#id_contact_phone", "13911112222")
    staff.check("#id_committed")
    staff.click("main button[type=submit]")
    staff.wait_for_url(re.compile(r"/venues/\d+/$"))
    venue = Venue.objects.get()
    assert venue.status == "pending"

    reviewer = browser.new_context().new_page()
    _staff_login(reviewer, base, "bob")
    reviewer.goto(f"{base}/venues/{venue.pk}/")
    reviewer.select_option("#review select[name=decision]", "approve")
    reviewer.click("#review button[type=submit]")
    reviewer.wait_for_load_state()
    venue.refresh_from_db()
    assert venue.status == "approved"

    staff.reload()
    with staff.expect_download() as dl:
        staff.evaluate(
            "(href) => { const a = document.createElement('a'); a.href = href; a.download = 'p.pdf'; "
            "document.body.appendChild(a); a.click(); }",
            staff.locator("text=打印海报（PDF）").first.get_attribute("href"),
        )
    pdf = Path(dl.value.path()).read_bytes()
    url = decode_poster(pdf)
    assert url.startswith(f"{base}/v/")

    page = phone_page
    page.goto(url)
    assert "/accounts/login/phone/" in page.url
    page.fill("#id_phone", resident.phone)
    page.click("main button[type=submit]")
    code = re.search(r"\d{6}", outbox_recent(1)[0].body).group(0)
    page.fill("#id_code", code)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/v/s/[^/]+/$"))
    assert page.locator("h1.venue-name").inner_text() == "龙城一号饭店"
    block = page.locator("section.verify").first
    assert block.get_attribute("data-colour") == "green"
    assert "通行" in block.inner_text() and "张*" in block.inner_text()
    clock_before = page.locator("#server-clock").inner_text()
    page.wait_for_timeout(1100)
    assert page.locator("#server-clock").inner_text() != clock_before  # live, not a screenshot
    page.check(f"#companions input[value='{family_member.pk}']")
    page.click("#companions button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("section.verify").count() == 2
    assert CheckIn.objects.count() == 2


def test_sentinel_with_a_typed_id_number(live_server: Any, phone_page: Any, venue: Any, person_a: Any) -> None:
    page = phone_page
    _staff_login(page, live_server.url, "vm")
    page.goto(f"{live_server.url}/venues/{venue.pk}/sentinel/")
    page.fill("#id_code", person_a.id_number)
    page.press("#id_code", "Enter")  # what a keyboard-wedge scanner does
    page.wait_for_selector("section.verify")
    assert page.locator("section.verify").get_attribute("data-verdict") == "allow"
    assert CheckIn.objects.get().method == "sentinel"


# A browser without BarcodeDetector (Safari on iPhone, Firefox) whose camera films a health code: the
# stream is a canvas showing the QR image, so the page's own path runs: getUserMedia → video → canvas
# frames → jsQR → submit.
_NO_DETECTOR_CAMERA = """
delete window.BarcodeDetector;
const fakeCamera = async function () {
  const c = document.createElement("canvas"); c.width = 640; c.height = 480;
  const g = c.getContext("2d");
  const img = new Image(); img.src = %s; await img.decode();
  const paint = () => { g.fillStyle = "#9a9a9a"; g.fillRect(0, 0, 640, 480); g.drawImage(img, 170, 90, 300, 300); };
  paint(); setInterval(paint, 50);
  return c.captureStream(15);
};
if (navigator.mediaDevices) navigator.mediaDevices.getUserMedia = fakeCamera;
else Object.defineProperty(navigator, "mediaDevices", {value: {getUserMedia: fakeCamera}});
"""


def test_sentinel_camera_without_barcode_detector(
    live_server: Any, phone_page: Any, venue: Any, person_a: Any
) -> None:
    token, _expires = health_selectors.health_token_for(person_a.pk, now=timezone.now())
    qr = segno.make(token, error="m").png_data_uri(scale=5, border=4)
    page = phone_page
    page.add_init_script(_NO_DETECTOR_CAMERA % json.dumps(qr))
    _staff_login(page, live_server.url, "vm")
    page.goto(f"{live_server.url}/venues/{venue.pk}/sentinel/")
    assert page.evaluate("'BarcodeDetector' in window") is False
    # The decoding function alone, on an image of the code.
    decoded = page.evaluate(
        "async (src) => { const i = new Image(); i.src = src; await i.decode();"
        " return await window.fangyiSentinel.decode(i); }",
        qr,
    )
    assert decoded == token
    assert page.evaluate("typeof window.jsQR") == "function"  # loaded on demand, decoded with it
    # The whole camera path: the button is offered, frames are decoded, the form checks the person in.
    page.click("#camera-button")
    page.wait_for_selector("section.verify", timeout=15000)
    assert page.locator("section.verify").get_attribute("data-verdict") == "allow"
    checkin = CheckIn.objects.get()
    assert (checkin.person_id, checkin.method) == (person_a.pk, "sentinel")
