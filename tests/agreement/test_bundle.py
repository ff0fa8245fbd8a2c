"""The agreement bundle parser: a valid bundle round-trips, every rule names the faulty field,
and hostile input (alias bombs, NaN, deep nesting, huge arrays, bad bytes) ends in a BundleError
and nothing else. No database: the parser is pure."""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resolute.agreement import bundle
from resolute.agreement.bundle import (
    Bundle,
    BundleError,
    ProvisionSpec,
    ZoneSpec,
    load_dir,
    parse,
)
from resolute.core.vocabulary import WITHDRAWAL_KM

PROVISIONS_FILE = Path(bundle.__file__).parent / "data" / "provisions.yaml"


# ---------------------------------------------------------------------------------------------
# A small valid bundle


def _provision(pid: str, rule_type: str = "ceasefire_fire", severity: int = 2, **extra) -> dict:
    return {
        "id": pid,
        "rule_type": rule_type,
        "severity": severity,
        "title": {"en": f"Title {pid}", "fr": f"Titre {pid}", "uk": f"Назва {pid}"},
        "text": {"en": f"Text {pid}.", "fr": f"Texte {pid}.", "uk": f"Текст {pid}."},
        **extra,
    }


AGREEMENT = {
    "agreement": "Ceasefire agreement",
    "version_label": "Signed text",
    "in_force_from": "2026-11-01T02:00:00+02:00",
    "sides": {"a": "RUS", "b": "UKR"},
    "contact_line_sigma_m": 300,
    "attribution_threshold": 0.75,
    "withdrawal_bands_km": {"tank": 15, "artillery_100mm_plus": 50},
    "provisions": [
        _provision("1.1"),
        _provision("2.1", "weapon_in_withdrawal_zone", 4, params={"min_p": 0.5}),
    ],
}

LINE = [[37.0, 47.0], [37.5, 47.5], [38.0, 48.0]]
# Side a holds the area south-east of the line: the line closed by a box through its rear, so the
# line lies exactly on the boundary.
HELD_A = [[[37.0, 47.0], [37.5, 47.5], [38.0, 48.0], [39.0, 48.0], [39.0, 47.0], [37.0, 47.0]]]
HELD_B = [[[37.0, 47.0], [36.0, 47.0], [36.0, 48.0], [38.0, 48.0], [37.5, 47.5], [37.0, 47.0]]]


def square(lon: float, lat: float, d: float = 0.05) -> list:
    return [[[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d], [lon - d, lat - d]]]


def feature(kind: str, name: str, geometry: dict, **props) -> dict:
    return {"type": "Feature", "geometry": geometry, "properties": {"kind": kind, "name": name, **props}}


def zones() -> dict:
    return {
        "type": "FeatureCollection",
        "features": [
            feature("contact_line", "Line of contact", {"type": "LineString", "coordinates": copy.deepcopy(LINE)}),
            feature("held_area", "Held by RUS", {"type": "Polygon", "coordinates": copy.deepcopy(HELD_A)}, party="RUS"),
            feature("held_area", "Held by UKR", {"type": "Polygon", "coordinates": copy.deepcopy(HELD_B)}, party="UKR"),
            feature("withdrawal_band", "Band 15 km UKR", {"type": "Polygon", "coordinates": square(36.5, 47.5)}, party="UKR", weapon_classes=["tank", "mortar"]),
            feature("security_zone", "Security zone", {"type": "Polygon", "coordinates": square(37.5, 47.6, 0.2)}),
            feature("disengagement_area", "Disengagement area 1", {"type": "MultiPolygon", "coordinates": [square(37.3, 47.3), square(37.7, 47.7)]}),
            feature("no_fly_zone", "No-fly zone", {"type": "Polygon", "coordinates": square(36.3, 47.8)}),
            feature(
                "storage_site", "Storage site 1", {"type": "Point", "coordinates": [36.2, 47.2, 120.0]}, party="UKR",
                inventory={"tank": 12, "artillery_100mm_plus": 4}, radius_m=1500,
            ),
            feature("storage_site", "Storage site 2", {"type": "Polygon", "coordinates": square(38.6, 47.4, 0.01)}, party="RUS", inventory={"mlrs": 6}),
            feature(
                "exercise_area", "Declared exercise", {"type": "Polygon", "coordinates": square(36.4, 47.1)}, party="UKR",
                weapon_classes=["mortar"], valid_from="2026-11-03T06:00:00Z", valid_to="2026-11-03T14:00:00+00:00",
            ),
        ],
    }


def dump(doc) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def problems(agreement=None, zone_doc=None) -> list[dict]:
    """The errors of a bundle that must be refused (the valid one for any part not given)."""
    a = dump(agreement if agreement is not None else AGREEMENT)
    z = zone_doc if zone_doc is not None else zones()
    with pytest.raises(BundleError) as info:
        parse(a, z)
    errs = info.value.errors
    assert errs and all(set(e) == {"field", "message"} for e in errs)
    return errs


def raw_problems(agreement_text, zone_doc) -> list[dict]:
    with pytest.raises(BundleError) as info:
        parse(agreement_text, zone_doc)
    return info.value.errors


def has(errs, field: str, fragment: str = "") -> bool:
    return any(e["field"] == field and fragment.lower() in e["message"].lower() for e in errs)


def edit(doc, path, value=None, delete=False):
    doc = copy.deepcopy(doc)
    target = doc
    for step in path[:-1]:
        target = target[step]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


# ---------------------------------------------------------------------------------------------
# The valid bundle


