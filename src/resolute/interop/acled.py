"""Reading ACLED event files (the CSV export) into observations for the intake service.

ACLED codes political violence from media reports within days of the event. Each row that
records fire or an assault becomes one open-source observation placed at the geocoded event
location; protests, riots and strategic developments are skipped (counted, not errors) because
the monitoring vocabulary has nothing to say about them.

All or nothing, like the house importers: `parse` returns every observation or raises
`ImportRowsError` listing every problem (up to MAX_ERRORS) with its line and column, so a file
is fixed in one pass and nothing half-imported reaches the store. Each payload has already been
validated with `ObservationIn`; the service that stores them is not here (no Django).

The first half of this module is the reading machinery that `ucdp.py` shares (decoding, the CSV
record reader, cell readers, time windows, validation): the interop package has no private
helper module, so these names are public and ucdp imports them from here.

Judgement calls, each a module constant below so that they are visible and testable:
- GEO_PRECISION_M: the radius each geo_precision code stands for;
- TIME_PRECISION: the window each time_precision code stands for;
- EVENT_TYPES: which ACLED (event_type, sub_event_type) pairs map to which vocabulary event;
- GRADE, PERCEPTION: how far the monitors may trust and read an ACLED row.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from pydantic import ValidationError

from resolute.errors import pydantic_errors
from resolute.monitoring.schemas import EARLIEST as STORE_EARLIEST
from resolute.monitoring.schemas import ObservationIn
from resolute.csvtext import Bad, Problems, TooManyProblems, column_key, csv_message, decode_file, field_limit, sniff_delimiter

# =============================================================================== shared

MAX_ERRORS = 200
# Notes and source cells hold a few sentences; anything far longer is a broken quote swallowing
# the rest of the file, or an attack on memory.
MAX_FIELD = 128 * 1024
MAX_BYTES = 100 * 1024 * 1024
MAX_ROWS = 1_000_000

CHANNEL = "open_source"
# The vocabulary has no "reported" perception. "seen" is the least misleading of heard / seen /
# heard_and_seen / instrument: the datasets code what witnesses, officials and journalists saw
# (damage, casualties, footage), never sound alone; "instrument" would claim a sensor reading
# and "heard" or "heard_and_seen" a sense nobody reported. The channel (open_source), the
# grade and the chain carry that the report is second hand.
PERCEPTION = "seen"
# Open data: anyone may read it, so the observation is marked as public as it is.
MARKING = {"classification": "PUBLIC", "tlp": "CLEAR", "releasable_to": ["ALL"], "originator": ""}
# client_id = uuid5(CLIENT_ID_NAMESPACE, "<dataset>/<row id>"): the same row of the same dataset
# always gets the same client_id, so importing a file again (or an overlapping later release)
# is idempotent through the intake service. Changing this constant re-imports everything.
CLIENT_ID_NAMESPACE = uuid.UUID("bf985783-95ea-4eaa-93fd-03d3f8269409")
# The observer position's accuracy is capped by the schema (Position.accuracy_m <= 100 km);
# location.error_m (<= 500 km) keeps the full radius.
OBSERVER_ACCURACY_MAX_M = 100_000.0
NARRATIVE_MAX = 10_000  # ObservationIn.narrative
CHAIN_ITEM_MAX = 100  # ObservationIn.chain items
# UCDP GED begins on 1 January 1989 and ACLED later: an earlier date is a typo.
DATASET_EARLIEST = date(1989, 1, 1)

_CONTROL = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# [0-9], not \d or float(): those also accept other scripts' digits, "1_000", "nan", "inf" and
# "1e999", none of which a coordinate column may hold.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
# Codes and counts; "2.0" is what a pandas round trip writes for the integer 2.
_INTEGER = re.compile(r"([0-9]{1,9})(?:\.0+)?")


class ImportRowsError(ValueError):
    """Nothing was read. `errors` lists each problem as {"line", "field", "message"}; field is
    the column's name, or None for a problem with the file, its header or a whole row. At most
    MAX_ERRORS are kept; `truncated` says the reader stopped there."""

    def __init__(self, errors: list[dict], truncated: bool = False, dataset: str = "event"):
        self.errors = errors
        self.truncated = truncated
        first = errors[0]
        where = f"line {first['line']}" + (f", {first['field']}" if first["field"] else "")
        count = f"{len(errors)}{'+' if truncated else ''}"
        super().__init__(f"{count} problem(s) in the {dataset} file, nothing read; first at {where}: {first['message']}")


class Observations(list):
    """The payloads (a plain list of ObservationIn-shaped dicts, in file order) plus what was
    left out on purpose: `skipped` counts rows by reason (e.g. "Protests": 12)."""

    def __init__(self, items: Iterable[dict] = (), skipped: Counter | None = None):
        super().__init__(items)
        self.skipped: Counter = skipped if skipped is not None else Counter()


class IgnoredProblems(Problems):
    """For a first pass over a file whose problems the second pass reports."""

    def add(self, line: int, field: str | None, message: str) -> None:
        pass


@dataclass(frozen=True)
class Skip:
    reason: str


def show(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:60] + "…")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_source_code(source_code) -> None:
    # A caller's mistake, not the file's: one clear error now rather than the same one per row.
    if not isinstance(source_code, str) or not 1 <= len(source_code) <= 64 or _CONTROL.search(source_code) \
            or "\x00" in source_code:
        raise ValueError("source_code must be a registered source's code (1-64 characters, no control characters)")


def decode(data: bytes | str, max_bytes: int, problems: Problems) -> str | None:
    """The file's text: ACLED and UCDP publish UTF-8 (often with a byte order mark)."""
    return decode_file(data, max_bytes, problems, not_utf8="not UTF-8 text: save the file as 'CSV UTF-8'")


