from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from people.tests.factories import PersonFactory


def login(client: Client, user) -> Client:
    client.force_login(user)
    return client


def test_list_shows_masked_people_of_own_grid_only(client, alice, person_a, person_b):
    body = login(client, alice).get("/people/").content.decode()
    assert "张*" in body
    assert person_a.id_number not in body
    assert person_a.masked_id_number in body
    assert "138****5678" in body
    assert "李*" not in body  # person_b lives in grid B


def test_list_is_in_chinese_by_default(client, alice, person_a):
    body = login(client, alice).get("/people/").content.decode()
    assert "搜索" in body and "身份证号" in body


def test_detail_of_another_grid_is_404(client, alice, person_b):
    assert login(client, alice).get(f"/people/{person_b.pk}/").status_code == 404


def test_community_admin_sees_both_grids(client, bob, person_a, person_b):
    body = login(client, bob).get("/people/").content.decode()
    assert "张*" in body and "李*" in body


def test_search_by_full_id_number(client, alice, person_a):
    body = login(client, alice).get("/people/", {"q": person_a.id_number.lower()}).content.decode()
    assert "张*" in body


@pytest.mark.parametrize("n", [3, 60])
def test_list_query_count_does_not_grow(client, alice, district, n):
    PersonFactory.create_batch(n, area=district.household_a)
    login(client, alice)
    client.get("/people/")  # warm the session
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/people/").status_code == 200
    assert len(ctx) <= 6, [q["sql"] for q in ctx.captured_queries]
