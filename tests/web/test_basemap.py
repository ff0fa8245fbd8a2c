"""The offline base map shipped for the situation map, and the tool that makes it.

The GeoJSON files are checked the way a map user meets them: they load as RFC 7946, every shape
is valid, places fall in the right country and oblast (Crimea in Ukraine, per Resolute's policy
of internationally recognised borders), neighbours neither overlap nor leave gaps, and the files
stay small enough to send to a browser on a field link.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import struct
from pathlib import Path

import pycountry
import pytest
from shapely.geometry import LineString, Point, box, shape
from shapely.ops import unary_union

REPO = Path(__file__).resolve().parents[2]
BASEMAP = Path(importlib.util.find_spec("resolute").submodule_search_locations[0]) / (
    "web/static/resolute/basemap"
)
TOOL = REPO / "tools" / "make_basemap.py"

# (lat, lon) as people quote them.
UKRAINE_PLACES = {
    "Kyiv": (50.45, 30.52),
    "Kharkiv": (49.99, 36.23),
    "Donetsk": (48.0, 37.8),
    "Sevastopol": (44.6, 33.52),
    "Simferopol": (44.95, 34.10),
    "Kerch": (45.36, 36.47),
    "Luhansk": (48.57, 39.31),
    "Odesa": (46.48, 30.72),
    "Lviv": (49.84, 24.03),
    "Uzhhorod": (48.62, 22.29),
}
RUSSIA_PLACES = {
    "Belgorod": (50.6, 36.6),
    "Rostov-on-Don": (47.23, 39.72),
    "Kaliningrad": (54.71, 20.51),
}


def load(name: str) -> dict:
    return json.loads((BASEMAP / name).read_text(encoding="utf-8"))


def pt(lat_lon: tuple[float, float]) -> Point:
    lat, lon = lat_lon
    return Point(lon, lat)


@pytest.fixture(scope="module")
def countries() -> dict[str, object]:
    collection = load("countries.geojson")
    return {
        f["properties"]["iso_a3"] or f["properties"]["name"]: shape(f["geometry"])
        for f in collection["features"]
    }


@pytest.fixture(scope="module")
def oblasts() -> dict[str, object]:
    collection = load("oblasts.geojson")
    return {f["properties"]["iso_3166_2"]: shape(f["geometry"]) for f in collection["features"]}


def load_tool():
    if not TOOL.exists():
        pytest.skip("tools/ is not shipped with an installed package")
    spec = importlib.util.spec_from_file_location("make_basemap", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------------------------------
# The shipped files


def _rings(geometry: dict):
    polygons = (
        [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    )
    for polygon in polygons:
        for i, ring in enumerate(polygon):
            yield i == 0, ring


def _signed_area(ring) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring)) / 2


@pytest.mark.parametrize("name", ["countries.geojson", "oblasts.geojson"])
def test_files_are_rfc7946_feature_collections(name):
    collection = load(name)
    assert collection["type"] == "FeatureCollection"
    assert "crs" not in collection  # RFC 7946 removed it: coordinates are always WGS 84 lon/lat
    assert collection["features"]
    for feature in collection["features"]:
        assert feature["type"] == "Feature"
        assert feature["properties"]["name"]
        geometry = feature["geometry"]
        assert geometry["type"] in ("Polygon", "MultiPolygon")
        for exterior, ring in _rings(geometry):
            assert len(ring) >= 4 and ring[0] == ring[-1]
            for lon, lat in ring:
                assert -180 <= lon <= 180 and -90 <= lat <= 90
                assert round(lon, 4) == lon and round(lat, 4) == lat
            # Right-hand rule (RFC 7946 section 3.1.6): exteriors counterclockwise, holes clockwise.
            assert (_signed_area(ring) > 0) == exterior


@pytest.mark.parametrize("name", ["countries.geojson", "oblasts.geojson"])
def test_every_geometry_is_valid(name):
    for feature in load(name)["features"]:
        geometry = shape(feature["geometry"])
        assert geometry.is_valid, feature["properties"]["name"]
        assert not geometry.is_empty


@pytest.mark.parametrize(
    "name, limit", [("countries.geojson", 250_000), ("oblasts.geojson", 250_000)]
)
def test_files_are_small(name, limit):
    # Sent to every browser that opens the map, possibly over a thin field link.
    assert (BASEMAP / name).stat().st_size < limit


def test_sources_are_documented():
    text = (BASEMAP / "SOURCES.md").read_text(encoding="utf-8")
    for needle in ("world-atlas", "Natural Earth", "public domain", "68/262", "make_basemap.py"):
        assert needle in text


# ------------------------------------------------------------------------------------------
# Countries


def test_ukraine_and_its_neighbours_are_present(countries):
    assert {"UKR", "RUS", "BLR", "POL", "SVK", "HUN", "ROU", "MDA"} <= set(countries)
    names = {
        f["properties"]["iso_a3"]: f["properties"]["name"]
        for f in load("countries.geojson")["features"]
    }
    assert names["UKR"] == "Ukraine"
    for code in names:
        if code is not None:
            assert pycountry.countries.get(alpha_3=code) is not None


def test_countries_are_clipped_to_the_region(countries):
    region = box(20.0, 43.0, 45.0, 56.0)
    for geometry in countries.values():
        assert region.buffer(1e-9).contains(geometry)


@pytest.mark.parametrize("place", sorted(UKRAINE_PLACES))
def test_ukrainian_places_lie_in_ukraine(countries, place):
    point = pt(UKRAINE_PLACES[place])
    assert countries["UKR"].contains(point)
    assert not countries["RUS"].contains(point)


@pytest.mark.parametrize("place", sorted(RUSSIA_PLACES))
def test_russian_places_lie_in_russia(countries, place):
    point = pt(RUSSIA_PLACES[place])
    assert countries["RUS"].contains(point)
    assert not countries["UKR"].contains(point)


def test_crimea_is_drawn_in_ukraine_and_joined_to_the_mainland(countries):
    ukraine = countries["UKR"]
    mainland = next(p for p in ukraine.geoms if p.contains(pt(UKRAINE_PLACES["Kyiv"])))
    assert mainland.contains(pt(UKRAINE_PLACES["Sevastopol"]))
    # Across the Kerch Strait the Taman peninsula stays Russian.
    assert countries["RUS"].contains(Point(36.9, 45.25))


def test_neighbours_share_borders_without_overlap(countries):
    for (a, ga), (b, gb) in itertools.combinations(countries.items(), 2):
        assert ga.intersection(gb).area < 1e-6, (a, b)
    # Shared arcs are simplified once, so a border is one line for both sides.
    assert countries["UKR"].boundary.intersection(countries["RUS"].boundary).length > 10
    assert countries["UKR"].boundary.intersection(countries["POL"].boundary).length > 4


# ------------------------------------------------------------------------------------------
# Oblasts


def test_oblasts_are_ukraines_iso_3166_2_units(oblasts):
    expected = {s.code for s in pycountry.subdivisions.get(country_code="UA")}
    assert set(oblasts) == expected
    for feature in load("oblasts.geojson")["features"]:
        assert feature["properties"]["name_uk"]


@pytest.mark.parametrize(
    "place, code",
    [
        ("Kharkiv", "UA-63"),
        ("Kyiv", "UA-30"),
        ("Donetsk", "UA-14"),
        ("Luhansk", "UA-09"),
        ("Sevastopol", "UA-40"),
        ("Simferopol", "UA-43"),
        ("Kerch", "UA-43"),
        ("Odesa", "UA-51"),
        ("Lviv", "UA-46"),
        ("Uzhhorod", "UA-21"),
    ],
)
def test_places_lie_in_their_oblast_only(oblasts, place, code):
    point = pt(UKRAINE_PLACES[place])
    assert [c for c, g in oblasts.items() if g.contains(point)] == [code]


def test_kyiv_oblast_surrounds_the_city(oblasts):
    assert oblasts["UA-32"].contains(Point(30.12, 49.80))  # Bila Tserkva
    assert len(oblasts["UA-32"].interiors) == 1
    assert oblasts["UA-32"].touches(oblasts["UA-30"])


def test_oblasts_tile_ukraine(countries, oblasts):
    union = unary_union(list(oblasts.values()))
    assert union.symmetric_difference(countries["UKR"]).area < 1e-3
    assert sum(g.area for g in oblasts.values()) - union.area < 1e-6


# ------------------------------------------------------------------------------------------
# The tool's decoders


TINY_TOPOLOGY = {
    # Two unit squares side by side that share the arc x=11; the right one walks the shared arc
    # and its own arc backwards (~i). Quantized: x = q * 0.5 + 10, y = q * 0.25 + 20.
    "type": "Topology",
    "transform": {"scale": [0.5, 0.25], "translate": [10, 20]},
    "arcs": [
        [[2, 0], [0, 4]],  # B(11,20) -> C(11,21)
        [[2, 4], [-2, 0], [0, -4], [2, 0]],  # C -> D(10,21) -> A(10,20) -> B
        [[2, 4], [2, 0], [0, -4], [-2, 0]],  # C -> F(12,21) -> E(12,20) -> B
    ],
    "objects": {
        "shapes": {
            "type": "GeometryCollection",
            "geometries": [
                {"type": "Polygon", "id": "left", "arcs": [[0, 1]]},
                {"type": "Polygon", "id": "right", "arcs": [[~2, ~0]]},
                {"type": "LineString", "arcs": [~0]},
                {"type": "Point", "coordinates": [4, 4]},
            ],
        }
    },
}


def test_decode_arcs_undoes_delta_encoding_and_quantization():
    mb = load_tool()
    arcs = mb.decode_arcs(TINY_TOPOLOGY)
    assert arcs[0] == [(11.0, 20.0), (11.0, 21.0)]
    assert arcs[1] == [(11.0, 21.0), (10.0, 21.0), (10.0, 20.0), (11.0, 20.0)]
    plain = {"arcs": [[[30.5, 50.25], [31.0, 50.5]]]}  # no transform: absolute positions
    assert mb.decode_arcs(plain) == [[(30.5, 50.25), (31.0, 50.5)]]


def test_topology_geometries_become_shapely_shapes():
    mb = load_tool()
    left, right, line, point = (
        mb.topology_geometry(TINY_TOPOLOGY, g)
        for g in TINY_TOPOLOGY["objects"]["shapes"]["geometries"]
    )
    assert left.is_valid and left.equals(box(10, 20, 11, 21))
    assert right.is_valid and right.equals(box(11, 20, 12, 21))
    assert unary_union([left, right]).equals(box(10, 20, 12, 21))  # the shared arc leaves no gap
    assert list(line.coords) == [(11.0, 21.0), (11.0, 20.0)]  # ~0 is arc 0 reversed
    assert (point.x, point.y) == (12.0, 21.0)  # point positions are quantized, not delta-encoded


def test_read_shp_polylines(tmp_path):
    mb = load_tool()
    parts, points = [0, 2], [(30.0, 50.0), (31.0, 50.5), (32.0, 49.0), (33.0, 49.5)]
    content = struct.pack("<i4d", 3, 30, 49, 33, 50.5) + struct.pack("<ii", 2, 4)
    content += struct.pack("<2i", *parts) + b"".join(struct.pack("<2d", *p) for p in points)
    record = struct.pack(">ii", 1, len(content) // 2) + content
    header = struct.pack(">i20xi", 9994, (100 + len(record)) // 2) + struct.pack(
        "<ii4d32x", 1000, 3, 30, 49, 33, 50.5
    )
    path = tmp_path / "lines.shp"
    path.write_bytes(header + record)
    assert mb.read_shp_polylines(path) == [LineString(points[:2]), LineString(points[2:])]