def read_table(
    text: str, required: tuple[str, ...], optional: tuple[str, ...], max_rows: int, problems: Problems
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, {column: stripped cell}) for each record whose shape is sound, reading only the
    named columns; every other problem goes to `problems`. Run inside field_limit(MAX_FIELD)."""
    # A record may span several lines (a quoted note with line breaks): errors must name the
    # line where it starts, not csv's line_num (where it ends).
    at = {"line": 0, "start": 0}

    def lines():
        for line in io.StringIO(text, newline=""):
            at["line"] += 1
            if not at["start"]:
                at["start"] = at["line"]
            yield line

    reader = csv.reader(lines(), delimiter=sniff_delimiter(text), strict=True)

    def next_record():
        at["start"] = 0
        return next(reader, None)

    try:
        header = next_record()
        while header is not None and not any(c.strip() for c in header):
            header = next_record()
    except csv.Error as exc:
        problems.add(at["start"] or 1, None, csv_message(exc, MAX_FIELD))
        return
    if header is None:
        problems.add(1, None, "empty file")
        return
    header_line = at["start"]
    keys = [column_key(c) for c in header]
    missing = [c for c in required if c not in keys]
    if missing:
        problems.add(header_line, None, f"missing column(s): {', '.join(missing)}")
        return
    # Unknown columns are ignored (each release adds some), but a used column twice would leave
    # it to chance which cell is read.
    counts = Counter(keys)
    used = (*required, *optional)
    repeated = [c for c in used if counts[c] > 1]
    if repeated:
        problems.add(header_line, None, f"repeated column(s): {', '.join(repeated)}")
        return
    columns = {k: i for i, k in enumerate(keys) if k in used}

    count = 0
    while True:
        try:
            cells = next_record()
        except csv.Error as exc:
            problems.add(at["start"] or at["line"], None, csv_message(exc, MAX_FIELD))
            return
        if cells is None:
            return
        line = at["start"]
        # Blank lines and rows of empty cells (Excel's trailing ",,,,") carry nothing.
        if not any(c.strip() for c in cells):
            continue
        count += 1
        if count > max_rows:
            problems.add(line, None, f"more than {max_rows} rows: split the file")
            return
        if len(cells) != len(header):
            word = "more" if len(cells) > len(header) else "fewer"
            problems.add(line, None, f"{len(cells)} cells, {word} than the header's {len(header)} columns")
            continue
        bad = False
        for name, i in columns.items():
            if "\x00" in cells[i]:
                problems.add(line, name, "NUL character (binary data?)")
                bad = True
            elif _CONTROL.search(cells[i]):
                problems.add(line, name, "control character in the text")
                bad = True
        if not bad:
            yield line, {name: cells[i].strip() for name, i in columns.items()}


class Cells:
    """One record's cells by column, collecting its errors as (column, message)."""

    def __init__(self, line: int, values: dict[str, str]):
        self.line = line
        self.values = values
        self.errors: list[tuple[str | None, str]] = []

    def __getitem__(self, column: str) -> str:
        return self.values.get(column, "")

    def fail(self, column: str | None, message: str) -> None:
        self.errors.append((column, message))

    def read(self, column: str, fn, *args):
        try:
            return fn(self[column], *args)
        except Bad as exc:
            self.fail(column, str(exc))
            return None

    def report(self, problems: Problems) -> None:
        for column, message in self.errors:
            problems.add(self.line, column, message)


