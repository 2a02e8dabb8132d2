import re

import time_machine

from accounts.models import User
from notices.models import SmsMessage


def ask_code(client, phone="13812345678"):
    return client.post("/accounts/login/phone/", {"step": "phone", "phone": phone})


def latest_code(phone="13812345678"):
    body = SmsMessage.objects.filter(phone=phone).latest("created_at").body
    return re.search(r"\d{6}", body).group(0)


def test_resident_logs_in_with_phone_and_code(client, person_a):
    with time_machine.travel("2026-11-28 08:00 +0800"):
        assert ask_code(client).status_code == 200
        code = latest_code()
        response = client.post("/accounts/login/phone/", {"step": "code", "phone": "13812345678", "code": code})
    assert response.status_code == 302
    user = User.objects.get(phone="13812345678")
    assert user.person == person_a
    assert "验证码" in SmsMessage.objects.get().body


def test_code_works_once(client, person_a):
    with time_machine.travel("2026-11-28 08:00 +0800"):
        ask_code(client)
        code = latest_code()
        client.post("/accounts/login/phone/", {"step": "code", "phone": "13812345678", "code": code})
        client.post("/accounts/logout/")
        again = client.post("/accounts/login/phone/", {"step": "code", "phone": "13812345678", "code": code})
    assert again.status_code == 401
    assert "验证码错误或已过期" in again.content.decode()


def test_code_expires(client, person_a):
    with time_machine.travel("2026-11-28 08:00 +0800", tick=False) as t:
        ask_code(client)
        code = latest_code()
        t.shift(6 * 60)
        late = client.post("/accounts/login/phone/", {"step": "code", "phone": "13812345678", "code": code})
    assert late.status_code == 401


def test_five_wrong_guesses_burn_the_code(client, person_a):
    with time_machine.travel("2026-11-28 08:00 +0800"):
        ask_code(client)
        code = latest_code()
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(5):
            client.post("/accounts/login/phone/", {"step": "code", "phone": "13812345678", "code": wrong})
        right = client.post("/accounts/login/phone/", {"step": "code", "phone": "13812345678", "code": code})
    assert right.status_code == 401


def test_second_request_within_a_minute_is_refused(client, person_a):
    with time_machine.travel("2026-11-28 08:00 +0800", tick=False) as t:
        ask_code(client)
        assert ask_code(client).status_code == 429
        t.shift(61)
        assert ask_code(client).status_code == 200
    assert SmsMessage.objects.count() == 2


def test_unknown_phone_gets_the_same_answer_and_no_sms(client, db):
    response = ask_code(client, "13900009999")
    assert response.status_code == 200
    assert "如该号码已登记" in response.content.decode()
    assert not SmsMessage.objects.exists()


def test_bad_phone_is_explained(client, db):
    response = ask_code(client, "12345")
    assert "请输入11位手机号" in response.content.decode()
