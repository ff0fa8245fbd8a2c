"""Every API route × every role: nothing above clearance or outside releasability is ever
returned, and writes outside the role are refused.

The table ROUTES must name every route the API has; a new route fails this test until it is
added here with the resource it returns, so no route escapes the matrix.
"""

from __future__ import annotations

import itertools
import uuid

import pytest

from resolute.accounts import roles
from resolute.accounts.restrict import reader_of
from resolute.core.markings import Classification, Marking, decode_releasability, may_read
from resolute.agreement.models import Finding
from resolute.commission.models import ActivationEvent, Case, Decision, Proposal, ReliabilityDay, Verification
from resolute.monitoring.models import Incident, Observation, Source
from resolute.forces.models import Offer, Requirement
from resolute.monitoring.models import CoalitionMember
from resolute.playbook.models import Activation, ResponseTask
from resolute.support.models import Pledge
from tests.agreement.conftest import agreement_v1  # noqa: F401  (fixture)
from resolute.web.api import api
from tests.conftest import ROLE_USERS, observation

pytestmark = [pytest.mark.django_db, pytest.mark.db_backends]

# (method, path template) -> resource returned (GET), or (action, resource) needed (writes)
ROUTES = {
    ("GET", "/api/v1/observations"): "observation",
    ("GET", "/api/v1/observations/{obs_id}"): "observation",
    ("POST", "/api/v1/observations"): ("add", "observation"),
    ("GET", "/api/v1/incidents"): "incident",
    ("GET", "/api/v1/incidents/{incident_id}"): "incident",
    ("GET", "/api/v1/sources"): "source",
    ("GET", "/api/v1/parties"): "party",
    ("GET", "/api/v1/members"): "member",
    ("GET", "/api/v1/agreement/versions"): "agreement",
    ("GET", "/api/v1/agreement/in-force"): "agreement",
    ("GET", "/api/v1/agreement/versions/{number}"): "agreement",
    ("GET", "/api/v1/findings"): "finding",
    ("POST", "/api/v1/agreement/judge"): ("change", "incident"),
    ("GET", "/api/v1/verifications"): "verification",
    ("POST", "/api/v1/verifications"): ("add", "verification"),
    ("GET", "/api/v1/verifications/{vid}"): "verification",
    ("POST", "/api/v1/verifications/{vid}/lock"): ("review", "verification"),
    ("DELETE", "/api/v1/verifications/{vid}/lock"): ("review", "verification"),
    ("POST", "/api/v1/verifications/{vid}/review"): ("review", "verification"),
    ("POST", "/api/v1/verifications/{vid}/task"): ("review", "verification"),
    ("POST", "/api/v1/verifications/{vid}/report"): ("investigate", "verification"),
    ("POST", "/api/v1/verifications/{vid}/access-denied"): ("investigate", "verification"),
    ("POST", "/api/v1/verifications/{vid}/conclude"): ("review", "verification"),
    ("GET", "/api/v1/commission/seats"): "member",
    ("GET", "/api/v1/cases"): "case",
    ("POST", "/api/v1/cases"): ("refer", "case"),
    ("GET", "/api/v1/cases/{cid}"): "case",
    ("POST", "/api/v1/cases/{cid}/evidence"): ("chair", "case"),
    ("POST", "/api/v1/cases/{cid}/invite"): ("chair", "case"),
    ("POST", "/api/v1/cases/{cid}/responses"): ("chair", "case"),
    ("POST", "/api/v1/cases/{cid}/notes"): ("vote", "case"),
    ("POST", "/api/v1/cases/{cid}/deliberation"): ("chair", "case"),
    ("POST", "/api/v1/cases/{cid}/proposals"): ("chair", "case"),
    ("POST", "/api/v1/cases/{cid}/votes"): ("vote", "case"),
    ("POST", "/api/v1/cases/{cid}/close"): ("chair", "case"),
    ("POST", "/api/v1/cases/{cid}/publish"): ("chair", "case"),
    ("GET", "/api/v1/decisions"): "decision",
    ("GET", "/api/v1/decisions/{did}"): "decision",
    ("GET", "/api/v1/activations"): "activation",
    ("GET", "/api/v1/reliability"): "reliability",
    ("GET", "/api/v1/pledges"): "pledge",
    ("POST", "/api/v1/pledges"): ("add", "pledge"),
    ("GET", "/api/v1/pledges/{pid}"): "pledge",
    ("POST", "/api/v1/pledges/{pid}/entries"): ("add", "pledge"),
    ("GET", "/api/v1/support/totals"): "pledge",
    ("GET", "/api/v1/support/delivery"): "pledge",
    ("GET", "/api/v1/support/iati.xml"): "pledge",
    ("GET", "/api/v1/force/board"): "force",
    ("GET", "/api/v1/force/gate"): "force",
    ("POST", "/api/v1/force/offers"): ("offer|change", "force"),  # a nation's delegation, or force-generation staff
    ("POST", "/api/v1/force/offers/{oid}/status"): ("change", "force"),
    ("POST", "/api/v1/force/offers/{oid}/readiness"): ("offer|change", "force"),
    ("POST", "/api/v1/force/ukraine-request"): ("change", "force"),
    ("GET", "/api/v1/playbook/instruments"): "playbook",
    ("GET", "/api/v1/playbook/activations"): "playbook",
    ("POST", "/api/v1/playbook/tasks/{tid}"): ("execute", "playbook"),
    ("POST", "/api/v1/playbook/what-if"): ("view", "playbook"),
    ("GET", "/api/v1/exports/{collection}.{fmt}"): "incident",
    ("GET", "/api/v1/map/incidents"): "incident",
    ("GET", "/api/v1/map/layers"): "incident",
}
# Routes that return figures or boards rather than records: checked for role access here (200
# or an empty answer when the role may read the resource, else refused); their per-record
# restriction (confidential values, markings) is tested in the app's own tests.
AGGREGATES = {"/api/v1/support/totals", "/api/v1/support/delivery", "/api/v1/support/iati.xml", "/api/v1/force/board", "/api/v1/force/gate",
              "/api/v1/playbook/instruments", "/api/v1/playbook/activations", "/api/v1/exports/{collection}.{fmt}", "/api/v1/map/incidents", "/api/v1/map/layers"}
