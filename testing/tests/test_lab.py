"""Laboratory results: uploads, re-uploads, unknown tubes, other laboratories, corrections, positive pools."""

from __future__ import annotations

import io
from typing import Any

import pytest

from audit.services import Actor
from notices.models import SmsMessage
from people.tests.factories import PersonFactory
from testing import services
from testing.health_port import colour_of
from testing.models import Case, RecheckTask, Result, ResultCorrection, ResultException
from testing.tests.conftest import NOW, fill_tube

pytestmark = pytest.mark.usefixtures("clock")


def csv_file(rows: list[tuple[str, str]], name: str = "results.csv") -> io.BytesIO:
    text = "试管条码,结果\n" + "".join(f"{b},{r}\n" for b, r in rows)
    f = io.BytesIO(text.encode("utf-8-sig"))
    f.name = name
    return f


def upload(client: Any, rows: list[tuple[str, str]]) -> Any:
    return client.post("/api/v1/testing/lab/results/file", {"file": csv_file(rows)})


@pytest.fixture
def ten(district: Any) -> list[Any]:
    return PersonFactory.create_batch(10, area=district.household_a, phone="13900000000")


@pytest.fixture
def tubes(site: Any, sampler: Any, ten: list[Any], person_b: Any) -> dict[str, Any]:
    return {"pool": fill_tube(site, sampler, "P0001", ten), "other": fill_tube(site, sampler, "P0002", [person_b])}


@pytest.fixture
def lab_client(client: Any, lab_user: Any) -> Any:
    client.force_login(lab_user)
    return client


def fates(response: Any) -> list[str]:
    return [r["fate"] for r in response.json()["rows"]]


def test_every_rows_fate_is_reported(lab_client, tubes):
    r = upload(
        lab_client, [("P0001", "阴性"), ("P0002", "negative"), ("NOPE99", "阴性"), ("", "阴性"), ("P0003", "maybe")]
    )
    assert r.status_code == 200
    assert fates(r) == ["loaded", "loaded", "unknown_tube", "invalid_row", "invalid_row"]
    assert r.json()["counts"] == {"loaded": 2, "unknown_tube": 1, "invalid_row": 2}
    assert Result.objects.count() == 2


def test_uploading_the_same_file_again_changes_nothing(lab_client, tubes):
    rows = [("P0001", "阴性"), ("UNKNOWN1", "阳性")]
    upload(lab_client, rows)
    before = (list(Result.objects.values_list("tube_id", "value", "received_at")), ResultException.objects.count())
    r = upload(lab_client, rows)
    assert fates(r) == ["unchanged", "unknown_tube"]
    assert (
        list(Result.objects.values_list("tube_id", "value", "received_at")),
        ResultException.objects.count(),
    ) == before


def test_an_unknown_tube_goes_to_the_exceptions_list_and_the_rest_loads(lab_client, tubes, lab):
    upload(lab_client, [("P000I", "阴性"), ("P0002", "阴性")])
    exc = ResultException.objects.get()
    assert exc.barcode == "P000I" and exc.status == "open"
    assert Result.objects.get().tube.barcode == "P0002"
    # A human sees it was a misread barcode and applies it to the right tube.
    lab_client.post(f"/testing/lab/exceptions/{exc.pk}/resolve/", {"barcode": "P0001"})
    exc.refresh_from_db()
    assert exc.status == "applied" and Result.objects.get(tube__barcode="P0001").value == "negative"


def test_a_laboratory_cannot_post_results_for_another_laboratorys_tubes(client, other_lab_user, tubes):
    client.force_login(other_lab_user)
    r = upload(client, [("P0001", "阳性")])
    # Answered like an unknown barcode: nothing about the other laboratory's tube is disclosed.
    assert fates(r) == ["unknown_tube"]
    assert not Result.objects.exists() and not RecheckTask.objects.exists()


def test_a_second_different_result_is_refused(lab_client, tubes):
    upload(lab_client, [("P0002", "阴性")])
    r = upload(lab_client, [("P0002", "阳性")])
    assert fates(r) == ["conflict"]
    assert Result.objects.get().value == "negative"


