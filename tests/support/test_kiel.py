"""The Kiel tracker importer: `kiel.parse()` on realistic rows, each quirk the files really have,
each refusal, and hostile input.

All or nothing: parse returns every row or raises KielError listing every problem with its line
and column; it never raises anything else, whatever the bytes.
"""

from __future__ import annotations

import csv
import time
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolute.support import kiel
from resolute.support.kiel import KielError, KielRow

TODAY = date(2026, 1, 6)
COLUMNS = (
    "activity_id", "sub_activity_id", "donor", "announcement_date", "aid_type_general", "aid_type_specific", "measure",
    "reporting_currency", "reported_value", "value_eur", "delivered_value_eur", "item_type", "item", "item_count",
    "delivered_count", "unit_price", "explanation", "source",
)  # fmt: skip
HEADER = ",".join(COLUMNS)

# Rows in the Kiel style: Excel's quoting, thousands separators, placeholders where a figure is
# not known, a multi-line explanation.
IRIS_T = 'DEU-12,DEU-12-3,Germany,2022-10-11,Military,Weapons and equipment,Allocation,EUR,"140,000,000","140,000,000","140,000,000",Air defence,IRIS-T SLM,1,1,"140,000,000",First IRIS-T SLM fire unit delivered,https://www.bundesregierung.de/breg-de/themen/krieg-in-der-ukraine/lieferungen-ukraine-2054514'
LEOPARD = 'DEU-31,DEU-31-1,Germany,25/01/2023,Military,Weapons and equipment,Commitment,EUR,n/a,"350,000,000.00",,Tanks,Leopard 2A6,18,18,,"Announced by the Chancellor;\nfrom Bundeswehr stocks",https://www.bundesregierung.de'
HIMARS = 'USA-44,USA-44-2,United States,2022-06-01 00:00:00,Military ,Weapons and equipment,Allocation,USD,"$700,000,000",n/a,-,Artillery,M142 HIMARS,4,4,,PDA tranche 11,https://www.defense.gov'
MFA = "EU-7,EU-7-1,EU (Commission and Council),44621,Financial,Budget support,Commitment,EUR,1200000000,1200000000,,,,,,,Emergency macro-financial assistance,https://ec.europa.eu"
PT91 = 'POL-3,POL-3-2,Poland,01.04.2022,Military,Weapons and equipment,Allocation,PLN,"1,520,000,000",not specified,tbd,Tanks,T-72M1 / PT-91,x,unknown,.,,'


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def parse(data, **kw) -> list[KielRow]:
    return kiel.parse(data, today=TODAY, **kw)


def errors(data, **kw) -> list[tuple[int, str | None, str]]:
    with pytest.raises(KielError) as info:
        parse(data, **kw)
    return [(e["line"], e["field"], e["message"]) for e in info.value.errors]


def one_error(data, **kw) -> tuple[int, str | None, str]:
    errs = errors(data, **kw)
    assert len(errs) == 1, errs
    return errs[0]


def row(**over) -> str:
    """One valid row (the IRIS-T allocation) with cells replaced, written by the csv module."""
    cells = next(csv.reader([IRIS_T]))
    values = dict(zip(COLUMNS, cells, strict=True))
    values.update(over)
    out = []
    csv.writer(_Lines(out), lineterminator="").writerow(values[c] for c in COLUMNS)
    return out[0]


class _Lines:
    def __init__(self, out):
        self.out = out

    def write(self, s):
        self.out.append(s)


# ------------------------------------------------------------------------- realistic rows


