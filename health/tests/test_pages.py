"""The resident's pages, the staff pages and their access rules."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from audit.models import AuditEntry
from audit.services import Actor
from health import selectors, services
from health.models import ChangeRequest, ChangeState, RuleVersion
from people.tests.factories import PersonFactory

NOW = dt.datetime(2022, 4, 20, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_resident_sees_a_green_code_with_a_live_qr(client, resident, frozen):
    client.force_login(resident)
    page = client.get(reverse("health:code"))
    body = page.content.decode()
    assert page.status_code == 200
    assert 'data-colour="green"' in body and "<svg" in body and "hc-clock" in body and "hc-dot" in body
    assert resident.person.name not in body and "张*" in body
    refreshed = client.get(reverse("health:code_refresh")).json()
    assert refreshed["colour"] == "green" and refreshed["svg"].startswith("<svg")
    assert selectors.person_id_from_health_token(refreshed["token"], now=NOW) == resident.person_id


def test_resident_sees_why_since_when_and_what_clears_it(client, resident, epi, frozen):
    services.status_change_request(actor=Actor(epi), person_ids=[resident.person_id], colour="yellow",
                                   reason_code="close_contact", note="流调报告 041", now=NOW)
    client.force_login(resident)
    body = client.get(reverse("health:history"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Decision by an epidemiologist" in body and "A new decision by an epidemiologist" in body
    assert "2022-04-20 16:00" in body  # since, shown in Asia/Shanghai
    assert 'id="history"' in body and "v1" in body


def test_staff_without_a_person_get_404_on_resident_pages(client, alice):
    client.force_login(alice)
    assert client.get(reverse("health:code")).status_code == 404


def test_sampling_card_for_a_household_member_not_for_a_neighbour(client, resident, district, person_b):
    granny = PersonFactory(area=district.household_a, name="王奶奶", has_no_smartphone=True)
    client.force_login(resident)
    card = client.get(reverse("health:sampling_card", args=[granny.pk]))
    assert card.status_code == 200 and "王*" in card.content.decode() and "王奶奶" not in card.content.decode()
    assert client.get(reverse("health:sampling_card", args=[person_b.pk])).status_code == 404
    page = client.get(reverse("health:sampling_code")).content.decode()
    assert reverse("health:sampling_card", args=[granny.pk]) in page


def test_sampling_code_page_holds_only_a_token(client, resident):
    client.force_login(resident)
    body = client.get(reverse("health:sampling_code")).content.decode()
    assert resident.person.id_number not in body and resident.person.name not in body


def test_grid_worker_has_no_change_page_and_a_post_is_refused_and_audited(client, alice, person_a):
    client.force_login(alice)
    assert client.get(reverse("health:change")).status_code == 404
    response = client.post(reverse("health:change"), {
        "id_numbers": person_a.id_number, "colour": "red", "reason_code": "other", "note": "x"})
    assert response.status_code == 403
    assert AuditEntry.objects.filter(action="health.status_change_refused").count() == 1
    assert selectors.status_view(person_a.pk, now=NOW).colour == "green"


def test_epidemiologist_turns_one_person_yellow(client, epi, person_a):
    client.force_login(epi)
    response = client.post(reverse("health:change"), {
        "id_numbers": person_a.id_number, "colour": "yellow", "reason_code": "close_contact",
        "note": "密接, 流调报告 041"})
    assert response.status_code == 302
    assert selectors.status_view(person_a.pk, now=NOW).colour == "yellow"


def test_change_form_reports_unknown_id_numbers(client, epi):
    client.force_login(epi)
    response = client.post(reverse("health:change"), {
        "id_numbers": "370811198506150011", "colour": "yellow", "reason_code": "other", "note": "x"})
    assert response.status_code == 400


def test_bulk_change_of_fifty_waits_for_hq_on_the_approvals_page(client, epi, hq, district):
    ids = [PersonFactory(area=district.household_b) for _ in range(50)]
    client.force_login(epi)
    client.post(reverse("health:change"), {
        "id_numbers": "\n".join(p.id_number for p in ids), "colour": "yellow", "reason_code": "travel",
        "note": "来自中风险地区"})
    req = ChangeRequest.objects.get()
    assert req.state == ChangeState.AWAITING_APPROVAL
    client.force_login(hq)
    page = client.get(reverse("health:approvals")).content.decode()
    assert f'id="request-{req.pk}"' in page and "awaiting_approval" in page
    client.post(reverse("health:approval_action", args=[req.pk, "approve"]))
    req.refresh_from_db()
    assert (req.state, req.applied_count) == (ChangeState.DONE, 50)


def test_hq_edits_a_rule_and_everyone_is_recomputed(client, hq, person_a, frozen):
    services.result_recorded(person_id=person_a.pk, sample_ref="P", result="positive", pooled=True,
                             sampled_at=NOW, now=NOW)
    assert selectors.status_view(person_a.pk, now=NOW).colour == "yellow"
    client.force_login(hq)
    data = {"positive_single_colour": "red", "pool_recheck_colour": "red", "companion_colour": "yellow",
            "companion_clear_tests": 2, "companion_clear_gap_hours": 24, "companion_clear_window_hours": 72,
            "overdue_hours": "", "note": "stricter pools"}
    assert client.post(reverse("health:rules"), data).status_code == 302
    assert RuleVersion.objects.get().version == 2
    view = selectors.status_view(person_a.pk, now=NOW)
    assert (view.colour, view.rule_version) == ("red", 2)
    assert client.get(reverse("health:rules_job")).status_code == 200


def test_rules_page_is_hidden_from_an_epidemiologist(client, epi):
    client.force_login(epi)
    assert client.get(reverse("health:rules")).status_code == 404


def test_person_detail_shows_the_status(client, bob, person_a):
    client.force_login(bob)
    body = client.get(reverse("people:detail", args=[person_a.pk])).content.decode()
    assert 'id="health-status"' in body


def test_recompute_command(person_a, capsys):
    from django.core.management import call_command

    call_command("recompute_status")
    assert "recomputed" in capsys.readouterr().out
