import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_grid_worker_logs_in_and_sees_the_person_list_in_chinese(live_server, phone_page, district, person_a, person_b):
    from accounts.roles import Role
    from conftest import make_user

    make_user("wang", Role.GRID_WORKER, district.grid_a)
    page = phone_page
    page.goto(f"{live_server.url}/people/")
    assert "/accounts/login/" in page.url  # not logged in: sent to the login page
    assert page.locator("h1").inner_text() == "工作人员登录"
    page.fill("#id_username", "wang")
    page.fill("#id_password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/people/")
    assert page.locator("h1").inner_text().startswith("人员")
    table = page.locator("table").inner_text()
    assert "张*" in table and "接庄社区 / 1网格" in table
    assert person_a.id_number not in page.content()
    assert "李*" not in table  # another grid
    page.click("text=张*")
    assert page.locator("#id-number").inner_text() == person_a.masked_id_number
    assert page.locator("#phone").inner_text() == "138****5678"