def test_realistic_kiel_rows_are_read():
    rows = parse(csv_text(IRIS_T, LEOPARD, HIMARS, MFA, PT91))
    assert [r.line for r in rows] == [2, 3, 5, 6, 7]  # Leopard's explanation spans lines 3-4

    iris, leopard, himars, mfa, pt91 = rows
    assert iris == KielRow(
        line=2, activity_id="DEU-12", sub_activity_id="DEU-12-3", donor="Germany", member="DEU",
        announced=date(2022, 10, 11), aid_type_general="military", aid_type_specific="Weapons and equipment",
        measure="allocation", currency="EUR", reported_value=Decimal(140000000), value_eur=Decimal(140000000),
        delivered_value_eur=Decimal(140000000), item="IRIS-T SLM", item_type="Air defence", item_count=1,
        delivered_count=1, unit_price=Decimal(140000000), explanation="First IRIS-T SLM fire unit delivered",
        source="https://www.bundesregierung.de/breg-de/themen/krieg-in-der-ukraine/lieferungen-ukraine-2054514",
    )  # fmt: skip
    assert (leopard.announced, leopard.reported_value, leopard.value_eur) == (date(2023, 1, 25), None, Decimal("350000000.00"))
    assert (leopard.item, leopard.item_count, leopard.delivered_count) == ("Leopard 2A6", 18, 18)
    assert leopard.explanation == "Announced by the Chancellor;\nfrom Bundeswehr stocks"
    assert (himars.member, himars.aid_type_general, himars.currency) == ("USA", "military", "USD")
    assert (himars.reported_value, himars.value_eur, himars.delivered_value_eur) == (Decimal(700000000), None, None)
    assert himars.announced == date(2022, 6, 1)
    assert (mfa.member, mfa.aid_type_general, mfa.measure, mfa.announced) == ("EUU", "financial", "commitment", date(2022, 3, 1))
    assert (mfa.item, mfa.item_count, mfa.unit_price) == ("", None, None)
    assert (pt91.member, pt91.currency, pt91.announced) == ("POL", "PLN", date(2022, 4, 1))
    # Every numeric cell a placeholder but one figure: the row is kept, the blanks are None.
    assert pt91.reported_value == Decimal(1520000000)
    assert (pt91.value_eur, pt91.delivered_value_eur, pt91.item_count, pt91.delivered_count, pt91.unit_price) == (None,) * 5


def test_header_only_gives_no_rows():
    assert parse(HEADER + "\n") == []


def test_header_is_matched_loosely_and_extra_columns_are_ignored():
    # Case, surrounding spaces, "Activity ID" for activity_id; a column Kiel adds later is ignored.
    header = " Activity ID ,Sub-Activity ID,DONOR," + ",".join(COLUMNS[3:]) + ",Region,Comment"
    (r,) = parse(csv_text(IRIS_T + ",Europe,checked", header=header))
    assert (r.activity_id, r.member) == ("DEU-12", "DEU")


def test_optional_columns_may_be_absent():
    required = [c for c in COLUMNS if c in kiel.REQUIRED]
    cells = dict(zip(COLUMNS, next(csv.reader([IRIS_T])), strict=True))
    (r,) = parse(csv_text(",".join(f'"{cells[c]}"' for c in required), header=",".join(required)))
    assert (r.reported_value, r.value_eur, r.item_count, r.explanation) == (Decimal(140000000), None, None, "")


# --------------------------------------------------------------------------------- donors


@pytest.mark.parametrize(
    "donor, member",
    [
        ("Germany", "DEU"), ("United States", "USA"), ("United Kingdom", "GBR"), ("Czech Republic", "CZE"),
        ("Türkiye", "TUR"), ("Turkey", "TUR"), ("EU (Commission and Council)", "EUU"), ("European Peace Facility", "EUU"),
        ("EIB", "EUU"), ("European Investment Bank", "EUU"), ("South Korea", "KOR"), ("Netherlands", "NLD"),
        ("Estonia", "EST"), ("  poland ", "POL"), ("EU  (Commission and  Council)", "EUU"), ("DEU", "DEU"), ("EUU", "EUU"),
    ],
)  # fmt: skip
def test_donor_names_and_codes_resolve_to_members(donor, member):
    (r,) = parse(csv_text(row(donor=donor)))
    assert r.member == member and r.donor == donor.strip()


@pytest.mark.parametrize("donor", ["Atlantis", "Germany and France", "Deu", "ZZZ", "DE", ""])
def test_unknown_donor_is_refused(donor):
    line, field, message = one_error(csv_text(row(), row(sub_activity_id="DEU-12-4", donor=donor)))
    assert (line, field) == (3, "donor")
    assert "unknown donor" in message or "empty" in message


def test_ukraine_is_not_a_donor():
    assert one_error(csv_text(row(donor="Ukraine"))) == (2, "donor", "Ukraine is the recipient, not a donor")


# --------------------------------------------------------------------------------- quirks


@pytest.mark.parametrize("placeholder", ["n/a", "N/A", "-", "", ".", "unknown", "Not specified", "TBD", "x", " n/a "])
def test_placeholders_in_numeric_cells_are_none(placeholder):
    (r,) = parse(csv_text(row(reported_value=placeholder, delivered_value_eur=placeholder, item_count=placeholder, unit_price=placeholder)))
    assert (r.reported_value, r.delivered_value_eur, r.item_count, r.unit_price) == (None, None, None, None)
    assert r.value_eur == Decimal(140000000)


