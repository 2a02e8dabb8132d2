import pytest
from django.db import DatabaseError, connection, transaction

from audit.models import AppendOnlyError, AuditEntry
from audit.services import Actor, audit_append, audit_record


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


@pytest.mark.parametrize("ip", ["10.0.0.8", "2001:DB8::1", None])
def test_the_lean_append_writes_the_row_audit_record_writes(alice, ip):
    import datetime as dt

    at = dt.datetime(2026, 11, 29, 8, 0, 0, 123456, tzinfo=dt.UTC)
    kwargs = {
        "action": "health.verified",
        "object_type": "people.person",
        "object_id": 7,
        "now": at,
        "extra": {"method": "token", "colour": "绿"},
    }
    for actor in (Actor(user=alice, ip=ip), Actor.system()):
        audit_record(actor=actor, **kwargs)  # type: ignore[arg-type]
        audit_append(actor=actor, **kwargs)  # type: ignore[arg-type]
        audit_append(actor=actor, wait_for_flush=False, **kwargs)  # type: ignore[arg-type]
    fields = ["at", "actor", "actor_label", "action", "object_type", "object_id", "reason", "row_count", "ip", "extra"]
    rows = list(AuditEntry.objects.order_by("id").values_list(*fields))
    assert len(rows) == 6 and rows[0] == rows[1] == rows[2] and rows[3] == rows[4] == rows[5]
    assert rows[0][0] == at and rows[0][1] == alice.pk and rows[3][1] is None and rows[3][2] == "system"


def _synchronous_commit() -> str | None:
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cur:
        cur.execute("SHOW synchronous_commit")
        return str(cur.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_a_lazy_append_turns_off_the_flush_wait_for_its_own_transaction_only(alice):
    """A verification's audit row does not wait for the WAL flush; nothing else loses that wait."""
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    expected_on = None if connection.vendor != "postgresql" else "on"
    expected_off = None if connection.vendor != "postgresql" else "off"
    with transaction.atomic():
        audit_append(actor=Actor(user=alice), action="lazy", object_type="y", object_id=1, now=now,
                     wait_for_flush=False)
        assert _synchronous_commit() == expected_off
    assert _synchronous_commit() == expected_on  # the next transaction waits again
    with transaction.atomic():
        audit_append(actor=Actor(user=alice), action="durable", object_type="y", object_id=2, now=now)
        assert _synchronous_commit() == expected_on
    # In autocommit the statement is its own transaction: written, and the session setting untouched.
    audit_append(actor=Actor(user=alice), action="lazy", object_type="y", object_id=3, now=now, wait_for_flush=False)
    assert _synchronous_commit() == expected_on
    assert list(AuditEntry.objects.order_by("id").values_list("action", "object_id")) == [
        ("lazy", "1"), ("durable", "2"), ("lazy", "3"),
    ]


def test_the_lean_append_is_refused_updates_like_any_row(alice):
    import datetime as dt

    audit_append(actor=Actor(user=alice), action="x", object_type="y", object_id=1, now=dt.datetime.now(dt.UTC))
    entry = AuditEntry.objects.get(action="x")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE audit_auditentry SET reason = 'forged' WHERE id = %s", [entry.pk])
