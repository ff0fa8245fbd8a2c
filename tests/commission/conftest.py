from __future__ import annotations

import pytest

from resolute.core.markings import Classification
from tests.agreement.conftest import agreement_v1  # noqa: F401  (fixture)

SEAT_CODES = ("USA", "GBR", "FRA", "DEU", "POL")


@pytest.fixture
def people(db, users):
    """The cast of the workflow: two more analysts, a second monitor and one commissioner per
    seat (the `users` fixture already has a USA chair, a GBR commissioner, a POL analyst and a
    FRA monitor). Seats: USA (chair), GBR, FRA, DEU, POL."""
    from resolute.accounts import services as accounts
    from resolute.commission.models import CommissionSeat
    from resolute.monitoring import services as monitoring
    from resolute.monitoring.models import CoalitionMember

    monitoring.load_reference_data("test")
    for code in SEAT_CODES:
        CommissionSeat.objects.get_or_create(member=CoalitionMember.objects.get(code=code), defaults={"chair": code == "USA"})

    def make(name, role, nation):
        return accounts.create_user("test", name, role, nation=nation, clearance=Classification.SECRET)

    p = dict(users)
    p["analyst2"] = make("analyst-2", "analyst", "USA")
    p["analyst3"] = make("analyst-3", "analyst", "ITA")
    p["monitor2"] = make("monitor-2", "monitor", "FIN")
    for code in ("FRA", "DEU", "POL"):
        p[f"comm-{code}"] = make(f"commissioner-{code.lower()}", "commissioner", code)
    p["comm-GBR"] = users["commissioner"]
    p["comm-ITA"] = make("commissioner-ita", "commissioner", "ITA")  # ITA holds no seat
    return p


@pytest.fixture
def tokens_of(people):
    from resolute.accounts import services as accounts

    cache = {}

    def token(key):
        if key not in cache:
            cache[key] = accounts.issue_token("test", people[key], "t", ("read", "write"))[1]
        return cache[key]

    return token


@pytest.fixture
def assault(agreement_v1):
    """A located ground assault on side A's ground, with its findings."""
    import datetime as dt

    from resolute.agreement import services
    from resolute.monitoring.models import Incident

    inc = Incident.objects.create(
        event_type="ground_assault", first_seen=dt.datetime(2026, 11, 1, 3, tzinfo=dt.timezone.utc), last_seen=dt.datetime(2026, 11, 1, 4, tzinfo=dt.timezone.utc),
        lat=48.0, lon=36.2, fix_ok=True, cov_ee=90_000.0, cov_en=0.0, cov_nn=90_000.0, confidence=0.97, p_impact_a=0.999, observation_count=3,
    )  # fmt: skip
    services.judge("test", incident_ids=[inc.pk])
    return inc
