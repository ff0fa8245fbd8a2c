"""Reading the Kiel Institute's Ukraine Support Tracker (its main-data sheet saved as CSV) into rows.

The tracker is outside data edited by hand in spreadsheets across several releases, so the
reader tolerates the quirks those files really have (placeholders in numeric cells, thousands
separators, stray spaces, Windows-1252, semicolons, European dates, Excel serial dates) and
refuses what it cannot read without guessing. It is all or nothing: `parse` returns every row or
raises `KielError` listing every problem found (up to MAX_ERRORS), each with its line and column,
so a file is fixed in one pass and nothing half-imported reaches the ledger.

No Django here: the service that stores rows calls `parse` and maps `KielRow`s to pledges.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cache

import pycountry
from resolute.csvtext import Bad, Problems, TooManyProblems, column_key, csv_message, decode_file, field_limit, sniff_delimiter

MAX_ERRORS = 200
# Kiel explanation and source cells hold a few sentences and links; anything far longer is not
# a cell but a broken quote swallowing the rest of the file, or an attack on memory.
MAX_FIELD = 128 * 1024

REQUIRED = (
    "activity_id", "sub_activity_id", "donor", "announcement_date", "aid_type_general", "aid_type_specific",
    "measure", "reporting_currency", "reported_value", "item",
)  # fmt: skip
OPTIONAL = (
    "value_eur", "delivered_value_eur", "item_type", "item_count", "delivered_count", "unit_price", "explanation",
    "source",
)  # fmt: skip

AID_TYPES = ("military", "financial", "humanitarian")
MEASURES = ("commitment", "allocation")

# Cells the tracker (and people editing it) use for "no figure". Compared after collapsing
# spaces and case-folding.
PLACEHOLDERS = frozenset(
    {"", "n/a", "na", "n.a.", "-", "–", "—", ".", "unknown", "not specified", "tbd", "x", "?", "nan", "none", "null"}
)

# Donor names as Kiel writes them (and common variants) where ISO 3166 names differ or where the
# donor is an EU institution; every other country name is looked up in ISO 3166 (pycountry).
# EU institutions share the code EUU, as in the coalition's member list.
DONORS = {
    "united states": "USA", "united states of america": "USA", "us": "USA", "u.s.": "USA",
    "united kingdom": "GBR", "uk": "GBR", "great britain": "GBR",
    "czech republic": "CZE", "czechia": "CZE", "slovak republic": "SVK",
    "türkiye": "TUR", "turkiye": "TUR", "turkey": "TUR",
    "south korea": "KOR", "republic of korea": "KOR",
    "netherlands": "NLD", "the netherlands": "NLD",
    "eu (commission and council)": "EUU", "eu institutions": "EUU", "eu": "EUU", "european union": "EUU",
    "european commission": "EUU", "european peace facility": "EUU", "epf": "EUU",
    "eib": "EUU", "european investment bank": "EUU",
}  # fmt: skip

# A currency symbol next to an amount must agree with the row's currency: "$" is any dollar.
SYMBOLS = {
    "€": ("EUR",), "£": ("GBP",), "₴": ("UAH",), "¥": ("JPY", "CNY"),
    "$": ("USD", "CAD", "AUD", "NZD", "SGD", "HKD", "TWD"),
}  # fmt: skip

# Pledges to Ukraine start with the war (20 February 2014; Kiel counts from 24 January 2022).
# An earlier date is a typo or a small number read as an Excel serial day (e.g. 2022 -> 1905).
EARLIEST = date(2014, 2, 20)
EXCEL_EPOCH = date(1899, 12, 30)  # serial 1 = 1900-01-01 once past Excel's fictitious 29 Feb 1900

_CONTROL = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# [0-9], not \d: \d also matches other scripts' digits, which int() and Decimal() accept.
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?")
_DMY = re.compile(r"([0-9]{1,2})[./]([0-9]{1,2})[./]([0-9]{4})(?: [0-9]{1,2}:[0-9]{2}(?::[0-9]{2})?)?")
_YMD_SLASH = re.compile(r"([0-9]{4})/([0-9]{1,2})/([0-9]{1,2})")
_SERIAL = re.compile(r"([0-9]{1,6})(?:\.[0-9]+)?")
_MARK = r"[€£₴¥$]|[A-Za-z]{3}"
_MARK_BEFORE = re.compile(rf"({_MARK})\s*(?=[0-9(\-−])")
_MARK_AFTER = re.compile(rf"(?<=[0-9)])\s*({_MARK})$")
_DIGITS = re.compile(r"[0-9]+(?:[.,][0-9]+)*")
_CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True)
class KielRow:
    line: int  # 1-based line where the row starts in the file (header = 1)
    activity_id: str
    sub_activity_id: str
    donor: str  # as written
    member: str  # ISO 3166 alpha-3, or EUU for EU institutions
    announced: date
    aid_type_general: str  # military | financial | humanitarian
    aid_type_specific: str
    measure: str  # commitment | allocation
    currency: str  # ISO 4217
    reported_value: Decimal | None  # None where the cell held a placeholder
    value_eur: Decimal | None
    delivered_value_eur: Decimal | None
    item: str
    item_type: str
    item_count: int | None
    delivered_count: int | None
    unit_price: Decimal | None
    explanation: str
    source: str


class KielError(ValueError):
    """Nothing was read. `errors` lists each problem as {"line", "field", "message"}; field is the
    column's name, or None for a problem with the file, the header or a whole row. At most
    MAX_ERRORS are kept; `truncated` says the reader stopped there."""

    def __init__(self, errors: list[dict], truncated: bool = False):
        self.errors = errors
        self.truncated = truncated
        first = errors[0]
        where = f"line {first['line']}" + (f", {first['field']}" if first["field"] else "")
        count = f"{len(errors)}{'+' if truncated else ''}"
        super().__init__(f"{count} problem(s) in the Kiel file, nothing read; first at {where}: {first['message']}")


def parse(
    data: bytes | str,
    *,
    max_bytes: int = 100 * 1024 * 1024,
    max_rows: int = 1_000_000,
    today: date | None = None,
) -> list[KielRow]:
    """Every row of a Kiel main-data CSV, or KielError with every problem. `today` bounds
    announcement dates (default: the local date) and exists so tests can fix it."""
    problems = Problems(MAX_ERRORS)
    rows: list[KielRow] = []
    try:
        text = decode_file(data, max_bytes, problems, windows_1252=True)
        if text is not None:
            rows = _read(text, max_rows, today or date.today(), problems)
    except TooManyProblems:
        pass
    if problems.items:
        raise KielError(problems.items, problems.truncated)
    return rows


# ------------------------------------------------------------------------------ decoding



# ------------------------------------------------------------------------------- reading


def _read(text: str, max_rows: int, today: date, problems: Problems) -> list[KielRow]:
    with field_limit(MAX_FIELD):
        return _records(text, max_rows, today, problems)


def _records(text: str, max_rows: int, today: date, problems: Problems) -> list[KielRow]:
    delimiter = sniff_delimiter(text)
    # Excel writes numbers the way its locale does: where ';' separates cells, ',' is the
    # decimal point. Only ambiguous numbers such as "1,234" depend on this (see _decimal_text).
    decimal_comma = delimiter == ";"
    # A record may span several lines (a quoted explanation with line breaks): errors must name
    # the line where the record starts, not csv's line_num (where it ends).
    at = {"line": 0, "start": 0}

    def lines():
        for line in io.StringIO(text, newline=""):
            at["line"] += 1
            if not at["start"]:
                at["start"] = at["line"]
            yield line

    reader = csv.reader(lines(), delimiter=delimiter, strict=True)

    def next_record():
        at["start"] = 0
        try:
            return next(reader)
        except StopIteration:
            return None

    try:
        header = next_record()
        while header is not None and not any(c.strip() for c in header):
            header = next_record()
    except csv.Error as exc:
        problems.add(at["start"] or 1, None, csv_message(exc, MAX_FIELD))
        return []
    if header is None:
        problems.add(1, None, "empty file")
        return []
    header_line = at["start"]
    keys = [column_key(c) for c in header]
    known = set(REQUIRED) | set(OPTIONAL)
    missing = [c for c in REQUIRED if c not in keys]
    if missing:
        problems.add(header_line, None, f"missing column(s): {', '.join(missing)}")
        return []
    # A repeated column would leave it to chance which of two cells is read.
    counts = Counter(keys)
    repeated = sorted(k for k in known if counts[k] > 1)
    if repeated:
        problems.add(header_line, None, f"repeated column(s): {', '.join(repeated)}")
        return []
    columns = {k: i for i, k in enumerate(keys) if k in known}

    rows: list[KielRow] = []
    seen: dict[tuple[str, str, str], int] = {}
    count = 0
    while True:
        try:
            cells = next_record()
        except csv.Error as exc:
            problems.add(at["start"] or at["line"], None, csv_message(exc, MAX_FIELD))
            return rows
        if cells is None:
            return rows
        line = at["start"]
        # Blank lines and rows of empty cells (Excel's trailing ",,,,") carry nothing.
        if not any(c.strip() for c in cells):
            continue
        count += 1
        if count > max_rows:
            problems.add(line, None, f"more than {max_rows} rows: split the file")
            return rows
        if len(cells) != len(header):
            word = "more" if len(cells) > len(header) else "fewer"
            problems.add(line, None, f"{len(cells)} cells, {word} than the header's {len(header)} columns")
            continue
        row = _row(line, cells, columns, decimal_comma, today, seen, problems)
        if row is not None:
            rows.append(row)


# ---------------------------------------------------------------------------------- rows


def _show(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:60] + "…")


def _row(line, cells, columns, decimal_comma, today, seen, problems) -> KielRow | None:
    errors: list[tuple[str, str]] = []

    def cell(name: str) -> str:
        i = columns.get(name)
        return cells[i].strip() if i is not None else ""

    for name, i in columns.items():
        if "\x00" in cells[i]:
            errors.append((name, "NUL character (binary data?)"))
        elif _CONTROL.search(cells[i]):
            errors.append((name, "control character in the text"))
    if errors:
        # Cells with binary data are not worth interpreting further.
        for field, message in errors:
            problems.add(line, field, message)
        return None

    def read(name, fn, *args):
        try:
            return fn(cell(name), *args)
        except Bad as exc:
            errors.append((name, str(exc)))
            return None

    activity_id, sub_activity_id, donor = cell("activity_id"), cell("sub_activity_id"), cell("donor")
    if not activity_id:
        errors.append(("activity_id", "empty: every row needs its Kiel activity id"))
    member = read("donor", _member)
    announced = read("announcement_date", _date, today)
    general = read("aid_type_general", _choice, AID_TYPES)
    measure = read("measure", _choice, MEASURES)
    currency = read("reporting_currency", _currency)
    reported = read("reported_value", _amount, decimal_comma, currency)
    value_eur = read("value_eur", _amount, decimal_comma, "EUR")
    delivered_eur = read("delivered_value_eur", _amount, decimal_comma, "EUR")
    unit_price = read("unit_price", _amount, decimal_comma, None)
    item_count = read("item_count", _count, decimal_comma)
    delivered_count = read("delivered_count", _count, decimal_comma)

    failed = {field for field, _ in errors}
    if reported is None and value_eur is None and not failed & {"reported_value", "value_eur"}:
        errors.append(("reported_value", "no value: reported_value and value_eur are both missing"))
    if item_count is not None and delivered_count is not None and delivered_count > item_count:
        errors.append(("delivered_count", f"{delivered_count} delivered but item_count is {item_count}"))
    if sub_activity_id and measure:
        # The ledger keys pledges on activity/sub-activity and stages on the measure: the same
        # triple twice would be counted twice (or collide), and only the editor knows which is right.
        key = (activity_id, sub_activity_id, measure)
        if key in seen:
            errors.append(("sub_activity_id", f"same activity, sub-activity and measure as line {seen[key]}"))
        else:
            seen[key] = line

    if errors:
        for field, message in errors:
            problems.add(line, field, message)
        return None
    return KielRow(
        line=line, activity_id=activity_id, sub_activity_id=sub_activity_id, donor=donor, member=member,
        announced=announced, aid_type_general=general, aid_type_specific=cell("aid_type_specific"), measure=measure,
        currency=currency, reported_value=reported, value_eur=value_eur, delivered_value_eur=delivered_eur,
        item=cell("item"), item_type=cell("item_type"), item_count=item_count, delivered_count=delivered_count,
        unit_price=unit_price, explanation=cell("explanation"), source=cell("source"),
    )  # fmt: skip


# --------------------------------------------------------------------------------- cells


@cache
def _country_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for country in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            name = getattr(country, attr, None)
            if name:
                names.setdefault(" ".join(name.split()).casefold(), country.alpha_3)
    return names


def _member(donor: str) -> str:
    if not donor:
        raise Bad("empty: every row needs its donor")
    key = " ".join(donor.split()).casefold()
    code = DONORS.get(key)
    if code is None and _CURRENCY.fullmatch(donor):
        # Upper-case three letters are a code, never a name: "DEU" as-is, "Deu" is unknown.
        code = donor if donor == "EUU" or pycountry.countries.get(alpha_3=donor) else None
    elif code is None:
        code = _country_names().get(key)
    if code is None:
        raise Bad(f"unknown donor {_show(donor)}: not a country name, an ISO alpha-3 code or an EU institution")
    if code == "UKR":
        raise Bad("Ukraine is the recipient, not a donor")
    return code


def _choice(value: str, allowed: tuple[str, ...]) -> str:
    key = " ".join(value.split()).casefold()
    if key not in allowed:
        raise Bad(f"{_show(value)} is not one of {', '.join(allowed)}")
    return key


def _currency(value: str) -> str:
    code = value.upper()
    # XXX (no currency) and XTS (testing) are ISO 4217 codes but not money.
    if not _CURRENCY.fullmatch(code) or code in ("XXX", "XTS") or pycountry.currencies.get(alpha_3=code) is None:
        raise Bad(f"{_show(value)} is not an ISO 4217 currency code")
    return code


def _date(value: str, today: date) -> date:
    if not value:
        raise Bad("empty: every row needs its announcement date")
    try:
        if m := _ISO_DATE.fullmatch(value) or _YMD_SLASH.fullmatch(value):
            d = date(int(m[1]), int(m[2]), int(m[3]))
        elif m := _DMY.fullmatch(value):
            # Day first: the Kiel files are European, and 03/15/2022 fails here rather than
            # being silently swapped.
            d = date(int(m[3]), int(m[2]), int(m[1]))
        elif m := _SERIAL.fullmatch(value):
            d = EXCEL_EPOCH + timedelta(days=int(m[1]))
        else:
            raise ValueError
    except (ValueError, OverflowError):
        raise Bad(f"not a date: {_show(value)} (expected YYYY-MM-DD or DD/MM/YYYY)") from None
    if d > today:
        raise Bad(f"{d.isoformat()} is in the future")
    if d < EARLIEST:
        raise Bad(f"{d.isoformat()} is before the war began (20 February 2014): a typo or a wrong Excel serial")
    return d


def _grouped(digits: str, sep: str) -> bool:
    return re.fullmatch(rf"[1-9][0-9]{{0,2}}(?:{re.escape(sep)}[0-9]{{3}})+", digits) is not None


def _decimal_text(s: str, decimal_comma: bool) -> tuple[str, bool] | None:
    """Digits with '.' and ',' in any locale's use to plain decimal text, or None. The flag is
    True where a single separator followed by three digits was read as a decimal point: "1.000"
    could be one or a thousand, and only the file's convention decides."""
    if not _DIGITS.fullmatch(s):
        return None
    seps = [c for c in s if c in ".,"]
    if not seps:
        return s, False
    if len(set(seps)) == 2:
        # Both in use: the last one is the decimal point, the other groups thousands.
        point = seps[-1]
        if seps.count(point) != 1:
            return None
        whole, fraction = s.rsplit(point, 1)
        group = "," if point == "." else "."
        return (whole.replace(group, "") + "." + fraction, False) if _grouped(whole, group) else None
    sep = seps[0]
    if len(seps) > 1:  # one separator repeated can only group thousands
        return (s.replace(sep, ""), False) if _grouped(s, sep) else None
    whole, fraction = s.split(sep)
    if len(fraction) == 3 and _grouped(s, sep):
        thousands = sep == ("." if decimal_comma else ",")
        return (whole + fraction, False) if thousands else (whole + "." + fraction, True)
    return whole + "." + fraction, False