def test_a_valid_bundle_round_trips():
    b = parse(dump(AGREEMENT), json.dumps(zones()))
    assert isinstance(b, Bundle)
    assert (b.agreement, b.version_label, b.side_a, b.side_b) == ("Ceasefire agreement", "Signed text", "RUS", "UKR")
    # The offset is honoured and the instant given back in UTC.
    assert b.in_force_from == datetime(2026, 11, 1, tzinfo=timezone.utc) and b.in_force_from.utcoffset() == timedelta(0)
    assert b.contact_line_sigma_m == 300.0 and isinstance(b.contact_line_sigma_m, float)
    assert b.attribution_threshold == 0.75
    assert b.withdrawal_bands_km == {"tank": 15.0, "artillery_100mm_plus": 50.0}
    assert b.provisions[1] == ProvisionSpec(
        id="2.1", rule_type="weapon_in_withdrawal_zone", severity=4,
        title={"en": "Title 2.1", "fr": "Titre 2.1", "uk": "Назва 2.1"},
        text={"en": "Text 2.1.", "fr": "Texte 2.1.", "uk": "Текст 2.1."}, params={"min_p": 0.5},
    )  # fmt: skip
    assert [z.kind for z in b.zones] == [f["properties"]["kind"] for f in zones()["features"]]
    line = b.zones[0]
    assert line.geometry == {"type": "LineString", "coordinates": LINE} and line.party == ""
    site = b.zones[7]
    assert site == ZoneSpec(
        kind="storage_site", name="Storage site 1", geometry={"type": "Point", "coordinates": [36.2, 47.2]},  # altitude dropped
        party="UKR", inventory={"tank": 12, "artillery_100mm_plus": 4}, radius_m=1500.0,
    )  # fmt: skip
    assert b.zones[3].weapon_classes == ("tank", "mortar")
    exercise = b.zones[9]
    assert exercise.valid_from == datetime(2026, 11, 3, 6, tzinfo=timezone.utc)
    assert exercise.valid_to == datetime(2026, 11, 3, 14, tzinfo=timezone.utc)
    assert b.zones[5].geometry["type"] == "MultiPolygon"


def test_defaults_apply_when_optional_keys_are_absent():
    a = {k: v for k, v in AGREEMENT.items() if k not in ("contact_line_sigma_m", "attribution_threshold", "withdrawal_bands_km")}
    b = parse(dump(a), zones())
    assert (b.contact_line_sigma_m, b.attribution_threshold, b.withdrawal_bands_km) == (250.0, 0.8, {})
    assert b.provisions[0].params == {}


def test_a_yaml_datetime_and_a_string_mean_the_same_instant():
    text = dump(AGREEMENT).replace("'2026-11-01T02:00:00+02:00'", "2026-11-01T00:00:00Z")
    assert "2026-11-01T00:00:00Z" in text
    assert parse(text, zones()).in_force_from == parse(dump(AGREEMENT), zones()).in_force_from


def test_content_hash_is_stable_across_input_forms():
    h = parse(dump(AGREEMENT), zones()).content_hash()
    assert len(h) == 64 and int(h, 16) >= 0
    assert parse(dump(AGREEMENT).encode(), json.dumps(zones()).encode()).content_hash() == h
    # Key order, surrounding whitespace of texts and int-versus-float spelling are not content.
    reordered = dict(reversed(list(AGREEMENT.items())))
    reordered = edit(reordered, ("provisions", 0, "text", "en"), "  Text 1.1.\n")
    reordered = edit(reordered, ("contact_line_sigma_m",), 300.0)
    assert parse(dump(reordered), json.dumps(zones(), indent=2)).content_hash() == h


@pytest.mark.parametrize(
    "change",
    [
        lambda a, z: (edit(a, ("provisions", 0, "text", "uk"), "Інший текст."), z),
        lambda a, z: (edit(a, ("provisions", 1, "severity"), 5), z),
        lambda a, z: (edit(a, ("provisions", 1, "params", "min_p"), 0.6), z),
        lambda a, z: (edit(a, ("in_force_from",), "2026-11-01T00:00:01Z"), z),
        lambda a, z: (edit(a, ("version_label",), "Signed text, corrected"), z),
        lambda a, z: (a, edit(z, ("features", 3, "geometry", "coordinates", 0, 1, 0), 36.5501)),
        lambda a, z: (a, edit(z, ("features", 7, "properties", "inventory", "tank"), 13)),
    ],
)
def test_content_hash_changes_with_the_content(change):
    a, z = change(AGREEMENT, zones())
    assert parse(dump(a), z).content_hash() != parse(dump(AGREEMENT), zones()).content_hash()


# ---------------------------------------------------------------------------------------------
# agreement.yaml rules: each names its field


A = "agreement.yaml: "


