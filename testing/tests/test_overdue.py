"""A round past its deadline is flagged plainly, still takes samples, and its command HQ is reminded at
once and then every policy interval until it closes the round or sets a new deadline; nothing closes
it but HQ (time frozen or passed explicitly, never slept)."""

from __future__ import annotations

import datetime as dt
import threading
from io import StringIO

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.roles import Role
from audit.models import AuditEntry
from audit.services import Actor
from conftest import make_user
from notices.models import SmsMessage
from testing import services
from testing.models import Round, RoundPhase, RoundStatus, Sample
from testing.tests.conftest import NOW, fill_tube, token

DEADLINE = NOW + dt.timedelta(hours=24)  # the default: a round should finish within 24 h
LATE = DEADLINE + dt.timedelta(hours=3, minutes=20)


@pytest.fixture
def hq_phone(district):
    return make_user("hq_phone", Role.HQ, district.district, phone="13900001111")


def test_a_round_past_its_deadline_is_overdue_and_still_takes_samples(rnd, site, sampler, person_a, hq):
    assert rnd.deadline_at == DEADLINE
    assert rnd.phase(DEADLINE - dt.timedelta(seconds=1)) == RoundPhase.OPEN
    assert rnd.phase(DEADLINE) == RoundPhase.OVERDUE
    services.site_staff_add(actor=Actor.system(), site=site, user=sampler, now=NOW)
    tube = services.tube_open(actor=Actor(sampler), site=site, barcode="L0001", now=LATE)
    services.sample_register(actor=Actor(sampler), tube=tube, code=token(person_a, LATE), now=LATE)
    assert Sample.objects.filter(tube=tube).count() == 1
    services.round_close(actor=Actor(hq), rnd=rnd, now=LATE)
    assert Round.objects.get(pk=rnd.pk).phase(LATE) == RoundPhase.CLOSED


def test_the_round_list_and_page_say_how_long_a_round_is_overdue(client, hq, rnd, site, sampler):
    services.site_staff_add(actor=Actor.system(), site=site, user=sampler, now=NOW)
    with time_machine.travel(LATE, tick=False):
        client.force_login(hq)
        index = client.get("/testing/").content.decode()
        assert "已超时 3\xa0小时，20\xa0分钟" in index
        assert "1 个轮次已超过截止时间" in index
        page = client.get(f"/testing/rounds/{rnd.pk}/").content.decode()
        assert "已超时 3\xa0小时，20\xa0分钟" in page and "截止时间为 04-21 15:00" in page
        assert "结束本轮" in page  # HQ closes it by hand, from this page
        client.force_login(sampler)
        assert "仍可采样" in client.get(f"/testing/station/{site.pk}/").content.decode()
    with time_machine.travel(DEADLINE - dt.timedelta(minutes=1), tick=False):
        client.force_login(hq)
        assert "已超时" not in client.get("/testing/").content.decode()


def test_hq_is_reminded_at_once_then_every_interval_and_the_round_stays_open(rnd, hq, hq_phone, district):
    make_user("hq_grid_b", Role.HQ, district.grid_b, phone="13900002222")  # HQ of another part: not its round
    make_user("admin_phone", Role.COMMUNITY_ADMIN, district.community, phone="13900003333")  # cannot close it
    assert services.rounds_overdue_remind(now=DEADLINE - dt.timedelta(seconds=1)) == []

    first = services.rounds_overdue_remind(now=LATE)
    assert first == [(rnd, 1)]
    sms = SmsMessage.objects.get()
    assert sms.phone == "13900001111" and "第四轮" in sms.body and "04-21 15:00" in sms.body
    assert "3.3 小时" in sms.body and "第 1 次提醒" in sms.body
    audit = AuditEntry.objects.get(action="testing.round_overdue")
    assert audit.actor is None and audit.actor_label == "system" and audit.object_id == str(rnd.pk)
    assert audit.extra["overdue_minutes"] == 200 and audit.extra["reminded"] == [hq_phone.pk]
    assert audit.extra["reminder"] == 1

    # Within the policy interval (2 h): nobody is texted again, however often the job runs.
    for minutes in (10, 60, 119):
        assert services.rounds_overdue_remind(now=LATE + dt.timedelta(minutes=minutes)) == [(rnd, None)]
    assert SmsMessage.objects.count() == 1

    # Two hours after the last one: the next reminder, and again two hours later.
    assert services.rounds_overdue_remind(now=LATE + dt.timedelta(hours=2)) == [(rnd, 1)]
    assert services.rounds_overdue_remind(now=LATE + dt.timedelta(hours=3)) == [(rnd, None)]
    assert services.rounds_overdue_remind(now=LATE + dt.timedelta(hours=4, minutes=5)) == [(rnd, 1)]
    bodies = list(SmsMessage.objects.order_by("pk").values_list("body", flat=True))
    assert len(bodies) == 3 and "第 3 次提醒" in bodies[2] and "7.4 小时" in bodies[2]
    assert AuditEntry.objects.filter(action="testing.round_overdue").count() == 3
    kept = Round.objects.get(pk=rnd.pk)
    assert kept.status == RoundStatus.OPEN and kept.overdue_reminder_count == 3


def test_the_interval_is_a_policy(rnd, hq_phone, settings):
    settings.FANGYI = {**settings.FANGYI, "TESTING_OVERDUE_REMIND_HOURS": 0.5}
    services.rounds_overdue_remind(now=LATE)
    assert services.rounds_overdue_remind(now=LATE + dt.timedelta(minutes=29)) == [(rnd, None)]
    assert services.rounds_overdue_remind(now=LATE + dt.timedelta(minutes=30)) == [(rnd, 1)]


