from people.models import Person
from people.tests.factories import make_id_number


def test_list_is_masked_and_scoped(client, alice, person_a, person_b):
    client.force_login(alice)
    body = client.get("/api/v1/people").json()
    assert body["count"] == 1
    row = body["results"][0]
    assert row["name"] == "张*" and row["phone"] == "138****5678"
    assert row["id_number"] == person_a.masked_id_number
    assert "1网格" in row["address"]


def test_create_then_duplicate_is_409_with_code(client, alice, district):
    client.force_login(alice)
    payload = {"name": "钱七", "id_number": make_id_number(), "area_id": district.household_a.pk}
    assert client.post("/api/v1/people", payload, content_type="application/json").status_code == 201
    again = client.post("/api/v1/people", payload, content_type="application/json")
    assert again.status_code == 409
    assert again.json()["code"] == "person_duplicate" and again.json()["message"]


def test_bad_id_number_is_400_with_code_and_nothing_written(client, alice, district):
    client.force_login(alice)
    payload = {"name": "钱七", "id_number": "370811198506150011", "area_id": district.household_a.pk}
    response = client.post("/api/v1/people", payload, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] in {"id_checksum", "id_region"}
    assert not Person.objects.exists()


def test_malformed_body_is_400_json(client, alice):
    client.force_login(alice)
    response = client.post("/api/v1/people", {"name": 1}, content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_anonymous_is_401_json(client, db):
    response = client.get("/api/v1/people")
    assert response.status_code == 401 and response.json()["code"] == "unauthenticated"


def test_wrong_method_is_405(client, alice, person_a):
    client.force_login(alice)
    assert client.delete(f"/api/v1/people/{person_a.pk}").status_code == 405
    assert client.put("/people/").status_code == 405
