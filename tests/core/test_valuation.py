"""The support ledger's arithmetic: EUR conversion, stage order, double counting, totals, delivery."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from resolute.core.valuation import (
    IATI_TRANSACTION_TYPE,
    STAGES,
    Entry,
    Figure,
    FxTable,
    ValuationError,
    check_sequence,
    delivery_ratio,
    effective,
    totals,
)

FX = FxTable({
    "USD": [(date(2026, 1, 2), D("0.8600")), (date(2025, 12, 31), D("0.8700"))],  # deliberately unsorted
    "GBP": [(date(2026, 1, 2), D("1.1500"))],
    "PLN": [(date(2026, 1, 2), D("0.2350"))],
    "UAH": [(date(2025, 11, 1), D("0.0210"))],
    "SEK": [(date(2026, 1, 2), D("0.1"))],
})


def entry(id, stage, amount="100", pledge=7, **kw) -> Entry:
    """A DEU support entry in EUR on 10 January 2026, valued on the reported basis unless `values` is given."""
    fields = {"member": "DEU", "pillar": "support", "category": "air_defence", "value_date": date(2026, 1, 10),
              "currency": "EUR", "values": {"reported": D(amount)}}
    fields.update(kw)
    return Entry(id=id, pledge_id=pledge, stage=stage, **fields)


def ids(entries) -> list[int]:
    return [e.id for e in entries]


# --- FX ------------------------------------------------------------------------------------------


def test_rate_on_the_day_or_the_latest_before_it():
    assert FX.eur_per_unit("USD", date(2026, 1, 2)) == D("0.8600")
    assert FX.eur_per_unit("USD", date(2026, 1, 4)) == D("0.8600")
    assert FX.eur_per_unit("USD", date(2026, 1, 1)) == D("0.8700")
    assert FX.eur_per_unit("EUR", date(1999, 1, 1)) == 1


def test_a_rate_counts_for_max_age_days_and_no_longer():
    assert FX.eur_per_unit("UAH", date(2025, 12, 2)) == D("0.0210")  # 31 days old
    with pytest.raises(ValuationError) as err:
        FX.eur_per_unit("UAH", date(2025, 12, 3))
    assert err.value.field == "currency" and "within 31 days" in str(err.value)
    assert FxTable(FX.rates, max_age_days=40).eur_per_unit("UAH", date(2025, 12, 3)) == D("0.0210")


@pytest.mark.parametrize("currency, on", [("CHF", date(2026, 1, 5)), ("GBP", date(2026, 1, 1))])
def test_no_rate_for_an_unknown_currency_or_before_the_first_rate(currency, on):
    with pytest.raises(ValuationError) as err:
        FX.eur_per_unit(currency, on)
    assert err.value.field == "currency"
    assert str(err.value) == f"no EUR rate for {currency} on or before {on}"


def test_conversion_rounds_to_the_cent_half_to_even():
    day = date(2026, 1, 2)
    assert FX.to_eur(D("1.25"), "SEK", day) == D("0.12")
    assert FX.to_eur(D("1.35"), "SEK", day) == D("0.14")
    assert FX.to_eur(D("100.005"), "EUR", day) == D("100.00")
    assert FX.to_eur(D(4000000), "PLN", day) == D("940000.00")


def test_floats_are_refused_as_amounts_and_rates():
    with pytest.raises(TypeError):
        FX.to_eur(1.5, "USD", date(2026, 1, 2))
    with pytest.raises(ValuationError) as err:
        FxTable({"USD": [(date(2026, 1, 2), 0.86)]})
    assert err.value.field == "rates"
    with pytest.raises(ValuationError):
        FxTable({"USD": [(date(2026, 1, 2), D("0.86")), (date(2026, 1, 2), D("0.87"))]})


def test_every_stage_has_an_iati_transaction_type():
    assert set(IATI_TRANSACTION_TYPE) == set(STAGES)
    assert [IATI_TRANSACTION_TYPE[s] for s in ("pledge", "commitment", "disbursed", "received")] == [12, 2, 3, 4]


# --- check_sequence ------------------------------------------------------------------------------

OPENED = [entry(1, "pledge"), entry(2, "disbursed")]


def refusal(existing, new) -> ValuationError:
    with pytest.raises(ValuationError) as err:
        check_sequence(existing, new)
    return err.value


def test_out_of_order_names_the_current_stage():
    err = refusal(OPENED, entry(3, "commitment"))
    assert err.field == "stage"
    assert str(err) == "out of order: pledge 7 is already at 'disbursed'; 'commitment' comes before it"


@pytest.mark.parametrize("existing, new, field", [
    ([], entry(1, "disbursed"), "stage"),  # a pledge opens with pledge, commitment or allocation
    ([entry(1, "pledge"), entry(2, "pledge", "-100", reversal_of=1)], entry(3, "received"), "stage"),  # all reversed
    (OPENED, entry(3, "delivered"), "stage"),
    (OPENED, entry(3, "disbursed", "-5"), "values"),
    (OPENED, entry(3, "disbursed", values={}), "values"),
    (OPENED, entry(3, "disbursed", values={"market": D(5)}), "values"),
    (OPENED, entry(3, "disbursed", values={"reported": 5.0}), "values"),
    (OPENED, entry(3, "disbursed", quantity=-2), "quantity"),
    (OPENED, entry(3, "disbursed", currency="eur"), "currency"),
    (OPENED, entry(3, "disbursed", currency="EURO"), "currency"),
    (OPENED, entry(3, "disbursed", "-100", reversal_of=99), "reversal_of"),  # no such entry
    (OPENED + [entry(9, "pledge", pledge=8)], entry(3, "pledge", "-100", reversal_of=9), "reversal_of"),  # other pledge
    (OPENED, entry(3, "disbursed", "-90", reversal_of=2), "reversal_of"),  # not the exact negation
    (OPENED, entry(3, "disbursed", values={"price_list": D(-100)}, reversal_of=2), "reversal_of"),
    (OPENED, entry(3, "pledge", "-100", reversal_of=2), "reversal_of"),  # not the target's stage
    (OPENED, entry(3, "disbursed", "-100", currency="USD", reversal_of=2), "reversal_of"),
    (OPENED + [entry(3, "disbursed", "-100", reversal_of=2)], entry(4, "disbursed", "-100", reversal_of=2), "reversal_of"),
    (OPENED + [entry(3, "disbursed", "-100", reversal_of=2)], entry(4, "disbursed", "100", reversal_of=3), "reversal_of"),
])
def test_refusals_name_the_field(existing, new, field):
    assert refusal(existing, new).field == field


def test_negative_amount_message():
    assert str(refusal(OPENED, entry(3, "disbursed", "-5"))) == "negative amounts only as explicit reversals"


@pytest.mark.parametrize("existing, new", [
    ([], entry(1, "pledge")),
    ([], entry(1, "allocation")),
    ([entry(1, "verified", pledge=8)], entry(2, "commitment")),  # other pledges do not count
    ([entry(1, "pledge")], entry(2, "verified")),  # skipping stages forward
    (OPENED, entry(3, "disbursed", "40")),  # a further tranche at the current stage
    (OPENED, entry(3, "pledge", "-100", reversal_of=1)),  # a reversal may correct an earlier stage
    (OPENED, entry(3, "disbursed", values={"reported": D("-100.00")}, reversal_of=2)),  # numerically exact
])
def test_allowed(existing, new):
    check_sequence(existing, new)


def test_a_correction_is_a_reversal_then_a_new_entry():
    ledger = list(OPENED)
    for new in (entry(3, "disbursed", "-100", reversal_of=2), entry(4, "commitment", "90")):
        check_sequence(ledger, new)
        ledger.append(new)
    assert ids(effective(ledger)) == [1, 4]
    # With entry 2 reversed the pledge went back to 'pledge', so the commitment was in order; now it is the furthest.
    assert refusal(ledger, entry(5, "pledge")).field == "stage"


# --- effective: reversals and double counting ----------------------------------------------------


def test_reversal_drops_both_entries():
    ledger = [entry(1, "pledge"), entry(2, "commitment"), entry(3, "commitment", "-100", reversal_of=2),
              entry(4, "commitment", "120")]
    assert ids(effective(ledger)) == [1, 4]


def test_reimbursement_counts_under_the_funder():
    donation = entry(21, "received", "100000", pledge=21, member="DEU", funded_by=22)
    epf = entry(22, "received", "100000", pledge=22, member="EUU")
    assert ids(effective([donation, epf])) == [22]
    assert totals([donation, epf], FX) == {
        ("DEU",): Figure(D("0.00"), 0, 0, 0, 1, False, False),
        ("EUU",): Figure(D("100000.00"), 1, 1, 0, 0, False, False),
    }
    # Once the refund is reversed, the donation is the member's own again.
    reversed_refund = entry(23, "received", "-100000", pledge=22, member="EUU", reversal_of=22)
    assert ids(effective([donation, epf, reversed_refund])) == [21]
    # A link across stages is not netted: each stage's figure stays whole.
    promised_refund = entry(22, "pledge", "100000", pledge=22, member="EUU")
    assert ids(effective([donation, promised_refund])) == [21, 22]


def test_pooled_purchase_counts_the_members_shares():
    shares = [entry(31, "contracted", "50000", pledge=31, member="DEU"),
              entry(32, "contracted", "30000", pledge=32, member="NLD"),
              entry(33, "contracted", "20000", pledge=33, member="DNK")]
    purchase = entry(34, "contracted", "100000", pledge=34, member="NLD", funded_by=(31, 32, 33))
    assert ids(effective(shares + [purchase])) == [31, 32, 33]
    by_member = totals(shares + [purchase], FX)
    assert {k: f.eur for k, f in by_member.items()} == {("DEU",): D("50000.00"), ("NLD",): D("30000.00"),
                                                        ("DNK",): D("20000.00")}
    assert by_member[("NLD",)].excluded_double_counted == 1
    assert totals(shares + [purchase], FX, by=())[()] == Figure(D("100000.00"), 3, 3, 0, 1, False, False)


def test_a_funding_chain_counts_once_and_a_cycle_is_refused():
    chain = [entry(41, "disbursed", pledge=41, funded_by=42), entry(42, "disbursed", pledge=42, funded_by=43),
             entry(43, "disbursed", pledge=43)]
    assert ids(effective(chain)) == [43]
    cycle = [entry(51, "disbursed", pledge=51, funded_by=52), entry(52, "disbursed", pledge=52, funded_by=51)]
    with pytest.raises(ValuationError) as err:
        effective(cycle)
    assert err.value.field == "funded_by"


# --- totals --------------------------------------------------------------------------------------
# Pledge 1 DEU financing: promised and committed 1 000 000, disbursed 400 000 + 350 000.
# Pledge 2 FRA equipment (in kind): pledged and received, 300 000 reported / 240 000 price list / 420 000 replacement.
# Pledge 3 POL fortifications, PLN at 0.2350: committed 4 000 000, allocation 4 000 000 reversed, re-entered 3 800 000.
# Pledge 4 GBR training, GBP at 1.15, confidential: pledged and contracted 500 000.
# Pledge 5 NLD training, USD at 0.86: committed 200 000, received 150 000.
# Pledge 6 DEU joint production (in kind): allocated then verified, 800 000 reported / 1 100 000 replacement.
IN_KIND_FRA = {"reported": D(300000), "price_list": D(240000), "replacement": D(420000)}
IN_KIND_DEU = {"reported": D(800000), "replacement": D(1100000)}
COOPERATION = {"pillar": "cooperation"}
LEDGER = [
    entry(1, "pledge", "1000000", 1, category="financing"),
    entry(2, "commitment", "1000000", 1, category="financing"),
    entry(3, "disbursed", "400000", 1, category="financing"),
    entry(4, "disbursed", "350000", 1, category="financing"),
    entry(5, "pledge", pledge=2, member="FRA", category="equipment", values=IN_KIND_FRA, quantity=12),
    entry(6, "received", pledge=2, member="FRA", category="equipment", values=IN_KIND_FRA, quantity=12),
    entry(7, "commitment", "4000000", 3, member="POL", category="fortifications", currency="PLN"),
    entry(8, "allocation", "4000000", 3, member="POL", category="fortifications", currency="PLN"),
    entry(9, "allocation", "-4000000", 3, member="POL", category="fortifications", currency="PLN", reversal_of=8),
    entry(10, "allocation", "3800000", 3, member="POL", category="fortifications", currency="PLN"),
    entry(11, "pledge", "500000", 4, member="GBR", category="training", currency="GBP", confidential=True, **COOPERATION),
    entry(12, "contracted", "500000", 4, member="GBR", category="training", currency="GBP", confidential=True, **COOPERATION),
    entry(13, "commitment", "200000", 5, member="NLD", category="training", currency="USD", **COOPERATION),
    entry(14, "received", "150000", 5, member="NLD", category="training", currency="USD", **COOPERATION),
    entry(15, "allocation", pledge=6, category="joint_production", values=IN_KIND_DEU, quantity=4, **COOPERATION),
    entry(16, "verified", pledge=6, category="joint_production", values=IN_KIND_DEU, quantity=4, **COOPERATION),
]
UNCLEARED = {"cleared": lambda e: not e.confidential}


def eur(figures) -> dict:
    return {key: f.eur for key, f in figures.items()}


def test_totals_by_member_count_each_pledge_once_at_its_furthest_stage():
    figures = totals(LEDGER, FX)
    assert eur(figures) == {("DEU",): D("1550000.00"), ("FRA",): D("300000.00"), ("POL",): D("893000.00"),
                            ("GBR",): D("575000.00"), ("NLD",): D("129000.00")}
    assert figures[("DEU",)] == Figure(D("1550000.00"), 3, 1, 0, 0, False, False)  # entries 3, 4 and 16
    assert figures[("GBR",)].confidential_included


def test_totals_by_stage_pillar_and_category():
    assert eur(totals(LEDGER, FX, by=("stage",))) == {
        ("disbursed",): D("750000.00"), ("received",): D("429000.00"), ("allocation",): D("893000.00"),
        ("contracted",): D("575000.00"), ("verified",): D("800000.00")}  # no pledge or commitment left over
    assert eur(totals(LEDGER, FX, by=("pillar",))) == {("support",): D("1943000.00"), ("cooperation",): D("1504000.00")}
    assert eur(totals(LEDGER, FX, by=("pillar", "category")))[("cooperation", "training")] == D("704000.00")
    assert eur(totals(LEDGER, FX, by=())) == {(): D("3447000.00")}


def test_totals_at_a_given_stage():
    assert eur(totals(LEDGER, FX, stage="commitment")) == {("DEU",): D("1000000.00"), ("POL",): D("940000.00"),
                                                           ("NLD",): D("172000.00")}


def test_bases_give_different_sums_and_unvalued_entries_are_reported():
    figures = totals(LEDGER, FX, basis="replacement")
    assert figures[("DEU",)] == Figure(D("1100000.00"), 1, 1, 2, 0, False, False)  # the disbursements have no replacement value
    assert figures[("FRA",)] == Figure(D("420000.00"), 1, 1, 0, 0, False, False)
    assert figures[("POL",)] == Figure(D("0.00"), 0, 0, 1, 0, False, False)
    assert eur(totals(LEDGER, FX, basis="price_list", by=("category",)))[("equipment",)] == D("240000.00")


def test_confidential_value_is_withheld_from_an_uncleared_reader_unless_three_contributors():
    cleared, uncleared = totals(LEDGER, FX), totals(LEDGER, FX, **UNCLEARED)
    assert uncleared[("GBR",)] == Figure(None, 1, 1, 0, 0, True, False)
    assert uncleared[("FRA",)] == cleared[("FRA",)]
    pillar = totals(LEDGER, FX, by=("pillar",), **UNCLEARED)[("cooperation",)]
    assert pillar == Figure(D("1504000.00"), 3, 3, 0, 0, False, True)
    assert pillar == totals(LEDGER, FX, by=("pillar",))[("cooperation",)]
    assert totals(LEDGER, FX, by=("category",), **UNCLEARED)[("training",)].withheld  # GBR and NLD: two contributors
    stricter = totals(LEDGER, FX, by=("pillar",), min_contributors=4, **UNCLEARED)
    assert (stricter[("cooperation",)].eur, stricter[("support",)].eur) == (None, D("1943000.00"))
    # A confidential entry with no value on the basis is not in the sum, so nothing is withheld.
    assert totals(LEDGER, FX, basis="replacement", **UNCLEARED)[("GBR",)] == Figure(D("0.00"), 0, 0, 1, 0, False, False)


@pytest.mark.parametrize("kwargs, field", [
    ({"basis": "market"}, "basis"), ({"by": ("currency",)}, "by"), ({"stage": "delivered"}, "stage"),
])
def test_totals_refuse_unknown_parameters(kwargs, field):
    with pytest.raises(ValuationError) as err:
        totals(LEDGER, FX, **kwargs)
    assert err.value.field == field


def test_a_missing_rate_is_an_error_not_a_smaller_total():
    late = entry(17, "pledge", "1000", 7, member="NLD", currency="USD", value_date=date(2026, 3, 1))
    with pytest.raises(ValuationError) as err:
        totals(LEDGER + [late], FX)
    assert err.value.field == "currency"


# --- delivery ------------------------------------------------------------------------------------


def test_delivery_ratio_compares_first_stage_with_received_or_verified():
    ratios = delivery_ratio(LEDGER, FX)
    assert {m: (p.eur, d.eur) for m, (p, d, _) in ratios.items()} == {
        "DEU": (D("1800000.00"), D("800000.00")),  # pledge 1 promised, not delivered; pledge 6 allocated and verified
        "FRA": (D("300000.00"), D("300000.00")),
        "GBR": (D("575000.00"), D("0.00")),
        "NLD": (D("172000.00"), D("129000.00")),
        "POL": (D("940000.00"), D("0.00")),  # first at commitment; the reversed allocation is not a stage reached
    }
    assert {m: r for m, (_, _, r) in ratios.items()} == {"DEU": pytest.approx(4 / 9), "FRA": 1.0, "GBR": 0.0,
                                                          "NLD": 0.75, "POL": 0.0}


def test_delivery_ratio_is_none_when_withheld_or_nothing_pledged():
    pledged, _, ratio = delivery_ratio(LEDGER, FX, **UNCLEARED)["GBR"]
    assert (pledged.withheld, ratio) == (True, None)
    quiet_delivery = [entry(61, "pledge", "1000", 61, member="ITA"),
                      entry(62, "received", "1000", 61, member="ITA", confidential=True)]
    pledged, delivered, ratio = delivery_ratio(quiet_delivery, FX, **UNCLEARED)["ITA"]
    assert (pledged.eur, delivered.withheld, ratio) == (D("1000.00"), True, None)
    on_replacement = delivery_ratio(LEDGER, FX, basis="replacement")
    assert on_replacement["POL"][2] is None  # no replacement value pledged
    assert on_replacement["DEU"][2] == 1.0
