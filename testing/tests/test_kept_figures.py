"""A closed round keeps the figures of every node: its coverage pages, its API and its ledger read what
they showed at closing, whoever moves house or whatever is recorded late afterwards."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEntry
from audit.services import Actor
from people.models import Person
from people.tests.factories import PersonFactory
from territory.models import AreaKind
from territory.services import area_create
from testing import selectors, services
from testing.models import HomeSamplingRequest, RoundFigure, RoundStatus, Sample, Tube
from testing.tests.conftest import NOW, fill_tube

pytestmark = pytest.mark.usefixtures("clock")


@pytest.fixture
def town(district: Any, person_a: Any, person_b: Any, site: Any, sampler: Any, rnd: Any) -> dict[str, Any]:
    """Grid A: flat 101 (张三 sampled, one sampled, one away, one left), flat 301 (one awaiting a home
    visit, one left); grid B: flat 101 (李四 sampled, one left)."""
    flat_301 = area_create(parent=district.household_a.parent, kind=AreaKind.HOUSEHOLD, name="301")
    a = [person_a, *PersonFactory.create_batch(3, area=district.household_a)]
    a2 = [PersonFactory(area=flat_301), PersonFactory(area=flat_301)]
    b = [person_b, PersonFactory(area=district.household_b)]
    fill_tube(site, sampler, "K0001", [a[0], a[1], b[0]])
    services.exemption_create(actor=Actor.system(), rnd=rnd, person=a[2], reason="away", now=NOW)
    home = services.home_request_create(actor=Actor.system(), rnd=rnd, person=a2[0], reason="request", now=NOW)
    return {"a": a, "a2": a2, "b": b, "flat_301": flat_301, "home": home}


def _nodes(district: Any, town: dict[str, Any]) -> list[Any]:
    unit = district.household_a.parent
    return [
        district.district, district.community, district.grid_a, unit.parent, unit, district.household_a,
        town["flat_301"], district.grid_b,
    ]


def _seen(client: Any, rnd: Any, nodes: list[Any]) -> dict[str, Any]:
    """Everything a user reads about the round's coverage: each node's page (the table the page
    refreshes), the API, the round page's figures and the ledger by grid."""
    seen: dict[str, Any] = {}
    for node in nodes:
        seen[f"page {node.name}"] = client.get(
            f"/testing/rounds/{rnd.pk}/coverage/?area={node.pk}", HTTP_HX_REQUEST="true"
        ).content.decode()
        seen[f"api {node.name}"] = client.get(
            f"/api/v1/testing/rounds/{rnd.pk}/coverage", {"area_id": node.pk}
        ).json()
    body = client.get(f"/testing/rounds/{rnd.pk}/").content.decode()
    seen["round page"] = body[body.index('<div id="figures">') : body.index("</div></div>")]
    seen["ledger"] = b"".join(client.get(f"/testing/rounds/{rnd.pk}/ledger.csv").streaming_content)
    return seen


def _shake(district: Any, town: dict[str, Any], rnd: Any) -> None:
    """After closing: people move house, move in, and a sample and a home visit are recorded late."""
    moved, left_in_301 = town["a"][1], town["a2"][1]
    Person.objects.filter(pk=moved.pk).update(area=district.household_b, area_path=district.household_b.path)
    PersonFactory.create_batch(3, area=town["flat_301"])
    tube = Tube.objects.get(barcode="K0001")
    Sample.objects.create(
        tube=tube, person=left_in_301, round=rnd, area_path=left_in_301.area_path,
        sampled_at=NOW + dt.timedelta(hours=2),
    )
    HomeSamplingRequest.objects.filter(pk=town["home"].pk).update(status="absent")


def test_a_closed_rounds_coverage_pages_do_not_move(client, hq, town, district, rnd):
    client.force_login(hq)
    services.round_close(actor=Actor(hq), rnd=rnd, now=NOW)
    nodes = _nodes(district, town)
    before = _seen(client, rnd, nodes)
    assert before["api 301"]["node"] | {"label": ""} == {
        "area_id": town["flat_301"].pk, "label": "", "total": 2, "covered": 0, "exempted": 0, "home_pending": 1,
        "left": 1,
    }
    assert "关闭时保存的数据" in before["page 1网格"]

    _shake(district, town, rnd)

    assert _seen(client, rnd, nodes) == before
    # The changes are real: the same round read live would show them.
    rnd.status = RoundStatus.OPEN
    live, _children = selectors.coverage_children(rnd, town["flat_301"])
    assert (live.total, live.covered, live.home_pending) == (5, 1, 0)


