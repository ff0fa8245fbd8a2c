"""Writing ledger transactions as an IATI 2.03 activity file.

One iati-activity per pledge, one transaction per ledger entry (IATI, like the ledger, records a
change to a commitment as a further transaction, never as an edit). Elements follow the order of
the 2.03 schema's iati-activity sequence (ORDER below); IATI has no codes for military aid, so
military categories, ledger stages, quantities and items travel in a namespaced extension
(NS_EXT), which the schema allows after each element's own children.

Sectors. DAC 5-digit purpose codes (vocabulary 1) describe Official Development Assistance, and
the DAC excludes military equipment, services and financing from it. A DAC code is written only
where one honestly fits (SECTORS); every other category is written with the reporting
organisation's own vocabulary (99) and the category as its code, never disguised as 15210
"Security system management and reform", which covers civilian oversight of the security
sector, not paying for or supplying an army.

No Django here, and no XML library: the writer is a few lines that escape every text and
attribute itself, so no process-wide namespace registration is touched and characters that XML
cannot carry are refused instead of producing a file that no parser reads.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pycountry

NS_EXT = "https://resolute.example/ns/iati-military/1"
PREFIX = "resolute"
VERSION = "2.03"

# Children of iati-activity in the 2.03 schema's order; the writer emits a subset in this order.
ORDER = (
    "iati-identifier", "reporting-org", "title", "description", "participating-org", "other-identifier",
    "activity-status", "activity-date", "contact-info", "activity-scope", "recipient-country", "recipient-region",
    "location", "sector", "tag", "country-budget-items", "humanitarian-scope", "policy-marker", "collaboration-type",
    "default-flow-type", "default-finance-type", "default-aid-type", "default-tied-status", "budget",
    "planned-disbursement", "capital-spend", "transaction", "document-link", "related-activity", "legacy-data",
    "conditions", "result", "crs-add", "fss",
)  # fmt: skip

# Category -> DAC 5-digit purpose code, only where the code describes the activity truthfully.
SECTORS = {
    "humanitarian": "72010",  # Material relief assistance and services
    "financial": "51010",  # General budget support-related aid (Kiel's financial aid to the state budget)
    "budget_support": "51010",
}
CIVIL = frozenset(SECTORS)  # every other category is military and goes into the extension too

TRANSACTION_TYPES = range(1, 14)  # IATI TransactionType 1..13 (12 and 13 from 2.03)
ACTIVITY_STATUSES = range(1, 7)  # IATI ActivityStatus 1 pipeline .. 6 suspended

# Characters XML 1.0 cannot carry, escaped or not (C0 controls, lone surrogates, U+FFFE/F).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_IDENTIFIER_FORBIDDEN = re.compile(r"[\s/&|?]")  # the IATI ruleset's characters, and whitespace


@dataclass(frozen=True)
class Transaction:
    ref: str
    type_code: int  # IATI TransactionType: 12 pledge, 2 commitment, 3 disbursement, 4 expenditure, ...
    stage: str  # the ledger's stage (pledge, allocation, shipped, ...): kept in the extension
    date: date
    currency: str
    value: Decimal  # negative for a reversal
    value_date: date
    description: str
    category: str
    quantity: int | None = None
    item: str = ""


@dataclass(frozen=True, kw_only=True)
class Activity:
    # Keyword-only: the fields with defaults sit among required ones, and a positional call
    # with nine strings would be too easy to get silently wrong.
    iati_identifier: str  # e.g. "XM-RESOLUTE-DEU-17": should start with reporting_org_ref
    reporting_org_ref: str
    reporting_org_name: str
    title: str
    description: str
    recipient_country: str = "UA"
    activity_status: int = 2
    pillar: str
    category: str
    transactions: tuple[Transaction, ...]
    reporting_org_type: str = "10"  # IATI OrganisationType: 10 government, 40 multilateral (EU)
    start: date | None = None  # planned start; default: the earliest transaction's date
    last_updated: datetime | None = None  # default: the file's generation time


def write(activities: Sequence[Activity], generated: datetime) -> bytes:
    """The activities as a UTF-8 IATI 2.03 document. Raises ValueError naming the activity and
    field for anything IATI or XML cannot carry (TypeError for a value of the wrong type). With no activities the document is well formed
    but holds no iati-activity, which the 2.03 schema requires at least one of: publish nothing
    rather than that file."""
    stamp = _datetime(generated, "generated")
    seen: set[str] = set()
    nodes = []
    for activity in activities:
        if activity.iati_identifier in seen:
            raise ValueError(f"{activity.iati_identifier}: the same iati-identifier twice in one file")
        seen.add(activity.iati_identifier)
        nodes.append(_activity(activity, stamp))
    root = ("iati-activities", [("version", VERSION), ("generated-datetime", stamp), (f"xmlns:{PREFIX}", NS_EXT)], None, nodes)
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    _render(root, out, 0)
    return ("\n".join(out) + "\n").encode("utf-8")


# ------------------------------------------------------------------------------ building


def _el(tag, attrs=(), text=None, children=()):
    return (tag, list(attrs), text, list(children))


def _narrative(tag, text):
    return _el(tag, children=[_el("narrative", text=text)])


def _ext(name, text):
    return _el(f"{PREFIX}:{name}", text=text)


def _datetime(value: datetime, what: str) -> str:
    if not isinstance(value, datetime):
        raise TypeError(f"{what}: expected a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        # A coalition spans time zones: a time without one is ambiguous by hours.
        raise ValueError(f"{what}: datetime without a time zone")
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _date(value, where: str) -> str:
    # datetime is a date subclass whose isoformat() carries a time: not an iso-date.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise TypeError(f"{where}: expected a date")
    return value.isoformat()


def _text(value, where: str, *, required: bool = False) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{where}: expected text")
    if required and not value.strip():
        raise ValueError(f"{where}: empty")
    if m := _NOT_XML.search(value):
        raise ValueError(f"{where}: character U+{ord(m[0]):04X} cannot be written in XML")
    return value


def _currency(value, where: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Z]{3}", value) or pycountry.currencies.get(alpha_3=value) is None:
        raise ValueError(f"{where}: {value!r} is not an ISO 4217 currency code")
    return value


def _amount(value, where: str) -> str:
    # Binary floats cannot hold most decimal amounts exactly: money arrives as Decimal (or int).
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"{where}: expected a Decimal amount")
    value = Decimal(value)
    if not value.is_finite():
        raise ValueError(f"{where}: {value} is not an amount")
    if value == 0:
        value = abs(value)  # "-0" is no amount a reader expects
    return format(value, "f")  # plain digits with '.', never an exponent


def _code(value, allowed, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or value not in allowed:
        raise ValueError(f"{where}: {value!r} is not a valid code")
    return str(value)


def _activity(a: Activity, generated: str) -> tuple:
    ident = _text(a.iati_identifier, "iati_identifier", required=True)
    if _IDENTIFIER_FORBIDDEN.search(ident):
        raise ValueError(f"{ident!r}: an iati-identifier may not contain whitespace, /, &, | or ?")
    w = f"activity {ident}"
    org_ref = _text(a.reporting_org_ref, f"{w}: reporting_org_ref", required=True)
    org_name = _text(a.reporting_org_name, f"{w}: reporting_org_name", required=True)
    org_type = _text(a.reporting_org_type, f"{w}: reporting_org_type", required=True)
    category = _text(a.category, f"{w}: category", required=True)
    pillar = _text(a.pillar, f"{w}: pillar")
    country = a.recipient_country
    if not isinstance(country, str) or pycountry.countries.get(alpha_2=country) is None:
        raise ValueError(f"{w}: recipient_country {country!r} is not an ISO 3166 alpha-2 code")
    transactions = [_transaction(t, f"{w}, transaction {n}") for n, t in enumerate(a.transactions, start=1)]
    if a.start is not None:
        start = _date(a.start, f"{w}: start")
    elif a.transactions:
        start = min(t.date for t in a.transactions).isoformat()
    else:
        raise ValueError(f"{w}: no transactions and no start date (IATI requires an activity date)")
    updated = _datetime(a.last_updated, f"{w}: last_updated") if a.last_updated is not None else generated

    attrs = [("last-updated-datetime", updated), ("xml:lang", "en")]
    currencies = Counter(t.currency for t in a.transactions)
    if currencies:
        attrs.append(("default-currency", currencies.most_common(1)[0][0]))
    if category == "humanitarian" or pillar == "humanitarian":
        attrs.append(("humanitarian", "1"))
    if category in SECTORS:
        sector = _el("sector", [("vocabulary", "1"), ("code", SECTORS[category]), ("percentage", "100")])
    else:
        sector = _el(
            "sector",
            [("vocabulary", "99"), ("vocabulary-uri", NS_EXT), ("code", category), ("percentage", "100")],
            children=[_el("narrative", text=category.replace("_", " "))],
        )
    children = [
        _el("iati-identifier", text=ident),
        _el("reporting-org", [("ref", org_ref), ("type", org_type)], children=[_el("narrative", text=org_name)]),
        _narrative("title", _text(a.title, f"{w}: title", required=True)),
        _narrative("description", _text(a.description, f"{w}: description", required=True)),
        # The member funds what it pledged (role 1); it also reports, hence the same ref.
        _el("participating-org", [("ref", org_ref), ("type", org_type), ("role", "1")], children=[_el("narrative", text=org_name)]),
        _el("activity-status", [("code", _code(a.activity_status, ACTIVITY_STATUSES, f"{w}: activity_status"))]),
        _el("activity-date", [("type", "1"), ("iso-date", start)]),
        _el("recipient-country", [("code", country), ("percentage", "100")]),
        sector,
        *transactions,
        # Extension elements come last: the schema admits other namespaces only after its own.
        _ext("pillar", pillar) if pillar else None,
        _ext("category", category),
    ]
    return _el("iati-activity", attrs, children=[c for c in children if c is not None])


def _transaction(t: Transaction, where: str) -> tuple:
    if not isinstance(t, Transaction):
        raise TypeError(f"{where}: expected a Transaction")
    children = [
        _el("transaction-type", [("code", _code(t.type_code, TRANSACTION_TYPES, f"{where}: type_code"))]),
        _el("transaction-date", [("iso-date", _date(t.date, f"{where}: date"))]),
        _el(
            "value",
            [("currency", _currency(t.currency, f"{where}: currency")), ("value-date", _date(t.value_date, f"{where}: value_date"))],
            text=_amount(t.value, f"{where}: value"),
        ),
    ]
    if _text(t.description, f"{where}: description").strip():
        children.append(_narrative("description", t.description))
    category = _text(t.category, f"{where}: category")
    if category and category not in CIVIL:
        children.append(_ext("military-category", category))
    if _text(t.stage, f"{where}: stage"):
        children.append(_ext("stage", t.stage))
    if t.quantity is not None:
        if isinstance(t.quantity, bool) or not isinstance(t.quantity, int) or t.quantity < 0:
            raise ValueError(f"{where}: quantity {t.quantity!r} is not a count")
        children.append(_ext("quantity", str(t.quantity)))
    if _text(t.item, f"{where}: item"):
        children.append(_ext("item", t.item))
    attrs = [("ref", _text(t.ref, f"{where}: ref"))] if t.ref else []
    return _el("transaction", attrs, children=children)


# ----------------------------------------------------------------------------- rendering


def _escape_text(value: str) -> str:
    # "\r" would be turned into "\n" by any parser unless written as a character reference.
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _escape_attr(value: str) -> str:
    # Parsers turn raw tabs and line breaks in attributes into spaces: write them as references.
    return (
        _escape_text(value).replace('"', "&quot;").replace("\n", "&#10;").replace("\t", "&#9;")
    )


def _render(node: tuple, out: list[str], depth: int) -> None:
    tag, attrs, text, children = node
    pad = "  " * depth
    attributes = "".join(f' {name}="{_escape_attr(value)}"' for name, value in attrs)
    if children:
        out.append(f"{pad}<{tag}{attributes}>")
        for child in children:
            _render(child, out, depth + 1)
        out.append(f"{pad}</{tag}>")
    elif text:
        # Text sits directly between the tags: indentation must not become part of it.
        out.append(f"{pad}<{tag}{attributes}>{_escape_text(text)}</{tag}>")
    else:
        out.append(f"{pad}<{tag}{attributes}/>")