def code(value: str, allowed: Iterable[int], meaning: str) -> int:
    """An integer code out of a closed set, e.g. a precision code."""
    allowed = tuple(allowed)
    if not value:
        raise Bad(f"empty: every row needs its {meaning}")
    m = _INTEGER.fullmatch(value)
    if not m or int(m[1]) not in allowed:
        raise Bad(f"{show(value)} is not a {meaning} ({', '.join(map(str, allowed))})")
    return int(m[1])


def whole(value: str) -> int | None:
    """A non-negative whole number (a count of deaths), or None for an empty cell."""
    if not value:
        return None
    m = _INTEGER.fullmatch(value)
    if not m:
        raise Bad(f"not a whole number: {show(value)}")
    return int(m[1])


def _degrees(value: str, limit: int, what: str) -> float:
    if not value:
        raise Bad(f"empty: every row needs its {what}")
    if not _DECIMAL.fullmatch(value):
        raise Bad(f"not a number: {show(value)}")
    number = float(value)
    if not -limit <= number <= limit:
        raise Bad(f"{show(value)} is outside -{limit}..{limit}")
    return number


def coordinates(cells: Cells) -> tuple[float, float] | None:
    lat = cells.read("latitude", _degrees, 90, "latitude")
    lon = cells.read("longitude", _degrees, 180, "longitude")
    if lat is None or lon is None:
        return None
    if lat == 0 and lon == 0:
        # "Null Island" in the Gulf of Guinea: where missing coordinates end up as zeros.
        cells.fail("latitude", "0, 0 is a missing location written as zeros")
        return None
    return lat, lon


def check_date(d: date, today: date) -> None:
    if d > today:
        raise Bad(f"{d.isoformat()} is in the future")
    if d < DATASET_EARLIEST:
        raise Bad(f"{d.isoformat()} is before 1989, earlier than ACLED or UCDP record anything: a typo?")


def utc_window(first: date, last: date, now: datetime) -> tuple[str, str]:
    """The whole UTC days first..last as (observed_from, observed_to). The datasets give local
    days without a time zone; they are read as UTC days, by convention, so that a window never
    depends on the importing machine. In Ukraine (UTC+2/+3) the local day starts 2-3 hours
    earlier: small beside a day's width, and the precision codes widen most windows further.
    A window widened by imprecision ends now at the latest: the event cannot be later."""
    start = datetime.combine(first, time.min, tzinfo=UTC)
    if start < STORE_EARLIEST:
        begins = STORE_EARLIEST.date().isoformat()
        raise Bad(f"the window starts on {first.isoformat()}, before {begins} where the observation store begins")
    end = min(datetime.combine(last, time(23, 59, 59), tzinfo=UTC), now.replace(microsecond=0))
    return _z(start), _z(end)


