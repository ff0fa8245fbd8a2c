"""Reading UCDP Georeferenced Event Dataset (GED) files (CSV) into observations for the intake
service.

UCDP GED records each event of organised violence with at least one death, researched and coded
after the fact from several sources. State-based events (type_of_violence 1: two states, or a
state and an organised armed group) become one open-source observation at the geocoded place;
non-state (2) and one-sided violence (3) are skipped, counted and reported: the ceasefire binds
the parties, and the vocabulary records fire between them.

All or nothing, sharing the reading machinery of `acled` (see there): `parse` returns every
observation or raises `ImportRowsError` with every problem (line, column, message). No Django.

UCDP's files mix date formats, even within one column: "2014-02-05", "2014-02-05 00:00:00.000",
"1/22/2014 12:00:00 AM" and "05/02/2014 00:00". A slash date whose two first parts are both
12 or less is ambiguous; it is decided by the file's other slash dates of the same style (see
`SlashOrder`), and by UCDP's US month-first convention where they say nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from resolute.interop.acled import (
    MAX_BYTES,
    MAX_ROWS,
    Bad,
    Cells,
    IgnoredProblems,
    ImportRowsError,
    Observations,
    Problems,
    Skip,
    check_date,
    check_source_code,
    check_unique,
    code,
    coordinates,
    month_of,
    payload,
    read_table,
    run,
    show,
    utc_window,
    validate,
    whole,
)

__all__ = ["ImportRowsError", "Observations", "parse"]

DATASET = "UCDP GED"
# Admiralty grade B2: UCDP researches and codes each event after the fact, from several sources
# cross-checked, and releases it months later: a usually reliable source (B) whose events are
# probably true (2). ACLED, coded from media within days, gets C3.
GRADE = "B2"

# where_prec -> location error in metres. Judgement, from the GED codebook's definitions:
WHERE_PRECISION_M = {
    1: 1_000,  # the exact location (a village, a neighbourhood)
    2: 25_000,  # within 25 km of a known point
    3: 50_000,  # a second-order administrative division (raion): its centroid
    4: 150_000,  # a first-order administrative division (oblast): its centroid
    5: 100_000,  # a linear feature (road, river, front line) or an area between named places
    6: 500_000,  # only the country: kept (the deaths are real) at the schema's largest error, and said so
    7: 500_000,  # international waters or airspace
}
WHERE_PRECISION_TEXT = {
    1: "the exact location",
    2: "within 25 km of a known point",
    3: "a second-order administrative division, its centroid",
    4: "a first-order administrative division, its centroid",
    5: "a linear feature or an area between places",
    6: "only the country is known: the point is the country's centroid, error set to 500 km",
    7: "international waters or airspace",
}

# date_prec -> how far a single date (date_start == date_end) is widened: days either side, or
# the calendar month or year. A range date_start..date_end is used as UCDP gives it.
# 1 = the exact day; 2 = a range of 2-6 days; 3 = the week; 4 = a range of 8-30 days or the
# month; 5 = a range longer than a month, up to the year: the calendar year (judgement).
DATE_PRECISION = {1: 0, 2: 3, 3: 3, 4: "month", 5: "year"}
DATE_PRECISION_TEXT = {
    1: "exact day", 2: "within 2-6 days", 3: "within the week", 4: "within the month", 5: "within the year",
}  # fmt: skip

# type_of_violence -> vocabulary event type, or None: skipped. GED says that fighting killed
# people, not how (no weapon, no fire type), so the least specific explosion is the least
# misleading; no better mapping exists without reading the sources.
VIOLENCE = {1: "explosion_undetermined", 2: None, 3: None}
SKIPPED = {2: "type_of_violence 2 (non-state conflict)", 3: "type_of_violence 3 (one-sided violence)"}

REQUIRED = ("id", "type_of_violence", "date_prec", "date_start", "date_end", "where_prec", "latitude", "longitude")
OPTIONAL = (
    "year", "conflict_name", "side_a", "side_b", "source_office", "source_original", "source_headline", "source_date",
    "where_description", "adm_1", "country", "best", "low", "high", "event_clarity",
)  # fmt: skip
FIELD_COLUMNS = {"observed_from": "date_start", "observed_to": "date_end", "location": "latitude", "observer": "latitude",
                 "narrative": "source_headline", "chain": "source_office", "client_id": "id"}  # fmt: skip

_ISO = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[ T]([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]{1,7})?)?)?")
_SLASH = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})(?: ([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?(?: ?([AaPp][Mm]))?)?")
_ID = re.compile(r"([0-9]{1,12})(?:\.0+)?")


@dataclass
class SlashOrder:
    """How the file writes slash dates of one style (12-hour "AM/PM" or 24-hour): each style
    comes from one export, so its unambiguous dates (a part above 12) show its order.
    Evidence for both orders leaves that style's ambiguous dates undecidable: refused."""

    month_first_at: int | None = None  # a line proving month-first ("1/22/2014")
    day_first_at: int | None = None  # a line proving day-first ("22/01/2014")

    def note(self, first: int, second: int, line: int) -> None:
        if first > 12 >= second and self.day_first_at is None:
            self.day_first_at = line
        elif second > 12 >= first and self.month_first_at is None:
            self.month_first_at = line


