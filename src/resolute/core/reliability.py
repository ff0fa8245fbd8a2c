"""The reliability index of the ceasefire: a daily weighted count of verified violations, and the
condition "a reliable cessation of hostilities" that gates the Multinational Force's deployment.

Reporting days follow the OSCE SMM daily report (reference/monitoring.md): day D covers
(D-1 cutoff, D cutoff] in local time, 19:30 Kyiv time by default, so a day is 23 or 25 hours long
on DST change days. The index of a day is the sum of the severity weights of its verified
violations (dimensionless); a day is calm when the index is at most the threshold and no
violation reaches the serious severity. The condition is met after `window_days` consecutive
calm reporting days; a day without a report is not calm.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from numbers import Real
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SEVERITIES = (1, 2, 3, 4, 5)
SEVERITY_WEIGHTS = {1: 0.25, 2: 1.0, 3: 2.0, 4: 5.0, 5: 10.0}
_CUTOFF = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _whole(x, low: int, high: int | None = None) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= low and (high is None or x <= high)


def _number(x) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool) and 0 <= x < math.inf


@dataclass(frozen=True)
class Violation:
    at: dt.datetime  # aware; the incident's first seen
    severity: int  # 1..5

    def __post_init__(self) -> None:
        if self.at.utcoffset() is None:
            raise ValueError("violation time must be timezone-aware (UTC)")
        if not _whole(self.severity, 1, 5):
            raise ValueError(f"severity must be 1..5, got {self.severity!r}")


@dataclass(frozen=True)
class ReliabilityRule:
    """window_days: consecutive calm reporting days required; threshold: highest index of a calm
    day; serious_severity: a violation at or above it makes the day not calm whatever the index;
    weights: index weight per severity 1..5; timezone (IANA) and cutoff ("HH:MM", local time)
    bound the reporting day."""

    window_days: int = 14
    threshold: float = 5.0
    serious_severity: int = 4
    # hash=False: a dict, yet the rule should stay hashable.
    weights: Mapping[int, float] = field(default_factory=lambda: dict(SEVERITY_WEIGHTS), hash=False)
    timezone: str = "Europe/Kyiv"
    cutoff: str = "19:30"

    def __post_init__(self) -> None:
        if not _whole(self.window_days, 1):
            raise ValueError(f"window_days must be a whole number of days >= 1, got {self.window_days!r}")
        if not _number(self.threshold):
            raise ValueError(f"threshold must be a finite index >= 0, got {self.threshold!r}")
        if not _whole(self.serious_severity, 1, 5):
            raise ValueError(f"serious_severity must be 1..5, got {self.serious_severity!r}")
        object.__setattr__(self, "weights", _weights(self.weights))
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"timezone must be an IANA time zone such as 'Europe/Kyiv', got {self.timezone!r}") from None
        if not (isinstance(self.cutoff, str) and _CUTOFF.match(self.cutoff)):
            raise ValueError(f"cutoff must be a local time 'HH:MM', got {self.cutoff!r}")

    @classmethod
    def from_mapping(cls, d: Mapping) -> ReliabilityRule:
        """Build from stored settings (e.g. JSON, where weight keys are strings); missing keys
        take the defaults. Raises ValueError naming an unknown or invalid key."""
        if not isinstance(d, Mapping):
            raise ValueError("a reliability rule must be a mapping of settings")
        known = {f.name for f in fields(cls)}
        for key in d:
            if key not in known:
                raise ValueError(f"{key!r} is not a reliability rule setting (known: {', '.join(sorted(known))})")
        return cls(**d)


def _weights(weights) -> dict[int, float]:
    """{severity: weight} for exactly 1..5, keys as ints (JSON gives '1'), weights finite and >= 0."""
    # str(k) accepts 1 and "1" but not 1.5 or True, which int() would quietly turn into a severity.
    if not (isinstance(weights, Mapping) and len(weights) == 5 and {str(k) for k in weights} == {str(s) for s in SEVERITIES}
            and all(_number(w) for w in weights.values())):
        raise ValueError(f"weights must give a finite weight >= 0 to each severity 1..5, got {weights!r}")
    return {int(str(k)): float(w) for k, w in weights.items()}


@dataclass(frozen=True)
class Day:
    day: dt.date  # reporting day D: (D-1 cutoff, D cutoff] local time
    index: float  # sum of the weights of the day's verified violations
    count: int
    serious: int  # violations at or above serious_severity
    calm: bool  # index <= threshold and serious == 0


@dataclass(frozen=True)
class Condition:
    met: bool
    streak_days: int  # consecutive calm days ending at as_of
    needed: int
    since: dt.date | None  # first day of the current calm streak
    last_breach: dt.date | None  # latest non-calm day up to as_of
    reason: str


def reporting_day(at: dt.datetime, rule: ReliabilityRule) -> dt.date:
    """The reporting day of an aware instant: D when local cutoff(D-1) < at <= local cutoff(D)."""
    if at.utcoffset() is None:
        raise ValueError("reporting_day needs a timezone-aware datetime (UTC)")
    tz = ZoneInfo(rule.timezone)
    day = at.astimezone(tz).date()
    cutoff = dt.datetime.combine(day, dt.time.fromisoformat(rule.cutoff), tzinfo=tz)
    # Compare in UTC: Python compares two datetimes sharing a tzinfo by wall clock, which would
    # misorder the repeated hour when a cutoff falls in it on the autumn DST change.
    if at.astimezone(dt.UTC) > cutoff.astimezone(dt.UTC):
        day += dt.timedelta(days=1)
    return day


def daily_index(violations: Iterable[Violation], start: dt.date, end: dt.date, rule: ReliabilityRule) -> list[Day]:
    """One Day per reporting day from start to end inclusive (days without violations included);
    violations of other reporting days are ignored. Pass verified violations only."""
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    by_day: dict[dt.date, list[int]] = defaultdict(list)
    for v in violations:
        d = reporting_day(v.at, rule)
        if start <= d <= end:
            by_day[d].append(v.severity)
    out = []
    for i in range((end - start).days + 1):
        d = start + dt.timedelta(days=i)
        severities = by_day.get(d, [])
        index = math.fsum(rule.weights[s] for s in severities)  # exact sum, whatever the order
        serious = sum(s >= rule.serious_severity for s in severities)
        out.append(Day(d, index, len(severities), serious, index <= rule.threshold and serious == 0))
    return out


def condition(days: Sequence[Day], rule: ReliabilityRule, as_of: dt.date) -> Condition:
    """Whether the last `rule.window_days` reporting days up to `as_of` were all calm.

    Days after as_of are ignored. A day missing from the series (before its start, after its
    end, or a gap) is not assumed calm: it ends the streak like a breach."""
    known = {}
    for d in days:
        if d.day in known:
            raise ValueError(f"day {d.day} appears twice in the series")
        if d.day <= as_of:
            known[d.day] = d
    streak = 0
    while (d := known.get(as_of - dt.timedelta(days=streak))) is not None and d.calm:
        streak += 1
    since = as_of - dt.timedelta(days=streak - 1) if streak else None
    breaches = [d for d in known.values() if not d.calm]
    last = max(breaches, key=lambda d: d.day) if breaches else None
    needed = rule.window_days
    if streak >= needed:
        reason = f"met: {streak} consecutive calm days since {since} ({needed} needed)"
    else:
        stop = as_of - dt.timedelta(days=streak)  # the day that ended the streak
        first = min(known, default=None)
        if stop in known:
            d = known[stop]
            cause = (f"last serious breach on {stop} (index {d.index})" if d.serious
                     else f"last breach on {stop} (index {d.index} above threshold {rule.threshold})")
        elif first is None:
            cause = f"no report up to {as_of}"
        elif stop < first:
            cause = f"the series starts on {first}"
        else:
            cause = f"no report for {stop}"
        reason = f"not met: {streak} of {needed} calm days; {cause}"
    return Condition(streak >= needed, streak, needed, since, last.day if last else None, reason)