def _z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def month_of(d: date) -> tuple[date, date]:
    first = d.replace(day=1)
    following = (first + timedelta(days=31)).replace(day=1)
    return first, following - timedelta(days=1)


def client_id(dataset: str, row_id: str) -> str:
    return str(uuid.uuid5(CLIENT_ID_NAMESPACE, f"{dataset}/{row_id}"))


def payload(
    *, dataset: str, row_id: str, source_code: str, grade: str, source: str, lat: float, lon: float, error_m: float,
    window: tuple[str, str], event_type: str, weapon_class: str, narrative: str,
) -> dict:  # fmt: skip
    """The ObservationIn-shaped dict for one event at a geocoded place."""
    source = clip(" ".join(source.split()), CHAIN_ITEM_MAX)
    return {
        "client_id": client_id(dataset, row_id),
        "channel": CHANNEL,
        # There is no observer: the point is a geocoded place. The schema needs one, so it is the
        # event location itself with the location error as its accuracy.
        "observer": {"lat": lat, "lon": lon, "accuracy_m": min(float(error_m), OBSERVER_ACCURACY_MAX_M)},
        "observed_from": window[0],
        "observed_to": window[1],
        "event_type": event_type,
        "perception": PERCEPTION,
        "count": 1,
        "weapon_class": weapon_class,
        "location": {"lat": lat, "lon": lon, "error_m": float(error_m)},
        "narrative": clip(narrative, NARRATIVE_MAX),
        "source": source_code,
        "grade": grade,
        "chain": [dataset, source] if source else [dataset],
        "marking": {**MARKING, "releasable_to": list(MARKING["releasable_to"])},
    }


def validate(p: dict, cells: Cells, columns: dict[str, str]) -> bool:
    """Check the payload with the API's own schema; its complaints become the row's errors,
    named by the file's column where one stands behind the field (`columns`)."""
    try:
        ObservationIn.model_validate(p)
    except ValidationError as exc:
        for e in pydantic_errors(exc):
            head = re.split(r"[.\[]", e["field"], maxsplit=1)[0]
            cells.fail(columns.get(head, e["field"]), e["message"])
        return False
    return True


def check_unique(row_id: str, line: int, seen: dict[str, int], cells: Cells, column: str) -> None:
    # Two rows with one id would share a client_id: the intake would keep one and call the
    # other a conflict, or drop it as already stored.
    if row_id in seen:
        cells.fail(column, f"{show(row_id)} already on line {seen[row_id]}")
    else:
        seen[row_id] = line


def run(data, max_bytes: int, max_rows: int, dataset: str, rows) -> Observations:
    """Decode, read and convert with `rows(text, problems) -> Observations`; all or nothing."""
    problems = Problems(MAX_ERRORS)
    result = Observations()
    try:
        text = decode(data, max_bytes, problems)
        if text is not None:
            with field_limit(MAX_FIELD):
                result = rows(text, problems)
    except TooManyProblems:
        pass
    if problems.items:
        raise ImportRowsError(problems.items, problems.truncated, dataset)
    return result


def words(*patterns: str) -> re.Pattern:
    return re.compile(r"\b(?:" + "|".join(patterns) + r")\b", re.IGNORECASE)


# ================================================================================= ACLED

DATASET = "ACLED"
# Admiralty grade C3: ACLED codes each event from media and partner reports within days and
# publishes weekly, often from a single report not yet corroborated: a fairly reliable source
# (C) whose individual events are possibly true (3). UCDP's slower, researched coding earns B2.
GRADE = "C3"