@pytest.mark.parametrize(
    "path, value, field, fragment",
    [
        (("agreement",), None, "agreement", "required"),
        (("agreement",), "x" * 201, "agreement", "at most 200"),
        (("agreement",), "   ", "agreement", "empty"),
        (("agreement",), ["a list"], "agreement", "must be a string"),
        (("version_label",), None, "version_label", "required"),
        (("version_label",), 42, "version_label", "must be a string"),
        (("in_force_from",), None, "in_force_from", "required"),
        (("in_force_from",), "2026-11-01T00:00:00", "in_force_from", "no timezone"),
        (("in_force_from",), datetime(2026, 11, 1), "in_force_from", "no timezone"),
        (("in_force_from",), "2026-11-01", "in_force_from", "date without a time"),
        (("in_force_from",), datetime(2026, 11, 1).date(), "in_force_from", "date without a time"),
        (("in_force_from",), "next Tuesday", "in_force_from", "ISO 8601"),
        (("in_force_from",), 1_700_000_000, "in_force_from", "ISO 8601"),
        (("sides",), None, "sides", "required"),
        (("sides",), ["RUS", "UKR"], "sides", "mapping"),
        (("sides",), {"a": "RUS", "b": "RUS"}, "sides.b", "differ"),
        (("sides",), {"a": "rus", "b": "UKR"}, "sides.a", "3 uppercase"),
        (("sides",), {"a": "RUSS", "b": "UKR"}, "sides.a", "3 uppercase"),
        (("sides",), {"a": "RUS"}, "sides.b", "required"),
        (("sides",), {"a": "RUS", "b": "UKR", "c": "POL"}, "sides.c", "unknown side"),
        (("contact_line_sigma_m",), 5001, "contact_line_sigma_m", "between 0 and 5000"),
        (("contact_line_sigma_m",), -1, "contact_line_sigma_m", "between"),
        (("contact_line_sigma_m",), "250", "contact_line_sigma_m", "without quotes"),
        (("contact_line_sigma_m",), True, "contact_line_sigma_m", "not a boolean"),
        (("contact_line_sigma_m",), float("nan"), "contact_line_sigma_m", "finite"),
        (("contact_line_sigma_m",), float("inf"), "contact_line_sigma_m", "finite"),
        (("attribution_threshold",), 0.49, "attribution_threshold", "between 0.5 and 1"),
        (("attribution_threshold",), 1.01, "attribution_threshold", "between 0.5 and 1"),
        (("withdrawal_bands_km",), {"tanks": 15}, "withdrawal_bands_km.tanks", "unknown weapon class"),
        (("withdrawal_bands_km",), {"tank": 0.5}, "withdrawal_bands_km.tank", "between 1 and 300"),
        (("withdrawal_bands_km",), {"tank": 301}, "withdrawal_bands_km.tank", "between 1 and 300"),
        (("withdrawal_bands_km",), {"tank": "15 km"}, "withdrawal_bands_km.tank", "must be a number"),
        (("withdrawal_bands_km",), [15, 50], "withdrawal_bands_km", "mapping"),
        (("provisions",), None, "provisions", "required"),
        (("provisions",), [], "provisions", "at least one"),
        (("provisions",), {"1.1": {}}, "provisions", "must be a list"),
        (("provisions", 0), "ceasefire", "provisions[0]", "mapping"),
        (("provisions", 0, "id"), None, "provisions[0].id", "required"),
        (("provisions", 0, "id"), "1 1", "provisions[0].id", "letters, digits"),
        (("provisions", 0, "id"), "x" * 21, "provisions[0].id", "1 to 20"),
        (("provisions", 0, "id"), "1.1\n", "provisions[0].id", "letters, digits"),
        (("provisions", 0, "id"), 2.1, "provisions[0].id", "quote it"),
        (("provisions", 1, "id"), "1.1", "provisions[1].id", "duplicate provision id '1.1'"),
        (("provisions", 0, "rule_type"), "ceasefire", "provisions[0].rule_type", "unknown rule type"),
        (("provisions", 0, "rule_type"), None, "provisions[0].rule_type", "required"),
        (("provisions", 0, "severity"), 0, "provisions[0].severity", "between 1 and 5"),
        (("provisions", 0, "severity"), 6, "provisions[0].severity", "between 1 and 5"),
        (("provisions", 0, "severity"), 2.5, "provisions[0].severity", "whole number"),
        (("provisions", 0, "severity"), "2", "provisions[0].severity", "whole number"),
        (("provisions", 0, "severity"), True, "provisions[0].severity", "whole number"),
        (("provisions", 0, "title"), "Ceasefire", "provisions[0].title", "mapping"),
        (("provisions", 0, "title", "uk"), None, "provisions[0].title.uk", "required"),
        (("provisions", 0, "text", "fr"), None, "provisions[0].text.fr", "required"),
        (("provisions", 0, "title", "de"), "Waffenruhe", "provisions[0].title.de", "unknown language"),
        (("provisions", 0, "title", "en"), "x" * 201, "provisions[0].title.en", "at most 200"),
        (("provisions", 0, "title", "en"), "two\nlines", "provisions[0].title.en", "U+000A"),
        (("provisions", 0, "text", "uk"), "ї" * 4001, "provisions[0].text.uk", "at most 4000"),
        (("provisions", 0, "text", "en"), "null\x00byte", "provisions[0].text.en", "U+0000"),
        (("provisions", 0, "text", "en"), 3, "provisions[0].text.en", "must be a string"),
        (("provisions", 0, "params"), [0.5], "provisions[0].params", "mapping"),
        (("provisions", 0, "params"), {"min_p": "high"}, "provisions[0].params.min_p", "must be a number"),
        (("provisions", 0, "params"), {"min_p": float("nan")}, "provisions[0].params.min_p", "finite"),
        (("provisions", 0, "params"), {"min_p": False}, "provisions[0].params.min_p", "boolean"),
        (("provisions", 0, "params"), {3: 0.5}, "provisions[0].params.3", "must be a string"),
        # What the rules engine would refuse later is refused here, with the field named.
        (("provisions", 0, "params"), {"min_P": 0.5}, "provisions[0].params.min_P", "unknown parameter"),
        (("provisions", 0, "params"), {"min_p": 1.5}, "provisions[0].params.min_p", "between 0 and 1"),
        (("attribution_threshold",), 0.5, "attribution_threshold", "above 0.5"),
        (("provisions", 0, "severty"), 2, "provisions[0].severty", "did you mean 'severity'"),
    ],
)
def test_agreement_rules_name_the_field(path, value, field, fragment):
    doc = edit(AGREEMENT, path, delete=True) if value is None else edit(AGREEMENT, path, value)
    errs = problems(doc)
    assert has(errs, A + field, fragment), errs


