"""Manual status changes: epidemiologists only, with reason and evidence; bulk changes need HQ."""

from __future__ import annotations

import datetime as dt

import pytest

from audit.models import AuditEntry
from audit.services import Actor
from common.errors import DomainError
from health import selectors, services
from health.models import ChangeState, StatusHistory
from people.tests.factories import PersonFactory

NOW = dt.datetime(2022, 4, 20, 8, 0, tzinfo=dt.UTC)


def _change(user, ids, colour="yellow"):
    return services.status_change_request(
        actor=Actor(user), person_ids=ids, colour=colour, reason_code="close_contact",
        note="流调报告 2022-041", now=NOW,
    )


def test_grid_worker_is_refused_and_audited(alice, person_a):
    with pytest.raises(DomainError) as exc:
        _change(alice, [person_a.pk])
    assert exc.value.code == "status_change_forbidden" and exc.value.status == 403
    assert selectors.status_view(person_a.pk, now=NOW).colour == "green"
    assert AuditEntry.objects.filter(action="health.status_change_refused", actor=alice).count() == 1


def test_hq_cannot_change_a_colour_by_hand_either(hq, person_a):
    with pytest.raises(DomainError):
        _change(hq, [person_a.pk])


def test_epidemiologist_change_applies_with_history_and_audit(epi, person_a):
    req = _change(epi, [person_a.pk])
    assert req.state == ChangeState.DONE
    view = selectors.status_view(person_a.pk, now=NOW)
    assert (view.colour, view.reason_code, view.since) == ("yellow", "manual", NOW)
    h = StatusHistory.objects.get(person_id=person_a.pk)
    assert (h.previous_colour, h.colour, h.change_request_id) == ("green", "yellow", req.pk)
    assert AuditEntry.objects.filter(action="health.status_changed", object_id=str(person_a.pk)).count() == 1


def test_a_note_is_required(epi, person_a):
    with pytest.raises(DomainError) as exc:
        services.status_change_request(actor=Actor(epi), person_ids=[person_a.pk], colour="red",
                                       reason_code="other", note="  ", now=NOW)
    assert exc.value.code == "note_required"


@pytest.fixture
def fifty(district):
    return [PersonFactory(area=district.household_b).pk for _ in range(50)]


def test_bulk_change_waits_for_hq_approval(epi, hq, fifty):
    req = _change(epi, fifty)
    assert req.state == ChangeState.AWAITING_APPROVAL and req.applied_count == 0
    assert all(v.colour == "green" for v in selectors.status_views(fifty, now=NOW).values())
    services.change_request_approve(actor=Actor(hq), request_id=req.pk, now=NOW)
    assert services.change_request_apply(request_id=req.pk, actor=Actor(hq), now=NOW) == 50
    req.refresh_from_db()
    assert (req.state, req.applied_count, req.approved_by_id) == (ChangeState.DONE, 50, hq.pk)
    assert all(v.colour == "yellow" for v in selectors.status_views(fifty, now=NOW).values())


def test_the_requester_cannot_approve_their_own_change(epi, fifty):
    from accounts.models import Membership
    from accounts.roles import Role

    Membership.objects.create(user=epi, area_id=Membership.objects.get(user=epi).area_id, role=Role.HQ)
    req = _change(epi, fifty)
    with pytest.raises(DomainError) as exc:
        services.change_request_approve(actor=Actor(epi), request_id=req.pk, now=NOW)
    assert exc.value.code == "second_approver_required"


def test_an_epidemiologist_cannot_approve(epi, fifty):
    req = _change(epi, fifty)
    with pytest.raises(DomainError):
        services.change_request_approve(actor=Actor(epi), request_id=req.pk, now=NOW)


def test_pause_stops_between_items_and_resume_finishes(epi, hq, fifty):
    req = _change(epi, fifty)
    services.change_request_approve(actor=Actor(hq), request_id=req.pk, now=NOW)

    def pause_after_twenty(applied: int) -> None:
        if applied == 20:
            services.change_request_pause(actor=Actor(hq), request_id=req.pk, now=NOW)

    applied = services.change_request_apply(request_id=req.pk, actor=Actor(hq), now=NOW, on_item=pause_after_twenty)
    req.refresh_from_db()
    assert (applied, req.applied_count, req.state) == (20, 20, ChangeState.PAUSED)
    colours = selectors.status_views(fifty, now=NOW)
    assert sum(v.colour == "yellow" for v in colours.values()) == 20
    # Paused: nothing more applies, whoever calls.
    assert services.change_request_apply(request_id=req.pk, actor=Actor(hq), now=NOW) == 0
    services.change_request_resume(actor=Actor(hq), request_id=req.pk, now=NOW)
    assert services.change_request_apply(request_id=req.pk, actor=Actor(hq), now=NOW) == 30
    req.refresh_from_db()
    assert (req.applied_count, req.state) == (50, ChangeState.DONE)
    assert StatusHistory.objects.filter(change_request=req).count() == 50
    assert AuditEntry.objects.filter(action="health.status_changed").count() == 50


def test_grid_worker_cannot_pause(alice, epi, hq, fifty):
    req = _change(epi, fifty)
    services.change_request_approve(actor=Actor(hq), request_id=req.pk, now=NOW)
    with pytest.raises(DomainError):
        services.change_request_pause(actor=Actor(alice), request_id=req.pk, now=NOW)


@pytest.mark.parametrize(
    "action", [services.change_request_approve, services.change_request_reject, services.change_request_pause,
               services.change_request_resume],
)
def test_an_unknown_change_is_404_not_a_crash(hq, action):
    with pytest.raises(DomainError) as exc:
        action(actor=Actor(hq), request_id=987654, now=NOW)
    assert exc.value.status == 404
