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
from resolute.monitoring.models import Incident, Observation, Source
from resolute.web.api import api
from tests.conftest import ROLE_USERS, observation

pytestmark = [pytest.mark.django_db, pytest.mark.db_backends]

# path template -> (method, resource returned or written)
ROUTES = {
    ("GET", "/api/v1/observations"): "observation",
    ("GET", "/api/v1/observations/{obs_id}"): "observation",
    ("POST", "/api/v1/observations"): "observation",
    ("GET", "/api/v1/incidents"): "incident",
    ("GET", "/api/v1/incidents/{incident_id}"): "incident",
    ("GET", "/api/v1/sources"): "source",
    ("GET", "/api/v1/parties"): "party",
    ("GET", "/api/v1/members"): "member",
}
MODELS = {"observation": Observation, "incident": Incident, "source": Source}

RELEASABILITY = (("ALL",), ("USA",), ("FRA", "DEU"), ("GBR",))
TLPS = ("CLEAR", "GREEN", "AMBER", "RED")


def _markings():
    for cls, tlp, rel in itertools.product(Classification, TLPS, RELEASABILITY):
        yield Marking(classification=cls, tlp=tlp, releasable_to=rel, originator=rel[0] if rel[0] != "ALL" else "POL")


@pytest.fixture
def marked_world(source):
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
    return obs_ids


def _marking_of(rec) -> Marking:
    return Marking(Classification(rec.classification), rec.tlp, decode_releasability(rec.releasable_to), rec.originator)


def _visible(user, resource):
    model = MODELS[resource]
    reader = reader_of(user)
    if not roles.allows(user, roles.VIEW, resource):
        return set()
    return {r.pk for r in model.objects.all() if may_read(reader, _marking_of(r))}


def _ids_in(body, resource):
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
            allowed = _visible(user, resource) if resource in MODELS else None
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


def test_writes_outside_the_role_are_refused(api, source, users, tokens):
    for role, token in [*tokens.items(), ("anonymous", None)]:
        for (method, path), resource in ROUTES.items():
            if method != "POST":
                continue
            before = MODELS[resource].objects.count()
            r = api.post(path, observation(), token)
            user = users.get(role)
            if user is not None and roles.allows(user, roles.ADD, resource):
                assert r.status_code == 201, (role, path, r.content)
            else:
                assert r.status_code in (401, 403), (role, path)
                assert MODELS[resource].objects.count() == before, (role, path, "nothing written")


def test_public_sees_only_public_clear_all(api, marked_world):
    body = api.get("/api/v1/observations", limit=1000).json()
    assert body["features"], "the public should see the PUBLIC/CLEAR/ALL records"
    for f in body["features"]:
        m = f["properties"]["marking"]
        assert (m["classification"], m["tlp"], m["releasable_to"]) == ("PUBLIC", "CLEAR", ["ALL"])
