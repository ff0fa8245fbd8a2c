"""Force generation: readiness tiers, the offer machine, fill rates, alerts, the deployment gate, what-if."""

from __future__ import annotations

import pytest

from resolute.core.forcegen import (
    OFFER,
    Offer,
    Requirement,
    advance,
    alerts,
    deployment_gate,
    fill_rates,
    overall_fill,
    tier_of,
    what_if,
)
from resolute.core.workflow import IllegalTransition

# The offer path as the brief states it, written out independently of the module's table.
EXPECTED = {
    ("offered", "accept"): "accepted",
    ("offered", "decline"): "declined",
    ("accepted", "certify"): "certified",
    ("certified", "deploy"): "deployed",
    ("deployed", "transfer_authority"): "transfer_of_authority",
    ("offered", "withdraw"): "withdrawn",
    ("accepted", "withdraw"): "withdrawn",
    ("certified", "withdraw"): "withdrawn",
}
STATES = sorted({s for s, _ in EXPECTED} | set(EXPECTED.values()))
ACTIONS = sorted({a for _, a in EXPECTED})


def req(id=1, quantity=4, tier="t10", code=None):
    return Requirement(id, code or f"R{id}", "infantry battalion", quantity, tier, "Kyiv", "GBR")


def offer(id, size, status, member="FRA", requirement_id=1, readiness_days=5, caveats=""):
    return Offer(id, requirement_id, member, f"unit {id}", size, readiness_days, status, caveats)


@pytest.mark.parametrize("days, tier", [(0, "t10"), (10, "t10"), (11, "t30"), (30, "t30"), (31, "t180"), (180, "t180"), (181, None)])
def test_tier_boundaries(days, tier):
    assert tier_of(days) == tier


@pytest.mark.parametrize("days", [-1, 1.5, True, "10", None])
def test_tier_refuses_what_is_not_a_whole_number_of_days(days):
    with pytest.raises(ValueError, match="whole number of days"):
        tier_of(days)


def test_offer_machine_identity():
    assert OFFER.initial == "offered"
    assert OFFER.states() == set(STATES)
    assert OFFER.final == {"declined", "withdrawn", "transfer_of_authority"}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", ACTIONS)
def test_every_offer_transition(state, action):
    if (state, action) in EXPECTED:
        assert OFFER.next(state, action) == EXPECTED[(state, action)]
    else:
        with pytest.raises(IllegalTransition) as err:
            OFFER.next(state, action)
        assert err.value.allowed == tuple(sorted(a for s, a in EXPECTED if s == state))


def test_advance_returns_a_new_offer_and_refuses_skipping_certification():
    o = offer(1, 2, "accepted")
    assert advance(o, "certify").status == "certified" and o.status == "accepted"
    with pytest.raises(IllegalTransition, match="'deploy'"):
        advance(o, "deploy")


def test_fill_counts_only_accepted_onwards():
    offers = [offer(1, 2, "accepted"), offer(2, 1, "certified"), offer(3, 3, "offered"),
              offer(4, 5, "declined"), offer(5, 5, "withdrawn")]
    f = fill_rates([req(quantity=4)], offers)[1]
    assert (f.quantity, f.filled, f.offered, f.rate, f.gap) == (4, 3, 6, 0.75, 1)


def test_fill_over_offered_is_capped_in_the_rate_not_in_filled():
    f = fill_rates([req(quantity=2)], [offer(1, 3, "deployed"), offer(2, 2, "transfer_of_authority")])[1]
    assert (f.filled, f.rate, f.gap) == (5, 1.0, 0)


def test_fill_of_an_unoffered_requirement_and_offers_of_unknown_requirements():
    fills = fill_rates([req(1), req(2)], [offer(1, 4, "accepted", requirement_id=1), offer(2, 9, "accepted", requirement_id=99)])
    assert set(fills) == {1, 2}
    assert (fills[1].rate, fills[2].filled, fills[2].rate, fills[2].gap) == (1.0, 0, 0.0, 4)


def test_duplicate_requirement_ids_are_refused():
    with pytest.raises(ValueError, match="id 1 appears twice"):
        fill_rates([req(1), req(1, code="X")], [])