@pytest.mark.parametrize(
    "cell, value",
    [
        ("1,234,567.50", "1234567.50"), ("1234567.50", "1234567.50"), ("140,000,000 €", "140000000"),
        ("€140,000,000", "140000000"), ("140,000,000 EUR", "140000000"), ("EUR 140000000", "140000000"),
        ("140\u00a0000\u00a0000", "140000000"), ("\u00a0140000000\u00a0", "140000000"), ("1\u202f000,50", "1000.50"),
        ("0.5", "0.5"), ("1,5", "1.5"), ("1,000", "1000"), ("1.000", "1.000"), ("0", "0"),
    ],
)  # fmt: skip
def test_amounts_with_separators_symbols_and_spaces(cell, value):
    (r,) = parse(csv_text(row(value_eur=cell)))
    assert r.value_eur == Decimal(value) and str(r.value_eur) == value


def test_semicolon_file_with_decimal_commas():
    # A European Excel: ';' between cells, ',' as the decimal point, '.' grouping thousands.
    header = ";".join(COLUMNS)
    line = "DEU-12;DEU-12-3;Germany;11.10.2022;Military;Weapons and equipment;Allocation;EUR;140.000.000,50;1.234;1,5;Air defence;IRIS-T SLM;1;1;;Erste Lieferung;https://www.bundesregierung.de"
    (r,) = parse(csv_text(line, header=header))
    assert (r.reported_value, r.value_eur, r.delivered_value_eur) == (Decimal("140000000.50"), Decimal(1234), Decimal("1.5"))
    assert r.announced == date(2022, 10, 11) and r.explanation == "Erste Lieferung"


def test_tab_separated_file():
    (r,) = parse(csv_text(IRIS_T.replace('"140,000,000"', "140000000").replace(",", "\t"), header=HEADER.replace(",", "\t")))
    assert r.value_eur == Decimal(140000000)


def test_counts_in_thousands():
    (r,) = parse(csv_text(row(item_type="Ammunition", item="155mm shells", item_count="100,000", delivered_count="60,000")))
    assert (r.item_count, r.delivered_count) == (100_000, 60_000)


@pytest.mark.parametrize("cell", ["Military ", " military", "MILITARY", "Military\u00a0"])
def test_categories_are_normalised(cell):
    (r,) = parse(csv_text(row(aid_type_general=cell, measure=" Allocation ")))
    assert (r.aid_type_general, r.measure) == ("military", "allocation")


@pytest.mark.parametrize(
    "cell, day",
    [
        ("2022-03-01", date(2022, 3, 1)), ("01/03/2022", date(2022, 3, 1)), ("1/3/2022", date(2022, 3, 1)),
        ("01.03.2022", date(2022, 3, 1)), ("2022-03-01 00:00:00", date(2022, 3, 1)), ("2022-03-01T00:00:00", date(2022, 3, 1)),
        ("2022/03/01", date(2022, 3, 1)), ("44621", date(2022, 3, 1)), ("44621.0", date(2022, 3, 1)),
        ("31/12/2025", date(2025, 12, 31)), ("2026-01-06", TODAY),
    ],
)  # fmt: skip
def test_date_formats(cell, day):
    (r,) = parse(csv_text(row(announcement_date=cell)))
    assert r.announced == day


def test_currency_is_upper_cased():
    (r,) = parse(csv_text(row(reporting_currency=" gbp ", reported_value="£2,300,000", value_eur="2,700,000")))
    assert (r.currency, r.reported_value) == ("GBP", Decimal(2300000))


def test_utf8_with_byte_order_mark():
    data = b"\xef\xbb\xbf" + csv_text(row(donor="Türkiye")).encode("utf-8")
    (r,) = parse(data)
    assert (r.donor, r.member) == ("Türkiye", "TUR")


def test_windows_1252_fallback():
    data = csv_text(row(donor="Türkiye", explanation="Bayraktar TB2 – Drohnen für die Ukraine, 5 € pro Stück")).encode("cp1252")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    (r,) = parse(data)
    assert r.member == "TUR" and r.explanation == "Bayraktar TB2 – Drohnen für die Ukraine, 5 € pro Stück"