def test_a_new_deadline_stops_the_reminders_until_it_passes(rnd, hq, hq_phone):
    services.rounds_overdue_remind(now=LATE)
    later = LATE + dt.timedelta(hours=1)
    services.round_deadline_set(
        actor=Actor(hq), rnd=rnd, deadline_at=later + dt.timedelta(hours=6), reason="2号楼封控, 补采", now=later
    )
    for minutes in (120, 240, 359):
        assert services.rounds_overdue_remind(now=later + dt.timedelta(minutes=minutes)) == []
    # The new deadline passes: reminded at once (the count starts again), not two hours later.
    assert services.rounds_overdue_remind(now=later + dt.timedelta(hours=6, minutes=10)) == [(rnd, 1)]
    assert "第 1 次提醒" in SmsMessage.objects.order_by("-pk").first().body
    assert SmsMessage.objects.count() == 2


def test_a_closed_round_is_neither_listed_nor_reminded(rnd, hq, hq_phone):
    services.round_close(actor=Actor(hq), rnd=rnd, now=DEADLINE - dt.timedelta(hours=1))
    assert services.rounds_overdue_remind(now=LATE) == []
    assert not SmsMessage.objects.exists()


def test_the_command_reminds_per_interval_and_lists_what_is_overdue(rnd, hq_phone):
    out = StringIO()
    with time_machine.travel(LATE, tick=False):
        call_command("testing_overdue", stdout=out)
        call_command("testing_overdue", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == (
        f"round {rnd.pk} 第四轮: 3.3 h past its deadline, still open; 1 HQ account(s) reminded now (reminder 1)"
    )
    assert lines[2] == (
        f"round {rnd.pk} 第四轮: 3.3 h past its deadline, still open; reminded earlier, next reminder from 04-21 20:20"
    )
    assert lines[3] == "1 open round(s) past their deadline"
    assert SmsMessage.objects.count() == 1
    assert Round.objects.get(pk=rnd.pk).overdue_reminded_at == LATE


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_send_one_reminder_per_interval(district):
    """Several nodes run the job at the same moment: each reminder is claimed by exactly one of them."""
    hq = make_user("hq", Role.HQ, district.district, phone="13900001111")
    rnd = services.round_create(
        actor=Actor(hq), name="第四轮", area=district.district, pool_size=10, starts_at=NOW, now=NOW
    )
    runs = 6
    barrier = threading.Barrier(runs)
    answers: list[object] = []

    def node() -> None:
        try:
            barrier.wait()
            answers.extend(services.rounds_overdue_remind(now=LATE))
        finally:
            connection.close()

    threads = [threading.Thread(target=node) for _ in range(runs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(n for _r, n in answers if n is not None) == [1]
    assert len(answers) == runs
    assert SmsMessage.objects.count() == 1
    assert AuditEntry.objects.filter(action="testing.round_overdue").count() == 1
    assert Round.objects.get(pk=rnd.pk).overdue_reminder_count == 1


def test_the_server_runs_the_reminders_every_few_minutes(monkeypatch):
    """config/serve.py starts the job through common.scheduler (tested there with a fake clock)."""
    from common import scheduler
    from config import serve
    from venues import scheduler as daily

    started = []
    monkeypatch.setattr(daily, "start_from_env", lambda log: None)
    monkeypatch.setattr(scheduler, "start_every_from_env", lambda log, **kw: started.append(kw))
    serve.start_jobs(None)
    assert started == [
        {
            "name": "testing overdue reminders",
            "command": ["testing_overdue"],
            "variable": "FANGYI_OVERDUE_MINUTES",
            "default_minutes": 10,
        }
    ]


def test_hq_dashboard_and_round_list_show_how_late_and_how_much_is_left(
    client, hq, alice, rnd, site, sampler, person_a, person_b
):
    services.site_staff_add(actor=Actor.system(), site=site, user=sampler, now=NOW)
    fill_tube(site, sampler, "L0001", [person_a])
    cache.clear()
    with time_machine.travel(LATE, tick=False):
        client.force_login(hq)
        home = client.get("/").content.decode()
        block = home[home.index('id="overdue-rounds"') :]
        assert "1 个核酸检测轮次已超过截止时间仍未结束" in block
        assert "第四轮" in block and "已超时 3\xa0小时，20\xa0分钟" in block
        assert "未采样 50%(1 / 2 人)" in block and "截至 18:20" in block
        index = client.get("/testing/").content.decode()
        assert "未采样 50%(1 / 2 人)" in index[index.index('id="overdue-rounds"') :]
        client.force_login(alice)  # a grid worker: not theirs to close
        assert 'id="overdue-rounds"' not in client.get("/").content.decode()
    with time_machine.travel(DEADLINE - dt.timedelta(minutes=1), tick=False):
        client.force_login(hq)
        assert 'id="overdue-rounds"' not in client.get("/").content.decode()


def test_the_dashboard_and_round_list_read_overdue_rounds_in_constant_queries(client, hq, rnd, district):
    def queries(url: str, shown: int) -> int:
        cache.clear()
        client.force_login(hq)
        client.get(url)  # the session and its user cached like any later request
        cache.delete_many([f"testing:overdue-figures:{r.pk}" for r in Round.objects.all()])
        with CaptureQueriesContext(connection) as ctx, time_machine.travel(LATE, tick=False):
            body = client.get(url).content.decode()
        assert body.count("已超时") == shown * Round.objects.count()
        return len(ctx)

    # The dashboard lists each overdue round once; the round list at the top and in its table.
    one = queries("/", 1), queries("/testing/", 2)
    for name in ("第五轮", "1网格加测"):
        services.round_create(actor=Actor(hq), name=name, area=district.district, pool_size=10, starts_at=NOW, now=NOW)
    assert (queries("/", 1), queries("/testing/", 2)) == one