def test_positive_pool_makes_members_await_recheck_not_positive(lab_client, tubes, ten, district):
    from accounts.roles import Role
    from conftest import make_user

    make_user("leader", Role.GRID_LEADER, district.grid_a, display_name="何英俊")
    r = upload(lab_client, [("P0001", "阳性"), ("P0002", "阴性")])
    assert fates(r) == ["loaded", "loaded"]
    for p in ten:
        colour, reason = colour_of(p.pk, now=NOW)
        assert (colour, reason) == ("yellow", "pool_recheck")
    assert RecheckTask.objects.filter(status="open").count() == 10
    assert not Case.objects.exists()
    # The grid worker sees the tasks with address and grid leader.
    client = lab_client
    client.force_login(make_user("gw", Role.GRID_WORKER, district.grid_a))
    body = client.get("/testing/rechecks/").content.decode()
    assert "何英俊" in body and "1号楼" in body and body.count("P0001") == 10


def test_the_single_tube_recheck_closes_the_task(lab_client, tubes, ten, site, sampler, rnd):
    upload(lab_client, [("P0001", "阳性")])
    single = services.round_create(
        actor=Actor.system(),
        name="单采复核",
        area=rnd.area,
        pool_size=1,
        starts_at=NOW,
        laboratory=rnd.laboratory,
        now=NOW,
    )
    s2 = services.site_create(actor=Actor.system(), rnd=single, name="复核点", location="-", grid=site.area, now=NOW)
    fill_tube(s2, sampler, "S0001", [ten[0]])
    fill_tube(s2, sampler, "S0002", [ten[1]])
    upload(lab_client, [("S0001", "阴性"), ("S0002", "阳性")])
    t0 = RecheckTask.objects.get(person=ten[0])
    assert t0.status == "closed" and t0.closing_result == "negative"
    assert RecheckTask.objects.get(person=ten[1]).closing_result == "positive"
    assert colour_of(ten[1].pk, now=NOW)[0] == "red"
    assert Case.objects.get().person == ten[1]  # a positive single tube opens a case for tracing


def test_correction_needs_a_reason_and_a_second_person_and_tells_the_people(
    lab_client, lab_user, lab_reviewer, tubes, ten
):
    upload(lab_client, [("P0001", "阴性")])
    result = Result.objects.get(tube__barcode="P0001")
    with pytest.raises(services.lab.DomainError):
        services.correction_request(actor=Actor(lab_user), result=result, new_value="positive", reason="", now=NOW)
    lab_client.post(
        "/testing/lab/corrections/", {"barcode": "P0001", "new_value": "positive", "reason": "复核发现录入错误"}
    )
    corr = ResultCorrection.objects.get()
    # The requester cannot approve their own correction.
    lab_client.post(f"/testing/lab/corrections/{corr.pk}/approve/")
    corr.refresh_from_db()
    assert corr.status == "pending" and Result.objects.get(pk=result.pk).value == "negative"
    lab_client.force_login(lab_reviewer)
    lab_client.post(f"/testing/lab/corrections/{corr.pk}/approve/")
    corr.refresh_from_db()
    assert corr.status == "applied" and Result.objects.get(pk=result.pk).value == "positive"
    assert colour_of(ten[0].pk, now=NOW) == ("yellow", "pool_recheck")
    assert RecheckTask.objects.filter(tube=result.tube).count() == 10
    assert SmsMessage.objects.filter(phone="13900000000").count() == 10


def test_json_api_with_a_bearer_token(client, lab_user, tubes):
    from accounts.services import api_token_create

    _token, raw = api_token_create(actor=Actor.system(), user=lab_user, name="LIS")
    r = client.post(
        "/api/v1/testing/lab/results",
        {"rows": [{"barcode": "P0002", "result": "negative"}]},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {raw}",
    )
    assert r.status_code == 200 and fates(r) == ["loaded"]


def test_excel_upload(lab_client, tubes):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["试管条码", "检测结果"])
    ws.append(["P0002", "阴性"])
    buf = io.BytesIO()
    wb.save(buf)
    buf.seek(0)
    buf.name = "results.xlsx"
    r = lab_client.post("/testing/lab/", {"file": buf})
    assert r.status_code == 200 and Result.objects.get().tube.barcode == "P0002"
    assert "已载入" in r.content.decode()  # the fate, in Chinese


def test_non_lab_users_get_404(client, alice):
    client.force_login(alice)
    assert client.get("/testing/lab/").status_code == 404
    assert upload(client, [("P0001", "阴性")]).status_code == 404