def test_a_misspelt_top_level_key_is_an_error_not_ignored():
    doc = edit(AGREEMENT, ("atribution_threshold",), 0.9)
    errs = problems(doc)
    assert has(errs, A + "atribution_threshold", "did you mean 'attribution_threshold'"), errs


def test_a_duplicate_id_is_reported_even_when_the_first_provision_has_other_faults():
    doc = edit(edit(AGREEMENT, ("provisions", 0, "severity"), 9), ("provisions", 1, "id"), "1.1")
    errs = problems(doc)
    assert has(errs, A + "provisions[0].severity") and has(errs, A + "provisions[1].id", "duplicate provision id '1.1'")


def test_every_problem_in_both_files_is_reported_at_once():
    a = edit(edit(AGREEMENT, ("provisions", 0, "severity"), 9), ("provisions", 1, "title", "fr"), "")
    z = edit(edit(zones(), ("features", 3, "properties", "party"), "POL"), ("features", 6, "geometry", "type"), "Point")
    errs = problems(a, z)
    assert has(errs, A + "provisions[0].severity") and has(errs, A + "provisions[1].title.fr")
    assert has(errs, "zones.geojson: features[3].properties.party", "not one of the sides")
    assert has(errs, "zones.geojson: features[6].geometry.type", "Polygon or MultiPolygon")


def test_the_error_list_stops_at_one_hundred():
    doc = edit(AGREEMENT, ("provisions",), [_provision(f"p{i}", severity=9) for i in range(150)])
    with pytest.raises(BundleError) as info:
        parse(dump(doc), zones())
    assert len(info.value.errors) == bundle.MAX_ERRORS and info.value.truncated
    assert "stopped" in str(info.value)


# ---------------------------------------------------------------------------------------------
# zones.geojson rules


Z = "zones.geojson: "


def P(i: int, key: str) -> tuple:
    return ("features", i, "properties", key)


def G(i: int, *rest) -> tuple:
    return ("features", i, "geometry", *rest)


