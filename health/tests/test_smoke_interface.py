from __future__ import annotations

import datetime as dt

import pytest

from health import selectors, services

NOW = dt.datetime(2022, 4, 20, 8, 0, tzinfo=dt.UTC)


@pytest.mark.django_db
def test_a_person_without_evidence_is_green(person_a):
    view = selectors.status_view(person_a.pk, now=NOW)
    assert (view.colour, view.reason_code, view.badge) == ("green", "default_green", "none")


@pytest.mark.django_db
def test_pooled_positive_is_yellow_and_single_positive_red(person_a, person_b):
    services.result_recorded(person_id=person_a.pk, sample_ref="T1", result="positive", pooled=True,
                             sampled_at=NOW - dt.timedelta(hours=5), now=NOW)
    services.result_recorded(person_id=person_b.pk, sample_ref="T2", result="positive", pooled=False,
                             sampled_at=NOW - dt.timedelta(hours=5), now=NOW)
    views = selectors.status_views([person_a.pk, person_b.pk], now=NOW)
    assert views[person_a.pk].colour == "yellow"
    assert views[person_a.pk].reason_code == "pool_recheck"
    assert views[person_b.pk].colour == "red"