def test_every_node_is_kept_and_adds_up_as_counted_by_hand(town, district, rnd, hq):
    closed = services.round_close(actor=Actor(hq), rnd=rnd, now=NOW)
    assert closed.keeps_node_figures
    kept = {f.path: (f.total, f.covered, f.exempted, f.home_pending) for f in RoundFigure.objects.filter(round=rnd)}
    assert kept == {
        district.household_a.path: (4, 2, 1, 0),
        town["flat_301"].path: (2, 0, 0, 1),
        district.household_b.path: (2, 1, 0, 0),
    }
    total, grids = selectors.coverage_children(closed, district.community)
    assert (total.total, total.covered, total.exempted, total.home_pending, total.left) == (8, 3, 1, 1, 3)
    assert [(g.label, g.total, g.left) for g in grids] == [("1网格", 6, 2), ("2网格", 2, 1)]
    assert {k: closed.final_figures[k] for k in ("total", "covered", "left")} == {"total": 8, "covered": 3, "left": 3}
    audit = AuditEntry.objects.get(action="testing.round_close")
    assert audit.extra["households"] == 3 and audit.extra["total"] == 8


def test_closing_keeps_the_figures_in_a_constant_number_of_statements(town, district, rnd, hq):
    """Set-based: one INSERT ... SELECT, not a statement per person or household."""
    more = area_create(parent=district.household_a.parent, kind=AreaKind.HOUSEHOLD, name="302")
    with CaptureQueriesContext(connection) as small:
        services.round_close(actor=Actor(hq), rnd=rnd, now=NOW)
    big_round = services.round_create(
        actor=Actor(hq), name="第五轮", area=district.district, pool_size=10, starts_at=NOW, now=NOW
    )
    PersonFactory.create_batch(30, area=more)
    PersonFactory.create_batch(30, area=district.household_b)
    with CaptureQueriesContext(connection) as big:
        services.round_close(actor=Actor(hq), rnd=big_round, now=NOW)
    assert len(big) == len(small)
    inserts = [q["sql"] for q in big if "INSERT" in q["sql"] and RoundFigure._meta.db_table in q["sql"]]
    assert len(inserts) == 1 and RoundFigure.objects.filter(round=big_round).count() == 4


def test_a_round_closed_before_node_figures_were_kept_says_its_pages_are_live(client, hq, town, district, rnd):
    closed = services.round_close(actor=Actor(hq), rnd=rnd, now=NOW)
    RoundFigure.objects.filter(round=closed).delete()
    closed.final_figures.pop("nodes_kept")
    closed.save(update_fields=["final_figures"])
    client.force_login(hq)
    body = client.get(f"/testing/rounds/{rnd.pk}/coverage/?area={district.grid_a.pk}").content.decode()
    assert "以下为当前数字" in body
    assert "1号楼" in body


def test_no_call_is_logged_on_a_closed_round(client, alice, town, district, rnd, hq):
    from common.errors import Conflict
    from testing.models import CallLog

    closed = services.round_close(actor=Actor(hq), rnd=rnd, now=NOW)
    with pytest.raises(Conflict) as refused:
        services.call_record(actor=Actor(alice), rnd=closed, household=district.household_a, outcome="away", now=NOW)
    assert refused.value.code == "round_closed"
    client.force_login(alice)
    page = client.get(f"/testing/rounds/{rnd.pk}/calls/").content.decode()
    assert "不再记录通话" in page and "call/" not in page
    r = client.post(f"/testing/rounds/{rnd.pk}/households/{district.household_a.pk}/call/", {"outcome": "away"},
                    follow=True)
    assert "本轮检测已结束" in r.content.decode() and not CallLog.objects.exists()


def test_the_admin_cannot_flip_a_rounds_state():
    from django.contrib import admin

    from testing.models import Round

    fields = admin.site._registry[Round].readonly_fields
    assert {"status", "closed_at", "overdue_reminded_at", "final_figures"} <= set(fields)