MODELS = {
    "observation": Observation, "incident": Incident, "source": Source, "finding": Finding, "verification": Verification,
    "case": Case, "decision": Decision, "activation": ActivationEvent, "reliability": ReliabilityDay, "pledge": Pledge,
}  # fmt: skip
# Path parameters of reference routes (no markings): an existing record.
REFERENCE_PARAMS = {"number": "1"}

RELEASABILITY = (("ALL",), ("USA",), ("FRA", "DEU"), ("GBR",))
TLPS = ("CLEAR", "GREEN", "AMBER", "RED")


def _markings():
    for cls, tlp, rel in itertools.product(Classification, TLPS, RELEASABILITY):
        yield Marking(classification=cls, tlp=tlp, releasable_to=rel, originator=rel[0] if rel[0] != "ALL" else "POL")


@pytest.fixture
def marked_world(source, agreement_v1, users):
    """One observation, incident and source per point of the marking lattice (4×4×4 = 64 each)."""
    from resolute.monitoring import services
    from resolute.monitoring.schemas import ObservationIn

    items = []
    for m in _markings():
        marking = {"classification": m.classification.name, "tlp": m.tlp, "releasable_to": list(m.releasable_to), "originator": m.originator}
        items.append(ObservationIn.model_validate(observation(marking=marking)))
        Incident.objects.create(
            event_type="explosion_impact", first_seen="2026-11-01T00:00Z", last_seen="2026-11-01T01:00Z", lat=47.5, lon=35.9,
            classification=m.classification, tlp=m.tlp, releasable_to="|" + "|".join(m.releasable_to) + "|", originator=m.originator,
        )
        services.register_source(
            "test", f"S-{uuid.uuid4().hex[:8]}", "src", "open_source", "C", 3, classification=m.classification, tlp=m.tlp,
            releasable_to="|" + "|".join(m.releasable_to) + "|", originator=m.originator,
        )
    services.submit_observations(items, "test")
    obs_ids = list(Observation.objects.values_list("pk", flat=True))
    # Attach every observation to one incident, so the incident detail route lists members.
    Observation.objects.update(incident=Incident.objects.order_by("pk").first())
    _commission_records(agreement_v1, users)
    return obs_ids


