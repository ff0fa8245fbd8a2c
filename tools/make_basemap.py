#!/usr/bin/env python3
"""Build the offline base map of Resolute's situation map from Natural Earth data.

Usage:
    python tools/make_basemap.py /path/to/world-atlas/countries-50m.json \
        [--ne10m /path/to/natural_earth_10m] [--out DIR]

Writes into DIR (default: the web app's static ``resolute/basemap`` folder):
  countries.geojson  countries intersecting the region box, clipped, simplified;
  oblasts.geojson    Ukraine's first-level units (only with --ne10m, a folder holding Natural
                     Earth's ne_10m_admin_1_states_provinces_lines.shp and
                     ne_10m_admin_0_boundary_lines_land.shp).

Both are RFC 7946 FeatureCollections in WGS 84 longitude/latitude degrees. See SOURCES.md beside
the output for where the inputs come from and what is done to them.

Policy: Ukraine is drawn in its internationally recognised borders (UN GA resolution 68/262), so
a Crimea that the source data places in Russia is moved to Ukraine.

Only the standard library, shapely and pycountry are used; the TopoJSON decoding and the
shapefile reading are done here (both formats are small and fully specified).
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path

import pycountry
import shapely
from shapely import ops
from shapely.geometry import (
    GeometryCollection,
    LineString,
    MultiLineString,
    MultiPoint,
    MultiPolygon,
    Point,
    Polygon,
    box,
    mapping,
)
from shapely.geometry.polygon import orient

#: Region of the situation map: west, south, east, north (degrees).
REGION = (20.0, 43.0, 45.0, 56.0)
#: Douglas-Peucker tolerance in degrees (about 1.1 km north-south, 0.7 km east-west at 50 N).
TOLERANCE = 0.01
#: Decimal places kept in output coordinates (1e-4 degree is about 11 m).
PRECISION = 4

UKRAINE_ID = "804"  # ISO 3166-1 numeric, as world-atlas uses for feature ids
RUSSIA_ID = "643"
#: Crimea is looked for among Russia's polygon parts whose interior point lies south-west of this
#: corner (lon, lat). Parts are taken whole, not cut by the corner: the Taman peninsula across
#: the Kerch Strait reaches as far west as Crimea's eastern tip, but it belongs to Russia's
#: mainland part, whose interior point is far away. (Crimea's own northern edge at Perekop lies
#: at 46.22 N, a little beyond the corner, so the test is on the interior point.)
CRIMEA_CORNER = (36.7, 46.2)

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src/resolute/web/static/resolute/basemap"


# --------------------------------------------------------------------------------------------
# TopoJSON (https://github.com/topojson/topojson-specification)


def decode_arcs(topology: dict) -> list[list[tuple[float, float]]]:
    """Absolute positions of every arc of a topology, in its coordinate units (here degrees).

    In a quantized topology (one with a ``transform``) each arc is delta-encoded: its first
    position is absolute in quantized units and each further one is the difference from the
    previous; positions are then mapped with ``x * scale + translate``. Without a transform the
    positions are already absolute. Values beyond x and y (elevation, ...) are dropped.
    """
    transform = topology.get("transform")
    decoded = []
    for arc in topology["arcs"]:
        if transform is None:
            decoded.append([(float(p[0]), float(p[1])) for p in arc])
            continue
        (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
        x = y = 0
        points = []
        for p in arc:
            x += p[0]
            y += p[1]
            points.append((x * sx + tx, y * sy + ty))
        decoded.append(points)
    return decoded


def _position(topology: dict, p) -> tuple[float, float]:
    """A Point/MultiPoint position: quantized but never delta-encoded."""
    transform = topology.get("transform")
    if transform is None:
        return float(p[0]), float(p[1])
    (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
    return p[0] * sx + tx, p[1] * sy + ty


def _line(arcs: list[list[tuple[float, float]]], indexes: list[int]) -> list[tuple[float, float]]:
    """Join arcs by index; a negative index ``~i`` means arc i reversed.

    Consecutive arcs share their joining position, so it is kept only once.
    """
    points: list[tuple[float, float]] = []
    for index in indexes:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc[1:] if points else arc)
    return points


def _polygon(arcs, rings) -> Polygon | None:
    shell, *holes = [_line(arcs, ring) for ring in rings]
    if len(shell) < 4:
        return None  # collapsed by simplification
    return Polygon(shell, [h for h in holes if len(h) >= 4])


def topology_geometry(topology: dict, geometry: dict, arcs=None):
    """Shapely geometry of one TopoJSON geometry object.

    ``arcs`` are positions from :func:`decode_arcs` (possibly simplified); decoded from the
    topology when not given.
    """
    if arcs is None:
        arcs = decode_arcs(topology)
    kind = geometry.get("type")
    if kind == "Point":
        return Point(_position(topology, geometry["coordinates"]))
    if kind == "MultiPoint":
        return MultiPoint([_position(topology, p) for p in geometry["coordinates"]])
    if kind == "LineString":
        return LineString(_line(arcs, geometry["arcs"]))
    if kind == "MultiLineString":
        return MultiLineString([_line(arcs, part) for part in geometry["arcs"]])
    if kind == "Polygon":
        return _polygon(arcs, geometry["arcs"]) or Polygon()
    if kind == "MultiPolygon":
        parts = [_polygon(arcs, rings) for rings in geometry["arcs"]]
        return MultiPolygon([p for p in parts if p is not None])
    if kind == "GeometryCollection":
        return GeometryCollection(
            [topology_geometry(topology, g, arcs) for g in geometry["geometries"]]
        )
    if kind is None:
        return GeometryCollection()
    raise ValueError(f"unknown TopoJSON geometry type {kind!r}")


def simplify_arcs(arcs, tolerance: float) -> list[list[tuple[float, float]]]:
    """Simplify every arc on its own, keeping its end positions.

    Shared borders are one arc in a topology, so neighbours stay seamless after simplification;
    simplifying each country's polygon instead would open gaps and overlaps between them.
    """
    out = []
    for arc in arcs:
        if len(arc) <= 2:
            out.append(arc)
            continue
        simplified = LineString(arc).simplify(tolerance, preserve_topology=True)
        out.append([tuple(c) for c in simplified.coords])
    return out


# --------------------------------------------------------------------------------------------
# Shapefile polylines (ESRI Shapefile Technical Description, July 1998)


def read_shp_polylines(path: Path) -> list[LineString]:
    """The parts of every PolyLine (and PolyLineZ/M, x and y only) record of a .shp file."""
    data = Path(path).read_bytes()
    if struct.unpack(">i", data[0:4])[0] != 9994:
        raise ValueError(f"{path}: not a shapefile")
    lines = []
    offset = 100
    while offset + 8 <= len(data):
        _, words = struct.unpack(">ii", data[offset : offset + 8])
        content = data[offset + 8 : offset + 8 + 2 * words]
        offset += 8 + 2 * words
        (shape_type,) = struct.unpack("<i", content[:4])
        if shape_type == 0:
            continue
        if shape_type not in (3, 13, 23):
            raise ValueError(f"{path}: shape type {shape_type} is not a polyline")
        n_parts, n_points = struct.unpack("<ii", content[36:44])
        parts = list(struct.unpack(f"<{n_parts}i", content[44 : 44 + 4 * n_parts]))
        start = 44 + 4 * n_parts
        xy = struct.unpack(f"<{2 * n_points}d", content[start : start + 16 * n_points])
        points = list(zip(xy[0::2], xy[1::2]))
        for a, b in zip(parts, parts[1:] + [n_points]):
            if b - a >= 2:
                lines.append(LineString(points[a:b]))
    return lines


# --------------------------------------------------------------------------------------------
# Geometry helpers


def polygons_of(geometry) -> list[Polygon]:
    """The polygons in any geometry (dropping points and lines that clipping may leave)."""
    if geometry.is_empty:
        return []
    if isinstance(geometry, Polygon):
        return [geometry]
    if isinstance(geometry, (MultiPolygon, GeometryCollection)):
        return [p for g in geometry.geoms for p in polygons_of(g)]
    return []


def as_multipolygon(geometry) -> MultiPolygon:
    return MultiPolygon(polygons_of(geometry))


def finish(geometry):
    """Round to PRECISION, repair what rounding broke, orient rings per RFC 7946 (section 3.1.6:
    exterior rings counterclockwise, holes clockwise)."""
    rounded = shapely.set_precision(geometry, 10**-PRECISION)
    if not rounded.is_valid:
        rounded = shapely.make_valid(rounded)
    parts = [orient(p, sign=1.0) for p in polygons_of(rounded) if p.area > 0]
    if len(parts) == 1:
        return parts[0]
    return MultiPolygon(parts)


def _round(value):
    if isinstance(value, float):
        return round(value, PRECISION)
    if isinstance(value, (list, tuple)):
        return [_round(v) for v in value]
    return value


def feature(geometry, properties: dict) -> dict:
    geo = mapping(geometry)
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": geo["type"], "coordinates": _round(geo["coordinates"])},
    }


def write_collection(path: Path, features: list[dict], bbox) -> int:
    collection = {"type": "FeatureCollection", "bbox": list(bbox), "features": features}
    text = json.dumps(collection, ensure_ascii=False, separators=(",", ":"))
    path.write_text(text + "\n", encoding="utf-8")
    return path.stat().st_size


# --------------------------------------------------------------------------------------------
# Countries


def country_properties(numeric_id: str | None, source_name: str) -> dict:
    """English name and ISO 3166-1 alpha-3 code of a world-atlas country.

    Natural Earth's short names are kept (``Russia``, ``Moldova``) except the abbreviated ones
    (``Bosnia and Herz.``), for which ISO's name is used. Entities without an ISO numeric code
    (Kosovo) get ``iso_a3`` null rather than an invented code.
    """
    country = pycountry.countries.get(numeric=numeric_id) if numeric_id else None
    name = source_name
    if country is not None and "." in source_name:
        name = getattr(country, "common_name", None) or country.name
    return {"name": name, "iso_a3": country.alpha_3 if country is not None else None}


def move_crimea(geometries: dict[str, object], log=print) -> dict[str, object]:
    """Return geometries with any Crimea found in Russia's geometry moved to Ukraine's."""
    russia = geometries.get(RUSSIA_ID)
    ukraine = geometries.get(UKRAINE_ID)
    if russia is None or ukraine is None:
        raise SystemExit(
            "source has no Russia or no Ukraine: is this world-atlas countries-*.json?"
        )
    lon, lat = CRIMEA_CORNER
    crimea, rest = [], []
    for part in polygons_of(russia):
        inside = part.representative_point()
        if inside.x < lon and inside.y < lat:
            if part.bounds[2] > lon + 0.1 or part.bounds[3] > lat + 0.2:
                raise SystemExit(f"Crimea: part {part.bounds} reaches far beyond the corner")
            crimea.append(part)
        else:
            rest.append(part)
    if not crimea:
        log("Crimea: not in Russia's geometry in the source; nothing moved")
        return geometries
    moved = ops.unary_union(crimea)
    area_before = ukraine.area
    out = dict(geometries)
    out[RUSSIA_ID] = MultiPolygon(rest)
    out[UKRAINE_ID] = as_multipolygon(ops.unary_union([ukraine, moved]))
    log(
        f"Crimea: moved {len(crimea)} part(s) from Russia to Ukraine, bounds "
        f"{tuple(round(v, 3) for v in moved.bounds)}, area {moved.area:.3f} deg2; "
        f"Ukraine area {area_before:.3f} -> {out[UKRAINE_ID].area:.3f} deg2, "
        f"{len(out[UKRAINE_ID].geoms)} part(s)"
    )
    return out


def build_countries(topology: dict, log=print) -> list[tuple[dict, object]]:
    arcs = simplify_arcs(decode_arcs(topology), TOLERANCE)
    region = box(*REGION)
    geometries, names = {}, {}
    for g in topology["objects"]["countries"]["geometries"]:
        key = str(g.get("id")) if g.get("id") is not None else g["properties"]["name"]
        geometry = topology_geometry(topology, g, arcs)
        if not geometry.is_valid:  # simplification can make rings touch or cross
            geometry = as_multipolygon(shapely.make_valid(geometry))
        geometries[key] = geometry
        names[key] = g["properties"]["name"]
    geometries = move_crimea(geometries, log)
    out = []
    for key, geometry in geometries.items():
        if not geometry.intersects(region):
            continue
        clipped = finish(geometry.intersection(region))
        if clipped.is_empty:
            continue
        numeric = key if key.isdigit() else None
        out.append((country_properties(numeric, names[key]), clipped))
    out.sort(key=lambda item: item[0]["name"])
    return out


# --------------------------------------------------------------------------------------------
# Oblasts: Natural Earth's admin-1 boundary lines closed by the shipped outline of Ukraine

#: ISO 3166-2 code -> English name and a point inside the unit (its administrative centre, or a
#: town well inside it where the centre is an enclave of another unit: Kyiv city lies inside
#: Kyiv Oblast, so Bila Tserkva stands for the oblast). Points are (lon, lat) to 0.01 degree.
OBLASTS = {
    "UA-05": ("Vinnytsia Oblast", (28.47, 49.23)),
    "UA-07": ("Volyn Oblast", (25.33, 50.75)),
    "UA-09": ("Luhansk Oblast", (39.31, 48.57)),
    "UA-12": ("Dnipropetrovsk Oblast", (35.05, 48.46)),
    "UA-14": ("Donetsk Oblast", (37.80, 48.02)),
    "UA-18": ("Zhytomyr Oblast", (28.66, 50.25)),
    "UA-21": ("Zakarpattia Oblast", (22.29, 48.62)),
    "UA-23": ("Zaporizhzhia Oblast", (35.14, 47.84)),
    "UA-26": ("Ivano-Frankivsk Oblast", (24.71, 48.92)),
    "UA-30": ("Kyiv", (30.52, 50.45)),
    "UA-32": ("Kyiv Oblast", (30.12, 49.80)),
    "UA-35": ("Kirovohrad Oblast", (32.26, 48.51)),
    "UA-40": ("Sevastopol", (33.52, 44.60)),
    "UA-43": ("Autonomous Republic of Crimea", (34.10, 44.95)),
    "UA-46": ("Lviv Oblast", (24.03, 49.84)),
    "UA-48": ("Mykolaiv Oblast", (32.00, 46.97)),
    "UA-51": ("Odesa Oblast", (30.72, 46.48)),
    "UA-53": ("Poltava Oblast", (34.55, 49.59)),
    "UA-56": ("Rivne Oblast", (26.25, 50.62)),
    "UA-59": ("Sumy Oblast", (34.80, 50.91)),
    "UA-61": ("Ternopil Oblast", (25.59, 49.55)),
    "UA-63": ("Kharkiv Oblast", (36.23, 49.99)),
    "UA-65": ("Kherson Oblast", (32.62, 46.64)),
    "UA-68": ("Khmelnytskyi Oblast", (26.99, 49.42)),
    "UA-71": ("Cherkasy Oblast", (32.06, 49.44)),
    "UA-74": ("Chernihiv Oblast", (31.29, 51.49)),
    "UA-77": ("Chernivtsi Oblast", (25.94, 48.29)),
}

#: Points in parts of a unit that the 1:50m outline detaches from the rest of it, so that they
#: would otherwise join whichever neighbour they touch: the western Kinburn Peninsula (Ochakiv
#: district, Mykolaiv Oblast), which Natural Earth's admin-1 line divides from Kherson Oblast.
DETACHED = [("UA-48", (31.70, 46.50))]

#: A boundary line whose free end lies this close to the outline is extended to meet it (the
#: lines are 1:10m, the outline 1:50m and simplified, so their ends do not coincide).
SNAP = 0.1


def ukrainian_name(code: str) -> str | None:
    """Ukrainian name of an ISO 3166-2 subdivision from pycountry's translations, if present."""
    import gettext

    subdivision = pycountry.subdivisions.get(code=code)
    try:
        t = gettext.translation("iso3166-2", pycountry.LOCALES_DIR, languages=["uk"])
    except OSError:
        return None
    name = t.gettext(subdivision.name)
    return name if name != subdivision.name else None


