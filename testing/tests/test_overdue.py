"""A round past its deadline is flagged plainly, still takes samples, and its command HQ is reminded
once; nothing closes it but HQ (time frozen or passed explicitly, never slept)."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command

from accounts.roles import Role
from audit.models import AuditEntry
from audit.services import Actor
from conftest import make_user
from notices.models import SmsMessage
from testing import services
from testing.models import Round, RoundPhase, RoundStatus, Sample
from testing.tests.conftest import NOW, token

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


def test_hq_is_reminded_once_and_the_round_stays_open(rnd, hq, hq_phone, district):
    make_user("hq_grid_b", Role.HQ, district.grid_b, phone="13900002222")  # HQ of another part: not its round
    make_user("admin_phone", Role.COMMUNITY_ADMIN, district.community, phone="13900003333")  # cannot close it
    assert services.rounds_overdue_remind(now=DEADLINE - dt.timedelta(seconds=1)) == []

    first = services.rounds_overdue_remind(now=LATE)
    assert first == [(rnd, 1)]
    sms = SmsMessage.objects.get()
    assert sms.phone == "13900001111" and "第四轮" in sms.body and "04-21 15:00" in sms.body
    audit = AuditEntry.objects.get(action="testing.round_overdue")
    assert audit.actor is None and audit.actor_label == "system" and audit.object_id == str(rnd.pk)
    assert audit.extra["overdue_minutes"] == 200 and audit.extra["reminded"] == [hq_phone.pk]

    again = services.rounds_overdue_remind(now=LATE + dt.timedelta(hours=1))
    assert again == [(rnd, None)]
    assert SmsMessage.objects.count() == 1 and AuditEntry.objects.filter(action="testing.round_overdue").count() == 1
    assert Round.objects.get(pk=rnd.pk).status == RoundStatus.OPEN


def test_a_closed_round_is_neither_listed_nor_reminded(rnd, hq, hq_phone):
    services.round_close(actor=Actor(hq), rnd=rnd, now=DEADLINE - dt.timedelta(hours=1))
    assert services.rounds_overdue_remind(now=LATE) == []
    assert not SmsMessage.objects.exists()


def test_the_command_reminds_once_and_lists_what_is_overdue(rnd, hq_phone):
    out = StringIO()
    with time_machine.travel(LATE, tick=False):
        call_command("testing_overdue", stdout=out)
        call_command("testing_overdue", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == f"round {rnd.pk} 第四轮: 3.3 h past its deadline, still open; 1 HQ account(s) reminded now"
    assert lines[2] == f"round {rnd.pk} 第四轮: 3.3 h past its deadline, still open; reminded earlier"
    assert lines[3] == "1 open round(s) past their deadline"
    assert SmsMessage.objects.count() == 1
    assert Round.objects.get(pk=rnd.pk).overdue_reminded_at == LATE


def test_the_gunicorn_master_runs_the_reminders_every_few_minutes(monkeypatch):
    """gunicorn.conf.py starts the job through common.scheduler (tested there with a fake clock)."""
    import runpy

    from common import scheduler
    from venues import scheduler as daily

    conf = runpy.run_path(str(scheduler.ROOT / "gunicorn.conf.py"))
    started = []
    monkeypatch.setattr(daily, "start_from_env", lambda log: None)
    monkeypatch.setattr(scheduler, "start_every_from_env", lambda log, **kw: started.append(kw))

    class Server:
        log = None

    conf["when_ready"](Server())
    assert started == [
        {"name": "testing overdue reminders", "command": ["testing_overdue"], "variable": "FANGYI_OVERDUE_MINUTES",
         "default_minutes": 10}
    ]