@pytest.mark.parametrize(
    "path, value, field, fragment",
    [
        (("type",), "Feature", "", "FeatureCollection"),
        (("features",), {"a": 1}, "features", "list of Features"),
        (("features", 4), ["not", "a", "feature"], "features[4]", "GeoJSON Feature"),
        (("features", 4, "type"), "Geometry", "features[4]", "GeoJSON Feature"),
        (("features", 4, "properties"), None, "features[4].properties", "mapping"),
        (("features", 4, "style"), {"fill": "red"}, "features[4].style", "unknown feature member"),
        (("crs",), {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}}, "crs", "CRS84"),
        (P(4, "kind"), None, "features[4].properties.kind", "required"),
        (P(4, "kind"), "buffer_zone", "features[4].properties.kind", "unknown zone kind"),
        (P(4, "name"), None, "features[4].properties.name", "required"),
        (P(4, "name"), "n" * 201, "features[4].properties.name", "at most 200"),
        (P(4, "colour"), "red", "features[4].properties.colour", "unknown property"),
        (P(1, "party"), None, "features[1].properties.party", "required for a zone of kind held_area"),
        (P(3, "party"), None, "features[3].properties.party", "required for a zone of kind withdrawal_band"),
        (P(7, "party"), None, "features[7].properties.party", "required for a zone of kind storage_site"),
        (P(9, "party"), None, "features[9].properties.party", "required for a zone of kind exercise_area"),
        (P(3, "party"), "ukr", "features[3].properties.party", "3 uppercase"),
        (P(3, "party"), "POL", "features[3].properties.party", "not one of the sides"),
        (P(3, "weapon_classes"), None, "features[3].properties.weapon_classes", "at least one"),
        (P(3, "weapon_classes"), [], "features[3].properties.weapon_classes", "at least one"),
        (P(3, "weapon_classes"), "tank", "features[3].properties.weapon_classes", "must be a list"),
        (P(3, "weapon_classes"), ["tank", "howitzer"], "features[3].properties.weapon_classes[1]", "unknown weapon class"),
        (P(3, "weapon_classes"), ["tank", "tank"], "features[3].properties.weapon_classes[1]", "twice"),
        (P(9, "valid_to"), None, "features[9].properties.valid_to", "required for an exercise_area"),
        (P(9, "valid_from"), None, "features[9].properties.valid_from", "required for an exercise_area"),
        (P(9, "valid_from"), "2026-11-03T06:00:00", "features[9].properties.valid_from", "no timezone"),
        (P(9, "valid_from"), "2026-11-03T14:00:00Z", "features[9].properties.valid_to", "later than valid_from"),
        (P(9, "valid_to"), "tomorrow", "features[9].properties.valid_to", "ISO 8601"),
        (P(4, "valid_from"), "2026-12-01T00:00:00Z", None, None),  # optional on other kinds
        (P(7, "inventory"), {"tank": -1}, "features[7].properties.inventory.tank", "between 0"),
        (P(7, "inventory"), {"tank": 1.5}, "features[7].properties.inventory.tank", "whole number"),
        (P(7, "inventory"), {"tank": True}, "features[7].properties.inventory.tank", "whole number"),
        (P(7, "inventory"), {"tanks": 3}, "features[7].properties.inventory.tanks", "unknown weapon class"),
        (P(7, "inventory"), [["tank", 3]], "features[7].properties.inventory", "mapping"),
        (P(4, "inventory"), {"tank": 3}, "features[4].properties.inventory", "only for a storage_site"),
        (P(7, "radius_m"), None, "features[7].properties.radius_m", "required for a storage_site given as a Point"),
        (P(7, "radius_m"), 9, "features[7].properties.radius_m", "between 10 and 20000"),
        (P(7, "radius_m"), 20001, "features[7].properties.radius_m", "between 10 and 20000"),
        (P(8, "radius_m"), 500, "features[8].properties.radius_m", "only for a storage_site given as a Point"),
        (P(4, "radius_m"), 500, "features[4].properties.radius_m", "only for a storage_site"),
        (G(0, "type"), "Polygon", "features[0].geometry.type", "LineString"),
        (G(3, "type"), "Point", "features[3].geometry.type", "Polygon or MultiPolygon"),
        (G(7, "type"), "LineString", "features[7].geometry.type", "Point or Polygon"),
        (G(4, "type"), "GeometryCollection", "features[4].geometry.type", "Polygon or MultiPolygon"),
        (G(4), None, "features[4].geometry", "required"),
        (G(4, "coordinates"), None, "features[4].geometry.coordinates", "required"),
        (G(0, "coordinates"), [[37.0, 47.0]], "features[0].geometry.coordinates", "at least 2 positions"),
        (G(7, "coordinates"), [181.0, 47.0], "features[7].geometry.coordinates", "longitude 181"),
        (G(7, "coordinates"), [36.0, -90.5], "features[7].geometry.coordinates", "latitude -90.5"),
        (G(7, "coordinates"), [36.0, 47.0, 1.0, 2.0], "features[7].geometry.coordinates", "[longitude, latitude]"),
        (G(7, "coordinates"), [36.0], "features[7].geometry.coordinates", "[longitude, latitude]"),
        (G(7, "coordinates"), ["36.0", 47.0], "features[7].geometry.coordinates", "must be numbers"),
        (G(7, "coordinates"), [True, 47.0], "features[7].geometry.coordinates", "must be numbers"),
        (G(7, "coordinates"), {"lon": 36, "lat": 47}, "features[7].geometry.coordinates", "[longitude, latitude]"),
        (G(7, "coordinates"), [36.0, 47.0, float("nan")], "features[7].geometry.coordinates", "finite"),
        (G(4, "coordinates"), [], "features[4].geometry.coordinates", "exterior ring"),
        (G(4, "coordinates"), [[[37.0, 47.0], [37.1, 47.0], [37.0, 47.0]]], "features[4].geometry.coordinates[0]", "at least 4 positions"),
        (G(4, "coordinates"), [[[37.0, 47.0], [37.1, 47.0], [37.1, 47.1], [37.0, 47.1]]], "features[4].geometry.coordinates[0]", "not closed"),
        (G(4, "coordinates"), [[[37.0, 47.0], [37.1, 47.1], [37.1, 47.0], [37.0, 47.1], [37.0, 47.0]]], "features[4].geometry", "Self-intersection"),
        (G(5, "coordinates"), [], "features[5].geometry.coordinates", "at least one polygon"),
        (G(5, "coordinates"), [square(37.3, 47.3), square(37.31, 47.31)], "features[5].geometry", "not a valid MultiPolygon"),
        (G(5, "coordinates", 1, 0, 2), [37.75, "47.75"], "features[5].geometry.coordinates[1][0][2]", "must be numbers"),
    ],
)
def test_zone_rules_name_the_field(path, value, field, fragment):
    doc = edit(zones(), path, delete=True) if value is None else edit(zones(), path, value)
    if field is None:  # a case that must be accepted
        parse(dump(AGREEMENT), doc)
        return
    errs = problems(zone_doc=doc)
    assert has(errs, Z + field if field else "zones.geojson", fragment), errs


def test_a_null_geometry_is_refused():
    errs = problems(zone_doc=edit(zones(), G(4), None))
    assert has(errs, Z + "features[4].geometry", "required")


def test_one_faulty_import_gives_one_position_error_per_geometry():
    coords = [[[37.0 + i * 0.001, 47.0] for i in range(500)]]
    coords[0] = [[x, "bad"] for x, _ in coords[0]]
    errs = problems(zone_doc=edit(zones(), G(4, "coordinates"), coords))
    ours = [e for e in errs if e["field"].startswith(Z + "features[4]")]
    assert len(ours) == 1 and "499 more" in ours[0]["message"], ours


def test_exactly_one_contact_line():
    z = zones()
    z["features"].append(copy.deepcopy(z["features"][0]))
    assert has(problems(zone_doc=z), Z + "features[10].properties.kind", "second contact_line")
    z = zones()
    del z["features"][0]
    assert has(problems(zone_doc=z), Z + "features", "no contact_line")


def test_exactly_one_held_area_of_side_a():
    z = zones()
    z["features"].append(copy.deepcopy(z["features"][1]))
    assert has(problems(zone_doc=z), Z + "features[10].properties.party", "second held_area of side a RUS")
    z = zones()
    del z["features"][1]
    assert has(problems(zone_doc=z), Z + "features", "no held_area of side a (RUS)")


def test_a_held_area_of_side_b_alone_does_not_count_for_side_a():
    z = edit(zones(), P(1, "party"), "UKR")
    assert has(problems(zone_doc=z), Z + "features", "no held_area of side a (RUS)")


