"""The dashboard: the day's counts by type and area against the day before, the reliability
index with its threshold, and the open verification tasks and Commission cases with their clocks.

The figures are the daily report's (reports.services.daily), computed for the reader: what a
person cannot see is not counted, so no figure reveals a record they may not read.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.db.models import Max

from resolute.accounts import roles
from resolute.accounts.restrict import reader_of
from resolute.commission.models import Case, Verification
from resolute.commission.serializers import clock
from resolute.core import workflow
from resolute.monitoring.api import LIVE
from resolute.monitoring.models import Incident
from resolute.reports import charts
from resolute.reports import services as reports

CLOSED_VERIFICATION = tuple(workflow.VERIFICATION.final)
# A decided case waits only for publication: no longer on anyone's desk.
CLOSED_CASE = (*workflow.CASE.final, "decided")


def display_clock(due, now) -> dict | None:
    """A deadline for web/_clock.html: the API's clock plus whole hours left."""
    c = clock(due, now)
    if c is not None:
        c["hours_left"] = max(0, c["seconds_left"] // 3600)
    return c


def latest_day(user, now: dt.datetime) -> tuple[dt.date, bool]:
    """Today's reporting day, or, if nothing the reader may see happened since, the last day
    that has incidents (a quiet day must not hide yesterday's picture); and whether it is today."""
    # The reporting day ends at 19:30 local time: after it, the current day is tomorrow's.
    today = now.date() + dt.timedelta(days=1) if reports.window(now.date())[1] <= now else now.date()
    last = Incident.objects.restrict(user).filter(status__in=LIVE).aggregate(t=Max("first_seen"))["t"]
    if last is None:
        return today, True
    start, _end = reports.window(today)
    if last >= start:
        return today, True
    day = last.date()
    if reports.window(day)[1] < last:
        day += dt.timedelta(days=1)
    return day, False


def by_event_type(user, day: dt.date) -> list[dict]:
    """Incidents per event type on the reporting day and the day before."""
    start, end = reports.window(day)
    before = reports.window(day - dt.timedelta(days=1))[0]
    rows = Incident.objects.restrict(user).filter(status__in=LIVE, first_seen__gt=before, first_seen__lte=end).values_list("event_type", "first_seen")
    now_n, prev_n = Counter(), Counter()
    for event_type, t in rows:
        (now_n if t > start else prev_n)[event_type] += 1
    types = sorted(set(now_n) | set(prev_n), key=lambda k: (-now_n[k], -prev_n[k], k))
    return [{"type": k, "label": k.replace("_", " "), "count": now_n[k], "previous": prev_n[k], "change": now_n[k] - prev_n[k]} for k in types]


def context(user, now: dt.datetime) -> dict:
    day, is_today = latest_day(user, now)
    edition = reports.PUBLIC if reader_of(user).public else reports.RESTRICTED
    content = reports.daily(user, day, edition)
    verifications, cases = [], []
    if roles.allows(user, roles.VIEW, "verification"):
        for v in Verification.objects.restrict(user).exclude(state__in=CLOSED_VERIFICATION).select_related("incident").order_by("received_at")[:50]:
            due = v.deadline if v.state == "tasked" else v.review_due
            verifications.append({"v": v, "clock": display_clock(due, now)})
    if roles.allows(user, roles.VIEW, "case"):
        for c in Case.objects.restrict(user).exclude(state__in=CLOSED_CASE).order_by("opened_at")[:50]:
            cases.append({"c": c, "clock": display_clock(c.response_deadline, now)})
    reliability = content.get("reliability")
    return {
        "day": day,
        "is_today": is_today,
        "report": content,
        "by_type": by_event_type(user, day),
        "trend_svg": charts.trend_svg(content["trend"]),
        "index_svg": charts.index_svg(reliability) if reliability else None,
        "verifications": verifications,
        "cases": cases,
    }
