import pytest
from django.db import DatabaseError, connection, transaction

from audit.models import AppendOnlyError, AuditEntry
from audit.services import Actor, audit_record


@pytest.fixture
def entry(db):
    return audit_record(actor=Actor.system(), action="test.action", object_type="x", object_id="1", reason="why")


def test_an_entry_records_who_what_and_why(entry, alice):
    e = audit_record(actor=Actor(user=alice, ip="10.0.0.8"), action="person.reveal_phone", object_id=7, reason="回访")
    e.refresh_from_db()
    assert (e.actor, e.actor_label, e.ip, e.reason, e.row_count) == (alice, "alice", "10.0.0.8", "回访", 1)


def test_model_refuses_update_and_delete(entry):
    entry.reason = "changed"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).update(reason="x")
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()


def test_database_refuses_update_even_from_raw_sql(entry):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE audit_auditentry SET reason = 'forged' WHERE id = %s", [entry.pk])
    entry.refresh_from_db()
    assert entry.reason == "why"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite keeps DELETE for the test runner's flush")
def test_postgres_refuses_delete_from_raw_sql(entry):
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM audit_auditentry WHERE id = %s", [entry.pk])
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_admin_cannot_change_or_delete(client, django_user_model, entry):
    admin = django_user_model.objects.create_superuser("root", password="x-very-long-pass")
    client.force_login(admin)
    assert client.get(f"/admin/audit/auditentry/{entry.pk}/delete/").status_code == 403
    response = client.post(f"/admin/audit/auditentry/{entry.pk}/change/", {"reason": "forged"})
    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.reason == "why"
