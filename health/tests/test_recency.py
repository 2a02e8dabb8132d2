"""Test recency, counted from the sampling time, apart from the colour."""

from __future__ import annotations

import datetime as dt

import pytest

from health import selectors, services

T = dt.datetime(2022, 4, 20, 8, 0, tzinfo=dt.UTC)
RESULT_AT = T + dt.timedelta(hours=20)  # results arrive late; recency still counts from sampling


@pytest.fixture
def sampled(person_a):
    services.result_recorded(person_id=person_a.pk, sample_ref="TUBE1", result="negative", pooled=True,
                             sampled_at=T, now=RESULT_AT)
    return person_a


def test_allowed_at_47_59_not_at_48_01(sampled):
    assert selectors.negative_within(sampled.pk, hours=48, now=T + dt.timedelta(hours=47, minutes=59))
    assert not selectors.negative_within(sampled.pk, hours=48, now=T + dt.timedelta(hours=48, minutes=1))


def test_badges(sampled):
    def badge(hours: float) -> str:
        return selectors.status_view(sampled.pk, now=T + dt.timedelta(hours=hours)).badge

    assert badge(47.9) == "48h"
    assert badge(48.1) == "72h"
    assert badge(72.1) == "over72h"
    view = selectors.status_view(sampled.pk, now=T + dt.timedelta(hours=30))
    assert view.hours_since_negative == pytest.approx(30)
    assert view.latest_result == "negative"
    assert view.colour == "green"


def test_a_pending_sample_shows_as_pending(sampled):
    later = T + dt.timedelta(hours=30)
    services.sample_recorded(person_id=sampled.pk, sample_ref="TUBE2", sampled_at=later, now=later)
    view = selectors.status_view(sampled.pk, now=later + dt.timedelta(hours=1))
    assert (view.badge, view.latest_result, view.latest_sampled_at) == ("pending", "pending", later)
    # The previous negative still counts for a 48 h rule.
    assert view.hours_since_negative == pytest.approx(31)


def test_a_positive_latest_result_leaves_no_negative_recency(person_b):
    services.result_recorded(person_id=person_b.pk, sample_ref="X", result="positive", pooled=False,
                             sampled_at=T, now=T)
    view = selectors.status_view(person_b.pk, now=T + dt.timedelta(hours=1))
    assert (view.colour, view.badge, view.hours_since_negative) == ("red", "none", None)


def test_overdue_marker_does_not_change_the_colour(sampled, hq):
    from audit.services import Actor

    services.rules_update(actor=Actor(hq), changes={"overdue_hours": 72}, note="policy", now=T)
    view = selectors.status_view(sampled.pk, now=T + dt.timedelta(hours=80))
    assert view.is_overdue and view.colour == "green"
    assert not selectors.status_view(sampled.pk, now=T + dt.timedelta(hours=10)).is_overdue


def test_status_views_in_constant_queries(district, django_assert_max_num_queries):
    from people.tests.factories import PersonFactory

    people = [PersonFactory(area=district.household_a) for _ in range(30)]
    for p in people[:10]:
        services.result_recorded(person_id=p.pk, sample_ref=f"T{p.pk}", result="negative", pooled=False,
                                 sampled_at=T, now=T)
    from django.core.cache import cache

    cache.clear()
    with django_assert_max_num_queries(2):
        views = selectors.status_views([p.pk for p in people], now=T + dt.timedelta(hours=1))
    assert len(views) == 30 and sum(v.badge == "48h" for v in views.values()) == 10