def parse(
    data: bytes | str,
    *,
    source_code: str,
    max_bytes: int = MAX_BYTES,
    max_rows: int = MAX_ROWS,
) -> Observations:
    """Every state-based event of a UCDP GED CSV as an ObservationIn-shaped dict, or
    ImportRowsError with every problem. The result is a list; its `skipped` counts the rows
    left out on purpose, by reason."""
    check_source_code(source_code)
    return run(data, max_bytes, max_rows, DATASET, lambda text, problems: _rows(text, source_code, max_rows, problems))


def _rows(text: str, source_code: str, max_rows: int, problems: Problems) -> Observations:
    # Two passes: the first only learns how the file orders its slash dates (its problems are
    # the second pass's to report); keeping the rows instead would hold the whole file twice.
    orders = {"12h": SlashOrder(), "24h": SlashOrder()}
    for line, values in read_table(text, REQUIRED, OPTIONAL, max_rows, IgnoredProblems()):
        for column in ("date_start", "date_end"):
            if m := _SLASH.fullmatch(values[column]):
                orders[_style(m)].note(int(m[1]), int(m[2]), line)

    out = Observations()
    now = datetime.now(UTC)
    seen: dict[str, int] = {}
    for line, values in read_table(text, REQUIRED, OPTIONAL, max_rows, problems):
        cells = Cells(line, values)
        result = _row(cells, source_code, now, orders, seen)
        if isinstance(result, Skip):
            out.skipped[result.reason] += 1
        elif result is None:
            cells.report(problems)
        else:
            out.append(result)
    return out


def _style(m: re.Match) -> str:
    return "12h" if m[7] else "24h"


def _time(hour: str | None, minute: str | None, second: str | None, ampm: str | None) -> None:
    # UCDP records days; the time its exports append is midnight and is not used, but a time
    # that is not a time means the cell is not the date it looks like.
    if hour is None:
        return
    h, mi, s = int(hour), int(minute), int(second or 0)
    top = (1, 12) if ampm else (0, 23)
    if not (top[0] <= h <= top[1] and mi <= 59 and s <= 59):
        raise ValueError


def ged_date(value: str, orders: dict[str, SlashOrder], today: date) -> date:
    if not value:
        raise Bad("empty: every row needs its dates")
    try:
        if m := _ISO.fullmatch(value):
            _time(m[4], m[5], m[6], None)
            d = date(int(m[1]), int(m[2]), int(m[3]))
        elif m := _SLASH.fullmatch(value):
            _time(m[4], m[5], m[6], m[7])
            first, second, year = int(m[1]), int(m[2]), int(m[3])
            if first <= 12 and second <= 12 and first != second:
                order = orders[_style(m)]
                if order.month_first_at is not None and order.day_first_at is not None:
                    raise Bad(
                        f"ambiguous date {show(value)}: this file writes such dates month first (line "
                        f"{order.month_first_at}) and day first (line {order.day_first_at}); write YYYY-MM-DD"
                    )
                # UCDP's own exports are American (month first) unless the file shows otherwise.
                month_first = order.day_first_at is None
            else:
                month_first = first <= 12
            d = date(year, first, second) if month_first else date(year, second, first)
        else:
            raise ValueError
    except Bad:
        raise
    except ValueError:
        raise Bad(f"not a date: {show(value)} (expected YYYY-MM-DD or M/D/YYYY)") from None
    check_date(d, today)
    return d


