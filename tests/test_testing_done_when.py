"""Issue #5's "Done when", walked in Debian's chromium as the demo users would, on the demo district:
command HQ opens 第四轮 and sets up the 15网格 site and its sampler; the sampler fills and seals two
10-in-1 tubes on a phone-sized page with a keyboard-wedge scanner; the laboratory uploads an .xlsx with
one positive pool; its ten members turn yellow, awaiting recheck, none positive, with recheck tasks in
their grid; the grid worker sees who is left on the coverage page and logs a call."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from openpyxl import Workbook

from audit.services import Actor
from demo.accounts import DEMO_PASSWORD
from demo.generator import data
from health import selectors as health_selectors
from people import selectors as people_selectors
from territory.models import Area, AreaKind
from territory.selectors import subtree_q
from testing import services
from testing.health_port import sampling_token_for
from testing.models import CallLog, Case, RecheckStatus, RecheckTask, Round, Sample, Tube
from testing.selectors import coverage_children

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

POSITIVE, NEGATIVE = "JN0420-0001", "JN0420-0002"


@pytest.fixture
def demo(settings: Any) -> Area:
    # A fast hasher for the demo accounts' logins (PBKDF2 costs ~0.3 s each by design).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    call_command("demo_district", "--residents", "800", "--seed", "2022", "--quiet")
    # The laboratory and its account link exist before the round, as in `manage.py testing_demo`.
    from django.contrib.auth import get_user_model

    lab = services.laboratory_create(actor=Actor.system(), name="济宁高新区核酸检测中心", now=timezone.now())
    lab_user = get_user_model().objects.get(username="lab")
    services.laboratory_member_add(actor=Actor.system(), laboratory=lab, user=lab_user, now=timezone.now())
    district = Area.objects.get(parent=None, kind=AreaKind.DISTRICT, name=data.DISTRICT)
    return Area.objects.get(subtree_q(district.path, "path"), name=data.SAMPLING_GRID)


def login(page: Any, base: str, username: str, next_url: str) -> None:
    page.goto(f"{base}/accounts/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{next_url}")


def wedge(page: Any, text: str) -> None:
    """A keyboard-wedge barcode scanner: types fast, then Enter."""
    page.locator("#scan").focus()
    page.keyboard.type(text, delay=2)
    page.keyboard.press("Enter")


def results_xlsx() -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(["试管条码", "结果"])
    ws.append([POSITIVE, "阳性"])
    ws.append([NEGATIVE, "阴性"])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_done_when_round_station_lab_recheck_coverage_call(live_server: Any, browser: Any, phone_page: Any, demo: Area):
    base, grid = live_server.url, demo
    residents = list(people_selectors.population_within(grid.path).order_by("area_path", "pk")[:20])
    assert len(residents) == 20, "the demo grid 15 needs twenty residents"
    contexts = []

    def desk_page() -> Any:
        """A desktop browser of its own (each demo user on their own computer)."""
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        contexts.append(context)
        return context.new_page()

    page = desk_page()

    # 1. Command HQ opens 第四轮 over the district, 10 in 1, then adds the 15网格 site and its sampler.
    login(page, base, "hq", "/testing/rounds/new/")
    page.fill("#id_name", "第四轮")
    page.select_option("#id_area", label=data.DISTRICT)
    page.select_option("#id_pool_size", value="10")
    page.select_option("#id_laboratory", label="济宁高新区核酸检测中心")
    page.click("main button:has-text('开启本轮')")
    page.wait_for_selector("h1:has-text('第四轮')")
    rnd = Round.objects.get(name="第四轮")
    assert rnd.pool_size == 10 and rnd.area.name == data.DISTRICT
    page.click("text=添加采样点")
    page.fill("#id_name", "接庄社区15网格检测点")
    page.fill("#id_location", "接庄社区15网格 社区广场")
    page.select_option("#id_grid", label=data.SAMPLING_GRID)
    page.click("main form.card button[type=submit]")
    page.wait_for_selector("td:has-text('接庄社区15网格检测点')")
    site = rnd.sites.get()
    page.goto(f"{base}/testing/sites/{site.pk}/staff/")
    page.locator("#id_user").select_option(label=page.locator("#id_user option", has_text="(sampler)").inner_text())
    page.click("main form.card button[type=submit]")
    page.wait_for_selector("text=到本采样点")

    # 2. The sampler, on a phone: two tubes of ten, scanned with a keyboard-wedge scanner, sealed.
    station = phone_page
    login(station, base, "sampler", f"/testing/station/{site.pk}/")
    for barcode, people in ((POSITIVE, residents[:10]), (NEGATIVE, residents[10:])):
        station.wait_for_function("document.getElementById('prompt').textContent === '请扫描新试管条码'")
        wedge(station, barcode)
        station.wait_for_selector(f"#log li:has-text('已开管 {barcode}')")
        for person in people:
            wedge(station, sampling_token_for(person.pk, now=rnd.starts_at))
        station.wait_for_function("document.getElementById('tube-count').textContent === '10'")
        station.click("#seal")
        station.wait_for_selector(f"#log li:has-text('已封管 {barcode}')")
    assert not station.locator("#log li.log-error").count()
    for barcode in (POSITIVE, NEGATIVE):
        tube = Tube.objects.get(barcode=barcode)
        assert tube.status == "sealed" and tube.member_count == 10 and tube.pool_size == 10
    assert Sample.objects.filter(round=rnd).count() == 20

    # 3. The laboratory uploads an Excel file: one positive pool, one negative.
    upload = desk_page()
    login(upload, base, "lab", "/testing/lab/")
    upload.set_input_files(
        "#id_file",
        files=[{"name": "第四轮结果.xlsx", "mimeType": "application/octet-stream", "buffer": results_xlsx()}],
    )
    upload.click("main button:has-text('上传')")
    upload.wait_for_selector("text=逐行处理结果")
    assert upload.locator("td", has_text=POSITIVE).count() == 1 and upload.locator("td", has_text=NEGATIVE).count() == 1

    # 4. The ten members of the positive pool are yellow, awaiting recheck; none is positive.
    positive_ids = {p.pk for p in residents[:10]}
    views = health_selectors.status_views([p.pk for p in residents], now=timezone.now())
    assert {pk for pk, v in views.items() if v.colour == "yellow"} == positive_ids
    assert all(views[p.pk].colour == "green" for p in residents[10:])
    assert not Case.objects.exists()
    tasks = RecheckTask.objects.filter(round=rnd, status=RecheckStatus.OPEN)
    assert {t.person_id for t in tasks} == positive_ids
    assert all(t.area_path.startswith(grid.path) for t in tasks)

    # ... and the grid worker of 15网格 sees the ten recheck tasks and a member's yellow code.
    field = desk_page()
    login(field, base, "gridworker", "/testing/rechecks/")
    rows = field.locator("table tbody tr", has_text=POSITIVE)
    assert rows.count() == 10
    assert field.locator("table tbody tr", has_text=NEGATIVE).count() == 0
    assert rows.first.locator("td").nth(4).inner_text() == "待单采复核"
    member = residents[0]
    field.goto(f"{base}/people/{member.pk}/")
    status = field.locator("#health-status")
    assert "黄码" in status.inner_text() and "待单采复核" in status.inner_text()
    field.goto(f"{base}/people/{residents[15].pk}/")
    assert "黄码" not in field.locator("#health-status").inner_text()

    # 5. The coverage page shows who is left in the grid, and the call list records a call.
    field.goto(f"{base}/testing/rounds/{rnd.pk}/coverage/?area={grid.pk}")
    total, _children = coverage_children(Round.objects.get(pk=rnd.pk), grid)
    assert total.covered == 20 and total.left == total.total - 20 - total.exempted - total.home_pending
    assert field.locator("#figures [data-testid=left]").inner_text() == str(total.left)
    field.click("text=本区域电话核查名单")
    card = field.locator("[data-household]").first
    household_id = int(card.get_attribute("data-household"))
    card.locator("select[name=outcome]").select_option(label="外出")
    card.locator("input[name=note]").fill("在外地出差, 下周返回")
    card.locator("button:has-text('记录通话')").click()
    field.wait_for_selector("text=通话已记录。")
    call = CallLog.objects.get(round=rnd)
    assert call.household_id == household_id and call.outcome == "away" and call.called_by.username == "gridworker"
    assert field.locator(f"[data-household='{household_id}'] .tag", has_text="外出").count() == 1
    for context in contexts:
        context.close()
