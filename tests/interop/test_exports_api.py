"""Exports through the API: exactly what the reader may see, in files real tools accept."""

from __future__ import annotations

import csv
import io
import json
from xml.etree import ElementTree as ET

import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.db_backends]


@pytest.fixture
def world(source, make_observation):
    """Two incidents: one public, one SECRET REL USA; each with a member observation."""
    import datetime as dt

    from resolute.core.markings import Classification
    from resolute.monitoring import services
    from resolute.monitoring.models import Incident, Observation
    from resolute.monitoring.schemas import ObservationIn

    now = dt.datetime.now(dt.timezone.utc)
    out = []
    for cls, tlp, rel, narrative in ((Classification.PUBLIC, "CLEAR", "|ALL|", "=HYPERLINK(1)"), (Classification.SECRET, "AMBER", "|USA|", "secret source")):
        inc = Incident.objects.create(
            event_type="explosion_impact", first_seen=now - dt.timedelta(hours=3), last_seen=now - dt.timedelta(hours=2), lat=47.6, lon=35.9,
            fix_ok=True, error_m=400.0, confidence=0.9, confidence_word="very likely", observation_count=1, classification=cls, tlp=tlp,
            releasable_to=rel, originator="USA",
        )  # fmt: skip
        marking = {"classification": cls.name, "tlp": tlp, "releasable_to": rel.strip("|").split("|"), "originator": "USA"}
        [oid] = services.submit_observations([ObservationIn.model_validate(make_observation(marking=marking, narrative=narrative))], "test").ids
        Observation.objects.filter(pk=oid).update(incident=inc)
        out.append(inc)
    return out


def test_public_exports_hold_public_records_only(api, world):
    public, secret = world
    geo = json.loads(api.get("/api/v1/exports/incidents.geojson").content)
    assert geo["type"] == "FeatureCollection" and [f["id"] for f in geo["features"]] == [public.pk] and "crs" not in geo
    kml = ET.fromstring(api.get("/api/v1/exports/incidents.kml").content)
    assert len(kml.findall(".//{http://www.opengis.net/kml/2.2}Placemark")) == 1
    rows = list(csv.reader(io.StringIO(api.get("/api/v1/exports/observations.csv").content.decode("utf-8-sig"))))
    assert len(rows) == 2 and "secret source" not in str(rows)
    narrative = rows[1][rows[0].index("narrative")]
    assert narrative.startswith("'=")  # formula injection neutralised


def test_a_cleared_reader_gets_both_and_stix_validates(api, world, tokens):
    from stix2validator import ValidationOptions, validate_string

    body = api.get("/api/v1/exports/incidents.stix", tokens["chair"])  # USA, SECRET
    assert body.status_code == 200 and body["Content-Type"].startswith("application/stix+json")
    bundle = json.loads(body.content)
    assert sum(o["type"] == "incident" for o in bundle["objects"]) == 2
    assert sum(o["type"] == "sighting" for o in bundle["objects"]) == 2
    result = validate_string(body.content.decode(), ValidationOptions(strict=True, disabled=["103", "202"]))
    assert result.is_valid, result.as_dict()
    assert api.get("/api/v1/exports/observations.stix", tokens["chair"]).status_code == 422
    public = json.loads(api.get("/api/v1/exports/incidents.stix").content)
    assert sum(o["type"] == "incident" for o in public["objects"]) == 1


@pytest.mark.parametrize(
    "path,param",
    [
        ("/api/v1/exports/observations.csv", "end"),
        ("/api/v1/exports/incidents.geojson", "start"),
        ("/api/v1/incidents", "start"),
        ("/api/v1/agreement/in-force", "at"),
    ],
)
@pytest.mark.parametrize("when", ["0001-01-01T01:06:56+12:16", "9999-12-31T23:00:00-05:00"])
def test_a_time_beyond_the_utc_range_is_refused_by_name(api, path, param, when):
    # Schemathesis found this: such a time is valid ISO 8601 but has no UTC equivalent.
    r = api.get(path, **{param: when})
    assert r.status_code in (400, 422), r.content
    assert param in r.content.decode()