def test_utf16_with_byte_order_mark():
    (r,) = parse(csv_text(row(donor="Türkiye")).encode("utf-16"))
    assert r.member == "TUR"


def test_crlf_and_blank_lines_keep_line_numbers():
    text = "\r\n".join([HEADER, row(), "", ",,,,,,,,,,,,,,,,,", row(sub_activity_id="DEU-12-4", donor="Atlantis")]) + "\r\n"
    assert one_error(text)[:2] == (5, "donor")


# ------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "over, field, words",
    [
        ({"aid_type_general": "Military/Financial"}, "aid_type_general", "not one of military, financial, humanitarian"),
        ({"aid_type_general": ""}, "aid_type_general", "not one of"),
        ({"measure": "Disbursement"}, "measure", "not one of commitment, allocation"),
        ({"reporting_currency": "EURO"}, "reporting_currency", "not an ISO 4217 currency code"),
        ({"reporting_currency": "XYZ"}, "reporting_currency", "not an ISO 4217 currency code"),
        ({"reporting_currency": "XXX"}, "reporting_currency", "not an ISO 4217 currency code"),
        ({"reporting_currency": ""}, "reporting_currency", "not an ISO 4217 currency code"),
        ({"reported_value": "-5,000,000"}, "reported_value", "negative value"),
        ({"value_eur": "(5,000,000)"}, "value_eur", "negative value"),
        ({"delivered_value_eur": "−1"}, "delivered_value_eur", "negative value"),
        ({"item_count": "-1"}, "item_count", "negative value"),
        ({"reported_value": "n/a", "value_eur": "-"}, "reported_value", "reported_value and value_eur are both missing"),
        ({"item_count": "10", "delivered_count": "12"}, "delivered_count", "12 delivered but item_count is 10"),
        ({"announcement_date": "03/15/2022"}, "announcement_date", "not a date"),
        ({"announcement_date": "31/02/2022"}, "announcement_date", "not a date"),
        ({"announcement_date": "March 2022"}, "announcement_date", "not a date"),
        ({"announcement_date": "01/03/22"}, "announcement_date", "not a date"),
        ({"announcement_date": ""}, "announcement_date", "empty"),
        ({"announcement_date": "2026-01-07"}, "announcement_date", "2026-01-07 is in the future"),
        ({"announcement_date": "99999"}, "announcement_date", "in the future"),
        ({"announcement_date": "2022"}, "announcement_date", "before the war began"),
        ({"announcement_date": "2013-12-31"}, "announcement_date", "before the war began"),
        ({"reported_value": "1.5bn"}, "reported_value", "not a number"),
        ({"reported_value": "about 5 million"}, "reported_value", "not a number"),
        ({"reported_value": "1e9"}, "reported_value", "not a number"),
        ({"reported_value": "Infinity"}, "reported_value", "not a number"),
        ({"reported_value": "1,23,456"}, "reported_value", "not a number"),
        ({"reported_value": "1.234,567.5"}, "reported_value", "not a number"),
        ({"reported_value": "9" * 19}, "reported_value", "too large"),
        ({"reported_value": "$140,000,000"}, "reported_value", "written in $ but the currency is EUR"),
        ({"reported_value": "140000000 USD"}, "reported_value", "written in USD but the currency is EUR"),
        ({"value_eur": "£140,000,000"}, "value_eur", "written in £ but the currency is EUR"),
        ({"value_eur": "€1 EUR"}, "value_eur", "two currency markers"),
        ({"item_count": "2.5"}, "item_count", "not a whole number"),
        ({"item_count": "1.000"}, "item_count", "ambiguous count"),
        ({"item_count": "18 €"}, "item_count", "a count, not an amount"),
        ({"activity_id": ""}, "activity_id", "empty"),
    ],
)  # fmt: skip
def test_bad_cell_is_refused_with_its_line_and_column(over, field, words):
    line, got_field, message = one_error(csv_text(row(), row(sub_activity_id="DEU-12-4", **over)))
    assert (line, got_field) == (3, field)
    assert words in message


def test_every_problem_is_reported_and_nothing_is_returned():
    text = csv_text(
        row(),
        row(sub_activity_id="DEU-12-4", donor="Atlantis", reporting_currency="EURO"),
        LEOPARD,  # lines 4-5
        row(sub_activity_id="DEU-12-5", announcement_date="2030-01-01"),
        row(sub_activity_id="DEU-12-6"),
    )
    with pytest.raises(KielError) as info:
        parse(text)
    assert [(e["line"], e["field"]) for e in info.value.errors] == [(3, "donor"), (3, "reporting_currency"), (6, "announcement_date")]
    assert not info.value.truncated
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith("3 problem(s) in the Kiel file, nothing read; first at line 3, donor: unknown donor 'Atlantis'")


