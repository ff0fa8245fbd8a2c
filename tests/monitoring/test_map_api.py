"""The situation map's data: incidents when few, grid cells when many, and in both cases only
what the reader may see."""

from __future__ import annotations

import datetime as dt

import pytest

from resolute.core.markings import Classification
from resolute.monitoring.map_api import cell_degrees

pytestmark = [pytest.mark.django_db, pytest.mark.db_backends]
NOW = dt.datetime.now(dt.timezone.utc)


def make(lat, lon, *, secret=False, origin="RUS", status="open", hours=3, event_type="explosion_impact"):
    from resolute.monitoring.models import Incident

    return Incident.objects.create(
        event_type=event_type, status=status, first_seen=NOW - dt.timedelta(hours=hours), last_seen=NOW - dt.timedelta(hours=hours - 1),
        lat=lat, lon=lon, fix_ok=True, error_m=300.0, semi_major_m=300.0, semi_minor_m=100.0, orientation_deg=10.0, confidence=0.9,
        origin_side=origin, classification=Classification.SECRET if secret else Classification.PUBLIC,
        tlp="AMBER" if secret else "CLEAR", releasable_to="|USA|" if secret else "|ALL|", originator="USA",
    )  # fmt: skip


@pytest.fixture
def front(db):
    # Two clusters 1° apart; one secret incident in the first.
    a = [make(48.01 + k * 0.001, 37.01, origin="RUS") for k in range(5)]
    b = [make(49.01, 36.01 + k * 0.001, origin="UKR") for k in range(3)]
    hidden = make(48.012, 37.012, secret=True)
    make(48.0, 37.0, status="merged")  # merged incidents live on in the one that absorbed them
    return a, b, hidden


def test_few_incidents_come_as_incidents_with_their_ellipse(api, front):
    body = api.get("/api/v1/map/incidents", zoom=8).json()
    assert body["mode"] == "incidents" and body["total"] == 8
    assert {i["id"] for i in body["incidents"]} == {x.pk for x in front[0] + front[1]}
    one = body["incidents"][0]
    assert one["ellipse"] == {"semi_major_m": 300.0, "semi_minor_m": 100.0, "orientation_deg": 10.0}
    assert one["severity"] is None  # the public may not read findings


def test_many_incidents_come_as_cells_counting_only_what_the_reader_may_see(api, front, tokens, settings):
    settings.MAP_MAX_FEATURES = 4
    public = api.get("/api/v1/map/incidents", zoom=6).json()
    assert public["mode"] == "grid" and public["total"] == 8
    assert sorted(c["count"] for c in public["cells"]) == [3, 5]
    assert public["cell_deg"] == cell_degrees(6) == pytest.approx(1.40625)
    chair = api.get("/api/v1/map/incidents", tokens["chair"], zoom=6).json()  # USA, SECRET
    assert sorted(c["count"] for c in chair["cells"]) == [3, 6] and chair["total"] == 9
    assert sum(c["count"] for c in chair["cells"]) == chair["total"]


def test_filters_and_bounding_box(api, front):
    body = api.get("/api/v1/map/incidents", zoom=10, bbox="36.9,47.9,37.1,48.1").json()
    assert body["total"] == 5
    assert api.get("/api/v1/map/incidents", event_type="small_arms_fire").json()["total"] == 0
    assert api.get("/api/v1/map/incidents", min_confidence=0.95).json()["total"] == 0
    assert api.get("/api/v1/map/incidents", end=(NOW - dt.timedelta(hours=5)).isoformat()).json()["total"] == 0


@pytest.mark.parametrize(
    "params,field",
    [({"zoom": 25}, "zoom"), ({"bbox": "1,2,3"}, "bbox"), ({"event_type": "parade"}, "event_type"), ({"status": "merged"}, "status"),
     ({"min_confidence": 2}, "min_confidence"), ({"start": "yesterday"}, "start")],
)  # fmt: skip
def test_bad_parameters_are_refused_by_name(api, params, field):
    r = api.get("/api/v1/map/incidents", **params)
    assert r.status_code in (400, 422) and field in r.content.decode()


def test_layers_show_observation_posts_the_reader_may_see(api, source, make_observation, tokens):
    from resolute.monitoring import services
    from resolute.monitoring.schemas import ObservationIn

    secret = {"classification": "SECRET", "tlp": "AMBER", "releasable_to": ["USA"], "originator": "USA"}
    items = [make_observation(observer={"lat": 47.6, "lon": 35.8, "accuracy_m": 10}, marking={"classification": "PUBLIC", "tlp": "CLEAR", "releasable_to": ["ALL"], "originator": "FRA"}),
             make_observation(observer={"lat": 47.9, "lon": 36.1, "accuracy_m": 10}, marking=secret)]  # fmt: skip
    services.submit_observations([ObservationIn.model_validate(x) for x in items], "test")
    public = api.get("/api/v1/map/layers").json()["posts"]["features"]
    assert [f["geometry"]["coordinates"] for f in public] == [[35.8, 47.6]]
    chair = api.get("/api/v1/map/layers", tokens["chair"]).json()["posts"]["features"]
    assert sorted(f["geometry"]["coordinates"][1] for f in chair) == [47.6, 47.9]
