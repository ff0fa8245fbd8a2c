"""OGC API – Features (resolute.interop.ogcapi) read by a real client, OWSLib, over HTTP.

What matters: a GIS layer holds exactly what its reader may see (the public: PUBLIC / CLEAR /
REL ALL only; a token holder: their own set), across every page; the standard's parameters
(bbox, datetime, limit, next links) select what they should; junk parameters are a 400 naming
the parameter. The expected sets come from the pure rule (core.markings.may_read) and the role
table, not from the code under test.
"""

from __future__ import annotations

import datetime as dt
import itertools
from urllib.parse import parse_qsl, urlsplit

import pytest

from resolute.accounts import roles
from resolute.accounts.restrict import reader_of
from resolute.core.markings import (
    Classification,
    Marking,
    decode_releasability,
    may_read,
)
from tests.conftest import observation

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
OLD = NOW - dt.timedelta(days=30)  # the old records' time window starts here
MIDDLE = NOW - dt.timedelta(days=15)  # between the old and the recent records
# Observers: near Zaporizhzhia (the bbox below) and near Kharkiv (outside it).
SOUTH, NORTH = {"lat": 47.6, "lon": 35.8, "accuracy_m": 10}, {"lat": 49.9, "lon": 36.3, "accuracy_m": 10}
SOUTH_BOX = (35.0, 47.0, 36.5, 48.0)
# Where only a SECRET REL USA observation and incident are: no extent the public gets may reach it.
FAR = {"lat": 45.0, "lon": 30.0, "accuracy_m": 10}

# (classification, tlp, releasable_to, originator): public, and several the public may not see.
MARKINGS = [
    (Classification.PUBLIC, "CLEAR", ("ALL",), "POL"),
    (Classification.PUBLIC, "GREEN", ("ALL",), "POL"),
    (Classification.PUBLIC, "CLEAR", ("FRA", "DEU"), "FRA"),
    (Classification.RESTRICTED, "AMBER", ("ALL",), "FRA"),
    (Classification.SECRET, "AMBER", ("USA",), "USA"),
    (Classification.CONFIDENTIAL, "RED", ("ALL",), "FRA"),
]


def _iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


@pytest.fixture
def world(source, users):
    """Observations and incidents for every marking above, in two places and two time windows,
    plus incidents that are not features (merged, not located)."""
    from resolute.monitoring import services
    from resolute.monitoring.models import Incident
    from resolute.monitoring.schemas import ObservationIn

    items = []
    for (cls, tlp, rel, orig), where, start in itertools.product(MARKINGS, (SOUTH, NORTH), (OLD, NOW - dt.timedelta(hours=2))):
        marking = {"classification": cls.name, "tlp": tlp, "releasable_to": list(rel), "originator": orig}
        items.append(
            ObservationIn.model_validate(
                observation(marking=marking, observer=where, observed_from=start.isoformat(), observed_to=(start + dt.timedelta(minutes=10)).isoformat())
            )
        )
        lat, lon = (47.55, 35.85) if where is SOUTH else (49.85, 36.35)
        Incident.objects.create(
            event_type="explosion_impact", status="verified" if start is OLD else "open", first_seen=start, last_seen=start + dt.timedelta(minutes=10),
            lat=lat, lon=lon, fix_ok=True, classification=cls, tlp=tlp, releasable_to="|" + "|".join(rel) + "|", originator=orig,
        )  # fmt: skip
    secret = {"classification": "SECRET", "tlp": "AMBER", "releasable_to": ["USA"], "originator": "USA"}
    window = {"observed_from": OLD.isoformat(), "observed_to": (OLD + dt.timedelta(minutes=10)).isoformat()}
    items.append(ObservationIn.model_validate(observation(marking=secret, observer=FAR, **window)))
    Incident.objects.create(
        event_type="explosion_impact", status="open", first_seen=OLD, last_seen=OLD + dt.timedelta(minutes=10), lat=44.99, lon=30.01,
        classification=Classification.SECRET, tlp="AMBER", releasable_to="|USA|", originator="USA",
    )  # fmt: skip
    public = {"classification": Classification.PUBLIC, "tlp": "CLEAR", "releasable_to": "|ALL|", "originator": "POL"}
    merged = Incident.objects.create(event_type="explosion_impact", status="merged", first_seen=OLD, last_seen=OLD, lat=47.5, lon=35.9, **public)
    unlocated = Incident.objects.create(event_type="explosion_impact", status="open", first_seen=OLD, last_seen=OLD, **public)
    services.submit_observations(items, "test")
    return {"merged": merged.pk, "unlocated": unlocated.pk}