def _number(value: str, decimal_comma: bool) -> tuple[Decimal, str | None, bool] | None:
    """A non-negative number, the currency marker written with it, and the ambiguity flag of
    _decimal_text; None for a placeholder."""
    s = value.strip()
    if s.isascii() and s.isdigit() and len(s) <= 18:
        return Decimal(s), None, False  # the common case, without the general path's cost
    if " ".join(s.split()).casefold() in PLACEHOLDERS:
        return None
    marker = None
    if m := _MARK_BEFORE.match(s):
        marker, s = m[1], s[m.end() :]
    if m := _MARK_AFTER.search(s):
        if marker:
            raise Bad(f"two currency markers in {_show(value)}")
        marker, s = m[1], s[: m.start()]
    s = s.strip()
    if s.startswith(("-", "−")) or (s.startswith("(") and s.endswith(")")):
        raise Bad(f"negative value {_show(value)}")
    # Spaces (plain, non-breaking, narrow) group thousands in many locales.
    s = "".join(s.split())
    parsed = _decimal_text(s, decimal_comma)
    if parsed is None:
        raise Bad(f"not a number: {_show(value)}")
    text, ambiguous = parsed
    if len(text.split(".")[0].lstrip("0")) > 18:
        raise Bad(f"number too large: {_show(value)}")
    return Decimal(text), marker, ambiguous


def _amount(value: str, decimal_comma: bool, currency: str | None) -> Decimal | None:
    parsed = _number(value, decimal_comma)
    if parsed is None:
        return None
    amount, marker, _ = parsed
    if marker:
        codes = SYMBOLS.get(marker) or (marker.upper(),)
        if marker not in SYMBOLS and pycountry.currencies.get(alpha_3=marker.upper()) is None:
            raise Bad(f"not a number: {_show(value)}")
        if currency and currency not in codes:
            raise Bad(f"written in {marker} but the currency is {currency}")
    return amount


def _count(value: str, decimal_comma: bool) -> int | None:
    parsed = _number(value, decimal_comma)
    if parsed is None:
        return None
    number, marker, ambiguous = parsed
    if marker:
        raise Bad(f"a count, not an amount: {_show(value)}")
    if ambiguous:
        raise Bad(f"ambiguous count {_show(value)}: one or a thousand? write it without separators")
    if number != number.to_integral_value():
        raise Bad(f"not a whole number: {_show(value)}")
    return int(number)