# geo_precision -> location error in metres. Judgement, from ACLED's codebook wording:
# 1 = the event is at the named town (the town's extent, ≈ 2 km);
# 2 = near the town or in a part of a region: the nearest town stands in (≈ 25 km);
# 3 = only a larger region is known: its centroid stands in (≈ 100 km).
GEO_PRECISION_M = {1: 2_000, 2: 25_000, 3: 100_000}
GEO_PRECISION_TEXT = {1: "the town itself", 2: "near the town or part of a region", 3: "a larger region, its centroid"}

# time_precision -> the window around event_date, in days either side, or "month".
# 1 = that day; 2 = the week around it (ACLED records the middle of the week: ±3 days);
# 3 = the month (ACLED records the middle of the month: the calendar month is the window).
TIME_PRECISION = {1: 0, 2: 3, 3: "month"}
TIME_PRECISION_TEXT = {1: "that day", 2: "the week around it", 3: "that month"}

# (event_type, sub_event_type), compared case- and spacing-insensitively ->
# (vocabulary event type, weapon class). A judgement; the reasons:
# - Armed clash: exchanges of fire between armed groups, small arms at the least.
# - Territory changing hands: a ground assault, whoever holds the ground after.
# - Shelling/artillery/missile attack: ACLED records where rounds landed: explosion_impact;
#   ACLED names no calibre, so the weapon class stays unknown.
# - Air/drone strike: air_strike by aircraft, unless the notes name a drone (see DRONE_WORDS).
# - Remote explosive/landmine/IED, grenade, suicide bomb, chemical weapon: a detonation whose
#   delivery is unknown; not mine_laying, which would be the emplacement, not the explosion.
# - Violence against civilians / Attack: only where the notes name a weapon (FIREARM_WORDS or
#   DRONE_WORDS); otherwise (beatings, executions of unknown manner) there is no observable
#   event to record, and the row is skipped. It is never an explosion by default.
EVENT_TYPES: dict[tuple[str, str], tuple[str, str] | None] = {
    ("battles", "armed clash"): ("small_arms_fire", "unknown"),
    ("battles", "government regains territory"): ("ground_assault", "unknown"),
    ("battles", "non-state actor overtakes territory"): ("ground_assault", "unknown"),
    ("explosions/remote violence", "shelling/artillery/missile attack"): ("explosion_impact", "unknown"),
    ("explosions/remote violence", "air/drone strike"): ("air_strike", "aircraft"),
    ("explosions/remote violence", "remote explosive/landmine/ied"): ("explosion_undetermined", "unknown"),
    ("explosions/remote violence", "grenade"): ("explosion_undetermined", "unknown"),
    ("explosions/remote violence", "suicide bomb"): ("explosion_undetermined", "unknown"),
    ("explosions/remote violence", "chemical weapon"): ("explosion_undetermined", "unknown"),
    ("violence against civilians", "attack"): None,  # decided by the notes: _civilian_attack
}
# Not ceasefire violations in the monitoring vocabulary: skipped, counted and reported. Any
# sub-event of these types is skipped (releases rename them). Air-defence interceptions are
# "Strategic developments / Disrupted weapons use" and are skipped with them.
SKIPPED_EVENT_TYPES = {"protests": "Protests", "riots": "Riots", "strategic developments": "Strategic developments"}
SKIPPED_SUB_EVENTS = {
    ("violence against civilians", "sexual violence"): "Violence against civilians: Sexual violence",
    ("violence against civilians", "abduction/forced disappearance"):
        "Violence against civilians: Abduction/forced disappearance",
}
# Anything else is refused, not skipped: ACLED's typology is closed, so an unknown name is another
# release's vocabulary or a shifted column, and skipping it could silently drop violations.

DRONE_WORDS = words(r"drones?", r"uavs?", r"uas", r"unmanned aerial", r"fpv", r"quadcopters?", r"shaheds?", r"gerans?",
                    r"lancets?", r"loitering munitions?")  # fmt: skip
FIREARM_WORDS = words(r"shot", r"shots", r"shoot(?:s|ing)?", r"gunfire", r"gunshots?", r"opened fire", r"fired at",
                      r"snipers?", r"small arms", r"machine ?guns?", r"rifles?")  # fmt: skip