def _nodes(lines) -> dict:
    degree: dict = {}
    for line in lines:
        for end in (line.coords[0], line.coords[-1]):
            degree[end] = degree.get(end, 0) + 1
    return degree


def interior_lines(ukraine, admin0_lines: list[LineString], log=print) -> list[LineString]:
    """The international boundary lines that run through the inside of Ukraine's outline.

    Natural Earth draws Crimea as Russian, so the line between Crimea and Kherson Oblast is in
    its admin-0 layer, not its admin-1 layer. Real international borders only graze the 1:50m
    outline (they run along it, a few hundredths of a degree off); a line with more than half a
    degree inside the outline shrunk by 0.03 degree is an internal boundary under Resolute's
    policy.
    """
    inner = ukraine.buffer(-0.03)
    found = [line for line in admin0_lines if line.intersection(inner).length > 0.5]
    for line in found:
        log(
            f"oblasts: admin-0 line inside Ukraine used as an internal boundary, bounds "
            f"{tuple(round(v, 2) for v in line.bounds)}"
        )
    return found


def build_oblasts(
    ukraine, boundary_lines: list[LineString], log=print
) -> list[tuple[dict, object]]:
    """Cut the (already finished) Ukraine geometry along Natural Earth's admin-1 lines.

    The lines are clipped to the country, merged at ordinary vertices, simplified like the
    countries, and any free end near the outline is extended to it. The faces that the lines
    and the outline enclose are named by the reference points in OBLASTS; a face holding no
    reference point (an island, a sliver between the 1:10m lines and the 1:50m outline) joins
    the neighbour it shares most border with, or else the nearest unit.
    """
    outline = ukraine.boundary
    zone = ukraine.buffer(SNAP)
    local = [line for line in boundary_lines if line.intersects(zone)]
    clipped = ops.unary_union([line.intersection(zone) for line in local])
    merged = ops.linemerge(clipped) if not clipped.is_empty else clipped
    pieces = list(getattr(merged, "geoms", [merged]))
    pieces = [p.simplify(TOLERANCE, preserve_topology=True) for p in pieces if p.length > 0]
    degree = _nodes(pieces)
    extensions = []
    for end, count in degree.items():
        point = Point(end)
        if count != 1 or not ukraine.covers(point) or outline.distance(point) == 0:
            continue
        if outline.distance(point) <= SNAP:
            extensions.append(LineString([end, ops.nearest_points(point, outline)[1].coords[0]]))
    log(
        f"oblasts: {len(local)} source lines near Ukraine, {len(pieces)} pieces, "
        f"{len(extensions)} free ends extended to the outline"
    )
    noded = ops.unary_union(pieces + extensions + [outline])
    faces = [f for f in ops.polygonize(noded) if ukraine.contains(f.representative_point())]
    named: dict[str, list] = {code: [] for code in OBLASTS}
    loose = []
    for face in faces:
        codes = [c for c, (_, pt) in OBLASTS.items() if face.contains(Point(pt))]
        codes += [c for c, pt in DETACHED if face.contains(Point(pt)) and c not in codes]
        if len(codes) > 1:
            raise SystemExit(f"oblasts: one face holds {codes}: boundary lines missing")
        if codes:
            named[codes[0]].append(face)
        else:
            loose.append(face)
    missing = [c for c, f in named.items() if not f]
    if missing:
        raise SystemExit(f"oblasts: no face for {missing}")
    units = {code: ops.unary_union(f) for code, f in named.items()}
    for face in sorted(loose, key=lambda f: -f.area):
        shared = {c: face.boundary.intersection(u.boundary).length for c, u in units.items()}
        best = max(shared, key=shared.get)
        if shared[best] == 0:
            best = min(units, key=lambda c: units[c].distance(face))
        units[best] = ops.unary_union([units[best], face])
        pt = face.representative_point()
        log(f"oblasts:   face at ({pt.x:.2f}, {pt.y:.2f}), {face.area:.4f} deg2, joined to {best}")
    log(f"oblasts: {len(faces)} faces, {len(loose)} without a reference point joined to neighbours")
    out = []
    for code, geometry in sorted(units.items(), key=lambda kv: OBLASTS[kv[0]][0]):
        props = {"name": OBLASTS[code][0], "name_uk": ukrainian_name(code), "iso_3166_2": code}
        out.append((props, finish(geometry)))
    return out


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("countries", type=Path, help="world-atlas countries-50m.json (TopoJSON)")
    parser.add_argument(
        "--ne10m", type=Path, help="folder with Natural Earth 1:10m boundary line shapefiles"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    topology = json.loads(args.countries.read_text(encoding="utf-8"))
    countries = build_countries(topology)
    features = [feature(g, p) for p, g in countries]
    size = write_collection(args.out / "countries.geojson", features, REGION)
    print(f"countries.geojson: {len(features)} countries, {size} bytes")
    for props, geometry in countries:
        print(
            f"  {props['iso_a3'] or '---'} {props['name']:<28} area {geometry.area:8.3f} deg2 "
            f"bounds {tuple(round(v, 2) for v in geometry.bounds)}"
        )

    if args.ne10m:
        ukraine = next(g for p, g in countries if p["iso_a3"] == "UKR")
        admin1 = read_shp_polylines(args.ne10m / "ne_10m_admin_1_states_provinces_lines.shp")
        admin0 = read_shp_polylines(args.ne10m / "ne_10m_admin_0_boundary_lines_land.shp")
        oblasts = build_oblasts(ukraine, admin1 + interior_lines(ukraine, admin0))
        features = [feature(g, p) for p, g in oblasts]
        size = write_collection(args.out / "oblasts.geojson", features, ukraine.bounds)
        print(f"oblasts.geojson: {len(features)} units, {size} bytes")
        for props, geometry in oblasts:
            print(
                f"  {props['iso_3166_2']} {props['name']:<30} {props['name_uk'] or '':<28} "
                f"area {geometry.area:7.3f} deg2"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
