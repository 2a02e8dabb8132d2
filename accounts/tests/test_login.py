from accounts.models import User
from audit.models import AuditEntry

PASSWORD = "correct horse battery"


def post_login(client, username, password, ip="10.1.1.1"):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)


def test_login_page_is_chinese(client, db):
    body = client.get("/accounts/login/").content.decode()
    assert "工作人员登录" in body and "用户名" in body and "密码" in body


def test_good_login_rotates_the_session_and_is_audited(client, alice):
    client.get("/accounts/login/")
    before = client.cookies.get("sessionid")
    response = post_login(client, "alice", PASSWORD)
    assert response.status_code == 302
    assert client.cookies["sessionid"].value != (before.value if before else None)
    assert AuditEntry.objects.filter(action="auth.login", actor=alice).exists()


def test_unknown_user_and_wrong_password_get_the_same_message(client, alice):
    wrong = post_login(client, "alice", "nope").content.decode()
    unknown = post_login(client, "nobody-here", "nope").content.decode()
    assert "用户名或密码错误" in wrong and "用户名或密码错误" in unknown


def test_account_is_throttled_after_five_failures_even_with_the_right_password(client, alice):
    for i in range(5):
        post_login(client, "alice", f"wrong{i}", ip=f"10.0.0.{i}")
    response = post_login(client, "alice", PASSWORD, ip="10.9.9.9")
    assert response.status_code == 429
    assert "失败次数过多" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_unknown_accounts_are_throttled_alike(client, db):
    for i in range(5):
        post_login(client, "ghost", f"wrong{i}", ip=f"10.0.1.{i}")
    assert post_login(client, "ghost", "again", ip="10.0.2.1").status_code == 429


def test_address_is_throttled_across_accounts(client, alice, settings):
    settings.FANGYI = {**settings.FANGYI, "LOGIN_FAILURES_PER_ADDRESS": 3}
    for name in ("u1", "u2", "u3"):
        post_login(client, name, "x", ip="10.7.7.7")
    assert post_login(client, "alice", PASSWORD, ip="10.7.7.7").status_code == 429
    assert post_login(client, "alice", PASSWORD, ip="10.7.7.8").status_code == 302


def test_logout_needs_post(client, alice):
    client.force_login(alice)
    assert client.get("/accounts/logout/").status_code == 405
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/people/").status_code == 302  # back to login


def test_idle_session_expires(client, alice, settings):
    import time_machine

    with time_machine.travel("2026-11-28 08:00 +0800", tick=False) as traveller:
        client.force_login(alice)
        assert client.get("/people/").status_code == 200
        traveller.shift(settings.SESSION_IDLE_SECONDS + 5)
        assert client.get("/people/").status_code == 302


def test_inactive_user_cannot_log_in(client, alice):
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert post_login(client, "alice", PASSWORD).status_code == 401
