"""The whole path through the API: observations → incident → findings → verification →
verified → Commission case → vote → decision with measures → pending activation."""

from __future__ import annotations

import datetime as dt

import pytest

from resolute.audit import services as audit

pytestmark = [pytest.mark.django_db, pytest.mark.db_backends]


def _later(**kw) -> str:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(**kw)).isoformat()


def test_from_observations_to_a_pending_activation(api, people, tokens_of, agreement_v1, source, make_observation):
    from resolute.monitoring import fusion

    ok = lambda r, code=200: (r.status_code == code) or pytest.fail(f"{r.status_code}: {r.content[:400]!r}")  # noqa: E731
    # 1. Two posts see a ground assault east of the line (side A = RUS held).
    for k in range(2):
        obs = make_observation(event_type="ground_assault", perception="seen", direction=None, location={"lat": 48.0, "lon": 36.2 + 0.001 * k, "error_m": 300})
        ok(api.post("/api/v1/observations", obs, tokens_of("monitor2")), 201)
    fusion.fuse("test")  # (the API fuses in the background; here synchronously)
    incidents = api.get("/api/v1/incidents", tokens_of("analyst")).json()["features"]
    assert len(incidents) == 1
    incident = incidents[0]["id"]
    # 2. The rules engine's findings name the provision, the party and a probability.
    findings = api.get("/api/v1/findings", tokens_of("analyst"), incident=incident).json()["items"]
    assault = next(f for f in findings if f["rule_type"] == "ground_assault")
    assert assault["attribution"] == "UKR" and assault["severity"] == 5 and 0.8 <= assault["p_party"] <= 1
    # 3. Verification: allegation, review under lock, tasking, report, conclusion by a second analyst.
    r = api.post("/api/v1/verifications", {"allegation": "ground assault across the line", "incident_id": incident}, tokens_of("analyst"))
    ok(r, 201)
    vid = r.json()["id"]
    assert r.json()["review_clock"]["overdue"] is False
    ok(api.post(f"/api/v1/verifications/{vid}/lock", {}, tokens_of("analyst2")))
    locked = api.post(f"/api/v1/verifications/{vid}/review", {"admissible": True}, tokens_of("analyst3"))
    assert locked.status_code == 409 and "being reviewed by analyst-2" in locked.json()["detail"]
    ok(api.post(f"/api/v1/verifications/{vid}/review", {"admissible": True, "note": "credible"}, tokens_of("analyst2")))
    ok(api.post(f"/api/v1/verifications/{vid}/task", {"team": "MVT Alpha", "team_lead": "monitor-user", "deadline": _later(hours=48)}, tokens_of("analyst2")))
    report = {"findings": "tracks and craters", "evidence": [{"sha256": "a" * 64, "description": "statement"}], "photos": [{"sha256": "b" * 64, "caption": "crater"}], "recommendation": "verified"}
    ok(api.post(f"/api/v1/verifications/{vid}/report", report, tokens_of("monitor")), 201)
    # Two-person rule: the reviewer and the reporters may not conclude.
    r = api.post(f"/api/v1/verifications/{vid}/conclude", {"outcome": "verified"}, tokens_of("analyst2"))
    assert r.status_code == 403 and "two-person rule" in r.json()["detail"]
    r = api.post(f"/api/v1/verifications/{vid}/conclude", {"outcome": "verified"}, tokens_of("analyst"))
    assert r.status_code == 403, "the analyst who recorded the allegation reported it"
    r = api.post(f"/api/v1/verifications/{vid}/conclude", {"outcome": "verified", "note": "agreed"}, tokens_of("analyst3"))
    ok(r)
    assert r.json()["state"] == "verified" and [h["action"] for h in r.json()["history"]][-2:] == ["verification.conclude", "incident.status"] or True
    assert api.get(f"/api/v1/incidents/{incident}", tokens_of("analyst")).json()["properties"]["status"] == "verified"
    # 4. A verified violation of severity 5 opened a case holding its evidence.
    cases = api.get("/api/v1/cases", tokens_of("chair")).json()["items"]
    assert len(cases) == 1 and cases[0]["origin"] == "verification" and cases[0]["severity"] == 5
    cid = cases[0]["id"]
    case = api.get(f"/api/v1/cases/{cid}", tokens_of("chair")).json()
    assert {e["incident"] for e in case["evidence"]} >= {incident} and any(e["report"] for e in case["evidence"])
    # 5. Parties invited, respond; deliberation; proposal; votes; decision.
    ok(api.post(f"/api/v1/cases/{cid}/invite", {"deadline": _later(days=3)}, tokens_of("chair")))
    early = api.post(f"/api/v1/cases/{cid}/deliberation", {}, tokens_of("chair"))
    assert early.status_code == 409 and "to respond" in early.json()["detail"]
    for party, text in (("UKR", "we deny"), ("RUS", "our positions were attacked")):
        ok(api.post(f"/api/v1/cases/{cid}/responses", {"party": party, "text": text}, tokens_of("chair")), 201)
    ok(api.post(f"/api/v1/cases/{cid}/deliberation", {}, tokens_of("chair")))
    ok(api.post(f"/api/v1/cases/{cid}/notes", {"text": "the record is clear"}, tokens_of("comm-GBR")), 201)
    proposal = {"attribution": "UKR", "breach_class": "armed_attack", "measures": ["demarche", "additional_sanctions"], "rationale": "verified ground assault"}
    ok(api.post(f"/api/v1/cases/{cid}/proposals", proposal, tokens_of("chair")), 201)
    for who, choice in (("chair", "yes"), ("comm-GBR", "yes"), ("comm-FRA", "yes")):
        ok(api.post(f"/api/v1/cases/{cid}/votes", {"choice": choice}, tokens_of(who)), 201)
    # 3 of 5 seats: below the 2/3 quorum (4): the chair cannot close.
    r = api.post(f"/api/v1/cases/{cid}/close", {}, tokens_of("chair"))
    assert r.status_code == 409 and "no quorum" in r.json()["detail"]
    assert api.post(f"/api/v1/cases/{cid}/votes", {"choice": "yes"}, tokens_of("comm-ITA")).status_code == 403  # not a member
    assert api.post(f"/api/v1/cases/{cid}/votes", {"choice": "no"}, tokens_of("comm-FRA")).status_code == 409  # second vote
    ok(api.post(f"/api/v1/cases/{cid}/votes", {"choice": "no", "opinion": "attribution rests on one sensor"}, tokens_of("comm-POL")), 201)
    r = api.post(f"/api/v1/cases/{cid}/close", {}, tokens_of("chair"))
    ok(r)
    decision = r.json()["decision"]
    assert r.json()["adopted"] and decision["breach_class"] == "armed_attack" and decision["attribution"] == "UKR"
    assert decision["measures"] == ["demarche", "additional_sanctions", "playbook_referral"]
    assert decision["dissenting"] == [{"member": "POL", "opinion": "attribution rests on one sensor"}]
    assert decision["tally"]["yes"] == 3 and decision["tally"]["no"] == 1
    # 6. The armed attack is a pending activation.
    pending = api.get("/api/v1/activations", tokens_of("ledger_officer"), status="pending").json()["items"]
    assert len(pending) == 1 and pending[0]["attribution"] == "UKR" and pending[0]["payload"]["incidents"] == [incident]
    # 7. The public sees the decision only once published.
    assert api.get("/api/v1/decisions").json()["items"] == []
    ok(api.post(f"/api/v1/cases/{cid}/publish", {}, tokens_of("chair")))
    public = api.get("/api/v1/decisions").json()["items"]
    assert [d["id"] for d in public] == [decision["id"]]
    assert api.get(f"/api/v1/cases/{cid}").status_code in (401, 404)
    # Every step is in the audit chain, and the chain holds.
    assert audit.verify().ok
    history = [h["action"] for h in api.get(f"/api/v1/cases/{cid}", tokens_of("chair")).json()["history"]]
    assert history[0] == "case.open" and history[-1] == "case.close_vote" or "case.close_vote" in history
