"""The support ledger: the stage machine, corrections, FX, valuation bases, double counting,
confidential values, who may write, the Kiel import and the IATI export, through services and
the API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from xml.etree import ElementTree as ET

import pytest

from resolute.errors import Forbidden, InvalidInput
from resolute.monitoring.models import CoalitionMember
from resolute.support import services
from resolute.support.models import FxRate, LedgerEntry, Pledge

pytestmark = [pytest.mark.django_db, pytest.mark.db_backends]
D = dt.date


def _member(code):
    return CoalitionMember.objects.get(code=code)


def _pledge(actor, code="USA", currency="USD", kind="financial", category="arms_financing", confidential=False, **marking):
    return services.create_pledge(actor, _member(code), category, f"{category} by {code}", kind, currency, D(2026, 1, 10), confidential=confidential, **(marking or services.PUBLIC_MARKING))


def test_stages_move_forward_and_out_of_order_entries_are_refused(ledger):
    p = _pledge(ledger["USA"])
    services.record_entry(ledger["USA"], p, "pledge", D(2026, 1, 10), {"reported": Decimal("1000000")})
    services.record_entry(ledger["USA"], p, "disbursed", D(2026, 2, 3), {"reported": Decimal("900000")})  # skipping forward is allowed
    with pytest.raises(InvalidInput) as exc:
        services.record_entry(ledger["USA"], p, "commitment", D(2026, 2, 4), {"reported": Decimal("1")})
    assert exc.value.errors[0]["field"] == "stage" and "'disbursed'" in exc.value.detail
    assert p.entries.count() == 2


def test_negative_amounts_only_as_explicit_reversals_and_corrections_are_new_entries(ledger):
    p = _pledge(ledger["USA"])
    first = services.record_entry(ledger["USA"], p, "commitment", D(2026, 1, 10), {"reported": Decimal("500")})
    with pytest.raises(InvalidInput, match="reversal"):
        services.record_entry(ledger["USA"], p, "commitment", D(2026, 1, 11), {"reported": Decimal("-500")})
    reversal = services.record_entry(ledger["USA"], p, "commitment", D(2026, 1, 11), {"reported": Decimal("-500")}, reversal_of=first)
    services.record_entry(ledger["USA"], p, "commitment", D(2026, 1, 11), {"reported": Decimal("450")})
    assert LedgerEntry.objects.get(pk=first.pk).value_reported == Decimal("500")  # never edited
    [row] = services.totals(ledger["USA"], ("member",))
    assert row["eur"] == "405.00"  # 450 USD at 0.90
    assert reversal.reversal_of_id == first.pk


def test_a_currency_needs_an_iso_code_and_a_rate_for_the_date(ledger):
    with pytest.raises(InvalidInput) as exc:
        _pledge(ledger["USA"], currency="XYZ")
    assert exc.value.errors[0]["field"] == "currency"
    p = _pledge(ledger["USA"])
    with pytest.raises(InvalidInput, match="no EUR rate") as exc:
        services.record_entry(ledger["USA"], p, "pledge", D(2025, 6, 1), {"reported": Decimal("1")})
    assert exc.value.errors[0]["field"] == "currency"
    with pytest.raises(InvalidInput):
        services.load_fx_csv("test", "date,currency,eur_per_unit\n2026-03-01,USD,-1\n2026-03-01,QQQ,1\n")
    assert not FxRate.objects.filter(date=D(2026, 3, 1)).exists()  # all or nothing


def test_an_officer_writes_only_for_their_own_member(ledger, users):
    with pytest.raises(Forbidden, match="not USA"):
        _pledge(ledger["POL"], code="USA")
    p = _pledge(ledger["USA"])
    with pytest.raises(Forbidden):
        services.record_entry(ledger["POL"], p, "pledge", D(2026, 1, 10), {"reported": Decimal("1")})
    with pytest.raises(Forbidden):
        services.record_entry(users["analyst"], p, "pledge", D(2026, 1, 10), {"reported": Decimal("1")})
    services.record_entry(users["administrator"], p, "pledge", D(2026, 1, 10), {"reported": Decimal("1")})


def test_totals_switch_valuation_basis(ledger, users):
    tanks = _pledge(ledger["POL"], code="POL", currency="PLN", kind="in_kind", category="military_equipment")
    services.record_entry(ledger["POL"], tanks, "allocation", D(2026, 1, 12), {"reported": Decimal("1000")}, 4)
    services.record_entry(ledger["POL"], tanks, "received", D(2026, 1, 15), {"reported": Decimal("1000"), "replacement": Decimal("1200"), "net_book_value": Decimal("400")}, 4)
    money = _pledge(ledger["USA"])
    services.record_entry(ledger["USA"], money, "commitment", D(2026, 1, 15), {"reported": Decimal("100")})
    by = {b: {r["member"]: r["eur"] for r in services.totals(users["administrator"], ("member",), b)} for b in ("reported", "replacement", "net_book_value")}
    assert by["reported"] == {"POL": "230.00", "USA": "90.00"}
    assert by["replacement"]["POL"] == "276.00" and by["net_book_value"]["POL"] == "92.00"
    assert by["net_book_value"]["USA"] == "90.00"  # money is worth the same on every basis


def test_a_fund_reimbursing_a_donation_is_counted_once(ledger, users):
    donation = _pledge(users["administrator"], code="DEU", currency="EUR", kind="in_kind", category="military_equipment")
    fund = _pledge(users["administrator"], code="EUU", currency="EUR")
    services.record_entry("test", fund, "commitment", D(2026, 1, 10), {"reported": Decimal("600")})
    refund = services.record_entry("test", fund, "received", D(2026, 1, 20), {"reported": Decimal("600")})
    services.record_entry("test", donation, "commitment", D(2026, 1, 10), {"reported": Decimal("600")}, 3)
    services.record_entry("test", donation, "received", D(2026, 1, 20), {"reported": Decimal("600")}, 3, funded_by=[refund])
    rows = {r["stage"]: r for r in services.totals(users["administrator"], ("stage",), "reported", "received")}
    assert rows["received"]["eur"] == "600.00" and rows["received"]["excluded_double_counted"] == 1


def test_confidential_values_count_in_totals_without_being_revealed(api, ledger, users, tokens):
    from resolute.accounts import services as accounts

    secret = _pledge(ledger["FRA"], code="FRA", currency="EUR", confidential=True)
    services.record_entry(ledger["FRA"], secret, "commitment", D(2026, 1, 10), {"reported": Decimal("7000")})
    for code, cur in (("USA", "USD"), ("POL", "PLN")):
        p = _pledge(ledger[code], code=code, currency=cur)
        services.record_entry(ledger[code], p, "commitment", D(2026, 1, 10), {"reported": Decimal("100")})
    outsider = accounts.issue_token("test", ledger["POL"], "t", ("read",))[1]
    own = accounts.issue_token("test", ledger["FRA"], "t", ("read",))[1]
    by_member = {r["member"]: r for r in api.get("/api/v1/support/totals", outsider, by="member").json()}
    assert by_member["FRA"]["eur"] is None and by_member["FRA"]["withheld"]
    pillar = api.get("/api/v1/support/totals", outsider, by="pillar").json()
    assert pillar[0]["eur"] == "7113.00" and pillar[0]["confidential_included"]  # three contributors
    assert api.get(f"/api/v1/pledges/{secret.pk}", outsider).json()["entries"][0]["values"] == "withheld"
    assert api.get(f"/api/v1/pledges/{secret.pk}", own).json()["entries"][0]["values"] == {"reported": "7000.00"}
    assert {r["member"]: r["eur"] for r in api.get("/api/v1/support/totals", own).json()}["FRA"] == "7000.00"


def test_the_public_sees_public_pledges_only(api, ledger):
    from resolute.core.markings import Classification

    public = _pledge(ledger["USA"])
    services.record_entry(ledger["USA"], public, "commitment", D(2026, 1, 10), {"reported": Decimal("100")})
    restricted = _pledge(ledger["POL"], code="POL", currency="PLN", classification=Classification.RESTRICTED, tlp="AMBER", releasable_to="|ALL|")
    services.record_entry(ledger["POL"], restricted, "commitment", D(2026, 1, 10), {"reported": Decimal("100")})
    ids = [p["id"] for p in api.get("/api/v1/pledges").json()["items"]]
    assert ids == [public.pk]
    assert [r["member"] for r in api.get("/api/v1/support/totals").json()] == ["USA"]


def test_api_creates_a_pledge_with_its_first_entry_or_nothing(api, ledger):
    from resolute.accounts import services as accounts

    token = accounts.issue_token("test", ledger["USA"], "t", ("read", "write"))[1]
    body = {"member": "USA", "category": "training", "title": "Instructors", "kind": "financial", "currency": "USD", "announced": "2026-01-05",
            "first": {"stage": "verified", "value_date": "2026-01-05", "values": {"reported": "1000"}}}  # fmt: skip
    r = api.post("/api/v1/pledges", body, token)
    assert r.status_code == 422 and not Pledge.objects.exists()  # a pledge cannot start at "verified"
    body["first"]["stage"] = "pledge"
    r = api.post("/api/v1/pledges", body, token)
    assert r.status_code == 201, r.content
    pid = r.json()["id"]
    r = api.post(f"/api/v1/pledges/{pid}/entries", {"stage": "received", "value_date": "2026-02-10", "values": {"reported": "1000"}}, token)
    assert r.status_code == 201 and [e["iati_transaction_type"] for e in r.json()["entries"]] == [12, 4]
    ratio = api.get("/api/v1/support/delivery", token).json()
    assert ratio == [{"member": "USA", "pledged": ratio[0]["pledged"], "delivered": ratio[0]["delivered"], "ratio": pytest.approx(920 / 900)}]


KIEL = (
    "activity_id,sub_activity_id,donor,announcement_date,aid_type_general,aid_type_specific,measure,reporting_currency,reported_value,value_eur,delivered_value_eur,item_type,item,item_count,delivered_count\n"
    "A1,1,United States,2026-01-12,Military ,Weapons and equipment,Allocation,USD,\"1,000,000\",,900000,Air defence,NASAMS missiles,10,10\n"
    "A2,1,Poland,15/01/2026,Financial,Budget support,Commitment,PLN,n/a,46000,,,,,\n"
)


def test_kiel_import_is_all_or_nothing_and_idempotent(ledger, users):
    summary = services.import_kiel("test", KIEL)
    assert summary["pledges created"] == 2
    nasams = Pledge.objects.get(member__code="USA")
    assert (nasams.category, nasams.kind, nasams.classification) == ("military_equipment", "in_kind", 0)
    assert list(nasams.entries.values_list("stage", flat=True)) == ["allocation", "received"]
    polish = Pledge.objects.get(member__code="POL")
    assert (polish.pillar, polish.currency, polish.entries.get().value_reported) == ("financial", "EUR", Decimal("46000.00"))
    assert services.import_kiel("test", KIEL)["already imported"] == 2 and Pledge.objects.count() == 2
    for bad_row, line_field in (
        ("A3,1,Atlantis,2026-01-20,Military,x,Commitment,EUR,5,,,,,,\n", "line 4: donor"),
        ("A4,1,Germany,2025-03-01,Military,x,Commitment,USD,5,,,,,,\n", "line 4: reporting_currency"),  # no USD rate in March 2025
    ):
        with pytest.raises(InvalidInput) as exc:
            services.import_kiel("test", KIEL.replace("A1,", "B1,").replace("A2,", "B2,") + bad_row)
        assert [e["field"] for e in exc.value.errors] == [line_field], exc.value.errors
        assert Pledge.objects.count() == 2  # the good rows of the file were not imported either


def test_iati_export_through_the_api(api, ledger, tokens):
    services.import_kiel("test", KIEL)
    r = api.get("/api/v1/support/iati.xml", tokens["ledger_officer"])
    assert r.status_code == 200 and r["Content-Type"].startswith("application/xml")
    root = ET.fromstring(r.content)
    assert root.tag == "iati-activities" and root.get("version") == "2.03"
    acts = root.findall("iati-activity")
    assert len(acts) == 2
    codes = sorted(t.find("transaction-type").get("code") for a in acts for t in a.findall("transaction"))
    assert codes == ["2", "2", "4"]  # allocation, commitment, received
    ns = "{https://resolute.example/ns/iati-military/1}"
    assert any(t.find(f"{ns}stage") is not None for a in acts for t in a.findall("transaction"))
