"""The health code page refreshes its QR code by itself and keeps a live server clock."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_health_code_page_refreshes_its_qr(live_server, phone_page, resident, settings):
    settings.FANGYI = {**settings.FANGYI, "HEALTH_CODE_REFRESH_SECONDS": 1}
    client = Client()
    client.force_login(resident)
    cookie = client.cookies["sessionid"]
    page = phone_page
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])
    page.goto(f"{live_server.url}/health/code/")
    assert page.locator("#hc").get_attribute("data-colour") == "green"
    assert page.locator("#hc-qr svg").count() == 1
    first = page.locator("#hc-qr").get_attribute("data-token")
    clock = page.locator("#hc-clock").inner_text()
    assert clock[:4] == "20" + clock[2:4]  # a date, not the placeholder
    page.wait_for_function(
        "t => document.getElementById('hc-qr').dataset.token !== t", arg=first, timeout=10_000
    )
    second = page.locator("#hc-qr").get_attribute("data-token")
    assert second and second != first
    assert page.locator("#hc-clock").inner_text() != "--:--:--"
    assert "张*" in page.content() and resident.person.id_number not in page.content()
