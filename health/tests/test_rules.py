"""Rule evaluation: a pure function of evidence and the rule version."""

from __future__ import annotations

import datetime as dt

from health.rules import CompanionFact, ManualFact, Rules, SampleFact, evaluate

T = dt.datetime(2022, 4, 10, 8, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)
R = Rules()


def s(ref: str, at: dt.datetime, result: str, pooled: bool = False, rec: dt.datetime | None = None) -> SampleFact:
    return SampleFact(ref, at, result, pooled, rec or at + 6 * H)


def test_nothing_is_green():
    assert evaluate([], [], None, R).reason_code == "default_green"


def test_single_positive_is_red():
    out = evaluate([s("A1", T, "positive")], [], None, R)
    assert (out.colour, out.reason_code, out.evidence) == ("red", "positive_single", "sample:A1")


def test_pooled_positive_is_yellow_never_red():
    out = evaluate([s("P1", T, "positive", pooled=True)], [], None, R)
    assert (out.colour, out.reason_code) == ("yellow", "pool_recheck")


def test_negative_single_recheck_clears_the_pool():
    out = evaluate([s("P1", T, "positive", pooled=True), s("S1", T + 10 * H, "negative")], [], None, R)
    assert out.colour == "green"


def test_pending_recheck_keeps_the_pool_yellow():
    out = evaluate([s("P1", T, "positive", pooled=True), s("S1", T + 10 * H, "pending")], [], None, R)
    assert out.reason_code == "pool_recheck"


def test_positive_recheck_turns_red():
    out = evaluate([s("P1", T, "positive", pooled=True), s("S1", T + 10 * H, "positive")], [], None, R)
    assert out.colour == "red"


def test_companion_yellow_until_two_negatives_a_day_apart_within_three_days():
    c = [CompanionFact("C1", T, T + H)]
    assert evaluate([], c, None, R).reason_code == "companion"
    one = [s("N1", T + 2 * H, "negative")]
    assert evaluate(one, c, None, R).colour == "yellow"
    too_close = [*one, s("N2", T + 12 * H, "negative")]
    assert evaluate(too_close, c, None, R).colour == "yellow"
    cleared = [*one, s("N3", T + 27 * H, "negative")]
    assert evaluate(cleared, c, None, R).colour == "green"


def test_negatives_before_the_exposure_do_not_clear():
    c = [CompanionFact("C1", T, T + H)]
    before = [s("N1", T - 30 * H, "negative"), s("N2", T - 2 * H, "negative")]
    assert evaluate(before, c, None, R).colour == "yellow"


def test_tests_too_far_apart_do_not_clear():
    c = [CompanionFact("C1", T, T + H)]
    far = [s("N1", T + 2 * H, "negative"), s("N2", T + 80 * H, "negative")]
    assert evaluate(far, c, None, R).colour == "yellow"


def test_red_wins_over_yellow():
    out = evaluate([s("A1", T, "positive")], [CompanionFact("C1", T, T)], None, R)
    assert out.colour == "red"


def test_manual_decision_settles_older_evidence():
    manual = ManualFact("green", T + 24 * H, 7)
    out = evaluate([s("A1", T, "positive")], [], manual, R)
    assert (out.colour, out.reason_code, out.evidence) == ("green", "manual", "decision:7")


def test_newer_evidence_overrides_a_manual_green():
    manual = ManualFact("green", T, 7)
    out = evaluate([s("A2", T + 30 * H, "positive")], [], manual, R)
    assert out.colour == "red"


def test_a_rule_version_can_change_the_colours():
    strict = Rules(version=2, pool_recheck_colour="red")
    assert evaluate([s("P1", T, "positive", pooled=True)], [], None, strict).colour == "red"