def _marking(rec) -> Marking:
    return Marking(Classification(rec.classification), rec.tlp, decode_releasability(rec.releasable_to), rec.originator)


def _expected(user, collection: str, where=None) -> set[int]:
    """What `user` may see in a collection, by the pure rule, optionally within `where`(record)."""
    from resolute.monitoring.models import Incident, Observation

    resource, model = {"observations": ("observation", Observation), "incidents": ("incident", Incident)}[collection]
    if not roles.allows(user, roles.VIEW, resource):
        return set()
    rows = model.objects.all()
    if collection == "incidents":
        rows = [r for r in rows if r.status in ("open", "verified", "not_verified", "refuted") and r.lat is not None]
    reader = reader_of(user)
    return {r.pk for r in rows if may_read(reader, _marking(r)) and (where is None or where(r))}


def _features_client(base: str, token: str | None = None):
    """OWSLib's Features client, with the bearer token if given.

    OWSLib (0.35) keeps the headers of every client in one module-level dict and updates it with
    the headers given, so one client's token would ride along with every later client's
    requests (an anonymous client would not be anonymous). Each client gets its own copy here."""
    from owslib import ogcapi
    from owslib.ogcapi.features import Features

    extra = {"Authorization": f"Bearer {token}"} if token else {}
    saved = dict(ogcapi.REQUEST_HEADERS)
    try:
        client = Features(base, headers=extra or None)
    finally:
        ogcapi.REQUEST_HEADERS.clear()
        ogcapi.REQUEST_HEADERS.update(saved)
    client.headers = {**saved, **extra}
    return client


def _all_pages(client, collection: str, **params) -> tuple[list[int], list[dict]]:
    """Follow `next` links until there is none; every id seen, and every page."""
    pages = [client.collection_items(collection, **params)]
    while nxt := [link for link in pages[-1]["links"] if link["rel"] == "next"]:
        assert len(pages) < 100, "paging does not end"
        href = urlsplit(nxt[0]["href"])
        assert href.path.endswith(f"/ogc/collections/{collection}/items") and nxt[0]["type"] == "application/geo+json"
        # The next link is followed through the client, with exactly the link's parameters.
        pages.append(client.collection_items(collection, **dict(parse_qsl(href.query))))
    return [f["id"] for p in pages for f in p["features"]], pages


@pytest.mark.django_db(transaction=True)
def test_a_real_client_reads_landing_conformance_and_collections(live_server, world):
    base = f"{live_server.url}/ogc/"
    client = _features_client(base)
    rels = {link["rel"]: link for link in client.links}
    assert {"self", "service-desc", "conformance", "data"} <= set(rels)
    assert all(link.get("type") for link in client.links)
    assert rels["data"]["href"] == f"{live_server.url}/ogc/collections"
    # The API definition the landing page links to is this API's, and OWSLib can read it.
    definition = client.api()
    assert definition["openapi"].startswith("3.0") and "/collections/{collectionId}/items" in definition["paths"]

    conf = client.conformance()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conf
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in conf
    assert not any(c.endswith(("/conf/oas30", "/conf/html")) for c in conf)  # not claimed: not done

    assert sorted(client.feature_collections()) == ["incidents", "observations"]
    meta = client.collection("observations")
    assert meta["id"] == "observations" and meta["itemType"] == "feature"
    assert {link["rel"] for link in meta["links"]} >= {"self", "items"}
    [items_link] = [link for link in meta["links"] if link["rel"] == "items"]
    assert items_link["type"] == "application/geo+json"
    # The extent covers what the public may see, and only that: the SECRET records at FAR would
    # move the west and south edges to about 30 and 45 degrees.
    for collection in ("observations", "incidents"):
        [[w, s, e, n]] = client.collection(collection)["extent"]["spatial"]["bbox"]
        assert 35.7 < w < 35.9 and 47.5 < s < 47.6 and 36.2 < e < 36.4 and 49.8 < n < 50.0
        [[t0, t1]] = client.collection(collection)["extent"]["temporal"]["interval"]
        assert dt.datetime.fromisoformat(t0) == OLD and NOW - dt.timedelta(hours=3) < dt.datetime.fromisoformat(t1) < NOW