def _row(
    cells: Cells, source_code: str, now: datetime, orders: dict[str, SlashOrder], seen: dict[str, int]
) -> dict | Skip | None:
    violence = cells.read("type_of_violence", code, VIOLENCE, "type of violence")
    if violence is not None and VIOLENCE[violence] is None:
        # A skipped row is not read further: none of its cells reaches the store.
        return Skip(SKIPPED[violence])
    m = _ID.fullmatch(cells["id"])
    row_id = str(int(m[1])) if m else ""
    if not m:
        message = f"not a UCDP event id: {show(cells['id'])}" if cells["id"] else "empty: every row needs its event id"
        cells.fail("id", message)
    else:
        check_unique(row_id, cells.line, seen, cells, "id")
    # date_prec and where_prec are each read from their own column and used for their own
    # purpose only: date for the window, where for the radius.
    date_prec = cells.read("date_prec", code, DATE_PRECISION, "date precision code")
    where_prec = cells.read("where_prec", code, WHERE_PRECISION_M, "where precision code")
    start = cells.read("date_start", ged_date, orders, now.date())
    end = cells.read("date_end", ged_date, orders, now.date())
    if start is not None and end is not None and end < start:
        cells.fail("date_end", f"{end.isoformat()} is before date_start {start.isoformat()}")
    year = cells.read("year", whole)
    if year is not None and start is not None and end is not None and year not in (start.year, end.year):
        cells.fail("year", f"year {year} but the event runs {start.isoformat()}..{end.isoformat()}: a misread date?")
    point = coordinates(cells)
    deaths = {k: cells.read(k, whole) for k in ("best", "low", "high")}
    if cells.errors:
        return None

    first, last = start, end
    if start == end:
        span = DATE_PRECISION[date_prec]
        if span == "month":
            first, last = month_of(start)
        elif span == "year":
            first, last = date(start.year, 1, 1), date(start.year, 12, 31)
        else:
            first, last = start - timedelta(days=span), start + timedelta(days=span)
    try:
        window = utc_window(first, last, now)
    except Bad as exc:
        cells.fail("date_start", str(exc))
        return None
    error_m = WHERE_PRECISION_M[where_prec]
    p = payload(
        dataset=DATASET, row_id=row_id, source_code=source_code, grade=GRADE,
        source=cells["source_office"] or cells["source_original"], lat=point[0], lon=point[1], error_m=error_m,
        window=window, event_type=VIOLENCE[violence], weapon_class="unknown",
        narrative=_narrative(cells, row_id, start, end, date_prec, where_prec, deaths),
    )  # fmt: skip
    return p if validate(p, cells, FIELD_COLUMNS) else None


def _narrative(cells: Cells, row_id: str, start: date, end: date, date_prec: int, where_prec: int, deaths: dict) -> str:
    # GED's best estimate counts deaths, not explosions: the observation's count stays 1 and the
    # deaths are told here. Then the facts the observation has no field for, and the headline.
    head = [f"UCDP GED {row_id}: state-based violence"]
    head += [s for s in (cells["conflict_name"], " vs ".join(a for a in (cells["side_a"], cells["side_b"]) if a)) if s]
    place = ", ".join(p for p in (cells["where_description"], cells["adm_1"], cells["country"]) if p)
    if place:
        head.append(place)
    if deaths["best"] is not None:
        spread = ", ".join(f"{k} {deaths[k]}" for k in ("low", "high") if deaths[k] is not None)
        head.append(f"deaths: best estimate {deaths['best']}" + (f" ({spread})" if spread else ""))
    dates = start.isoformat() if start == end else f"{start.isoformat()} to {end.isoformat()}"
    head.append(f"date {dates}, {DATE_PRECISION_TEXT[date_prec]} (date_prec {date_prec})")
    head.append(f"location {WHERE_PRECISION_TEXT[where_prec]} (where_prec {where_prec})")
    if cells["event_clarity"] == "2":
        head.append("event_clarity 2: an aggregate of events that UCDP could not tell apart")
    text = "; ".join(head) + "."
    extra = [f"{label}: {cells[k]}" for k, label in (("source_headline", "Headline"), ("source_original", "Original source"),
                                                      ("source_date", "Source date")) if cells[k]]  # fmt: skip
    return "\n".join([text, *extra])