def test_errors_stop_at_200():
    text = csv_text(*(row(sub_activity_id=f"DEU-12-{n}", donor="Atlantis") for n in range(300)))
    with pytest.raises(KielError) as info:
        parse(text)
    assert len(info.value.errors) == kiel.MAX_ERRORS and info.value.truncated
    assert info.value.errors[-1]["line"] == 201
    assert str(info.value).startswith("200+ problem(s)")


def test_the_same_activity_sub_activity_and_measure_twice_is_refused():
    # Counted twice otherwise; the same pair at another stage (measure) is the pledge progressing.
    text = csv_text(row(), row(measure="Commitment"), row(sub_activity_id="", item="IRIS-T SLM launcher"), row(sub_activity_id="", item="IRIS-T SLM radar"), row())
    assert one_error(text) == (6, "sub_activity_id", "same activity, sub-activity and measure as line 2")


def test_missing_columns_are_one_error_naming_them():
    header = ",".join(c for c in COLUMNS if c not in ("donor", "measure"))
    assert errors(csv_text(header=header)) == [(1, None, "missing column(s): donor, measure")]


def test_repeated_column_is_refused():
    assert errors(csv_text(header=HEADER + ",Donor")) == [(1, None, "repeated column(s): donor")]


def test_empty_file_is_refused():
    assert errors(b"") == [(1, None, "empty file")]
    assert errors("\n\n") == [(1, None, "empty file")]


# ------------------------------------------------------------------------------ hostile input


@pytest.mark.parametrize("formula", ["=HYPERLINK(\"http://evil.example\",\"source\")", "=cmd|' /C calc'!A0", "+1+1", "@SUM(A1:A9)", "-2+3"])
def test_formula_looking_cells_are_kept_as_text(formula):
    (r,) = parse(csv_text(row(explanation=formula, source=formula, item=formula, aid_type_specific=formula)))
    assert r.explanation == r.source == r.item == r.aid_type_specific == formula.strip()


@pytest.mark.parametrize("formula", ["=1+1", "=SUM(A1:A9)", "+140000000"])
def test_formula_in_a_numeric_cell_is_not_a_number(formula):
    assert one_error(csv_text(row(value_eur=formula)))[1:] == ("value_eur", f"not a number: {formula!r}")


def test_nul_byte_is_refused_with_its_line_and_column():
    text = csv_text(row(), row(sub_activity_id="DEU-12-4", explanation="a\x00b"))
    assert one_error(text) == (3, "explanation", "NUL character (binary data?)")
    assert one_error(text.encode("utf-8")) == (3, "explanation", "NUL character (binary data?)")


def test_control_character_is_refused():
    assert one_error(csv_text(row(item="IRIS-T\x1b[2J")))[:2] == (2, "item")


def test_huge_field_is_refused_and_the_csv_limit_restored():
    previous = csv.field_size_limit(10_000_000)
    try:
        text = csv_text(row(), row(sub_activity_id="DEU-12-4", explanation="x" * (kiel.MAX_FIELD + 1)), row(sub_activity_id="DEU-12-5"))
        line, field, message = one_error(text)
        assert (line, field) == (3, None) and "longer than" in message and "reading stopped" in message
        assert csv.field_size_limit() == 10_000_000
    finally:
        csv.field_size_limit(previous)


def test_file_over_max_bytes_is_refused_before_parsing():
    text = csv_text(row(), row(donor="Atlantis"))
    assert errors(text.encode(), max_bytes=100) == [(1, None, "file larger than 100 bytes")]
    assert errors(text, max_bytes=100) == [(1, None, "file larger than 100 bytes")]
    # Multi-byte characters count as bytes, not characters.
    text = csv_text(row(explanation="Київ" * 10))
    assert parse(text, max_bytes=len(text.encode()))
    assert errors(text, max_bytes=len(text.encode()) - 1)[0][2].startswith("file larger than")


def test_too_many_rows_is_refused():
    text = csv_text(*(row(sub_activity_id=f"DEU-12-{n}") for n in range(5)))
    assert len(parse(text, max_rows=5)) == 5
    assert errors(text, max_rows=4) == [(6, None, "more than 4 rows: split the file")]


