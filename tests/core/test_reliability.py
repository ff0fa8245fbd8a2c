"""The reliability index: reporting days across DST, weights, the serious rule and the calm streak."""

from __future__ import annotations

import datetime as dt

import pytest

from resolute.core.reliability import (
    SEVERITY_WEIGHTS,
    Day,
    ReliabilityRule,
    Violation,
    condition,
    daily_index,
    reporting_day,
)

RULE = ReliabilityRule()
UTC = dt.UTC
D = dt.date


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- reporting days -----------------------------------------------------------------------------


@pytest.mark.parametrize("at, day", [
    ("2026-01-15T17:29", D(2026, 1, 15)),  # winter, UTC+2: cut-off 19:30 local is 17:30 UTC
    ("2026-01-15T17:30", D(2026, 1, 15)),  # the cut-off itself closes the day
    ("2026-01-15T17:31", D(2026, 1, 16)),
    ("2026-01-15T00:00", D(2026, 1, 15)),
    ("2026-12-31T21:00", D(2027, 1, 1)),  # past the cut-off on New Year's Eve
    ("2026-07-15T16:30", D(2026, 7, 15)),  # summer, UTC+3: cut-off is 16:30 UTC
    ("2026-07-15T16:31", D(2026, 7, 16)),
    ("2026-07-15T17:29", D(2026, 7, 16)),  # would still be the 15th on winter time
    # 29 March 2026, clocks go forward at 03:00 local: the day runs 28 Mar 17:30 to 29 Mar 16:30 UTC (23 h)
    ("2026-03-28T17:30", D(2026, 3, 28)),
    ("2026-03-28T17:31", D(2026, 3, 29)),
    ("2026-03-29T16:30", D(2026, 3, 29)),
    ("2026-03-29T16:31", D(2026, 3, 30)),
    # 25 October 2026, clocks go back at 04:00 local: the day runs 24 Oct 16:30 to 25 Oct 17:30 UTC (25 h)
    ("2026-10-24T16:30", D(2026, 10, 24)),
    ("2026-10-24T16:31", D(2026, 10, 25)),
    ("2026-10-25T17:30", D(2026, 10, 25)),
    ("2026-10-25T17:31", D(2026, 10, 26)),
])
def test_reporting_day_boundaries(at, day):
    assert reporting_day(utc(at), RULE) == day


