"""The IATI 2.03 export: `iati.write()` parsed back and checked against the standard's structure.

The output is our own, so the stdlib parser reads it back (defusedxml is not installed); what is
checked is what an IATI consumer relies on: version, namespaces, the schema's element order,
complete transactions with their codes and plain decimal amounts, the military extension in its
own namespace, and text that survives any characters a member's data may hold.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from resolute.support import iati
from resolute.support.iati import NS_EXT, Activity, Transaction

GENERATED = datetime(2026, 1, 6, 12, 30, 15, 123456, tzinfo=UTC)
X = "{" + NS_EXT + "}"

# The iati-activity sequence of the IATI 2.03 activity schema, written out here independently of
# the module so that a mistake in iati.ORDER cannot hide itself.
SCHEMA_203_ORDER = [
    "iati-identifier", "reporting-org", "title", "description", "participating-org", "other-identifier",
    "activity-status", "activity-date", "contact-info", "activity-scope", "recipient-country", "recipient-region",
    "location", "sector", "tag", "country-budget-items", "humanitarian-scope", "policy-marker", "collaboration-type",
    "default-flow-type", "default-finance-type", "default-aid-type", "default-tied-status", "budget",
    "planned-disbursement", "capital-spend", "transaction", "document-link", "related-activity", "legacy-data",
    "conditions", "result", "crs-add", "fss",
]  # fmt: skip
TRANSACTION_203_ORDER = [
    "transaction-type", "transaction-date", "value", "description", "provider-org", "receiver-org",
    "disbursement-channel", "sector", "recipient-country", "recipient-region", "flow-type", "finance-type", "aid-type",
    "tied-status",
]  # fmt: skip
HOSTILE = 'Smith & Sons <Ltd> "quoted" \'single\' ]]> --> <!-- &amp; Київ Львів العربية 中文 🇺🇦 e\u0301'


def tx(**over) -> Transaction:
    t = dict(
        ref="DEU-17-1", type_code=12, stage="pledge", date=date(2023, 1, 25), currency="EUR", value=Decimal("350000000.00"),
        value_date=date(2023, 1, 25), description="Leopard 2A6 main battle tanks from Bundeswehr stocks",
        category="military_equipment", quantity=18, item="Leopard 2A6",
    )  # fmt: skip
    t.update(over)
    return Transaction(**t)


def activity(**over) -> Activity:
    a = dict(
        iati_identifier="XM-RESOLUTE-DEU-17", reporting_org_ref="XM-RESOLUTE-DEU", reporting_org_name="Germany",
        title="Leopard 2A6 for Ukraine", description="Main battle tanks with ammunition and training",
        pillar="support", category="military_equipment",
        transactions=(
            tx(),
            tx(ref="DEU-17-2", type_code=2, stage="commitment", date=date(2023, 2, 1), value_date=date(2023, 2, 1)),
            tx(ref="DEU-17-3", type_code=3, stage="shipped", date=date(2023, 3, 27), value=Decimal("350000000.00"), value_date=date(2023, 3, 27)),
            tx(ref="DEU-17-4", type_code=4, stage="received", date=date(2023, 3, 28), value=Decimal("1234.5"), value_date=date(2023, 3, 28), quantity=None, item=""),
        ),
    )  # fmt: skip
    a.update(over)
    return Activity(**a)


def humanitarian() -> Activity:
    return activity(
        iati_identifier="XM-RESOLUTE-POL-3", reporting_org_ref="XM-RESOLUTE-POL", reporting_org_name="Poland",
        title="Generators for Ukrainian hospitals", description="Power generators for winter", pillar="humanitarian",
        category="humanitarian",
        transactions=(tx(ref="POL-3-1", type_code=2, stage="commitment", currency="PLN", value=Decimal(12000000), category="humanitarian", quantity=None, item=""),),
    )  # fmt: skip


def parse(data: bytes) -> ET.Element:
    return ET.fromstring(data)


def namespaces(data: bytes) -> list[tuple[str, str]]:
    return [ns for _, ns in ET.iterparse(io.BytesIO(data), events=("start-ns",))]


def local(tag: str) -> str:
    return tag.split("}")[-1]


def written() -> tuple[bytes, ET.Element]:
    data = iati.write([activity(), humanitarian()], GENERATED)
    return data, parse(data)


# ------------------------------------------------------------------------------- document


def test_root_version_generated_time_and_namespace():
    data, root = written()
    assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert root.tag == "iati-activities"
    assert root.get("version") == "2.03"
    assert root.get("generated-datetime") == "2026-01-06T12:30:15Z"
    assert namespaces(data) == [("resolute", NS_EXT)]
    assert [a.find("iati-identifier").text for a in root] == ["XM-RESOLUTE-DEU-17", "XM-RESOLUTE-POL-3"]


def test_generated_time_is_written_in_utc():
    kyiv = timezone(timedelta(hours=2))
    root = parse(iati.write([], datetime(2026, 1, 6, 14, 0, tzinfo=kyiv)))
    assert root.get("generated-datetime") == "2026-01-06T12:00:00Z"


def test_empty_input_gives_a_well_formed_empty_document():
    data = iati.write([], GENERATED)
    root = parse(data)
    assert (root.tag, root.get("version"), len(root)) == ("iati-activities", "2.03", 0)
    assert namespaces(data) == [("resolute", NS_EXT)]


def test_activity_attributes():
    _, root = written()
    tanks, aid = root
    assert tanks.get("last-updated-datetime") == "2026-01-06T12:30:15Z"
    assert tanks.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    assert tanks.get("default-currency") == "EUR"
    assert tanks.get("humanitarian") is None
    assert aid.get("default-currency") == "PLN" and aid.get("humanitarian") == "1"


def test_last_updated_is_the_activitys_own_when_given():
    root = parse(iati.write([activity(last_updated=datetime(2025, 12, 1, 9, tzinfo=UTC))], GENERATED))
    assert root[0].get("last-updated-datetime") == "2025-12-01T09:00:00Z"


def test_default_currency_is_the_most_used():
    ts = (tx(currency="USD"), tx(currency="EUR"), tx(currency="EUR"))
    assert parse(iati.write([activity(transactions=ts)], GENERATED))[0].get("default-currency") == "EUR"


def test_elements_follow_the_203_schema_order():
    _, root = written()
    for act in root:
        tags = [child.tag for child in act]
        standard = [t for t in tags if not t.startswith("{")]
        positions = [SCHEMA_203_ORDER.index(t) for t in standard]
        assert positions == sorted(positions), standard
        # Elements of another namespace only after the standard's own (the schema's xsd:any).
        first_ext = next(i for i, t in enumerate(tags) if t.startswith("{"))
        assert all(t.startswith("{") for t in tags[first_ext:])
        for required in ("iati-identifier", "reporting-org", "title", "description", "participating-org", "activity-status", "activity-date"):
            assert required in standard
    assert iati.ORDER == tuple(SCHEMA_203_ORDER)


def test_activity_content():
    _, root = written()
    tanks = root[0]
    org = tanks.find("reporting-org")
    assert (org.get("ref"), org.get("type"), org.find("narrative").text) == ("XM-RESOLUTE-DEU", "10", "Germany")
    assert tanks.find("title/narrative").text == "Leopard 2A6 for Ukraine"
    assert tanks.find("description/narrative").text == "Main battle tanks with ammunition and training"
    funder = tanks.find("participating-org")
    assert (funder.get("role"), funder.get("ref"), funder.get("type"), funder.find("narrative").text) == ("1", "XM-RESOLUTE-DEU", "10", "Germany")
    assert tanks.find("activity-status").get("code") == "2"
    assert tanks.find("activity-date").attrib == {"type": "1", "iso-date": "2023-01-25"}  # the earliest transaction
    assert tanks.find("recipient-country").attrib == {"code": "UA", "percentage": "100"}
    assert tanks.find(f"{X}pillar").text == "support" and tanks.find(f"{X}category").text == "military_equipment"


def test_sectors_use_dac_codes_only_where_they_fit():
    _, root = written()
    tanks, aid = (a.find("sector") for a in root)
    # No DAC purpose code covers military equipment: the member's own vocabulary says what it is.
    assert tanks.attrib == {"vocabulary": "99", "vocabulary-uri": NS_EXT, "code": "military_equipment", "percentage": "100"}
    assert aid.attrib == {"vocabulary": "1", "code": "72010", "percentage": "100"}
    for category, code in (("financial", "51010"), ("budget_support", "51010")):
        act = activity(category=category, transactions=(tx(category=category, quantity=None, item=""),))
        sector = parse(iati.write([act], GENERATED))[0].find("sector")
        assert (sector.get("vocabulary"), sector.get("code")) == ("1", code)
    for category in ("defence_budget_support", "arms_financing", "training", "joint_production"):
        sector = parse(iati.write([activity(category=category)], GENERATED))[0].find("sector")
        assert (sector.get("vocabulary"), sector.get("code")) == ("99", category)


def test_explicit_start_date_and_status():
    act = activity(start=date(2022, 12, 1), activity_status=4, transactions=())
    out = parse(iati.write([act], GENERATED))[0]
    assert out.find("activity-date").get("iso-date") == "2022-12-01"
    assert out.find("activity-status").get("code") == "4"
    assert out.find("transaction") is None and out.get("default-currency") is None


# ---------------------------------------------------------------------------- transactions


def test_every_transaction_has_type_date_and_value_in_schema_order():
    _, root = written()
    transactions = root.findall("iati-activity/transaction")
    assert len(transactions) == 5
    for t in transactions:
        tags = [c.tag for c in t]
        assert tags[:3] == ["transaction-type", "transaction-date", "value"]
        standard = [tag for tag in tags if not tag.startswith("{")]
        assert [TRANSACTION_203_ORDER.index(tag) for tag in standard] == sorted(TRANSACTION_203_ORDER.index(tag) for tag in standard)
        first_ext = next((i for i, tag in enumerate(tags) if tag.startswith("{")), len(tags))
        assert all(tag.startswith("{") for tag in tags[first_ext:])
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", t.find("transaction-date").get("iso-date"))
        value = t.find("value")
        assert value.get("currency") in ("EUR", "PLN") and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.get("value-date"))


def test_transaction_codes_are_written_as_given():
    _, root = written()
    codes = [t.find("transaction-type").get("code") for t in root.findall("iati-activity/transaction")]
    assert codes == ["12", "2", "3", "4", "2"]
    refs = [t.get("ref") for t in root[0].findall("transaction")]
    assert refs == ["DEU-17-1", "DEU-17-2", "DEU-17-3", "DEU-17-4"]


@pytest.mark.parametrize(
    "value, text",
    [
        (Decimal("350000000.00"), "350000000.00"), (Decimal("1234.5"), "1234.5"), (Decimal("1.5E+8"), "150000000"),
        (Decimal("1E-2"), "0.01"), (Decimal("-2500.00"), "-2500.00"), (Decimal("-0"), "0"), (7, "7"),
        (Decimal("123456789012345678.99"), "123456789012345678.99"),
    ],
)  # fmt: skip
def test_amounts_are_plain_decimals_with_a_point(value, text):
    out = parse(iati.write([activity(transactions=(tx(value=value),))], GENERATED))
    written_value = out.find("iati-activity/transaction/value").text
    assert written_value == text
    assert re.fullmatch(r"-?\d+(\.\d+)?", written_value)


def test_extension_elements_are_namespaced():
    data, root = written()
    first = root[0].find("transaction")
    assert first.find(f"{X}military-category").text == "military_equipment"
    assert first.find(f"{X}stage").text == "pledge"
    assert first.find(f"{X}quantity").text == "18"
    assert first.find(f"{X}item").text == "Leopard 2A6"
    # Where not set, not written.
    last = root[0].findall("transaction")[3]
    assert last.find(f"{X}quantity") is None and last.find(f"{X}item") is None
    assert last.find(f"{X}stage").text == "received"
    # Humanitarian aid is not given a military category.
    assert root[1].find(f"transaction/{X}military-category") is None
    # No extension element leaks into IATI's own (empty) namespace.
    names = {"military-category", "stage", "quantity", "item", "pillar", "category"}
    for el in root.iter():
        if local(el.tag) in names:
            assert el.tag.startswith(X), el.tag
    assert b"<resolute:military-category>" in data


def test_transaction_without_description_has_no_empty_narrative():
    out = parse(iati.write([activity(transactions=(tx(description=""), tx(description="  ")))], GENERATED))
    assert out.findall("iati-activity/transaction/description") == []


# ------------------------------------------------------------------------------ hostile text


def test_hostile_text_round_trips():
    text = HOSTILE + "\nsecond line\r\nthird\tcolumn"
    ref = 'ref with "quotes" & <angles>\tand\nbreaks'
    act = activity(
        reporting_org_name=HOSTILE, title=HOSTILE, description=text,
        transactions=(tx(ref=ref, description=text, item=HOSTILE, stage="pledge & <more>"),),
    )  # fmt: skip
    data = iati.write([act], GENERATED)
    out = parse(data)[0]
    assert out.find("reporting-org/narrative").text == HOSTILE
    assert out.find("participating-org/narrative").text == HOSTILE
    assert out.find("title/narrative").text == HOSTILE
    assert out.find("description/narrative").text == text
    t = out.find("transaction")
    assert t.get("ref") == ref
    assert t.find("description/narrative").text == text
    assert t.find(f"{X}item").text == HOSTILE
    assert t.find(f"{X}stage").text == "pledge & <more>"
    # Non-Latin text is written as UTF-8, not as character references.
    assert "Київ Львів العربية 中文 🇺🇦".encode() in data


@pytest.mark.parametrize("bad", ["\x00", "\x0b", "\x1b[2J", "\udfff", "\ufffe"])
@pytest.mark.parametrize("field", ["title", "description", "reporting_org_name"])
def test_characters_xml_cannot_carry_are_refused(bad, field):
    with pytest.raises(ValueError, match=rf"activity XM-RESOLUTE-DEU-17: {field}: character U\+"):
        iati.write([activity(**{field: f"Leopard{bad}"})], GENERATED)


def test_characters_xml_cannot_carry_are_refused_in_transactions():
    with pytest.raises(ValueError, match=r"activity XM-RESOLUTE-DEU-17, transaction 1: item: character U\+0000"):
        iati.write([activity(transactions=(tx(item="IRIS\x00T"),))], GENERATED)


# ------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    "over, words",
    [
        ({"type_code": 14}, "type_code: 14 is not a valid code"),
        ({"type_code": 0}, "type_code: 0 is not a valid code"),
        ({"type_code": "12"}, "type_code: '12' is not a valid code"),
        ({"type_code": True}, "type_code: True is not a valid code"),
        ({"currency": "EURO"}, "currency: 'EURO' is not an ISO 4217 currency code"),
        ({"currency": "eur"}, "currency: 'eur' is not an ISO 4217 currency code"),
        ({"value": Decimal("NaN")}, "value: NaN is not an amount"),
        ({"value": Decimal("Infinity")}, "value: Infinity is not an amount"),
        ({"quantity": -1}, "quantity -1 is not a count"),
    ],
)  # fmt: skip
def test_bad_transaction_is_refused_naming_where(over, words):
    with pytest.raises(ValueError) as info:
        iati.write([activity(transactions=(tx(), tx(**over)))], GENERATED)
    assert str(info.value) == f"activity XM-RESOLUTE-DEU-17, transaction 2: {words}"


@pytest.mark.parametrize(
    "over, words",
    [
        ({"title": " "}, "title: empty"),
        ({"description": ""}, "description: empty"),
        ({"activity_status": 7}, "activity_status: 7 is not a valid code"),
        ({"recipient_country": "UKR"}, "recipient_country 'UKR' is not an ISO 3166 alpha-2 code"),
        ({"transactions": ()}, "no transactions and no start date"),
        ({"last_updated": datetime(2025, 1, 1)}, "last_updated: datetime without a time zone"),
    ],
)  # fmt: skip
def test_bad_activity_is_refused_naming_where(over, words):
    with pytest.raises(ValueError) as info:
        iati.write([activity(**over)], GENERATED)
    assert str(info.value).startswith(f"activity XM-RESOLUTE-DEU-17: {words}")


@pytest.mark.parametrize("identifier", ["XM-RESOLUTE DEU-17", "XM-RESOLUTE/DEU-17", "XM-RESOLUTE-DEU-17?", ""])
def test_bad_identifier_is_refused(identifier):
    with pytest.raises(ValueError):
        iati.write([activity(iati_identifier=identifier)], GENERATED)


@pytest.mark.parametrize(
    "over, words",
    [
        ({"value": 1.1}, "value: expected a Decimal amount"),
        ({"date": datetime(2023, 1, 25, 10, 0)}, "date: expected a date"),
        ({"value_date": "2023-01-25"}, "value_date: expected a date"),
        ({"item": None}, "item: expected text"),
    ],
)
def test_a_value_of_the_wrong_type_is_a_type_error(over, words):
    # A binary float cannot hold most amounts exactly; a datetime is not an IATI iso-date.
    with pytest.raises(TypeError) as info:
        iati.write([activity(transactions=(tx(**over),))], GENERATED)
    assert str(info.value) == f"activity XM-RESOLUTE-DEU-17, transaction 1: {words}"


def test_the_same_identifier_twice_is_refused():
    with pytest.raises(ValueError, match="the same iati-identifier twice"):
        iati.write([activity(), activity()], GENERATED)


def test_generated_time_needs_a_time_zone():
    with pytest.raises(ValueError, match="generated: datetime without a time zone"):
        iati.write([], datetime(2026, 1, 6, 12, 0))


def test_activity_fields_are_keyword_only():
    # Nine string fields in a row: a positional call would be too easy to get silently wrong.
    with pytest.raises(TypeError):
        Activity("XM-RESOLUTE-DEU-17", "XM-RESOLUTE-DEU", "Germany", "t", "d", "UA", 2, "support", "military_equipment", ())  # type: ignore[misc]