def test_the_contact_line_must_lie_on_the_held_area_boundary():
    # Moving the middle vertex ~800 m off the boundary: the error gives the distance, the place
    # and how to fix it.
    z = edit(zones(), G(0, "coordinates", 1), [37.5, 47.51])
    errs = problems(zone_doc=z)
    [e] = [e for e in errs if e["field"] == Z + "features[0].geometry"]
    assert "boundary of the held_area of RUS (features[1])" in e["message"] and "within 5 m" in e["message"]
    assert "To fix it" in e["message"] and "latitude 47.5" in e["message"]
    metres = float(e["message"].split("by ")[1].split(" m")[0].replace(",", ""))
    assert 500 < metres < 1000


def test_a_departure_between_vertices_is_seen():
    # Both ends of the line are on the boundary but the boundary bulges between them.
    z = zones()
    z["features"][0]["geometry"]["coordinates"] = [[37.0, 47.0], [38.0, 48.0]]
    z["features"][1]["geometry"]["coordinates"] = [[[37.0, 47.0], [37.52, 47.48], [38.0, 48.0], [39.0, 48.0], [39.0, 47.0], [37.0, 47.0]]]
    del z["features"][2]  # the side-b area no longer matches; it is not what is tested
    assert has(problems(zone_doc=z), Z + "features[0].geometry", "departs from it")


def test_the_contact_line_may_differ_from_the_boundary_by_less_than_five_metres():
    # The boundary runs about 56° from north here, so a shift of latitude by d moves the vertex
    # about 0.56 d away from it: 0.00005° (5.6 m) is ~3 m off, 0.0002° (22 m) ~12 m off.
    z = edit(zones(), G(0, "coordinates", 1), [37.5, 47.50005])
    parse(dump(AGREEMENT), z)
    z = edit(zones(), G(0, "coordinates", 1), [37.5, 47.5002])
    assert has(problems(zone_doc=z), Z + "features[0].geometry", "within 5 m")


def test_party_must_be_a_side_of_this_agreement():
    a = edit(AGREEMENT, ("sides", "b"), "MDA")
    errs = problems(a)
    assert has(errs, Z + "features[2].properties.party", "UKR is not one of the sides (RUS, MDA)")


# ---------------------------------------------------------------------------------------------
# Hostile input


BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_a_yaml_alias_bomb_is_refused_at_once():
    start = time.monotonic()
    errs = raw_problems(BILLION_LAUGHS, zones())
    assert time.monotonic() - start < 2
    assert has(errs, "agreement.yaml", "aliases are not allowed")


def test_any_yaml_alias_is_refused():
    text = dump(AGREEMENT) + "extra: &x 1\nmore: *x\n"
    assert has(raw_problems(text, zones()), "agreement.yaml", "alias *'x'")
    # Even a harmless-looking merge of one provision into another.
    text = dump(AGREEMENT).replace("- id: '1.1'", "- &p1\n  id: '1.1'", 1)
    text += "- <<: *p1\n  id: '9'\n"
    assert has(raw_problems(text, zones()), "agreement.yaml", "alias")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "must hold a mapping"),
        ("null\n", "must hold a mapping"),
        ("- agreement: x\n", "not a list"),
        ("just a string\n", "not a string"),
        ("42\n", "not a number"),
        ("a: 1\n---\nb: 2\n", "not valid YAML"),
        ("agreement: [unclosed\n", "not valid YAML"),
        ("agreement: x\nagreement: y\n", "duplicate key 'agreement'"),
        ("? [a, b]\n: 1\n", "not valid YAML"),
        ("!!python/object/apply:os.system ['true']\n", "not valid YAML"),
        ("!!binary AAAA\n", "must hold a mapping"),
        ("agreement: x\x00\n", "not valid YAML"),
        ("in_force_from: 2026-02-30T00:00:00Z\n", "could not be read"),
        ("severity: " + "9" * 5000 + "\n", "could not be read"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    ],
    ids=lambda v: v[:30] if isinstance(v, str) else None,
)
def test_malformed_yaml_is_a_bundle_error(text, fragment):
    errs = raw_problems(text, zones())
    assert any(e["field"].startswith("agreement.yaml") and fragment.lower() in e["message"].lower() for e in errs), errs


def test_invalid_utf8_is_refused_in_either_file():
    errs = raw_problems(b"agreement: \xff\xfe broken\n", json.dumps(zones()).encode()[:-1] + b"\xc3")
    assert has(errs, "agreement.yaml", "not valid UTF-8") and has(errs, "zones.geojson", "not valid UTF-8")


def test_a_byte_order_mark_is_tolerated():
    b = parse(b"\xef\xbb\xbf" + dump(AGREEMENT).encode(), b"\xef\xbb\xbf" + json.dumps(zones()).encode())
    assert b.agreement == "Ceasefire agreement"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_nan_and_infinity_constants_are_refused(constant):
    text = json.dumps(zones()).replace("36.2, 47.2, 120.0", f"36.2, 47.2, {constant}", 1)
    assert constant in text
    assert has(raw_problems(dump(AGREEMENT), text), "zones.geojson", f"the constant {constant} is not JSON")


