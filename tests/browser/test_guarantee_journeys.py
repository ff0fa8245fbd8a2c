"""A ledger officer records a delivery in a real browser."""

from __future__ import annotations

import pytest

from tests.browser.conftest import PASSWORD
from tests.support.conftest import ledger  # noqa: F401  (fixture)
from tests.support.test_views import world  # noqa: F401  (fixture)

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_a_ledger_officer_records_a_delivery(tab, world, ledger):
    from resolute.accounts import services as accounts
    from resolute.support.models import LedgerEntry

    accounts.set_password("test", ledger["USA"], PASSWORD)
    s = tab().login("ledger-usa")
    s.page.get_by_role("link", name="Ledger").first.click()
    s.page.wait_for_load_state()
    s.shot("ledger")
    s.go(f"/ledger/pledges/{world['money'].pk}/")
    p = s.page
    p.get_by_label("Stage", exact=True).select_option("received")
    p.get_by_label("Value date", exact=True).fill("2026-02-03")
    p.get_by_label("Value (reported)", exact=True).fill("900000.50")
    p.get_by_label("Note", exact=True).fill("first tranche delivered")
    p.get_by_role("button", name="Record the entry").click()
    p.wait_for_load_state()
    assert "900,000.50" in p.content()
    s.shot("recorded")
    e = LedgerEntry.objects.get(pledge=world["money"], stage="received")
    assert e.note == "first tranche delivered" and e.recorded_by == "ledger-usa"