@pytest.mark.django_db(transaction=True)
def test_the_public_sees_only_public_records_on_every_page(live_server, world, users):
    client = _features_client(f"{live_server.url}/ogc/")
    for collection in ("observations", "incidents"):
        ids, pages = _all_pages(client, collection, limit=3)
        expected = _expected(users["public"], collection)
        assert expected and len(ids) == len(set(ids)) and set(ids) == expected
        assert len(pages) == -(-len(expected) // 3)  # full pages of 3, then the rest
        for page in pages:
            assert page["type"] == "FeatureCollection" and page["numberMatched"] == len(expected)
            assert page["numberReturned"] == len(page["features"]) <= 3
            assert dt.datetime.fromisoformat(page["timeStamp"]) >= NOW - dt.timedelta(minutes=5)
            assert {link["rel"] for link in page["links"]} >= {"self", "collection"}
            for f in page["features"]:
                m = f["properties"]["marking"]
                assert (m["classification"], m["tlp"], m["releasable_to"]) == ("PUBLIC", "CLEAR", ["ALL"])
    assert client.response_headers["Content-Type"] == "application/geo+json"
    assert world["merged"] not in ids and world["unlocated"] not in ids  # incidents were last


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ["chair", "monitor", "ledger_officer"])
def test_a_token_holder_sees_their_own_set(live_server, world, users, tokens, role):
    client = _features_client(f"{live_server.url}/ogc/", tokens[role])
    user = users[role]
    listed = sorted(client.feature_collections())
    for collection in ("observations", "incidents"):
        expected = _expected(user, collection)
        if not expected and not roles.allows(user, roles.VIEW, collection[:-1]):
            # A role that does not work with a kind of record at all is not offered its collection.
            assert collection not in listed
            with pytest.raises(RuntimeError):
                client.collection_items(collection)
            continue
        ids, pages = _all_pages(client, collection, limit=4)
        assert len(ids) == len(set(ids)) and set(ids) == expected
        assert all(p["numberMatched"] == len(expected) for p in pages)
        # More than the public sees, and never what the rule forbids.
        assert expected > _expected(users["public"], collection)
    if role == "ledger_officer":
        assert listed == ["incidents"]
    # The extent is the reader's: the chair (USA, SECRET) sees the records at FAR, others do not.
    [[w, s, _, _]] = client.collection("incidents")["extent"]["spatial"]["bbox"]
    assert (w < 31 and s < 46) == (role == "chair")


@pytest.mark.django_db(transaction=True)
def test_bbox_datetime_and_limit(live_server, world, users, tokens):
    client = _features_client(f"{live_server.url}/ogc/", tokens["chair"])
    chair = users["chair"]
    w, s, e, n = SOUTH_BOX

    def inside(r):
        return w <= r.lon <= e and s <= r.lat <= n

    for collection in ("observations", "incidents"):
        page = client.collection_items(collection, bbox=list(SOUTH_BOX), limit=1000)
        expected = _expected(chair, collection, inside)
        assert expected and {f["id"] for f in page["features"]} == expected and page["numberMatched"] == len(expected)
        assert not [link for link in page["links"] if link["rel"] == "next"]

    def ends_before_middle(r):
        return r.observed_to <= MIDDLE

    old = _expected(chair, "observations", ends_before_middle)
    recent = _expected(chair, "observations") - old
    assert old and recent
    assert {f["id"] for f in client.collection_items("observations", datetime_=f"../{_iso(MIDDLE)}", limit=1000)["features"]} == old
    assert {f["id"] for f in client.collection_items("observations", datetime_=f"{_iso(MIDDLE)}/..", limit=1000)["features"]} == recent
    # An instant inside the old window, a closed interval around it, and one that misses both.
    instant = _iso(OLD + dt.timedelta(minutes=5))
    assert {f["id"] for f in client.collection_items("observations", datetime_=instant, limit=1000)["features"]} == old
    closed = f"{_iso(OLD - dt.timedelta(days=1))}/{_iso(OLD + dt.timedelta(days=1))}"
    assert {f["id"] for f in client.collection_items("incidents", datetime_=closed, limit=1000)["features"]} == _expected(
        chair, "incidents", lambda r: r.last_seen <= MIDDLE
    )
    assert client.collection_items("observations", datetime_=f"{_iso(MIDDLE)}/{_iso(MIDDLE + dt.timedelta(days=1))}")["features"] == []
    # bbox and datetime together.
    both = client.collection_items("observations", bbox=list(SOUTH_BOX), datetime_=f"../{_iso(MIDDLE)}")
    assert {f["id"] for f in both["features"]} == _expected(chair, "observations", lambda r: inside(r) and ends_before_middle(r))

    # limit: the page size; above the maximum it is clamped, not an error.
    page = client.collection_items("observations", limit=2)
    assert page["numberReturned"] == 2 and page["numberMatched"] == len(_expected(chair, "observations"))
    big = client.collection_items("observations", limit=5000)
    assert big["numberReturned"] == len(_expected(chair, "observations")) <= 1000
    default = client.collection_items("observations")
    assert default["numberReturned"] == min(100, default["numberMatched"])


