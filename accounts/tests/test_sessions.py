"""The signed-in user is read from the cache for a few seconds, yet a deactivated user or a changed
password ends the session at once when saved through the models, and within
SESSION_USER_CACHE_SECONDS when changed behind the models' back; the idle timeout's last-seen time
is written to the database (on PostgreSQL without waiting for the WAL flush)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.middleware import KEY
from accounts.models import User
from accounts.sessions import session_user_cache_seconds

NOW = dt.datetime(2026, 11, 29, 8, 0, tzinfo=dt.UTC)
PEOPLE = "/people/"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def _reads(client) -> tuple[int, list[tuple[bool, bool]]]:
    """The status and, per SELECT on the session or user table, whether it reads (session, user)."""
    with CaptureQueriesContext(connection) as queries:
        status = client.get(PEOPLE).status_code
    sql = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SELECT")]
    tables = [('"django_session"' in q, '"accounts_user"' in q) for q in sql]
    return status, [t for t in tables if any(t)]


def test_a_known_session_reads_its_user_in_the_same_statement(client, alice, clock):
    client.force_login(alice)
    # This process has not seen the session: the session, then the user.
    assert _reads(client) == (200, [(True, False), (False, True)])
    assert _reads(client) == (200, [(True, True)])  # now one statement reads both


def test_a_change_behind_the_models_back_is_seen_at_once_on_a_known_session(client, alice, clock):
    client.force_login(alice)
    assert client.get(PEOPLE).status_code == 200
    User.objects.filter(pk=alice.pk).update(is_active=False)  # no signal, no cache entry dropped
    assert client.get(PEOPLE).status_code == 302  # the user row came with the session


def test_a_change_behind_the_models_back_is_seen_when_the_cache_entry_expires(client, alice, clock):
    """A session this process has not loaded before takes the user from the cache."""
    from accounts import sessions

    client.force_login(alice)
    assert client.get(PEOPLE).status_code == 200
    User.objects.filter(pk=alice.pk).update(is_active=False)
    sessions._USER_OF_SESSION.clear()  # as another server process that has not seen the session
    assert client.get(PEOPLE).status_code == 200  # the cached row still says active
    clock.shift(session_user_cache_seconds() + 1)
    sessions._USER_OF_SESSION.clear()
    assert client.get(PEOPLE).status_code == 302


def test_a_deactivated_user_is_signed_out_at_once(client, alice, clock):
    client.force_login(alice)
    assert client.get(PEOPLE).status_code == 200
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert client.get(PEOPLE).status_code == 302


def test_a_changed_password_ends_the_session_at_once(client, alice, clock):
    client.force_login(alice)
    assert client.get(PEOPLE).status_code == 200
    alice.set_password("another horse battery")
    alice.save(update_fields=["password"])
    assert client.get(PEOPLE).status_code == 302


def test_a_session_with_another_user_s_hash_is_refused(client, alice, bob, clock):
    client.force_login(alice)
    assert client.get(PEOPLE).status_code == 200
    session = client.session
    session["_auth_user_hash"] = bob.get_session_auth_hash()
    session.save()
    assert client.get(PEOPLE).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_the_last_seen_time_reaches_the_database(client, alice):
    """Written outside any transaction (on PostgreSQL without the flush wait): another connection, as a
    restarted server would, reads the new last-seen time."""
    with time_machine.travel(NOW, tick=False) as clock:
        client.force_login(alice)
        assert client.get(PEOPLE).status_code == 200
        clock.shift(61)
        assert client.get(PEOPLE).status_code == 200
    key = client.cookies["sessionid"].value
    cache.clear()  # nothing from this process's copy
    stored = Session.objects.get(session_key=key).get_decoded()
    assert stored[KEY] == int(NOW.timestamp()) + 61
    assert not connection.in_atomic_block


def test_a_session_ended_by_another_server_process_is_refused_here(client, alice):
    """Gunicorn runs several processes, each with its own cache: a logout handled by another process
    deletes the session row, and this process must not keep the resident signed in from a copy."""
    client.force_login(alice)
    assert client.get(PEOPLE).status_code == 200
    Session.objects.filter(session_key=client.cookies["sessionid"].value).delete()  # the other process's logout
    response = client.get(PEOPLE)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