REQUIRED = (
    "event_id_cnty", "event_date", "time_precision", "event_type", "sub_event_type", "latitude", "longitude",
    "geo_precision",
)  # fmt: skip
OPTIONAL = ("year", "source", "notes", "actor1", "actor2", "location", "admin1", "country", "fatalities")
# Schema fields and the column behind each, for the schema's own complaints.
FIELD_COLUMNS = {"observed_from": "event_date", "observed_to": "event_date", "location": "latitude", "observer": "latitude",
                 "narrative": "notes", "chain": "source", "client_id": "event_id_cnty"}  # fmt: skip

_MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
                "november", "december")  # fmt: skip
# English names whatever the locale (calendar.month_name follows it), full and abbreviated.
MONTHS = {name: n for n, full in enumerate(_MONTH_NAMES, 1) for name in (full, full[:3])}
_ISO = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[ T]00:00(?::00(?:\.0+)?)?)?")
_WRITTEN = re.compile(r"([0-9]{1,2})[ \-]([A-Za-z]+)[ \-]([0-9]{4})")
_EVENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


def parse(
    data: bytes | str,
    *,
    source_code: str,
    max_bytes: int = MAX_BYTES,
    max_rows: int = MAX_ROWS,
) -> Observations:
    """Every ceasefire-relevant event of an ACLED CSV as an ObservationIn-shaped dict, or
    ImportRowsError with every problem. The result is a list; its `skipped` counts the rows
    left out on purpose, by reason."""
    check_source_code(source_code)
    return run(data, max_bytes, max_rows, DATASET, lambda text, problems: _rows(text, source_code, max_rows, problems))


def _rows(text: str, source_code: str, max_rows: int, problems: Problems) -> Observations:
    out = Observations()
    now = datetime.now(UTC)
    seen: dict[str, int] = {}
    for line, values in read_table(text, REQUIRED, OPTIONAL, max_rows, problems):
        cells = Cells(line, values)
        result = _row(cells, source_code, now, seen)
        if isinstance(result, Skip):
            out.skipped[result.reason] += 1
        elif result is None:
            cells.report(problems)
        else:
            out.append(result)
    return out


def _key(name: str) -> str:
    return re.sub(r"\s*/\s*", "/", " ".join(name.split())).casefold()


def _event(cells: Cells) -> tuple[str, str] | Skip | None:
    kind, sub = _key(cells["event_type"]), _key(cells["sub_event_type"])
    if kind in SKIPPED_EVENT_TYPES:
        return Skip(SKIPPED_EVENT_TYPES[kind])
    if (kind, sub) in SKIPPED_SUB_EVENTS:
        return Skip(SKIPPED_SUB_EVENTS[(kind, sub)])
    if (kind, sub) in EVENT_TYPES:
        mapped = EVENT_TYPES[(kind, sub)]
        notes = cells["notes"]
        if mapped is None:
            return _civilian_attack(notes)
        if mapped[0] == "air_strike" and DRONE_WORDS.search(notes):
            return "armed_drone_strike", "drone"
        return mapped
    if not kind:
        cells.fail("event_type", "empty: every row needs its event type")
    elif any(k == kind for k, _ in EVENT_TYPES):
        sub_event, event_type = show(cells["sub_event_type"]), show(cells["event_type"])
        cells.fail("sub_event_type", f"unknown sub-event type {sub_event} of {event_type}")
    else:
        cells.fail("event_type", f"unknown event type {show(cells['event_type'])}")
    return None


def _civilian_attack(notes: str) -> tuple[str, str] | Skip:
    if DRONE_WORDS.search(notes):
        return "armed_drone_strike", "drone"
    if FIREARM_WORDS.search(notes):
        return "small_arms_fire", "small_arms"
    return Skip("Violence against civilians: Attack with no weapon named in the notes")


