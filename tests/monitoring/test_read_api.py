"""Reading observations and incidents: GeoJSON, filters, cursor pagination, errors.

Visibility by marking and role is tested in tests/accounts; here every record is readable
by the monitor who asks.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest

from resolute.monitoring import services
from resolute.monitoring.models import Incident
from resolute.monitoring.schemas import ObservationIn
from tests.conftest import observation

pytestmark = [pytest.mark.django_db, pytest.mark.db_backends]
OBS = "/api/v1/observations"
INC = "/api/v1/incidents"


def utc(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2025, 3, day, hour, minute, tzinfo=dt.timezone.utc)


def at(lat: float, lon: float, start: dt.datetime, end: dt.datetime, event_type: str = "explosion_impact", **over) -> dict:
    """An observation located at a point (so its map point is exactly lat, lon)."""
    return observation(
        direction=None, location={"lat": lat, "lon": lon, "error_m": 100}, event_type=event_type,
        observed_from=start.isoformat(), observed_to=end.isoformat(), **over,
    )  # fmt: skip


def store(*payloads: dict) -> list[int]:
    return services.submit_observations([ObservationIn.model_validate(p) for p in payloads], "test").ids


@pytest.fixture
def three(source):
    """A: explosion at 47.5N 35.5E on 1 March 10:00-10:10; B: small arms at 48.5N 37.5E,
    1 March 12:00-13:00; C: muzzle flash at 47.9N 36.2E on 2 March 09:00-09:05."""
    ids = store(
        at(47.5, 35.5, utc(1, 10), utc(1, 10, 10)),
        at(48.5, 37.5, utc(1, 12), utc(1, 13), "small_arms_fire"),
        at(47.9, 36.2, utc(2, 9), utc(2, 9, 5), "muzzle_flash"),
    )
    return dict(zip("ABC", ids))


def listed(api, token, url=OBS, **params) -> list[int]:
    r = api.get(url, token, **params)
    assert r.status_code == 200, r.content
    return [f["id"] for f in r.json()["features"]]


def assert_feature_collection(body: dict) -> None:
    assert body["type"] == "FeatureCollection"
    assert body["numberReturned"] == len(body["features"])
    ids = [f["id"] for f in body["features"]]
    assert len(ids) == len(set(ids))
    for f in body["features"]:
        assert f["type"] == "Feature" and isinstance(f["properties"], dict)
        assert f["geometry"]["type"] == "Point"
        lon, lat = f["geometry"]["coordinates"]
        assert -180 <= lon <= 180 and -90 <= lat <= 90


# ------------------------------------------------------------------------ observations


def test_observations_are_a_feature_collection_in_lon_lat_order(api, tokens, three):
    r = api.get(OBS, tokens["monitor"])
    assert r.status_code == 200 and r["Content-Type"].startswith("application/json")
    body = r.json()
    assert_feature_collection(body)
    assert body["next"] is None
    coords = {f["id"]: f["geometry"]["coordinates"] for f in body["features"]}
    # RFC 7946: longitude first. 35.5E, 47.5N is [35.5, 47.5], not [47.5, 35.5].
    assert coords == {three["A"]: [35.5, 47.5], three["B"]: [37.5, 48.5], three["C"]: [36.2, 47.9]}
    a = next(f for f in body["features"] if f["id"] == three["A"])
    assert a["properties"]["location"] == {"lat": 47.5, "lon": 35.5, "error_m": 100}
    assert a["properties"]["observed_from"] == "2025-03-01T10:00:00Z"


def test_bearing_observation_is_placed_along_its_bearing(api, tokens, source):
    (obs_id,) = store(observation(observer={"lat": 47.6, "lon": 35.8, "accuracy_m": 10}, direction={"bearing_deg": 90.0, "range_min_m": 9000, "range_max_m": 11000}))
    f = api.get(f"{OBS}/{obs_id}", tokens["monitor"]).json()
    lon, lat = f["geometry"]["coordinates"]
    # 10 km due east of the observer: same latitude, longitude ~0.133 degrees further east.
    assert lat == pytest.approx(47.6, abs=0.002) and lon == pytest.approx(35.933, abs=0.003)


@pytest.mark.parametrize(
    "bbox, expected",
    [
        ("35,47,36,48", "A"),
        ("35,47,38,49", "ABC"),
        ("35.5,47.5,36.2,47.9", "AC"),  # edges are inclusive
        ("36,47,38,48", "C"),
        ("-10,-10,10,10", ""),
    ],
)
def test_bbox_filter(api, tokens, three, bbox, expected):
    assert listed(api, tokens["monitor"], bbox=bbox) == [three[k] for k in expected]


@pytest.mark.parametrize(
    "start, end, expected",
    [
        (utc(1, 12, 30), utc(2, 0), "B"),  # overlaps B's 12:00-13:00, after A, before C
        (utc(1, 12, 15), utc(1, 12, 45), "B"),  # inside B's window: overlap, not containment
        (utc(1, 10, 10), None, "ABC"),  # A ends exactly at start: included
        (None, utc(1, 11), "A"),
        (None, utc(1, 12), "AB"),  # B starts exactly at end: included
        (utc(1, 13, 1), utc(2, 8, 59), ""),  # the gap between B and C
    ],
)
def test_time_window_filter_selects_overlapping_records(api, tokens, three, start, end, expected):
    params = {k: v.isoformat() for k, v in (("start", start), ("end", end)) if v}
    assert listed(api, tokens["monitor"], **params) == [three[k] for k in expected]


def test_time_filter_accepts_other_offsets(api, tokens, three):
    # 14:30+02:00 is 12:30 UTC: inside B only.
    assert listed(api, tokens["monitor"], start="2025-03-01T14:30:00+02:00", end="2025-03-01T14:40:00+02:00") == [three["B"]]


@pytest.mark.parametrize("offset", ["-21:05", "+23:59"])
def test_time_filter_accepts_offsets_beyond_postgresqls_range(api, tokens, three, offset):
    # ISO 8601 allows offsets up to ±23:59; PostgreSQL's timestamptz input only ±15:59.
    # 12:30 UTC expressed in that offset selects B only.
    sign, hours, minutes = offset[0], int(offset[1:3]), int(offset[4:])
    shift = dt.timedelta(hours=hours, minutes=minutes) * (1 if sign == "+" else -1)
    local = (utc(1, 12, 30) + shift).replace(tzinfo=None).isoformat() + offset
    assert listed(api, tokens["monitor"], start=local, end=local) == [three["B"]]


@pytest.mark.parametrize(
    "param, value",
    [
        ("start", "2025-03-01T12:00:00"),  # naive: which time zone?
        ("end", "2025-03-01T12:00"),
        ("start", "0001-01-01T00:00:00+01:00"),  # before year 1 in UTC
        ("end", "9999-12-31T23:00:00-05:00"),  # after year 9999 in UTC
        ("start", "yesterday"),
    ],
)
def test_bad_time_is_a_422_naming_the_parameter(api, tokens, three, param, value):
    for url in (OBS, INC):
        r = api.get(url, tokens["monitor"], **{param: value})
        assert r.status_code == 422, r.content
        assert [e["field"] for e in r.json()["errors"]] == [param]


def test_event_type_filter(api, tokens, three):
    assert listed(api, tokens["monitor"], event_type="small_arms_fire") == [three["B"]]
    assert listed(api, tokens["monitor"], event_type="small_arms_fire, muzzle_flash") == [three["B"], three["C"]]
    assert listed(api, tokens["monitor"], event_type="air_strike") == []


@pytest.mark.parametrize("value", ["picnic", "small_arms_fire,picnic", "", ","])
def test_unknown_event_type_is_a_422_naming_it(api, tokens, three, value):
    r = api.get(OBS, tokens["monitor"], event_type=value)
    assert r.status_code == 422, r.content
    assert r["Content-Type"] == "application/problem+json"
    assert [e["field"] for e in r.json()["errors"]] == ["event_type"]
    if "picnic" in value:
        assert "picnic" in r.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    "bbox",
    ["1,2,3", "1,2,3,4,5", "a,b,c,d", "", "nan,0,1,1", "0,0,inf,1", "10,0,5,1", "0,10,1,5", "-181,0,0,1", "0,-91,1,0", "0,0,1,91"],
)
def test_bad_bbox_is_a_422_naming_bbox(api, tokens, three, bbox):
    r = api.get(OBS, tokens["monitor"], bbox=bbox)
    assert r.status_code == 422, r.content
    assert r["Content-Type"] == "application/problem+json"
    assert [e["field"] for e in r.json()["errors"]] == ["bbox"]


def walk(api, token, url, **params) -> tuple[list[int], list[int]]:
    """Follow `next` links from the first page; returns (ids in order, page sizes)."""
    ids, sizes = [], []
    r = api.get(url, token, **params)
    for _ in range(100):
        assert r.status_code == 200, r.content
        body = r.json()
        assert_feature_collection(body)
        ids += [f["id"] for f in body["features"]]
        sizes.append(body["numberReturned"])
        if body["next"] is None:
            return ids, sizes
        link = urlsplit(body["next"])
        assert link.path == url
        r = api.get(link.path, token, **{k: v[0] for k, v in parse_qs(link.query).items()})
    raise AssertionError("pagination does not end")


@pytest.mark.parametrize("count, limit, sizes", [(7, 3, [3, 3, 1]), (6, 3, [3, 3]), (2, 5, [2]), (4, 1, [1, 1, 1, 1])])
def test_cursor_pagination_returns_every_record_exactly_once(api, tokens, source, count, limit, sizes):
    stored = store(*(observation() for _ in range(count)))
    ids, pages = walk(api, tokens["monitor"], OBS, limit=limit)
    assert ids == sorted(stored)
    # No trailing empty page: `next` is null on the page that holds the last record.
    assert pages == sizes


def test_next_link_keeps_the_filters(api, tokens, source):
    shots = store(*(at(47.5, 35.5, utc(1, 10), utc(1, 11), "small_arms_fire") for _ in range(5)))
    store(*(at(47.5, 35.5, utc(1, 10), utc(1, 11)) for _ in range(5)))
    r = api.get(OBS, tokens["monitor"], event_type="small_arms_fire", limit=2)
    query = parse_qs(urlsplit(r.json()["next"]).query)
    assert query["event_type"] == ["small_arms_fire"] and query["limit"] == ["2"]
    ids, _ = walk(api, tokens["monitor"], OBS, event_type="small_arms_fire", limit=2)
    assert ids == shots


def test_records_stored_between_pages_are_not_skipped_or_repeated(api, tokens, source):
    first = store(*(observation() for _ in range(3)))
    page = api.get(OBS, tokens["monitor"], limit=2).json()
    later = store(observation())
    cursor = parse_qs(urlsplit(page["next"]).query)["cursor"][0]
    rest = api.get(OBS, tokens["monitor"], limit=10, cursor=cursor).json()
    assert [f["id"] for f in page["features"]] + [f["id"] for f in rest["features"]] == first + later


@pytest.mark.parametrize("cursor", ["abc", "-1", "1.5", "1e3", "²", "١٢", "9" * 19, "x" * 41])
def test_bad_cursor_is_a_422_naming_cursor(api, tokens, three, cursor):
    r = api.get(OBS, tokens["monitor"], cursor=cursor)
    assert r.status_code == 422, r.content
    assert [e["field"] for e in r.json()["errors"]] == ["cursor"]


@pytest.mark.parametrize("limit", [0, -1, 1001, "ten"])
def test_bad_limit_is_a_422(api, tokens, three, limit):
    r = api.get(OBS, tokens["monitor"], limit=limit)
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["limit"]


def test_one_observation_by_id(api, tokens, three):
    r = api.get(f"{OBS}/{three['B']}", tokens["monitor"])
    assert r.status_code == 200
    f = r.json()
    assert f["type"] == "Feature" and f["id"] == three["B"]
    assert f["geometry"] == {"type": "Point", "coordinates": [37.5, 48.5]}
    assert f["properties"]["event_type"] == "small_arms_fire"


@pytest.mark.parametrize("missing", ["999999", "0", "-1", "99999999999999999999"])
def test_missing_observation_is_a_404_problem(api, tokens, three, missing):
    r = api.get(f"{OBS}/{missing}", tokens["monitor"])
    assert r.status_code == 404
    assert r["Content-Type"] == "application/problem+json" and r.json()["status"] == 404


def test_non_numeric_observation_id_is_a_422(api, tokens, three):
    r = api.get(f"{OBS}/abc", tokens["monitor"])
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "obs_id"


# --------------------------------------------------------------------------- incidents


@pytest.fixture
def incidents(db):
    def make(lat, lon, first, last, event_type="explosion_impact", confidence=0.5):
        return Incident.objects.create(
            event_type=event_type, first_seen=first, last_seen=last, lat=lat, lon=lon, error_m=200.0, confidence=confidence, observation_count=1
        ).pk

    return {
        "A": make(47.5, 35.5, utc(1, 10), utc(1, 10, 30), confidence=0.9),
        "B": make(48.5, 37.5, utc(1, 12), utc(1, 14), "small_arms_fire", confidence=0.4),
        "C": make(47.9, 36.2, utc(2, 9), utc(2, 9, 5), "muzzle_flash", confidence=0.7),
        "unlocated": make(None, None, utc(1, 10), utc(1, 11)),
    }


def test_incidents_are_a_feature_collection_in_lon_lat_order(api, tokens, incidents):
    body = api.get(INC, tokens["monitor"]).json()
    assert_feature_collection(body)
    coords = {f["id"]: f["geometry"]["coordinates"] for f in body["features"]}
    # An incident not yet located has no point to draw: it is not listed.
    assert coords == {incidents["A"]: [35.5, 47.5], incidents["B"]: [37.5, 48.5], incidents["C"]: [36.2, 47.9]}


def test_incident_filters(api, tokens, incidents):
    token = tokens["monitor"]
    assert listed(api, token, INC, bbox="35,47,36,48") == [incidents["A"]]
    assert listed(api, token, INC, start=utc(1, 13).isoformat(), end=utc(2, 0).isoformat()) == [incidents["B"]]
    assert listed(api, token, INC, event_type="muzzle_flash,small_arms_fire") == [incidents["B"], incidents["C"]]
    assert listed(api, token, INC, min_confidence=0.7) == [incidents["A"], incidents["C"]]
    for bad in ({"bbox": "0,0,1"}, {"event_type": "picnic"}, {"cursor": "x"}):
        r = api.get(INC, token, **bad)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == next(iter(bad))


def test_incident_pagination_walks_every_incident_once(api, tokens, incidents):
    ids, sizes = walk(api, tokens["monitor"], INC, limit=2)
    assert ids == sorted([incidents["A"], incidents["B"], incidents["C"]]) and sizes == [2, 1]


def test_one_incident_lists_its_observations(api, tokens, incidents, three):
    from resolute.monitoring.models import Observation

    Observation.objects.filter(pk__in=[three["A"], three["C"]]).update(incident_id=incidents["A"])
    r = api.get(f"{INC}/{incidents['A']}", tokens["monitor"])
    assert r.status_code == 200
    assert r.json()["geometry"]["coordinates"] == [35.5, 47.5]
    assert sorted(r.json()["properties"]["observation_ids"]) == sorted([three["A"], three["C"]])
    for missing in (999999, incidents["unlocated"]):
        r = api.get(f"{INC}/{missing}", tokens["monitor"])
        assert r.status_code == 404 and r["Content-Type"] == "application/problem+json"
