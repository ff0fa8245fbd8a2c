"""The Multinational Force: offers and their status machine, fill rates, readiness alerts, and the
deployment gate that opens only at Ukraine's request once the reliability condition holds."""

from __future__ import annotations

import datetime as dt

import pytest

from resolute.errors import Conflict, Forbidden, InvalidInput
from resolute.forces import services
from resolute.forces.models import Offer
from resolute.monitoring.models import CoalitionMember

pytestmark = [pytest.mark.django_db, pytest.mark.db_backends]


@pytest.fixture
def force(db, users):
    from resolute.monitoring import services as monitoring

    monitoring.load_reference_data("test")
    req = services.add_requirement(users["administrator"], "MNF-01", "Mechanised infantry battalion", 3, "battalion", "t30", "Dnipro", "FRA")
    return req


def _offer(actor, req, code="DEU", size=1, days=20):
    return services.make_offer(actor, req, CoalitionMember.objects.get(code=code), "battlegroup", size, days)


def test_a_delegation_offers_for_its_own_nation_only(force, users):
    _offer(users["delegate"], force)  # DEU
    with pytest.raises(Forbidden, match="not FRA"):
        _offer(users["delegate"], force, code="FRA")
    with pytest.raises(Forbidden):
        _offer(users["monitor"], force)
    with pytest.raises(Forbidden):
        services.move_offer(users["delegate"], Offer.objects.get(), "accept")  # acceptance is force generation's


def test_offer_status_machine_and_fill_rate(api, force, users, tokens):
    o = _offer(users["delegate"], force, size=2)
    _offer(users["administrator"], force, code="FRA", size=1, days=45)  # out of its tier
    board = api.get("/api/v1/force/board", tokens["commissioner"]).json()
    r = board["requirements"][0]
    assert (r["filled"], r["offered"], r["fill_rate"]) == (0, 3, 0.0)  # offered is not filled
    services.move_offer(users["administrator"], o, "accept")
    with pytest.raises(Conflict, match="'accepted'"):
        services.move_offer(users["administrator"], o, "deploy")  # certify first
    services.move_offer(users["administrator"], o, "certify")
    board = api.get("/api/v1/force/board", tokens["commissioner"]).json()
    assert board["requirements"][0]["fill_rate"] == pytest.approx(2 / 3) and board["overall_fill_rate"] == pytest.approx(2 / 3)
    assert [a["member"] for a in board["alerts"] if a["kind"] == "out_of_tier"] == ["FRA"]
    services.update_readiness(users["administrator"], Offer.objects.get(member__code="FRA"), 25)
    assert not [a for a in api.get("/api/v1/force/board", tokens["commissioner"]).json()["alerts"] if a["kind"] == "out_of_tier"]
    assert api.get("/api/v1/force/board").status_code in (401, 403)


def test_the_gate_opens_only_with_ukraines_request_and_a_reliable_ceasefire(force, users):
    from tests.agreement.conftest import agreement_yaml, zones
    from resolute.agreement import bundle
    from resolute.agreement import services as agreement
    from resolute.commission import services as commission

    o = _offer(users["delegate"], force)
    services.move_offer(users["administrator"], o, "accept")
    services.move_offer(users["administrator"], o, "certify")
    g = services.gate()
    assert not g.open and len(g.reasons) == 2  # no request, no reliability series
    with pytest.raises(Conflict, match="gate is closed"):
        services.move_offer(users["administrator"], o, "deploy")
    services.record_ukraine_request(users["administrator"], dt.date(2026, 11, 1), "UA/2026/1", "Ukraine requests deployment.")
    # The ceasefire has held since the agreement entered into force in 2020: 14 calm days and more.
    agreement.load_bundle("test", bundle.parse(agreement_yaml(), zones()))
    commission.refresh_reliability("test")
    g = services.gate()
    assert g.open, g.reasons
    assert services.move_offer(users["administrator"], o, "deploy").status == "deployed"
    assert services.move_offer(users["administrator"], o, "transfer_authority").status == "transfer_of_authority"


def test_bad_offers_are_refused_naming_the_field(api, force, tokens):
    r = api.post("/api/v1/force/offers", {"requirement": "MNF-99", "member": "DEU", "unit": "x", "size": 1, "readiness_days": 5}, tokens["delegate"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "requirement"
    r = api.post("/api/v1/force/offers", {"requirement": "MNF-01", "member": "DEU", "unit": "x", "size": 0, "readiness_days": 5}, tokens["delegate"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "size"
    r = api.post("/api/v1/force/offers", {"requirement": "MNF-01", "member": "DEU", "unit": "x", "size": 2, "readiness_days": 5}, tokens["delegate"])
    assert r.status_code == 201
    with pytest.raises(InvalidInput):
        services.add_requirement("test", "MNF-02", "x", 1, "u", "t99", "x", "FRA")
