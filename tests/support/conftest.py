from __future__ import annotations

import pytest

FX = "date,currency,eur_per_unit\n2026-01-01,USD,0.90\n2026-02-01,USD,0.92\n2026-01-01,PLN,0.23\n2026-02-01,PLN,0.24\n"


@pytest.fixture
def ledger(db, users):
    """Reference data, an FX table for January–February 2026, and a ledger officer per member."""
    from resolute.accounts import services as accounts
    from resolute.monitoring import services as monitoring
    from resolute.support import services

    monitoring.load_reference_data("test")
    services.load_fx_csv("test", FX)
    officers = {code: accounts.create_user("test", f"ledger-{code.lower()}", "ledger_officer", nation=code, clearance=1) for code in ("USA", "POL", "DEU", "FRA")}
    return officers
