"""The attack-response playbook (element 4): binding commitments that activate when the Special
Commission determines a renewed armed attack, turned into tasks with clocks.

Clocks follow the precedents in reference/guarantees.md: consultations within 24 hours (2024
bilateral security agreements, NATO Article 5 in 2001), a senior meeting within 72 hours, then each
member's national step (e.g. a parliamentary vote) and delivery. All times are timezone-aware and
computed in UTC; durations are whole hours.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

DOMAINS = ("military_capabilities", "intelligence", "logistics", "diplomatic", "sanctions")
BINDING = ("draft", "political", "legally_binding")
TRIGGERS = ("armed_attack", "serious")
BREACH_CLASSES = ("armed_attack", "serious", "minor")  # most to least grave
DELIVERY_HOURS = 7 * 24  # a package is due 7 days after its national step, or after activation without one


def _hours(x, what: str) -> None:
    if not (isinstance(x, int) and not isinstance(x, bool) and x >= 0):
        raise ValueError(f"{what} must be a whole number of hours >= 0, got {x!r}")


def _utc(at: dt.datetime, what: str) -> dt.datetime:
    if at.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC)")
    # Adding hours to a local time is wall-clock arithmetic in Python: 24 h across a DST change
    # would be 23 or 25 real hours. In UTC it is exact.
    return at.astimezone(dt.UTC)


@dataclass(frozen=True)
class Rule:
    """trigger: "armed_attack" (an armed-attack determination) or "serious" (a serious breach or
    worse); consultations_hours, senior_meeting_hours: clocks from activation, hours."""

    trigger: str
    consultations_hours: int = 24
    senior_meeting_hours: int = 72

    def __post_init__(self) -> None:
        if self.trigger not in TRIGGERS:
            raise ValueError(f"trigger must be one of {', '.join(TRIGGERS)}, got {self.trigger!r}")
        _hours(self.consultations_hours, "consultations_hours")
        _hours(self.senior_meeting_hours, "senior_meeting_hours")


@dataclass(frozen=True)
class Package:
    """A member's pre-pledged response. value_eur: euros, None when not valued; national_step:
    what the member must do first (blank if nothing), national_step_hours: its clock, hours."""

    id: int
    member: str  # ISO 3166 alpha-3
    domain: str
    description: str
    value_eur: Decimal | None
    national_step: str = ""
    national_step_hours: int = 0
    binding: str = "political"

    def __post_init__(self) -> None:
        if self.domain not in DOMAINS:
            raise ValueError(f"package {self.id}: domain must be one of {', '.join(DOMAINS)}, got {self.domain!r}")
        if self.binding not in BINDING:
            raise ValueError(f"package {self.id}: binding must be one of {', '.join(BINDING)}, got {self.binding!r}")
        if self.value_eur is not None and not (isinstance(self.value_eur, Decimal) and self.value_eur.is_finite() and self.value_eur >= 0):
            raise ValueError(f"package {self.id}: value_eur must be a Decimal >= 0 or None, got {self.value_eur!r}")
        _hours(self.national_step_hours, f"package {self.id}: national_step_hours")


@dataclass(frozen=True)
class TaskPlan:
    key: str  # stable: planning the same activation twice gives the same keys
    kind: str  # "consultations" | "senior_meeting" | "national_step" | "deliver_package"
    member: str | None  # None: all members
    package_id: int | None
    due: dt.datetime  # UTC
    title: str


def triggered(rule: Rule, breach_class: str) -> bool:
    """Whether a determination of `breach_class` ("armed_attack", "serious" or "minor") activates
    the rule: an armed attack is also serious, so it triggers both kinds of rule."""
    if breach_class not in BREACH_CLASSES:
        raise ValueError(f"breach class must be one of {', '.join(BREACH_CLASSES)}, got {breach_class!r}")
    return breach_class == "armed_attack" or (breach_class == "serious" and rule.trigger == "serious")


def plan(activated_at: dt.datetime, rules: Sequence[Rule], packages: Sequence[Package], members: Sequence[str]) -> list[TaskPlan]:
    """The response tasks of one activation, ordered by due time (UTC) then key.

    rules: the rules that triggered (see triggered()); where several apply, the shortest clock
    wins, since the strongest commitment binds. members: the members convened to consultations
    and the senior meeting. Every package gets a deliver_package task, due DELIVERY_HOURS after
    its national step, or after activation when it has none; national_step_hours without a
    national step are ignored. Raises ValueError when no rule is given: a guarantee that
    activates nothing concrete is the failure to avoid, so it must not pass silently."""
    if not rules:
        raise ValueError("no triggered rule: the activation would plan nothing")
    start = _utc(activated_at, "activated_at")
    convened = sorted(set(members))
    who = f"all members ({len(convened)}: {', '.join(convened)})" if convened else "all members"

    def at(hours: int) -> dt.datetime:
        return start + dt.timedelta(hours=hours)

    tasks = [
        TaskPlan("consultations", "consultations", None, None, at(min(r.consultations_hours for r in rules)),
                 f"Consultations of {who}"),
        TaskPlan("senior-meeting", "senior_meeting", None, None, at(min(r.senior_meeting_hours for r in rules)),
                 f"Senior meeting of {who}: agree the response measures"),
    ]
    seen = set()
    for p in packages:
        if p.id in seen:
            raise ValueError(f"package {p.id} appears twice")
        seen.add(p.id)
        what = f"package {p.id} ({p.domain.replace('_', ' ')})"
        step = p.national_step.strip()
        if step:
            tasks.append(TaskPlan(f"package-{p.id}-step", "national_step", p.member, p.id, at(p.national_step_hours),
                                  f"{p.member}: {step} for {what}"))
        tasks.append(TaskPlan(f"package-{p.id}-deliver", "deliver_package", p.member, p.id,
                              at((p.national_step_hours if step else 0) + DELIVERY_HOURS),
                              f"{p.member}: deliver {what}: {p.description}"))
    return sorted(tasks, key=lambda t: (t.due, t.key))


def overdue(tasks: Iterable[tuple[str, dt.datetime, str]], now: dt.datetime) -> list[str]:
    """Keys of the tasks (key, due, status) still "open" strictly after their due time (aware),
    oldest due first; done, declined or blocked tasks are never overdue."""
    now = _utc(now, "now")
    late = [(_utc(due, f"due of {key}"), key) for key, due, status in tasks if status == "open"]
    return [key for due, key in sorted(late) if due < now]


@dataclass(frozen=True)
class Remaining:
    domain: str
    packages: int  # packages left
    value_eur: Decimal  # euros left; unvalued packages count 0
    lost_packages: int
    lost_value_eur: Decimal
    members: tuple[str, ...]  # members still contributing, sorted


def what_if(packages: Iterable[Package], unavailable: Iterable[str]) -> dict[str, Remaining]:
    """Per domain (every one of DOMAINS, so an empty domain shows as a gap), what remains when the
    members in `unavailable` decline or are blocked; members without packages are ignored."""
    if isinstance(unavailable, str):
        # A bare "FRA" would otherwise be read as the members "F", "R" and "A".
        raise TypeError("unavailable must be a collection of member codes, not one string")
    gone = set(unavailable)
    acc = {d: [0, Decimal(0), 0, Decimal(0), set()] for d in DOMAINS}
    for p in packages:
        a, value = acc[p.domain], p.value_eur or Decimal(0)
        if p.member in gone:
            a[2] += 1
            a[3] += value
        else:
            a[0] += 1
            a[1] += value
            a[4].add(p.member)
    return {d: Remaining(d, n, v, ln, lv, tuple(sorted(m))) for d, (n, v, ln, lv, m) in acc.items()}
