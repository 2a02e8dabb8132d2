from audit.models import AuditEntry


def test_grid_worker_reveals_a_phone_with_a_reason_and_it_is_audited(client, alice, person_a):
    client.force_login(alice)
    response = client.post(f"/people/{person_a.pk}/reveal/", {"field": "phone", "reason": "核酸未检电话回访"})
    assert response.status_code == 200
    assert "13812345678" in response.content.decode()
    entry = AuditEntry.objects.get(action="person.reveal_phone")
    assert (entry.actor, entry.object_id, entry.reason) == (alice, str(person_a.pk), "核酸未检电话回访")


def test_grid_worker_may_not_reveal_an_id_number(client, alice, person_a):
    client.force_login(alice)
    response = client.post(f"/people/{person_a.pk}/reveal/", {"field": "id_number", "reason": "想看"})
    assert response.status_code == 400
    assert person_a.id_number not in response.content.decode()
    assert "无权查看明文" in response.content.decode()
    assert not AuditEntry.objects.filter(action__startswith="person.reveal").exists()


def test_reveal_needs_a_reason(client, bob, person_a):
    client.force_login(bob)
    response = client.post(f"/people/{person_a.pk}/reveal/", {"field": "id_number", "reason": " "})
    assert response.status_code == 400
    assert person_a.id_number not in response.content.decode()


def test_community_admin_reveals_id_number(client, bob, person_a):
    client.force_login(bob)
    response = client.post(f"/people/{person_a.pk}/reveal/", {"field": "id_number", "reason": "核对身份"})
    assert person_a.id_number in response.content.decode()
    assert AuditEntry.objects.filter(action="person.reveal_id_number", actor=bob).count() == 1


def test_detail_page_is_masked(client, bob, person_a):
    client.force_login(bob)
    body = client.get(f"/people/{person_a.pk}/").content.decode()
    assert person_a.id_number not in body and "13812345678" not in body
    assert person_a.masked_id_number in body


def test_api_reveal_is_audited_and_scoped(client, alice, charlie, person_a):
    client.force_login(charlie)
    r = client.post(
        f"/api/v1/people/{person_a.pk}/reveal", {"field": "phone", "reason": "x回访"}, content_type="application/json"
    )
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    client.force_login(alice)
    r = client.post(
        f"/api/v1/people/{person_a.pk}/reveal", {"field": "phone", "reason": "回访"}, content_type="application/json"
    )
    assert r.json()["value"] == "13812345678"