def _commission_records(version, users):
    """One finding, verification, case, decision, activation and reliability day per point of
    the marking lattice."""
    import datetime as dt

    now = dt.datetime.now(dt.timezone.utc)
    incident = Incident.objects.order_by("pk").first()
    provision = version.provisions.first()
    for k, m in enumerate(_markings()):
        marks = dict(classification=m.classification, tlp=m.tlp, releasable_to="|" + "|".join(m.releasable_to) + "|", originator=m.originator)
        Finding.objects.create(
            incident=incident, version=version, provision=provision, rule_type=provision.rule_type, severity=2, party="RUS", p_party=0.9,
            p_violation=0.9, explanation="x", judged_at=now, **marks,
        )  # fmt: skip
        Verification.objects.create(incident=incident, allegation="x", allegation_source="party", alleged_by=users["analyst"], received_at=now, review_due=now, **marks)
        case = Case.objects.create(number=f"T-{k}", title="t", origin="referral", opened_by="t", opened_at=now, rule={"quorum": 0.5}, **marks)
        proposal = Proposal.objects.create(case=case, number=1, breach_class="armed_attack", rationale="r", proposed_by="t", proposed_at=now, status="adopted")
        decision = Decision.objects.create(case=case, proposal=proposal, breach_class="armed_attack", rationale="r", tally={}, decided_by="t", decided_at=now, **marks)
        ActivationEvent.objects.create(decision=decision, determined_at=now, payload={}, **marks)
        ReliabilityDay.objects.create(day=now.date() - dt.timedelta(days=k), index=0, count=0, serious=0, calm=True, computed_at=now, **marks)
        Pledge.objects.create(member=CoalitionMember.objects.get(code="USA"), pillar="support", category="training", title="t", kind="financial", currency="EUR",
                              announced=now.date(), created_by="t", **marks)  # fmt: skip
    public = dict(classification=0, tlp="CLEAR", releasable_to="|ALL|")
    req = Requirement.objects.create(code="R1", capability="c", quantity=1, unit="u", tier="t10", location="l", lead_nation="FRA", **public)
    Offer.objects.create(requirement=req, member=CoalitionMember.objects.get(code="DEU"), unit="u", size=1, readiness_days=1, offered_by="t", offered_at=now, **public)
    event = ActivationEvent.objects.filter(**public).first()
    run = Activation.objects.create(event=event, started_at=now, breach_class="armed_attack", **public)
    ResponseTask.objects.create(activation=run, key="consultations", kind="consultations", title="t", due_at=now, **public)


def _marking_of(rec) -> Marking:
    return Marking(Classification(rec.classification), rec.tlp, decode_releasability(rec.releasable_to), rec.originator)


def _visible(user, resource):
    model = MODELS[resource]
    reader = reader_of(user)
    if not roles.allows(user, roles.VIEW, resource):
        return set()
    return {r.pk for r in model.objects.all() if may_read(reader, _marking_of(r))}


def _nothing(body) -> bool:
    """A map answer for a reader who may not read incidents: nothing in it."""
    if not isinstance(body, dict):
        return False
    if "total" in body:
        return body["total"] == 0 and not body.get("incidents") and not body.get("cells")
    return all(not v.get("features") for v in body.values() if isinstance(v, dict))