@pytest.mark.django_db(transaction=True)
def test_a_single_item_is_there_for_who_may_see_it(live_server, world, users, tokens):
    from resolute.monitoring.models import Incident, Observation

    public = _features_client(f"{live_server.url}/ogc/")
    chair = _features_client(f"{live_server.url}/ogc/", tokens["chair"])
    visible = min(_expected(users["public"], "observations"))
    hidden = min(_expected(users["chair"], "observations") - _expected(users["public"], "observations"))

    feature = public.collection_item("observations", str(visible))
    assert feature["type"] == "Feature" and feature["id"] == visible
    assert public.response_headers["Content-Type"] == "application/geo+json"
    o = Observation.objects.get(pk=visible)
    assert feature["geometry"] == {"type": "Point", "coordinates": [round(o.lon, 7), round(o.lat, 7)]}  # lon, lat
    rels = {link["rel"]: link for link in feature["links"]}
    assert rels["self"]["href"].endswith(f"/ogc/collections/observations/items/{visible}")
    assert rels["collection"]["href"].endswith("/ogc/collections/observations") and rels["collection"]["type"] == "application/json"

    # Not visible, missing, or not a feature of the collection: the same 404.
    for client, collection, fid in (
        (public, "observations", hidden),
        (public, "observations", 10**12),
        (chair, "incidents", world["merged"]),
        (chair, "incidents", world["unlocated"]),
        (public, "incidents", "abc"),
    ):
        with pytest.raises(RuntimeError, match="Not found"):
            client.collection_item(collection, str(fid))
    assert chair.collection_item("observations", str(hidden))["id"] == hidden
    assert Incident.objects.filter(pk=world["merged"]).exists()


# -- parameters the standard says are a 400, through the Django test client ------------------


