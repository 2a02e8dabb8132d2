def test_staff_home_shows_roles_and_counts_in_chinese(client, alice, person_a, person_b):
    client.force_login(alice)
    body = client.get("/").content.decode()
    assert "网格员" in body and "1网格" in body
    assert "辖区人员" in body


def test_english_is_available(client, alice):
    client.force_login(alice)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    body = client.get("/people/").content.decode()
    assert "Search" in body and "搜索" not in body


def test_resident_lands_on_own_page(client, resident):
    client.force_login(resident)
    response = client.get("/")
    assert response.status_code == 302 and response.url == "/people/me/"
    body = client.get("/people/me/").content.decode()
    assert "张*" in body and "我的家庭" in body


def test_navigation_depends_on_role(client, alice, hq):
    client.force_login(alice)
    assert "审计日志" not in client.get("/").content.decode()
    client.force_login(hq)
    assert "审计日志" in client.get("/").content.decode()
    assert client.get("/audit/").status_code == 200


def test_audit_log_is_hidden_from_grid_workers(client, alice):
    client.force_login(alice)
    assert client.get("/audit/").status_code == 404


def test_anonymous_is_sent_to_login(client, db):
    response = client.get("/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