def event_date(value: str, today: date) -> date:
    """ACLED writes "2024-03-01" (current exports) or "01 March 2024" (older ones and the
    Excel files); a slash date is refused: "01/03/2024" is one day in Europe, another in the US."""
    if not value:
        raise Bad("empty: every row needs its event date")
    d = None
    try:
        if m := _ISO.fullmatch(value):
            d = date(int(m[1]), int(m[2]), int(m[3]))
        elif (m := _WRITTEN.fullmatch(value)) and m[2].casefold() in MONTHS:
            d = date(int(m[3]), MONTHS[m[2].casefold()], int(m[1]))
    except ValueError:
        raise Bad(f"not a date: {show(value)}") from None
    if d is None:
        raise Bad(f"not a date: {show(value)} (expected YYYY-MM-DD or '01 March 2024')")
    check_date(d, today)
    return d


def _row(cells: Cells, source_code: str, now: datetime, seen: dict[str, int]) -> dict | Skip | None:
    event = _event(cells)
    if isinstance(event, Skip):
        # A skipped row is not read further: none of its cells reaches the store.
        return event
    row_id = cells["event_id_cnty"]
    if not _EVENT_ID.fullmatch(row_id):
        message = f"not an ACLED event id: {show(row_id)}" if row_id else "empty: every row needs its event id"
        cells.fail("event_id_cnty", message)
    else:
        check_unique(row_id, cells.line, seen, cells, "event_id_cnty")
    # The two precision columns share the codes 1-3 and are easily swapped: each is read from its
    # own column and used for its own purpose only, time for the window, geo for the radius.
    time_precision = cells.read("time_precision", code, TIME_PRECISION, "time precision code")
    geo_precision = cells.read("geo_precision", code, GEO_PRECISION_M, "geo precision code")
    day = cells.read("event_date", event_date, now.date())
    year = cells.read("year", whole)
    if day is not None and year is not None and year != day.year:
        cells.fail("year", f"year {year} but event_date {day.isoformat()}: a misread date?")
    point = coordinates(cells)
    fatalities = cells.read("fatalities", whole)
    if cells.errors or event is None:
        return None

    span = TIME_PRECISION[time_precision]
    first, last = month_of(day) if span == "month" else (day - timedelta(days=span), day + timedelta(days=span))
    try:
        window = utc_window(first, last, now)
    except Bad as exc:
        cells.fail("event_date", str(exc))
        return None
    error_m = GEO_PRECISION_M[geo_precision]
    p = payload(
        dataset=DATASET, row_id=row_id, source_code=source_code, grade=GRADE, source=cells["source"], lat=point[0],
        lon=point[1], error_m=error_m, window=window, event_type=event[0], weapon_class=event[1],
        narrative=_narrative(cells, day, time_precision, geo_precision, error_m, fatalities),
    )  # fmt: skip
    return p if validate(p, cells, FIELD_COLUMNS) else None


def _narrative(cells: Cells, day: date, time_precision: int, geo_precision: int, error_m: int, fatalities) -> str:
    # The facts the observation has no field for, then ACLED's own notes verbatim (a formula-like
    # note stays text: it is never evaluated here, and exports escape it).
    actors = " vs ".join(a for a in (cells["actor1"], cells["actor2"]) if a)
    place = ", ".join(p for p in (cells["location"], cells["admin1"], cells["country"]) if p)
    head = [f"ACLED {cells['event_id_cnty']}: {cells['event_type']} / {cells['sub_event_type']}"]
    head += [s for s in (actors, place) if s]
    if fatalities is not None:
        head.append(f"fatalities {fatalities}")
    head.append(f"date {day.isoformat()}, {TIME_PRECISION_TEXT[time_precision]} (time_precision {time_precision})")
    head.append(f"location {GEO_PRECISION_TEXT[geo_precision]}, ±{error_m // 1000} km (geo_precision {geo_precision})")
    text = "; ".join(head) + "."
    return f"{text}\n{cells['notes']}" if cells["notes"] else text