@pytest.fixture
def public_world(db, source):
    from resolute.monitoring import services
    from resolute.monitoring.schemas import ObservationIn

    marking = {"classification": "PUBLIC", "tlp": "CLEAR", "releasable_to": ["ALL"], "originator": "POL"}
    return services.submit_observations([ObservationIn.model_validate(observation(marking=marking)) for _ in range(3)], "test").ids


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("bbox", "1,2,3"),
        ("bbox", "1,2,3,4,5"),
        ("bbox", "a,b,c,d"),
        ("bbox", "nan,0,1,1"),
        ("bbox", "0,inf,1,1"),
        ("bbox", "30,50,31,45"),  # south above north
        ("bbox", "200,0,201,1"),
        ("bbox", "30,-91,31,1"),
        ("bbox", ""),
        ("datetime", "yesterday"),
        ("datetime", "2026-11-01"),  # a date, not an RFC 3339 date-time
        ("datetime", "2026-11-01T00:00:00"),  # no time zone
        ("datetime", "2026-13-01T00:00:00Z"),
        ("datetime", "2026-02-30T00:00:00Z"),
        ("datetime", "2026-11-01T00:00:00Z/2026-10-01T00:00:00Z"),  # ends before it starts
        ("datetime", "2026-10-01T00:00:00Z/../2026-11-01T00:00:00Z"),
        ("datetime", "../2026-11-01"),
        ("datetime", "0001-01-01T00:00:00+01:00"),  # before year 1 in UTC
        ("limit", "0"),
        ("limit", "-1"),
        ("limit", "1.5"),
        ("limit", "ten"),
        ("limit", ""),
        ("limit", "١٠"),  # Arabic-Indic digits
        ("cursor", "42"),
        ("cursor", "!!!"),
        ("f", "xml"),
        ("filter", "x"),  # not a parameter of this API
        ("bboxx", "1,2,3,4"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_parameter(client, public_world, param, value):
    resp = client.get("/ogc/collections/observations/items", {param: value})
    assert resp.status_code == 400, (param, value, resp.content)
    assert resp["Content-Type"] == "application/json"
    body = resp.json()
    assert body["errors"][0]["field"] == param and body["code"] == "InvalidParameterValue" and param in body["description"]


@pytest.mark.parametrize(
    "query",
    [
        {"bbox": "35,47,36.5,48"},
        {"bbox": "35,47,0,36.5,48,100"},  # six numbers (CRS84h), heights ignored
        {"bbox": "170,-10,-170,10"},  # across the antimeridian
        {"datetime": "2026-11-01T00:00:00Z"},
        {"datetime": "2026-11-01t00:00:00.5z"},
        {"datetime": "2026-11-01T00:00:00.123456789+02:00"},
        {"datetime": "../2026-11-01T00:00:00Z"},
        {"datetime": "/2026-11-01T00:00:00Z"},
        {"datetime": "2026-11-01T00:00:00Z/"},
        {"datetime": "../.."},
        {"limit": "1000"},
        {"limit": "99999999999999999999"},
        {"f": "json"},
    ],
)
def test_good_parameters_are_accepted(client, public_world, query):
    resp = client.get("/ogc/collections/observations/items", query)
    assert resp.status_code == 200, resp.content
    assert resp["Content-Type"] == "application/geo+json"


def test_the_parameters_select_and_page_with_the_test_client_too(client, public_world):
    body = client.get("/ogc/collections/observations/items", {"limit": "2"}).json()
    assert body["numberReturned"] == 2 and body["numberMatched"] == 3
    [nxt] = [link["href"] for link in body["links"] if link["rel"] == "next"]
    rest = client.get(nxt).json()
    assert [f["id"] for f in body["features"] + rest["features"]] == sorted(public_world)
    assert not [link for link in rest["links"] if link["rel"] == "next"]
    assert client.get("/ogc/collections/observations/items", {"bbox": "170,-10,-170,10"}).json()["features"] == []
    far = client.get("/ogc/collections/observations/items", {"datetime": "1999-01-01T00:00:00Z/2000-01-01T00:00:00Z"}).json()
    assert far["features"] == [] and far["numberMatched"] == 0


def test_a_repeated_parameter_is_a_400(client, public_world):
    resp = client.get("/ogc/collections/observations/items?bbox=1,2,3,4&bbox=5,6,7,8")
    assert resp.status_code == 400 and resp.json()["errors"][0]["field"] == "bbox"


def test_errors_are_json(client, public_world, tokens):
    missing = client.get("/ogc/collections/nothing")
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json" and missing.json()["code"] == "NotFound"
    assert client.get("/ogc/collections/nothing/items").status_code == 404
    bad_token = client.get("/ogc/collections", HTTP_AUTHORIZATION="Bearer rsl_not-a-token")
    assert bad_token.status_code == 401 and bad_token["WWW-Authenticate"].startswith("Bearer") and bad_token.json()["code"] == "Unauthorized"
    post = client.post("/ogc/collections/observations/items", {}, content_type="application/json")
    assert post.status_code == 405 and post["Allow"] == "GET, HEAD" and post.json()["code"] == "MethodNotAllowed"
    unknown = client.get("/ogc/conformance", {"limit": "5"})
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["field"] == "limit"


def test_a_session_reader_is_recognised(client, users, public_world):
    from resolute.monitoring.models import Observation

    Observation.objects.filter(pk=public_world[0]).update(classification=Classification.SECRET, tlp="AMBER", releasable_to="|USA|")
    assert {f["id"] for f in client.get("/ogc/collections/observations/items").json()["features"]} == set(public_world[1:])
    client.force_login(users["chair"])
    assert {f["id"] for f in client.get("/ogc/collections/observations/items").json()["features"]} == set(public_world)
    assert client.get(f"/ogc/collections/observations/items/{public_world[0]}").status_code == 200


def test_responses_vary_by_reader(client, public_world):
    resp = client.get("/ogc/collections")
    assert "Authorization" in resp["Vary"] and "private" in resp["Cache-Control"]