def _ids_in(body, resource):
    if isinstance(body, dict) and "items" in body:
        return [item["id"] for item in body["items"]], body.get("next")
    if isinstance(body, dict) and "id" in body:
        return [body["id"]], None
    if isinstance(body, dict) and body.get("type") == "FeatureCollection":
        return [f["id"] for f in body["features"]], body.get("next")
    if isinstance(body, dict) and body.get("type") == "Feature":
        return [body["id"]], None
    if resource == "source":
        return [Source.objects.get(code=s["code"]).pk for s in body], None
    return [], None


def test_the_matrix_covers_every_route():
    schema = api.get_openapi_schema(path_prefix="/api/v1")
    routes = {(method.upper(), path) for path, ops in schema["paths"].items() for method in ops}
    assert routes == set(ROUTES), f"add new routes to ROUTES: {routes ^ set(ROUTES)}"


def test_database_filter_agrees_with_the_pure_rule(marked_world, users):
    for role, user in users.items():
        allowed = {r.pk for r in Observation.objects.restrict(user)}
        assert allowed == _visible(user, "observation"), role


def test_no_route_returns_what_a_role_may_not_see(api, marked_world, users, tokens):
    from django.contrib.auth.models import AnonymousUser

    principals = {**{role: (users[role], tokens[role]) for role in ROLE_USERS}, "anonymous": (AnonymousUser(), None)}
    for who, (user, token) in principals.items():
        for (method, path), resource in ROUTES.items():
            if method != "GET":
                continue
            if path in AGGREGATES:
                r = api.get(path.replace("{collection}.{fmt}", "incidents.geojson"), token)
                if roles.allows(user, roles.VIEW, resource):
                    assert r.status_code == 200, (who, path, r.content[:200])
                    if "exports" in path:  # an export holds exactly what the reader may see
                        assert {f["id"] for f in r.json()["features"]} == _visible(user, "incident"), (who, path)
                    if path.endswith("map/incidents"):  # so does the map, whether incidents or cells
                        located = {i.pk for i in Incident.objects.filter(lat__isnull=False, status__in=("open", "verified", "not_verified", "refuted"))}
                        visible = _visible(user, "incident") & located
                        body = r.json()
                        assert body["total"] == len(visible), (who, path)
                        assert body["mode"] == "incidents" and {i["id"] for i in body["incidents"]} == visible, (who, path)
                else:
                    refused = r.status_code in (401, 403)
                    empty = r.status_code == 200 and (b"<iati-activity" not in r.content if path.endswith(".xml") else r.json() in ([], ) or _nothing(r.json()))
                    assert refused or empty, (who, path, r.status_code, r.content[:200])
                continue
            allowed = _visible(user, resource) if resource in MODELS else None
            if resource not in MODELS and ("{" in path or path.endswith("in-force")):
                r = api.get(path.replace("{number}", REFERENCE_PARAMS["number"]), token)
                assert r.status_code == (200 if roles.allows(user, roles.VIEW, resource) else 404), (who, path)
                continue
            if "{" in path:
                for rec in MODELS[resource].objects.all():
                    r = api.get(path.split("{")[0] + str(rec.pk), token)
                    if rec.pk in allowed:
                        assert r.status_code == 200, (who, path, rec.pk)
                        if resource == "incident":
                            members = set(r.json()["properties"]["observation_ids"])
                            expected = _visible(user, "observation") if rec.observations.exists() else set()
                            assert members == expected, (who, "incident members")
                    else:
                        assert r.status_code == 404, (who, path, rec.pk, "must not reveal a record the reader may not see")
                continue
            seen, url = [], path
            while url:
                r = api.get(url, token, limit=7) if url == path else api.get(url, token)
                assert r.status_code == 200, (who, path, r.content[:200])
                ids, url = _ids_in(r.json(), resource)
                seen.extend(ids)
            if allowed is not None:
                assert len(seen) == len(set(seen)), (who, path, "duplicates across pages")
                assert set(seen) == allowed, (who, path, "leaked" if set(seen) - allowed else "missing")
            elif not roles.allows(user, roles.VIEW, resource):
                assert seen == [] and r.json() == [], (who, path)


