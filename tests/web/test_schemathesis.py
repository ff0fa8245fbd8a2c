"""Property-based run of every /api/v1 operation against its own OpenAPI document.

Schemathesis generates requests from the published schema and calls the Django WSGI
application in-process (no server, no network). Each response must not be a 5xx and must
conform to the schema: a documented status code, the documented content type and a body
that validates against the documented response schema. It runs once with a bearer token
of a user who may write (so POST reaches the intake service and the database) and once
anonymously (the public reader path, and writes refused).
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import observation

# transaction=True: the WSGI handler, unlike Django's test client, closes the connection at
# the end of each request (request_finished), which would break a test wrapped in one
# transaction. Rows are committed for real and flushed after each test.
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OPENAPI = "/api/v1/openapi.json"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Bounded and derandomized: the same examples on every run, so CI failures reproduce.
FUZZ = settings(
    max_examples=60,
    derandomize=True,
    database=None,
    deadline=None,
    # The token and source fixtures are shared by all examples of one operation on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def writer(db):
    """Bearer token of a monitor (may submit observations), a registered source, and stored
    records both callers can see, so list and detail responses carry real features to check."""
    import datetime as dt

    from resolute.accounts import services as accounts
    from resolute.core.markings import Classification
    from resolute.monitoring import services as monitoring
    from resolute.monitoring.models import Incident, Observation
    from resolute.monitoring.schemas import ObservationIn

    monitoring.register_source("test", "OP-UKR-01", "Observation post 1", "observation_post", "B", 2, "FRA", classification=Classification.PUBLIC, tlp="CLEAR")
    user = accounts.create_user("test", "fuzz-monitor", "monitor", nation="FRA", clearance=Classification.RESTRICTED)
    public = {"classification": "PUBLIC", "tlp": "CLEAR", "releasable_to": ["ALL"], "originator": "FRA"}
    items = [
        observation(marking=public),
        observation(marking=public, direction=None, location={"lat": 47.59, "lon": 35.81, "error_m": 300}),
        observation(marking=public, direction={"bearing_deg": 135.0, "bearing_sigma_deg": 5.0}),
    ]
    monitoring.submit_observations([ObservationIn.model_validate(p) for p in items], "test")
    now = dt.datetime.now(dt.timezone.utc)
    incident = Incident.objects.create(
        event_type="explosion_impact", first_seen=now - dt.timedelta(hours=2), last_seen=now - dt.timedelta(hours=1),
        lat=47.59, lon=35.81, error_m=250.0, confidence=0.8, observation_count=2, classification=Classification.PUBLIC, tlp="CLEAR",
    )  # fmt: skip
    Observation.objects.update(incident=incident)
    return accounts.issue_token("test", user, "fuzz", ("read", "write"))[1]


@pytest.fixture
def api_schema():
    from resolute.web.wsgi import application

    return schemathesis.openapi.from_wsgi(OPENAPI, application)


@pytest.fixture
def anonymous_schema(api_schema):
    # By default schemathesis also fills the declared security schemes (bearer header,
    # session cookie) with generated junk, which only ever reaches the 401 path. Without
    # them the requests are what the public sends: no credentials at all.
    api_schema.config.generation.update(with_security_parameters=False)
    return api_schema


@schemathesis.pytest.from_fixture("api_schema").parametrize()
@FUZZ
def test_api_as_writer_conforms(case, writer):
    case.call_and_validate(headers={"Authorization": f"Bearer {writer}"}, checks=CHECKS)


@schemathesis.pytest.from_fixture("anonymous_schema").parametrize()
@FUZZ
def test_api_anonymously_conforms(case, writer):
    case.call_and_validate(checks=CHECKS)


def test_fuzzing_really_reaches_the_test_database(api_schema, writer):
    """Guard for the two tests above: a request through the schemathesis WSGI transport is
    served from the test database (it sees the fixture's source and stores the row)."""
    from resolute.monitoring.models import Observation

    op = api_schema["/api/v1/observations"]["POST"]
    body = observation()
    case = op.Case(body=body, media_type="application/json")
    response = case.call(headers={"Authorization": f"Bearer {writer}"})
    assert response.status_code == 201, response.text
    assert Observation.objects.filter(client_id=body["client_id"]).exists()
    listed = api_schema["/api/v1/observations"]["GET"].Case(query={"limit": 10}).call(headers={"Authorization": f"Bearer {writer}"})
    # the fixture's three seeded rows and the one just stored
    assert len(listed.json()["features"]) == 4
    assert listed.json()["features"][-1]["properties"]["client_id"] == body["client_id"]


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("[" * 100_000, id="nested-too-deeply"),
        pytest.param(json.dumps(observation(chain=["\udfff"])), id="lone-surrogate-in-list"),
        pytest.param(json.dumps(observation(narrative="\ud800")), id="lone-surrogate"),
        pytest.param(json.dumps(observation()).replace('"count": 7', '"count": ' + "9" * 5000), id="5000-digit-integer"),
        pytest.param(json.dumps(observation()).replace('"count": 7', '"count": 1e400'), id="float-overflow"),
    ],
)
def test_hostile_bodies_are_conforming_4xx_problems(api_schema, writer, raw):
    """Bodies the generator rarely produces: each is refused as a documented 4xx problem
    document, and nothing is stored."""
    from resolute.monitoring.models import Observation

    before = Observation.objects.count()
    case = api_schema["/api/v1/observations"]["POST"].Case(body=raw.encode(), media_type="application/json")
    response = case.call_and_validate(headers={"Authorization": f"Bearer {writer}"}, checks=CHECKS)
    # (the content type and body were checked against the 422 response's schema above)
    assert response.status_code == 422, response.text
    assert response.json()["errors"]
    assert Observation.objects.count() == before


def test_every_schema_reference_in_the_openapi_document_resolves(client):
    """A `$ref` to a missing component made the generator send POST /observations without a
    body on every example (all 415), so the fuzzing above silently never reached intake."""
    doc = client.get(OPENAPI).json()
    refs = []

    def collect(node):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(doc)
    for ref in refs:
        target = doc
        for part in ref.removeprefix("#/").split("/"):
            assert isinstance(target, dict) and part in target, f"dangling $ref {ref}"
            target = target[part]
    body = doc["paths"]["/api/v1/observations"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["oneOf"][0]["required"] and "client_id" in body["oneOf"][0]["properties"]
