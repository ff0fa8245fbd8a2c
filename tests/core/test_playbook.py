"""The attack-response playbook: triggers, planned tasks and their clocks, overdue tasks, what-if."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from resolute.core.playbook import (
    DOMAINS,
    Package,
    Rule,
    overdue,
    plan,
    triggered,
    what_if,
)

UTC = dt.UTC
T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
H = dt.timedelta(hours=1)


@pytest.mark.parametrize("trigger, breach, expected", [
    ("armed_attack", "armed_attack", True), ("armed_attack", "serious", False), ("armed_attack", "minor", False),
    ("serious", "armed_attack", True), ("serious", "serious", True), ("serious", "minor", False),
])
def test_triggered(trigger, breach, expected):
    assert triggered(Rule(trigger), breach) is expected


def test_unknown_breach_class_and_trigger_are_refused():
    with pytest.raises(ValueError, match="breach class"):
        triggered(Rule("serious"), "grave")
    with pytest.raises(ValueError, match="trigger"):
        Rule("incident")


PACKAGES = [
    Package(12, "FRA", "military_capabilities", "air defence battery", Decimal(100), "parliamentary vote", 48, "legally_binding"),
    Package(13, "DEU", "sanctions", "asset freezes", None),
    Package(14, "POL", "logistics", "rail corridor", Decimal(5), "", 30),  # hours without a step: ignored
]


def test_plan_tasks_and_due_times():
    tasks = plan(T0, [Rule("armed_attack"), Rule("serious", 12, 48)], PACKAGES, ["POL", "FRA", "DEU", "FRA"])
    got = {t.key: (t.kind, t.member, t.package_id, t.due - T0) for t in tasks}
    assert got == {
        "consultations": ("consultations", None, None, 12 * H),  # the shortest clock of the rules
        "senior-meeting": ("senior_meeting", None, None, 48 * H),
        "package-12-step": ("national_step", "FRA", 12, 48 * H),
        "package-12-deliver": ("deliver_package", "FRA", 12, (48 + 168) * H),
        "package-13-deliver": ("deliver_package", "DEU", 13, 168 * H),
        "package-14-deliver": ("deliver_package", "POL", 14, 168 * H),
    }
    assert [(t.due, t.key) for t in tasks] == sorted((t.due, t.key) for t in tasks)
    assert "DEU, FRA, POL" in tasks[0].title and "(3:" in tasks[0].title
    step = next(t for t in tasks if t.key == "package-12-step")
    assert "parliamentary vote" in step.title


def test_plan_is_idempotent():
    rules = [Rule("armed_attack")]
    assert plan(T0, rules, PACKAGES, ["FRA"]) == plan(T0, rules, list(reversed(PACKAGES)), ["FRA"])
    keys = [t.key for t in plan(T0, rules, PACKAGES, ["FRA"])]
    assert len(keys) == len(set(keys))


def test_plan_clocks_are_real_hours_across_a_dst_change():
    kyiv = dt.datetime(2026, 3, 28, 12, 0, tzinfo=ZoneInfo("Europe/Kyiv"))  # UTC+2; clocks go to UTC+3 on 29 March
    consult = plan(kyiv, [Rule("armed_attack")], [], ["UKR"])[0]
    assert consult.due == dt.datetime(2026, 3, 29, 10, 0, tzinfo=UTC)
    assert consult.due.utcoffset() == dt.timedelta(0)


def test_plan_refusals():
    with pytest.raises(ValueError, match="timezone-aware"):
        plan(dt.datetime(2026, 3, 1), [Rule("armed_attack")], [], [])
    with pytest.raises(ValueError, match="no triggered rule"):
        plan(T0, [], PACKAGES, ["FRA"])
    with pytest.raises(ValueError, match="package 12 appears twice"):
        plan(T0, [Rule("serious")], [PACKAGES[0], PACKAGES[0]], ["FRA"])


def test_overdue_open_tasks_strictly_past_due_oldest_first():
    kyiv = ZoneInfo("Europe/Kyiv")
    tasks = [
        ("late", T0 - H, "open"),
        ("on-time", T0, "open"),  # due now: not yet overdue
        ("done", T0 - 5 * H, "done"),
        ("blocked", T0 - 5 * H, "blocked"),
        ("later", T0 + H, "open"),
        ("oldest", dt.datetime(2026, 3, 1, 10, 0, tzinfo=kyiv), "open"),  # 08:00 UTC
    ]
    assert overdue(tasks, T0) == ["oldest", "late"]
    with pytest.raises(ValueError, match="timezone-aware"):
        overdue(tasks, dt.datetime(2026, 3, 1))


def test_what_if_members_decline():
    packages = [*PACKAGES, Package(15, "DEU", "military_capabilities", "tanks", Decimal("50.5"))]
    result = what_if(packages, {"FRA", "XXX"})  # XXX has no packages: ignored
    assert list(result) == list(DOMAINS)  # every domain, so an empty one shows as a gap
    mil = result["military_capabilities"]
    assert (mil.packages, mil.value_eur, mil.lost_packages, mil.lost_value_eur, mil.members) == (1, Decimal("50.5"), 1, Decimal(100), ("DEU",))
    sanctions = what_if(packages, {"DEU"})["sanctions"]
    assert (sanctions.packages, sanctions.lost_packages, sanctions.lost_value_eur, sanctions.members) == (0, 1, 0, ())
    untouched = what_if(packages, set())
    assert untouched["logistics"].members == ("POL",) and untouched["intelligence"].packages == 0
    assert all(r.lost_packages == 0 for r in untouched.values())
    with pytest.raises(TypeError, match="not one string"):
        what_if(packages, "FRA")


@pytest.mark.parametrize("kwargs, match", [
    ({"domain": "cyber"}, "domain"),
    ({"binding": "binding"}, "binding"),
    ({"value_eur": Decimal(-1)}, "value_eur"),
    ({"value_eur": 10.0}, "value_eur"),
    ({"national_step_hours": -1}, "national_step_hours"),
])
def test_invalid_packages_are_refused(kwargs, match):
    base = {"id": 1, "member": "FRA", "domain": "diplomatic", "description": "x", "value_eur": None}
    with pytest.raises(ValueError, match=match):
        Package(**{**base, **kwargs})