def test_a_json_number_too_large_for_a_float_is_not_finite():
    text = json.dumps(zones()).replace("[36.2, 47.2, 120.0]", "[1e400, 47.2]", 1)
    assert has(raw_problems(dump(AGREEMENT), text), Z + "features[7].geometry.coordinates", "finite")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"type": "FeatureCollection", "features": []', "not valid JSON"),
        ('{"type": "FeatureCollection", "type": "FeatureCollection", "features": []}', "duplicate key 'type'"),
        ('{"type": "FeatureCollection", "features": [1' + "0" * 5000 + "]}", "could not be read"),
        ("null", "FeatureCollection"),
        ("[]", "FeatureCollection"),
        ('"FeatureCollection"', "FeatureCollection"),
    ],
    ids=lambda v: v[:30] if isinstance(v, str) else None,
)
def test_malformed_json_is_a_bundle_error(text, fragment):
    errs = raw_problems(dump(AGREEMENT), text)
    assert any(e["field"].startswith("zones.geojson") and fragment.lower() in e["message"].lower() for e in errs), errs


def test_deeply_nested_values_in_a_dict_are_refused_without_recursing():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    z = zones()  # assigned, not edited: a deep copy would itself recurse too deeply
    z["features"][7]["geometry"]["coordinates"] = deep
    z["features"][4]["properties"]["kind"] = deep
    errs = problems(zone_doc=z)
    assert has(errs, Z + "features[7].geometry.coordinates", "[longitude, latitude]")
    assert has(errs, Z + "features[4].properties.kind", "unknown zone kind")


def test_more_than_a_million_positions_are_refused_before_any_is_read():
    line = [["not", "numbers"]] * (bundle.MAX_POSITIONS + 1)  # one list, referenced: cheap to build
    start = time.monotonic()
    z = zones()
    z["features"][4]["geometry"] = {"type": "Polygon", "coordinates": [line]}
    errs = problems(zone_doc=z)
    assert time.monotonic() - start < 2
    assert errs == [{"field": Z + "features", "message": errs[0]["message"]}] and "1,000,000 positions" in errs[0]["message"]


def test_too_many_features_are_refused():
    z = zones()
    z["features"] = [z["features"][4]] * (bundle.MAX_FEATURES + 1)
    assert has(problems(zone_doc=z), Z + "features", "at most 10,000")


def test_oversized_text_is_refused_without_parsing():
    errs = raw_problems("#" * (bundle.MAX_AGREEMENT_BYTES + 1), zones())
    assert has(errs, "agreement.yaml", "at most")


def test_huge_values_are_not_echoed_back_in_errors():
    huge = "k" * 100_000
    a = edit(edit(AGREEMENT, (huge,), 1), ("withdrawal_bands_km", huge), 15)
    z = edit(edit(zones(), P(4, "kind"), huge), P(7, "inventory"), {huge: 1})
    errs = problems(a, z)
    assert len(errs) >= 4 and all(len(e["field"]) + len(e["message"]) < 1000 for e in errs), errs


def test_a_misspelt_kind_does_not_also_complain_about_storage_site_properties():
    errs = problems(zone_doc=edit(zones(), P(7, "kind"), "storage"))
    assert [e["field"] for e in errs if "features[7]" in e["field"]] == [Z + "features[7].properties.kind"], errs


def test_an_unpaired_surrogate_is_refused():
    text = json.dumps(zones()).replace("No-fly zone", "No-fly \\ud800 zone")
    errs = raw_problems(dump(AGREEMENT), text)
    assert has(errs, Z + "features[6].properties.name", "U+D800")


@pytest.mark.parametrize("agreement_text, zone_doc", [(None, None), (42, ["features"]), (["agreement"], 3.5)])
def test_inputs_of_the_wrong_type_are_bundle_errors(agreement_text, zone_doc):
    errs = raw_problems(agreement_text, zone_doc)
    assert any(e["field"] == "agreement.yaml" for e in errs) and any(e["field"] == "zones.geojson" for e in errs)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)

_AGREEMENT_PATHS = [
    ("agreement",), ("in_force_from",), ("sides",), ("sides", "a"), ("contact_line_sigma_m",), ("attribution_threshold",),
    ("withdrawal_bands_km",), ("withdrawal_bands_km", "tank"), ("provisions",), ("provisions", 0), ("provisions", 0, "id"),
    ("provisions", 0, "severity"), ("provisions", 0, "title"), ("provisions", 0, "text", "uk"), ("provisions", 1, "params"),
    ("provisions", 1, "params", "min_p"),
]  # fmt: skip
_ZONE_PATHS = [
    ("features",), ("features", 0), P(0, "kind"), P(1, "party"), P(3, "weapon_classes"), P(7, "inventory"), P(7, "radius_m"),
    P(9, "valid_from"), G(0), G(0, "coordinates"), G(0, "coordinates", 1), G(1, "coordinates", 0), G(5, "coordinates", 0),
    G(7, "coordinates"), G(7, "coordinates", 0), ("features", 4, "properties"), ("crs",),
]  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_AGREEMENT_PATHS), _json_values, st.sampled_from(_ZONE_PATHS), _json_values)
def test_any_value_anywhere_gives_a_bundle_or_a_bundle_error(apath, avalue, zpath, zvalue):
    a = edit(AGREEMENT, apath, avalue)
    z = edit(zones(), zpath, zvalue)
    for zone_input in (z, json.dumps(z)):  # json.dumps writes NaN, which the text parser refuses
        try:
            b = parse(dump(a), zone_input)
        except BundleError as e:
            assert 0 < len(e.errors) <= bundle.MAX_ERRORS
        else:
            assert len(b.content_hash()) == 64


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=300))
def test_any_bytes_give_a_bundle_error(agreement_bytes, zone_bytes):
    with pytest.raises(BundleError):
        parse(agreement_bytes, zone_bytes)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_any_text_as_agreement_gives_a_bundle_error(text):
    with pytest.raises(BundleError):
        parse(text, zones())