def test_reporting_day_accepts_any_aware_time_and_refuses_naive():
    kyiv = dt.datetime(2026, 1, 15, 19, 31, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert reporting_day(kyiv, RULE) == D(2026, 1, 16)
    with pytest.raises(ValueError, match="aware"):
        reporting_day(dt.datetime(2026, 1, 15, 12), RULE)


@pytest.mark.parametrize("start", ["2026-03-28T12:00", "2026-10-24T12:00"])
@pytest.mark.parametrize("cutoff", ["19:30", "03:30", "00:00"])
def test_reporting_days_never_go_back_across_dst_changes(start, cutoff):
    # 03:30 falls in the skipped hour in spring and the repeated hour in autumn.
    rule = ReliabilityRule(cutoff=cutoff)
    days = [reporting_day(utc(start) + dt.timedelta(minutes=m), rule) for m in range(0, 48 * 60, 5)]
    assert days == sorted(days)
    assert len(set(days)) in (2, 3)


def test_another_timezone_and_cutoff():
    # Day D ends at D's cut-off, so with a midnight cut-off D is the 24 hours before D begins.
    rule = ReliabilityRule(timezone="UTC", cutoff="00:00")
    assert reporting_day(utc("2026-04-30T00:01"), rule) == D(2026, 5, 1)
    assert reporting_day(utc("2026-05-01T00:00"), rule) == D(2026, 5, 1)
    assert reporting_day(utc("2026-05-01T00:01"), rule) == D(2026, 5, 2)


# --- daily index --------------------------------------------------------------------------------


def test_daily_index_weights_serious_rule_and_zero_days():
    violations = [
        Violation(utc("2026-11-01T10:00"), 1),
        Violation(utc("2026-11-01T11:00"), 3),
        Violation(utc("2026-11-01T12:00"), 3),
        Violation(utc("2026-11-01T17:45"), 2),  # after the cut-off: 2 November
        Violation(utc("2026-11-03T09:00"), 4),
        Violation(utc("2026-11-04T09:00"), 3),
        Violation(utc("2026-11-04T09:05"), 3),
        Violation(utc("2026-11-04T09:10"), 2),
        Violation(utc("2026-10-31T17:31"), 5),  # winter time again (UTC+2): past 31 October's cut-off
        Violation(utc("2026-11-06T12:00"), 5),  # after end: ignored
        Violation(utc("2026-10-30T12:00"), 5),  # before start: ignored
    ]
    days = daily_index(violations, D(2026, 11, 1), D(2026, 11, 5), RULE)
    assert [d.day for d in days] == [D(2026, 11, i) for i in range(1, 6)]
    assert [(d.index, d.count, d.serious, d.calm) for d in days] == [
        (0.25 + 2 + 2 + 10, 4, 1, False),
        (1.0, 1, 0, True),
        (5.0, 1, 1, False),  # index at the threshold, but a serious breach
        (5.0, 3, 0, True),  # index exactly at the threshold is calm
        (0.0, 0, 0, True),
    ]


def test_index_just_above_the_threshold_is_not_calm():
    [day] = daily_index([Violation(utc("2026-11-01T10:00"), s) for s in (3, 3, 2, 1)], D(2026, 11, 1), D(2026, 11, 1), RULE)
    assert (day.index, day.serious, day.calm) == (5.25, 0, False)


def test_custom_weights_and_serious_severity():
    rule = ReliabilityRule(weights={1: 0, 2: 0, 3: 1, 4: 2, 5: 3}, serious_severity=5, threshold=2)
    vs = [Violation(utc("2026-11-01T10:00"), s) for s in (1, 1, 1, 4)]
    [day] = daily_index(vs, D(2026, 11, 1), D(2026, 11, 1), rule)
    assert (day.index, day.count, day.serious, day.calm) == (2.0, 4, 0, True)


def test_daily_index_refuses_a_reversed_range():
    with pytest.raises(ValueError, match="after"):
        daily_index([], D(2026, 11, 2), D(2026, 11, 1), RULE)


@pytest.mark.parametrize("at, severity", [(dt.datetime(2026, 1, 1), 3), (utc("2026-01-01T00:00"), 0), (utc("2026-01-01T00:00"), 6), (utc("2026-01-01T00:00"), True)])
def test_violation_validation(at, severity):
    with pytest.raises(ValueError):
        Violation(at, severity)


# --- the condition ------------------------------------------------------------------------------


def series(start: D, calm: str) -> list[Day]:
    """Days from `start`, one per character: '.' calm, 'x' breach by index, 'S' serious breach, ' ' no report."""
    out = []
    for i, c in enumerate(calm):
        if c != " ":
            index, serious = {".": (1.0, 0), "x": (7.5, 0), "S": (12.0, 1)}[c]
            out.append(Day(start + dt.timedelta(days=i), index, serious + 1, serious, c == "."))
    return out


NOV = D(2026, 11, 1)


def nov(i: int) -> D:
    return D(2026, 11, i)


def test_met_after_exactly_the_window():
    days = series(NOV, "S" + "." * 14)
    met = condition(days, RULE, nov(15))
    assert (met.met, met.streak_days, met.needed, met.since, met.last_breach) == (True, 14, 14, nov(2), nov(1))
    assert met.reason == "met: 14 consecutive calm days since 2026-11-02 (14 needed)"
    one_short = condition(days, RULE, nov(14))
    assert (one_short.met, one_short.streak_days) == (False, 13)


def test_not_met_names_the_serious_breach():
    days = series(NOV, "." * 19 + "S" + "." * 9)
    c = condition(days, RULE, nov(29))
    assert (c.met, c.streak_days, c.since, c.last_breach) == (False, 9, nov(21), nov(20))
    assert c.reason == "not met: 9 of 14 calm days; last serious breach on 2026-11-20 (index 12.0)"


def test_a_breach_by_index_and_a_breach_today():
    c = condition(series(NOV, ".....x..."), RULE, nov(9))
    assert c.reason == "not met: 3 of 14 calm days; last breach on 2026-11-06 (index 7.5 above threshold 5.0)"
    today = condition(series(NOV, "." * 20 + "x"), RULE, nov(21))
    assert (today.met, today.streak_days, today.since, today.last_breach) == (False, 0, None, nov(21))


def test_a_series_shorter_than_the_window_cannot_meet_it():
    c = condition(series(NOV, "." * 13), RULE, nov(13))
    assert (c.met, c.streak_days, c.since, c.last_breach) == (False, 13, nov(1), None)
    assert c.reason == "not met: 13 of 14 calm days; the series starts on 2026-11-01"


def test_a_gap_breaks_the_streak():
    c = condition(series(NOV, "." * 10 + " " + "." * 10), RULE, nov(21))
    assert (c.met, c.streak_days, c.since, c.last_breach) == (False, 10, nov(12), None)
    assert "no report for 2026-11-11" in c.reason


def test_as_of_after_the_series_end_is_a_missing_report():
    c = condition(series(NOV, "." * 20), RULE, nov(22))
    assert (c.met, c.streak_days) == (False, 0) and "no report for 2026-11-22" in c.reason


def test_as_of_earlier_than_the_series_end_ignores_later_days():
    days = series(NOV, "S" + "." * 20 + "S")
    early = condition(days, RULE, nov(16))
    assert (early.met, early.streak_days, early.since, early.last_breach) == (True, 15, nov(2), nov(1))
    assert condition(days, RULE, nov(22)).last_breach == nov(22)
    before = condition(days, RULE, D(2026, 10, 20))
    assert (before.met, before.streak_days, before.reason) == (False, 0, "not met: 0 of 14 calm days; no report up to 2026-10-20")


def test_order_does_not_matter_but_duplicates_do():
    days = series(NOV, "S" + "." * 14)
    assert condition(list(reversed(days)), RULE, nov(15)) == condition(days, RULE, nov(15))
    with pytest.raises(ValueError, match="twice"):
        condition(days + days[-1:], RULE, nov(15))


def test_daily_index_feeds_condition():
    rule = ReliabilityRule(window_days=3)
    days = daily_index([Violation(utc("2026-11-02T12:00"), 4)], nov(1), nov(5), rule)
    c = condition(days, rule, nov(5))
    assert (c.met, c.streak_days, c.since, c.last_breach) == (True, 3, nov(3), nov(2))


# --- the rule -----------------------------------------------------------------------------------


def test_rule_defaults_and_from_mapping():
    assert ReliabilityRule.from_mapping({}) == ReliabilityRule()
    assert RULE.weights == SEVERITY_WEIGHTS and RULE.weights is not SEVERITY_WEIGHTS
    rule = ReliabilityRule.from_mapping({"window_days": 7, "weights": {"1": 0, "2": 1, "3": 1, "4": 3, "5": 9}, "cutoff": "18:00"})
    assert (rule.window_days, rule.weights, rule.cutoff) == (7, {1: 0.0, 2: 1.0, 3: 1.0, 4: 3.0, 5: 9.0}, "18:00")
    assert hash(rule) == hash(ReliabilityRule.from_mapping({"window_days": 7, "cutoff": "18:00"}))


@pytest.mark.parametrize("bad, key", [
    ({"window_days": 0}, "window_days"), ({"window_days": 14.0}, "window_days"), ({"window_days": True}, "window_days"),
    ({"threshold": -1}, "threshold"), ({"threshold": float("inf")}, "threshold"), ({"threshold": "5"}, "threshold"),
    ({"serious_severity": 6}, "serious_severity"), ({"serious_severity": 0}, "serious_severity"),
    ({"weights": {1: 1, 2: 1, 3: 1, 4: 1}}, "weights"), ({"weights": {1: 1, 2: 1, 3: 1, 4: 1, 5: -1}}, "weights"),
    ({"weights": {1: 1, "1": 1, 2: 1, 3: 1, 4: 1, 5: 1}}, "weights"), ({"weights": {1.5: 1, 2: 1, 3: 1, 4: 1, 5: 1}}, "weights"),
    ({"weights": [1, 2, 3, 4, 5]}, "weights"),
    ({"timezone": "Europe/Kiev-ish"}, "timezone"), ({"timezone": "../etc"}, "timezone"),
    ({"cutoff": "7:30pm"}, "cutoff"), ({"cutoff": "24:00"}, "cutoff"), ({"cutoff": "19:60"}, "cutoff"),
    ({"window": 14}, "window"), ([("window_days", 14)], "mapping"),
])
def test_rule_validation_names_the_key(bad, key):
    with pytest.raises(ValueError, match=key):
        ReliabilityRule.from_mapping(bad)