def _write_bodies():
    import datetime as dt

    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)).isoformat()
    # Valid bodies, so that what refuses the request is the permission, not validation.
    return {
        "/api/v1/observations": observation(), "/api/v1/agreement/judge": {"incident_ids": [1]},
        "/api/v1/verifications": {"allegation": "x"}, "/lock": {}, "/review": {"admissible": True},
        "/task": {"team": "T", "team_lead": "monitor-user", "deadline": later}, "/report": {"findings": "f"},
        "/access-denied": {"lat": 48.0, "lon": 36.2}, "/conclude": {"outcome": "verified"}, "/api/v1/cases": {"title": "t"},
        "/evidence": {}, "/invite": {"deadline": later}, "/responses": {"party": "UKR", "text": "t"}, "/notes": {"text": "t"},
        "/deliberation": {}, "/proposals": {"breach_class": "minor", "rationale": "r"}, "/votes": {"choice": "yes"}, "/close": {}, "/publish": {},
        "/api/v1/pledges": {"member": "USA", "category": "training", "title": "t", "kind": "financial", "currency": "EUR", "announced": "2026-01-05",
                            "first": {"stage": "pledge", "value_date": "2026-01-05", "values": {"reported": "1"}}},
        "/entries": {"stage": "commitment", "value_date": "2026-01-05", "values": {"reported": "1"}},
        "/api/v1/force/offers": {"requirement": "R1", "member": "DEU", "unit": "u", "size": 1, "readiness_days": 1}, "/status": {"action": "accept"},
        "/readiness": {"readiness_days": 3}, "/api/v1/force/ukraine-request": {"received": "2026-11-01", "reference": "r", "text": "t"},
        "/api/v1/playbook/tasks/{tid}": {"status": "done"}, "/api/v1/playbook/what-if": {"unavailable": ["DEU"]},
    }  # fmt: skip


def test_writes_outside_the_role_are_refused_and_change_nothing(api, marked_world, users, tokens):
    from resolute.audit.models import AuditEntry

    bodies = _write_bodies()
    # Targets every coalition reader may see, so that a refusal is about the role, not visibility.
    open_item = Verification.objects.filter(classification=0, releasable_to="|ALL|", tlp="CLEAR").first()
    decided = Case.objects.filter(classification=0, releasable_to="|ALL|", tlp="CLEAR").first()
    checked = 0
    for who, token in [*tokens.items(), ("anonymous", None)]:
        user = users.get(who)
        for (method, path), need in ROUTES.items():
            if method == "GET":
                continue
            action, resource = need
            if user is not None and any(roles.allows(user, a, resource) for a in action.split("|")):
                continue  # allowed writes are walked in the workflow tests
            url = path.replace("{vid}", str(open_item.pk)).replace("{cid}", str(decided.pk)).replace("{pid}", str(Pledge.objects.filter(classification=0, tlp="CLEAR", releasable_to="|ALL|").first().pk))
            url = url.replace("{oid}", str(Offer.objects.get().pk)).replace("{tid}", str(ResponseTask.objects.get().pk))
            body = bodies.get(path) or bodies["/" + path.rsplit("/", 1)[-1]]
            before = AuditEntry.objects.count()
            if method == "DELETE":
                r = api.c.delete(url, **({"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}))
            else:
                r = api.post(url, body, token)
            assert r.status_code in (401, 403, 404), (who, method, path, r.status_code, r.content[:300])
            assert AuditEntry.objects.count() == before, (who, path, "nothing written")
            checked += 1
    assert checked > 100


def test_writers_may_write(api, source, tokens):
    for role in ("monitor", "analyst", "administrator"):
        assert api.post("/api/v1/observations", observation(), tokens[role]).status_code == 201, role


def test_public_sees_only_public_clear_all(api, marked_world):
    body = api.get("/api/v1/observations", limit=1000).json()
    assert body["features"], "the public should see the PUBLIC/CLEAR/ALL records"
    for f in body["features"]:
        m = f["properties"]["marking"]
        assert (m["classification"], m["tlp"], m["releasable_to"]) == ("PUBLIC", "CLEAR", ["ALL"])