@pytest.mark.parametrize(
    "bad, message",
    [
        ('DEU-12,DEU-12-4,Germany,2022-10-11,Military,"Weapons and equipment,Allocation,EUR,1,1,,,,,,,,', "never closed"),
        ('DEU-12,DEU-12-4,Germany,2022-10-11,Military,"Weapons" and equipment,Allocation,EUR,1,1,,,,,,,,', "text after a closing quote"),
    ],
    ids=["unclosed", "text after quote"],
)
def test_mismatched_quotes_are_an_error_at_the_row_start(bad, message):
    # An unclosed quote swallows every line after it: reading cannot resume, so it stops there.
    line, field, got = one_error(csv_text(row(), bad, "DEU-12,DEU-12-5,Germany,2022-10-11,Military,x,Allocation,EUR,1,1,,,,,,,,"))
    assert (line, field) == (3, None) and message in got


@pytest.mark.parametrize("cells, word", [(19, "more"), (17, "fewer"), (1, "fewer")])
def test_wrong_number_of_cells_is_a_row_error_and_reading_goes_on(cells, word):
    cut = ",".join(next(csv.reader([row(sub_activity_id="DEU-12-4")])) + ["surplus"])
    bad = ",".join(cut.split(",")[:cells])
    errs = errors(csv_text(row(), bad, row(sub_activity_id="DEU-12-5", donor="Atlantis")))
    assert errs == [(3, None, f"{cells} cells, {word} than the header's 18 columns"), (4, "donor", errs[1][2])]


def test_lone_surrogate_in_text_is_refused():
    assert errors(csv_text(row(), row(explanation="\udfff"))) == [(3, None, "invalid character (lone surrogate) in the text")]


def test_neither_utf8_nor_windows_1252():
    data = csv_text(row(), row(sub_activity_id="DEU-12-4", explanation="X")).encode().replace(b",X,", b",\x81,")
    assert errors(data) == [(3, None, "neither UTF-8 nor Windows-1252 text")]


def test_mixed_encodings_are_refused_not_garbled():
    # UTF-8 "Türkiye" on one line and a Latin-1 byte on the next: reading all of it as
    # Windows-1252 would store "TÃ¼rkiye".
    data = csv_text(row(donor="Türkiye"), row(sub_activity_id="DEU-12-4", explanation="caf\u00e9")).encode()
    data = data.replace("café".encode(), b"caf\xe9")
    assert errors(data) == [(3, None, "mixed encodings: UTF-8 text with a byte that is not UTF-8")]


def test_bad_bytes_after_a_utf8_bom_are_not_reinterpreted():
    data = b"\xef\xbb\xbf" + csv_text(row(), row(explanation="caf\xe9")).encode("cp1252")
    assert errors(data) == [(3, None, "not valid UTF-8 text despite its byte order mark")]


def test_error_messages_do_not_echo_huge_cells():
    (_, _, message), = errors(csv_text(row(donor="A" * 10_000)))
    assert len(message) < 200


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_give_rows_or_kiel_error_only(data):
    try:
        parse(HEADER.encode() + b"\n" + data)
    except KielError as exc:
        assert 0 < len(exc.errors) <= kiel.MAX_ERRORS
        assert all(set(e) == {"line", "field", "message"} and e["line"] >= 1 for e in exc.errors)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([",", ";", '"', "\n", "\r", "n/a", "1,000", "Germany", "2022-03-01", "\x00", "€", "é", " "]), max_size=200))
def test_arbitrary_csv_fragments_give_rows_or_kiel_error_only(parts):
    try:
        parse(csv_text(row(), "".join(parts)))
    except KielError:
        pass


@pytest.mark.parametrize("over, field", [({"value_eur": "١٤٠"}, "value_eur"), ({"announcement_date": "٢٠٢٢-٠٣-٠١"}, "announcement_date"), ({"item_count": "１８"}, "item_count")])
def test_digits_of_other_scripts_are_refused(over, field):
    # int() and Decimal() would read them; a figure in a ledger should not depend on that.
    assert one_error(csv_text(row(**over)))[:2] == (2, field)


def test_a_header_of_100000_repeated_columns_is_refused_quickly():
    started = time.monotonic()
    assert errors(csv_text(header=HEADER + ",donor" * 100_000)) == [(1, None, "repeated column(s): donor")]
    assert time.monotonic() - started < 5