def test_overall_fill_is_the_mean_of_rates_not_a_ratio_of_totals():
    fills = fill_rates([req(1, quantity=1), req(2, quantity=99)], [offer(1, 1, "accepted", requirement_id=1)])
    assert overall_fill(fills) == 0.5  # a ratio of totals would say 1 %
    assert overall_fill(list(fills.values())) == 0.5
    assert overall_fill({}) == 0.0


def test_alerts_for_readiness_drift_and_caveats():
    reqs = [req(1, tier="t10"), req(2, tier="t30")]
    offers = [
        offer(1, 1, "accepted", readiness_days=10),  # at the tier's bound: fine
        offer(2, 1, "offered", readiness_days=11),  # drifted out of t10
        offer(3, 1, "declined", readiness_days=90),  # gone: no alert
        offer(4, 1, "certified", member="DEU", requirement_id=2, readiness_days=31, caveats=" no offensive operations "),
        offer(5, 1, "offered", caveats="national approval"),  # not counting yet: no caveat alert
        offer(6, 1, "accepted", caveats="   "),
    ]
    got = [(a.offer_id, a.requirement_id, a.member, a.kind) for a in alerts(reqs, offers)]
    assert got == [(2, 1, "FRA", "out_of_tier"), (4, 2, "DEU", "out_of_tier"), (4, 2, "DEU", "caveat")]
    messages = [a.message for a in alerts(reqs, offers)]
    assert "11 days" in messages[0] and "<= 10 days" in messages[0]
    assert messages[2].endswith("caveats: no offensive operations")


REQUEST = "Request of the Government of Ukraine for deployment"
MET, NOT_MET = "met: 14 consecutive calm days since 2026-03-01", "not met: 3 of 14 calm days"


def test_gate_open_with_request_and_reliability():
    gate = deployment_gate(True, REQUEST, True, MET)
    assert gate.open
    assert REQUEST in gate.reasons[0] and MET in gate.reasons[1]


@pytest.mark.parametrize("request_flag, text, met, reason, expected", [
    (False, None, True, MET, ["no request from Ukraine"]),
    (False, REQUEST, True, MET, ["no request from Ukraine"]),
    (True, "  ", True, MET, ["text is not on file"]),
    (True, REQUEST, False, NOT_MET, ["3 of 14 calm days"]),
    (False, None, False, NOT_MET, ["no request from Ukraine", "3 of 14 calm days"]),
    (True, None, False, "", ["text is not on file", "condition not met"]),
])
def test_gate_closed_lists_every_missing_condition(request_flag, text, met, reason, expected):
    gate = deployment_gate(request_flag, text, met, reason)
    assert not gate.open
    assert len(gate.reasons) == len(expected)
    assert all(e in r for e, r in zip(expected, gate.reasons, strict=True))


def test_what_if_a_member_declines():
    reqs = [req(1, quantity=4), req(2, quantity=2)]
    offers = [offer(1, 2, "accepted", "FRA"), offer(2, 2, "accepted", "DEU"), offer(3, 1, "offered", "FRA", requirement_id=2)]
    result = what_if(reqs, iter(offers), {"FRA", "XXX"})  # XXX has no offers: ignored
    (before1, after1), (before2, after2) = result[1], result[2]
    assert (before1.filled, before1.rate, after1.filled, after1.rate, after1.gap) == (4, 1.0, 2, 0.5, 2)
    assert (before2.offered, after2.offered) == (1, 0)
    assert what_if(reqs, offers, set()) == {i: (f, f) for i, f in fill_rates(reqs, offers).items()}
    with pytest.raises(TypeError, match="not one string"):
        what_if(reqs, offers, "FRA")


@pytest.mark.parametrize("make, match", [
    (lambda: req(quantity=0), "quantity"),
    (lambda: req(tier="t5"), "tier"),
    (lambda: offer(1, 0, "offered"), "size"),
    (lambda: offer(1, 1, "offered", readiness_days=-1), "readiness_days"),
    (lambda: offer(1, 1, "shipped"), "status"),
])
def test_invalid_records_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()
