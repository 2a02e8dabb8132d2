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