# ---------------------------------------------------------------------------------------------
# load_dir


def write_bundle(directory: Path, agreement=None, zone_doc=None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "agreement.yaml").write_text(agreement if agreement is not None else dump(AGREEMENT), encoding="utf-8")
    (directory / "zones.geojson").write_text(json.dumps(zone_doc if zone_doc is not None else zones()), encoding="utf-8")
    return directory


def test_load_dir_reads_the_two_files(tmp_path):
    b = load_dir(write_bundle(tmp_path / "v1"))
    assert b == parse(dump(AGREEMENT), zones())
    assert load_dir(str(tmp_path / "v1")).content_hash() == b.content_hash()


def test_load_dir_names_a_missing_file(tmp_path):
    d = write_bundle(tmp_path)
    (d / "zones.geojson").unlink()
    with pytest.raises(BundleError) as info:
        load_dir(d)
    assert info.value.errors == [{"field": "zones.geojson", "message": f"is missing from {d}"}]
    (d / "agreement.yaml").unlink()
    with pytest.raises(BundleError) as info:
        load_dir(d)
    assert [e["field"] for e in info.value.errors] == ["agreement.yaml", "zones.geojson"]


def test_load_dir_of_something_that_is_not_a_directory(tmp_path):
    with pytest.raises(BundleError, match="not a directory"):
        load_dir(tmp_path / "nowhere")
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(BundleError, match="not a directory"):
        load_dir(f)
    with pytest.raises(BundleError):
        load_dir(None)


def test_load_dir_refuses_oversized_files_before_reading_them(tmp_path, monkeypatch):
    d = write_bundle(tmp_path)
    # Sparse files: the size is real for stat, yet nothing is written to disk.
    with open(d / "zones.geojson", "r+b") as fh:
        fh.truncate(50 * 1024 * 1024 + 1)
    with open(d / "agreement.yaml", "r+b") as fh:
        fh.truncate(bundle.MAX_AGREEMENT_BYTES + 1)

    def no_reading(*args, **kwargs):
        raise AssertionError("an oversized file was opened")

    monkeypatch.setattr(bundle, "open", no_reading, raising=False)
    with pytest.raises(BundleError) as info:
        load_dir(d)
    assert has(info.value.errors, "zones.geojson", "at most 52,428,800") and has(info.value.errors, "agreement.yaml", "at most")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_load_dir_does_not_block_on_a_fifo(tmp_path):
    d = write_bundle(tmp_path)
    (d / "zones.geojson").unlink()
    os.mkfifo(d / "zones.geojson")
    (d / "agreement.yaml").unlink()
    (d / "agreement.yaml").mkdir()
    with pytest.raises(BundleError) as info:
        load_dir(d)
    assert has(info.value.errors, "zones.geojson", "not a regular file") and has(info.value.errors, "agreement.yaml", "not a regular file")


def test_load_dir_reports_bad_content_like_parse(tmp_path):
    d = write_bundle(tmp_path, agreement=BILLION_LAUGHS)
    with pytest.raises(BundleError, match="aliases are not allowed"):
        load_dir(d)


# ---------------------------------------------------------------------------------------------
# The shipped demonstration provisions


SEVERITY = {
    "ceasefire_fire": 2, "cross_line_fire": 3, "weapon_in_withdrawal_zone": 4, "weapon_missing_from_storage": 3,
    "mine_laying": 3, "air_strike": 4, "no_fly_zone": 4, "ground_assault": 5, "movement_restriction": 2,
    "interference_with_monitoring": 2, "disengagement_area": 3,
}  # fmt: skip


def test_the_demonstration_provisions_parse_with_a_small_zone_collection():
    b = parse(PROVISIONS_FILE.read_bytes(), zones())
    assert b.agreement == "Ceasefire and verification arrangements (demonstration text)"
    assert b.version_label == "v1 — text as signed"
    assert b.in_force_from == datetime(2026, 10, 1, tzinfo=timezone.utc)
    assert (b.side_a, b.side_b, b.contact_line_sigma_m, b.attribution_threshold) == ("RUS", "UKR", 250.0, 0.8)
    assert b.withdrawal_bands_km == {k: float(v) for k, v in WITHDRAWAL_KM.items()}
    assert 12 <= len(b.provisions) <= 14


def test_every_rule_type_has_a_provision_with_its_severity():
    b = parse(PROVISIONS_FILE.read_bytes(), zones())
    assert {p.rule_type for p in b.provisions} == set(bundle.RULE_TYPES) == set(SEVERITY)
    for p in b.provisions:
        assert p.severity == SEVERITY[p.rule_type], p.id


def test_every_provision_is_in_three_languages():
    b = parse(PROVISIONS_FILE.read_bytes(), zones())
    for p in b.provisions:
        for part in (p.title, p.text):
            assert set(part) == {"en", "fr", "uk"}, p.id
            assert all(s.strip() for s in part.values()), p.id
        # The Ukrainian text is in Cyrillic and the French one is not the English one copied.
        assert any("\u0400" <= ch <= "\u04ff" for ch in p.text["uk"] + p.title["uk"]), p.id
        assert p.text["fr"] != p.text["en"] and p.title["fr"] != p.title["en"], p.id
        assert not any(math.isnan(v) for v in p.params.values())


# ---------------------------------------------------------------------------------------------
# The parser stays pure


def test_the_parser_does_not_import_django():
    code = "import sys, resolute.agreement.bundle; print(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ, "DJANGO_SETTINGS_MODULE": ""})
    assert out.stdout.strip() == "False"
