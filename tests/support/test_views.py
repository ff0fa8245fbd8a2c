"""The ledger pages: who may read them, figures equal to the services' on the chosen basis,
confidential values kept off the page for outsiders, and the entry form writing through the
service (one entry and its audit entry) or refusing with the field named and nothing changed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import formats

from resolute.audit.models import AuditEntry
from resolute.core import valuation
from resolute.core.markings import Classification
from resolute.monitoring.models import CoalitionMember
from resolute.support import services
from resolute.support.models import LedgerEntry

pytestmark = pytest.mark.django_db
D = dt.date
READERS = ("administrator", "commissioner", "chair", "delegate", "ledger_officer", "public")
NOT_READERS = ("monitor", "analyst")


def _pledge(actor, code="USA", currency="USD", kind="financial", category="arms_financing", confidential=False, **marking):
    member = CoalitionMember.objects.get(code=code)
    return services.create_pledge(actor, member, category, f"{category} by {code}", kind, currency, D(2026, 1, 10), confidential=confidential, **(marking or services.PUBLIC_MARKING))


def _eur(value) -> str:
    return formats.number_format(Decimal(value), decimal_pos=2, use_l10n=True, force_grouping=True)


def _page(client, user, url):
    client.force_login(user)
    return client.get(url)


@pytest.fixture
def world(ledger, users):
    """POL tanks in kind valued on three bases, USA money, and FRA's confidential commitment."""
    tanks = _pledge(ledger["POL"], code="POL", currency="PLN", kind="in_kind", category="military_equipment")
    services.record_entry(ledger["POL"], tanks, "allocation", D(2026, 1, 12), {"reported": Decimal("1000")}, 4)
    services.record_entry(ledger["POL"], tanks, "received", D(2026, 1, 15), {"reported": Decimal("1000"), "replacement": Decimal("1200"), "net_book_value": Decimal("400")}, 4)
    money = _pledge(ledger["USA"])
    services.record_entry(ledger["USA"], money, "commitment", D(2026, 1, 15), {"reported": Decimal("100")})
    secret = _pledge(ledger["FRA"], code="FRA", currency="EUR", confidential=True)
    services.record_entry(ledger["FRA"], secret, "commitment", D(2026, 1, 10), {"reported": Decimal("7654321")})
    return {"tanks": tanks, "money": money, "secret": secret}


