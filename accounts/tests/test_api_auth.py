from django.utils import timezone

from accounts.models import ApiToken
from accounts.services import api_token_create
from audit.services import Actor


def test_token_authenticates_machine_clients(client, alice, person_a):
    _token, raw = api_token_create(actor=Actor.system(), user=alice, name="lab device")
    response = client.get("/api/v1/people", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_bad_or_revoked_tokens_are_401_json(client, alice):
    token, raw = api_token_create(actor=Actor.system(), user=alice, name="x")
    bad = client.get("/api/v1/people", HTTP_AUTHORIZATION=f"Bearer {raw}x")
    assert bad.status_code == 401 and bad.json()["code"] == "unauthenticated"
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=timezone.now())
    assert client.get("/api/v1/people", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_only_a_hash_of_the_token_is_stored(alice):
    token, raw = api_token_create(actor=Actor.system(), user=alice, name="x")
    assert raw.split("_", 2)[2] not in token.key_hash


def test_me_lists_roles(client, alice):
    client.force_login(alice)
    body = client.get("/api/v1/me").json()
    assert body["memberships"][0]["role"] == "grid_worker"


def test_openapi_schema_and_docs(client, db):
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/people" in schema["paths"]
    assert client.get("/api/v1/docs").status_code == 200


def test_machine_client_posts_with_a_token_and_no_csrf(alice, district):
    from django.test import Client

    from people.tests.factories import make_id_number

    _token, raw = api_token_create(actor=Actor.system(), user=alice, name="device")
    strict = Client(enforce_csrf_checks=True)
    payload = {"name": "孙八", "id_number": make_id_number(), "area_id": district.household_a.pk}
    response = strict.post(
        "/api/v1/people", payload, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw}"
    )
    assert response.status_code == 201, response.content


def test_browser_session_posts_still_need_csrf(alice, district):
    from django.test import Client

    from people.tests.factories import make_id_number

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    payload = {"name": "孙八", "id_number": make_id_number(), "area_id": district.household_a.pk}
    assert strict.post("/api/v1/people", payload, content_type="application/json").status_code == 403
