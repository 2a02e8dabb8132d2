"""Command HQ gives an open round a new deadline, with a reason: the overdue flag clears when the new
deadline is ahead, the round page lists every change, and everybody else is told why not."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine

from accounts.roles import Role
from audit.models import AuditEntry
from audit.services import Actor
from conftest import make_user
from testing import services
from testing.models import Round, RoundDeadlineChange
from testing.tests.conftest import NOW

DEADLINE = NOW + dt.timedelta(hours=24)  # 04-21 15:00 Asia/Shanghai
LATE = DEADLINE + dt.timedelta(hours=3, minutes=20)


@pytest.fixture
def late():
    with time_machine.travel(LATE, tick=False) as traveller:
        yield traveller


def test_hq_extends_an_overdue_round_and_the_page_shows_the_history(client, hq, rnd, late):
    client.force_login(hq)
    page = client.get(f"/testing/rounds/{rnd.pk}/").content.decode()
    assert "已超时 3\xa0小时，20\xa0分钟" in page and 'id="deadline-form"' in page

    response = client.post(
        f"/testing/rounds/{rnd.pk}/deadline/",
        {"deadline_at": "2022-04-22T02:00", "reason": "2号楼临时封控, 需补采"},
    )
    assert response.status_code == 302
    page = client.get(f"/testing/rounds/{rnd.pk}/").content.decode()
    assert "已设定新的截止时间。" in page
    assert "已超时" not in page and "进行中" in page
    history = page[page.index('id="deadline-history"') :]
    assert "04-21 15:00" in history and "04-22 02:00" in history and "2号楼临时封控, 需补采" in history
    assert "hq" in history

    rnd = Round.objects.get(pk=rnd.pk)
    assert rnd.deadline_at == dt.datetime(2022, 4, 21, 18, 0, tzinfo=dt.UTC)
    audit = AuditEntry.objects.get(action="testing.round_deadline")
    assert audit.actor == hq and audit.reason == "2号楼临时封控, 需补采"
    assert audit.extra["old_deadline_at"] == DEADLINE.isoformat() and audit.extra["was_overdue"] is True
    assert audit.extra["overdue"] is False
    # The round list no longer counts it among the overdue ones.
    assert "已超过截止时间" not in client.get("/testing/").content.decode()


def test_a_new_deadline_already_past_keeps_the_round_overdue(client, hq, rnd, late):
    services.round_deadline_set(
        actor=Actor(hq), rnd=rnd, deadline_at=DEADLINE + dt.timedelta(hours=2), reason="按实际情况更正", now=LATE
    )
    client.force_login(hq)
    page = client.get(f"/testing/rounds/{rnd.pk}/").content.decode()
    assert "已超时 1\xa0小时，20\xa0分钟" in page
    assert RoundDeadlineChange.objects.get().old_deadline_at == DEADLINE


@pytest.mark.parametrize("who", ["bob", "hq_b"])
def test_others_who_see_the_round_are_told_only_hq_over_it_may(client, request, district, rnd, who, late):
    """A community admin, and command HQ of one grid, see the district's round but do not command it."""
    user = make_user("hq_b", Role.HQ, district.grid_b) if who == "hq_b" else request.getfixturevalue(who)
    client.force_login(user)
    assert 'id="deadline-form"' not in client.get(f"/testing/rounds/{rnd.pk}/").content.decode()
    response = client.post(
        f"/testing/rounds/{rnd.pk}/deadline/", {"deadline_at": "2022-04-22T02:00", "reason": "想延期"}
    )
    assert response.status_code == 403
    assert "只有负责本轮辖区的指挥部可以更改截止时间。" in response.content.decode()
    assert Round.objects.get(pk=rnd.pk).deadline_at == DEADLINE
    assert not RoundDeadlineChange.objects.exists()


def test_a_closed_round_keeps_its_deadline(client, hq, rnd, late):
    services.round_close(actor=Actor(hq), rnd=rnd, now=LATE)
    client.force_login(hq)
    assert 'id="deadline-form"' not in client.get(f"/testing/rounds/{rnd.pk}/").content.decode()
    response = client.post(f"/testing/rounds/{rnd.pk}/deadline/", {"deadline_at": "2022-04-22T02:00", "reason": "补采"})
    assert response.status_code == 409
    assert "本轮已结束,截止时间不能再更改。" in response.content.decode()
    assert Round.objects.get(pk=rnd.pk).deadline_at == DEADLINE


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"deadline_at": "2022-04-22T02:00", "reason": "  "}, "请填写更改截止时间的原因。"),
        ({"deadline_at": "2022-04-20T14:00", "reason": "更正"}, "截止时间须晚于开始时间。"),
        ({"deadline_at": "2022-04-21T15:00", "reason": "更正"}, "这已经是本轮的截止时间。"),
        ({"deadline_at": "明天", "reason": "更正"}, "新截止时间"),
    ],
)
def test_bad_input_is_refused_with_a_message(client, hq, rnd, late, data, message):
    client.force_login(hq)
    response = client.post(f"/testing/rounds/{rnd.pk}/deadline/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not RoundDeadlineChange.objects.exists()


def test_wrong_method(client, hq, rnd):
    client.force_login(hq)
    assert client.get(f"/testing/rounds/{rnd.pk}/deadline/").status_code == 405


def test_the_api_sets_a_deadline_and_answers_machine_codes(client, hq, bob, rnd, late):
    url = f"/api/v1/testing/rounds/{rnd.pk}/deadline"
    body = {"deadline_at": "2022-04-22T02:00:00", "reason": "补采2号楼"}
    client.force_login(bob)
    refused = client.post(url, json.dumps(body), content_type="application/json")
    assert refused.status_code == 403 and refused.json()["code"] == "not_round_manager"

    client.force_login(hq)
    answer = client.post(url, json.dumps(body), content_type="application/json")
    assert answer.status_code == 200, answer.content
    data = answer.json()
    assert data["phase"] == "open" and data["deadline_at"] == "2022-04-22T02:00:00+08:00"
    assert [c["reason"] for c in data["changes"]] == ["补采2号楼"]

    empty = client.post(url, json.dumps({**body, "reason": ""}), content_type="application/json")
    assert empty.status_code == 400 and empty.json()["code"] == "reason_required"

    services.round_close(actor=Actor(hq), rnd=rnd, now=LATE)
    closed = client.post(
        url, json.dumps({**body, "deadline_at": "2022-04-22T05:00:00"}), content_type="application/json"
    )
    assert closed.status_code == 409 and closed.json()["code"] == "round_closed"