def test_the_ledger_and_a_pledge_open_for_readers_and_are_refused_to_others(client, world, users):
    pledge_url = reverse("pledge", args=[world["money"].pk])
    for role in READERS:
        assert _page(client, users[role], reverse("ledger")).status_code == 200, role
        assert _page(client, users[role], pledge_url).status_code == 200, role
    for role in NOT_READERS:
        assert _page(client, users[role], reverse("ledger")).status_code == 403, role
        assert _page(client, users[role], pledge_url).status_code == 403, role
    client.logout()
    r = client.get(reverse("ledger"))
    assert r.status_code == 302 and r["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("basis", valuation.BASES)
def test_the_figures_are_the_services_totals_on_the_chosen_basis(client, world, users, basis):
    admin = users["administrator"]
    html = _page(client, admin, f"{reverse('ledger')}?basis={basis}").content.decode()
    assert f'<option value="{basis}" selected>' in html
    for row in services.delivery(admin, basis):
        for side in ("pledged", "delivered"):
            assert _eur(row[side]["eur"]) in html, (row["member"], side)
    for by in (("pillar",), ("member", "pillar"), ("stage",)):
        for row in services.totals(admin, by, basis):
            assert _eur(row["eur"]) in html, (by, row)
    # The POL tanks are worth 1000 PLN as reported, 1200 at replacement cost, 400 at book value.
    tanks = {"reported": "230.00", "price_list": None, "replacement": "276.00", "net_book_value": "92.00"}
    for other, figure in tanks.items():
        if figure and other != basis and figure != tanks[basis]:
            assert figure not in html, (basis, other)
    assert "EUR" in html and "2026-02-01" in html  # the currency note names the latest rates


def test_an_unknown_basis_is_a_clear_error_not_a_500(client, world, users):
    r = _page(client, users["administrator"], f"{reverse('ledger')}?basis=market")
    assert r.status_code == 400 and 'id="err-basis"' in r.content.decode()


def test_a_confidential_value_stays_off_the_page_for_outsiders(client, world, users, ledger):
    secret = world["secret"].pk
    for reader in (users["ledger_officer"], ledger["POL"], users["public"], users["delegate"]):
        for url in (reverse("ledger"), reverse("pledge", args=[secret])):
            html = _page(client, reader, url).content.decode()
            assert "7,654,321" not in html and "7654321" not in html, (reader.username, url)
            assert "withheld" in html
    # The support pillar holds three members' values: shown, as the API shows it.
    html = _page(client, users["ledger_officer"], reverse("ledger")).content.decode()
    [pillar] = [r for r in services.totals(users["ledger_officer"], ("pillar",)) if r["pillar"] == "support"]
    assert pillar["contributors"] == 3 and _eur(pillar["eur"]) in html
    for insider in (ledger["FRA"], users["administrator"]):
        assert "7,654,321.00" in _page(client, insider, reverse("pledge", args=[secret])).content.decode()
        assert "7,654,321.00" in _page(client, insider, reverse("ledger")).content.decode()


def test_a_pledge_the_reader_may_not_see_is_not_found(client, ledger, users):
    hidden = _pledge(ledger["USA"], classification=Classification.CONFIDENTIAL, tlp="AMBER", releasable_to="|USA|")
    url = reverse("pledge", args=[hidden.pk])
    assert _page(client, users["administrator"], url).status_code == 200
    for role in ("ledger_officer", "public", "delegate"):
        assert _page(client, users[role], url).status_code == 404, role
        assert client.post(url, {"stage": "pledge"}).status_code == 404
    assert f'href="{url}"' not in _page(client, users["public"], reverse("ledger")).content.decode()


def _form(**over) -> dict:
    data = {"stage": "received", "value_date": "2026-02-03", "currency": "USD", "value_reported": "900000.50", "quantity": "", "note": "first tranche"}
    data.update(over)
    return data


def test_recording_an_entry_through_the_form(client, world, ledger):
    p = world["money"]
    url = reverse("pledge", args=[p.pk])
    html = _page(client, ledger["USA"], url).content.decode()
    for label in ("Stage", "Value date", "Currency", "Value (reported)", "Quantity", "Note", "Record the entry"):
        assert label in html, label
    entries, audits = LedgerEntry.objects.count(), AuditEntry.objects.count()
    r = client.post(url, _form())
    assert r.status_code == 302 and r["Location"] == url
    e = LedgerEntry.objects.get(pledge=p, stage="received")
    assert (e.value_reported, e.value_date, e.note, e.recorded_by, e.source) == (Decimal("900000.50"), D(2026, 2, 3), "first tranche", "ledger-usa", "web")
    assert LedgerEntry.objects.count() == entries + 1 and AuditEntry.objects.count() == audits + 1
    audit = AuditEntry.objects.order_by("-seq").first()
    assert (audit.action, audit.target_id, audit.actor, audit.after["entry"]) == ("support.entry", str(p.pk), "ledger-usa", e.pk)
    page = client.get(url).content.decode()
    assert f"Entry {e.pk} recorded" in page and "900,000.50" in page


def test_an_in_kind_pledge_takes_several_valuation_bases(client, world, ledger):
    p = world["tanks"]
    url = reverse("pledge", args=[p.pk])
    assert "Value (replacement)" in _page(client, ledger["POL"], url).content.decode()
    r = client.post(url, _form(stage="verified", currency="PLN", value_reported="1000", value_replacement="1200,50", quantity="4"))
    assert r.status_code == 302
    e = LedgerEntry.objects.get(pledge=p, stage="verified")
    assert (e.value_reported, e.value_replacement, e.value_price_list, e.quantity) == (Decimal("1000"), Decimal("1200.50"), None, 4)


@pytest.mark.parametrize(
    "over, field, words",
    [
        ({"value_date": "2026-02-30"}, "value_date", "Enter a date"),
        ({"value_date": ""}, "value_date", "required"),
        ({"value_reported": ""}, "value_reported", "required"),
        ({"value_reported": "-5"}, "value_reported", "only as explicit reversals"),
        ({"value_reported": "abc"}, "value_reported", "Enter an amount"),
        ({"stage": ""}, "stage", "required"),
        ({"stage": "pledge"}, "stage", "out of order"),
        ({"value_date": "2025-06-01"}, "currency", "no EUR rate"),
        ({"currency": "EUR"}, "currency", "Entries of this pledge are in USD"),
        ({"quantity": "two"}, "quantity", "whole number"),
    ],
)
def test_a_refused_entry_changes_nothing_and_names_the_field(client, world, ledger, over, field, words):
    url = reverse("pledge", args=[world["money"].pk])
    client.force_login(ledger["USA"])
    entries, audits = LedgerEntry.objects.count(), AuditEntry.objects.count()
    r = client.post(url, _form(**over))
    html = r.content.decode()
    assert r.status_code == 422, html
    assert f'id="err-{field}"' in html and words in html
    assert "The entry was not recorded" in html
    assert (LedgerEntry.objects.count(), AuditEntry.objects.count()) == (entries, audits)


def test_another_members_officer_is_refused_with_a_message(client, world, ledger, users):
    url = reverse("pledge", args=[world["money"].pk])  # a USA pledge
    entries, audits = LedgerEntry.objects.count(), AuditEntry.objects.count()
    html = _page(client, ledger["POL"], url).content.decode()
    assert "Record the entry" not in html  # no form for another member's pledge
    r = client.post(url, _form())
    assert r.status_code == 403 and "not USA" in r.content.decode()
    for role in ("commissioner", "public"):  # readers who write no ledger entries at all
        client.force_login(users[role])
        r = client.post(url, _form())
        assert r.status_code == 403 and "does not write ledger entries" in r.content.decode()
    assert (LedgerEntry.objects.count(), AuditEntry.objects.count()) == (entries, audits)


def test_the_public_reads_public_pledges_only(client, world, ledger, users):
    restricted = _pledge(ledger["DEU"], code="DEU", currency="EUR", classification=Classification.RESTRICTED, tlp="GREEN", releasable_to="|ALL|")
    services.record_entry(ledger["DEU"], restricted, "commitment", D(2026, 1, 10), {"reported": Decimal("4444444")})
    public = _page(client, users["public"], reverse("ledger")).content.decode()
    assert "by DEU" not in public and "4,444,444" not in public
    assert "by USA" in public
    assert "4,444,444.00" in _page(client, users["delegate"], reverse("ledger")).content.decode()
    assert _page(client, users["public"], reverse("pledge", args=[restricted.pk])).status_code == 404


def test_the_page_carries_no_inline_script(client, world, users):
    html = _page(client, users["administrator"], reverse("ledger")).content.decode()
    assert "<script>" not in html and " onclick=" not in html and " onchange=" not in html
    assert "<svg" in html and "stage" in html.lower()
