"""File exports of monitoring records: GeoJSON (RFC 7946), KML 2.2, CSV and STIX 2.1.

The input is what the API already produces: GeoJSON Feature dicts built by
`resolute.monitoring.serializers` (`observation_feature`, `incident_feature`, `incident_detail`),
with lon/lat geometry and a `properties["marking"]` dict {classification, tlp, releasable_to,
originator}. Restriction is the caller's job and happens before: every feature handed to these
functions has already passed `restrict()` for the reader, so nothing here filters. What these
functions guarantee is the format: a file that the other tool (QGIS, Google Earth, Excel,
OpenCTI/MISP) reads as intended and that hostile text in a record cannot break or turn into
markup, formulas or script.

Deliberately free of Django (and of any database access) so the formats can be tested, and used by
the CLI, on plain dicts.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import html
import io
import itertools
import json
import math
import numbers
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "TLP_MARKING_DEFINITIONS",
    "to_csv",
    "to_geojson",
    "to_kml",
    "to_stix",
]

# RFC 7946 §11.2: 7 decimals is ~1 cm at the equator, finer than any fix we compute; more digits
# only bloat files and suggest a precision the data does not have.
COORD_DECIMALS = 7

_GEOMETRY_TYPES = {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection"}


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


def _is_number(v) -> bool:
    # bool is an int subclass, but True is not a coordinate or a count.
    return isinstance(v, (numbers.Real, decimal.Decimal)) and not isinstance(v, bool)


def _position(pos) -> list:
    if not isinstance(pos, Sequence) or isinstance(pos, (str, bytes)) or len(pos) < 2:
        raise ValueError(f"a position needs at least lon and lat, got {pos!r}")
    if not all(_is_number(c) and math.isfinite(c) for c in pos):
        raise ValueError(f"a position must hold finite numbers, got {pos!r}")
    lon, lat = float(pos[0]), float(pos[1])
    # A latitude outside ±90 almost always means lat/lon were swapped upstream; refuse rather
    # than draw the incident on the wrong continent.
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise ValueError(f"position {pos!r} is not lon, lat in WGS 84 degrees")
    out = [round(lon, COORD_DECIMALS), round(lat, COORD_DECIMALS)]
    # Altitude (if any) in metres: a millimetre is plenty.
    out.extend(round(float(c), 3) for c in pos[2:])
    return out


def _signed_area(ring: list) -> float:
    # Shoelace on lon/lat: only the sign matters, and our rings are far too small (a 95 % error
    # ellipse, a zone) for the planar approximation to flip it.
    s = 0.0
    for (x1, y1, *_), (x2, y2, *_) in itertools.pairwise(ring):
        s += x1 * y2 - x2 * y1
    return s / 2.0


def _ring(coords, exterior: bool) -> list:
    ring = [_position(p) for p in coords]
    if ring and ring[0] != ring[-1]:
        ring.append(list(ring[0]))  # RFC 7946 §3.1.6: a linear ring is closed
    if len(ring) < 4:
        raise ValueError("a linear ring needs at least four positions")
    # RFC 7946 §3.1.6 right-hand rule: exterior counter-clockwise, holes clockwise. Old readers
    # ignore it but d3/turf and some tiling pipelines fill the complement of a clockwise ring.
    area = _signed_area(ring)
    if (exterior and area < 0) or (not exterior and area > 0):
        ring.reverse()
    return ring


def _polygon(rings) -> list:
    return [_ring(r, exterior=(i == 0)) for i, r in enumerate(rings)]


def _geometry(g):
    """A cleaned copy of a GeoJSON geometry: rounded positions, closed right-hand-rule rings."""
    if g is None:
        return None
    if not isinstance(g, Mapping) or g.get("type") not in _GEOMETRY_TYPES:
        raise ValueError(f"not a GeoJSON geometry: {g!r}")
    t = g["type"]
    if t == "GeometryCollection":
        return {"type": t, "geometries": [_geometry(x) for x in g.get("geometries") or []]}
    c = g.get("coordinates")
    if t == "Point":
        coords = _position(c)
    elif t in ("MultiPoint", "LineString"):
        coords = [_position(p) for p in c]
    elif t == "MultiLineString":
        coords = [[_position(p) for p in line] for line in c]
    elif t == "Polygon":
        coords = _polygon(c)
    else:  # MultiPolygon
        coords = [_polygon(poly) for poly in c]
    return {"type": t, "coordinates": coords}


def _positions(g) -> Iterable[list]:
    if g is None:
        return
    if g["type"] == "GeometryCollection":
        for x in g["geometries"]:
            yield from _positions(x)
        return
    stack = [g["coordinates"]]
    while stack:
        c = stack.pop()
        if c and _is_number(c[0]):
            yield c
        else:
            stack.extend(c)


def _plain(v):
    """A JSON-safe deep copy of a property value: non-finite floats become null (JSON has no NaN;
    `json.dumps` would write a token strict parsers reject), tuples become lists, and geometries
    nested in properties (the incident's 95 % ellipse) are cleaned like top-level ones so a client
    that lifts them onto a map gets valid RFC 7946 too."""
    if isinstance(v, Mapping):
        if v.get("type") in _GEOMETRY_TYPES and ("coordinates" in v or "geometries" in v):
            try:
                return _geometry(v)
            except ValueError:
                pass  # not really a geometry; keep it as data
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, decimal.Decimal):
        v = float(v)
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (dt.datetime, dt.date)):
        return _iso(v)
    if isinstance(v, uuid.UUID):
        return str(v)
    return v


def _iso(t) -> str:
    if isinstance(t, dt.datetime):
        if t.tzinfo is not None:
            t = t.astimezone(dt.UTC)
        return t.replace(tzinfo=None).isoformat() + "Z"
    return t.isoformat()


# A lone surrogate ('\ud800') is a valid Python str — json.loads accepts it from an API body —
# but not encodable as UTF-8: one bad narrative would make the whole export raise.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _utf8(text: str) -> bytes:
    return _SURROGATE.sub("\ufffd", text).encode("utf-8")


def _props(f: Mapping) -> Mapping:
    p = f.get("properties")
    return p if isinstance(p, Mapping) else {}


def _point(f: Mapping) -> tuple[float, float] | None:
    g = f.get("geometry")
    if isinstance(g, Mapping) and g.get("type") == "Point":
        lon, lat, *_ = _position(g.get("coordinates"))
        return lon, lat
    return None


def _releasable(m: Mapping) -> list[str]:
    rel = m.get("releasable_to") or []
    if isinstance(rel, str):  # the stored form '|FRA|USA|' also works
        rel = rel.split("|")
    codes = sorted({str(c).strip().upper() for c in rel if str(c).strip()})
    return ["ALL"] if "ALL" in codes else codes


def _marking_text(m: Mapping | None) -> str:
    """'RESTRICTED REL TO FRA, USA' — the banner form used in the KML, CSV and STIX exports."""
    if not isinstance(m, Mapping):
        return ""
    return f"{m.get('classification', '?')} REL TO {', '.join(_releasable(m)) or '?'}"


def _kind(props: Mapping) -> str:
    """'inc' or 'obs' from the serializer's keys: the two kinds share integer ids, so an export
    mixing them needs the prefix to keep ids apart."""
    if "observation_count" in props or "family" in props:
        return "inc"
    if "client_id" in props or "channel" in props:
        return "obs"
    return "feat"


def _human(code) -> str:
    return str(code).replace("_", " ") if code else ""


def _summary_lines(f: Mapping) -> list[str]:
    """Readable lines describing a feature, shared by the KML description and STIX text."""
    p = _props(f)
    lines = []
    what = _human(p.get("event_type")) or "feature"
    if p.get("family"):
        what += f" ({_human(p['family'])})"
    if p.get("status"):
        what += f", {_human(p['status'])}"
    lines.append(what)
    start = p.get("first_seen") or p.get("observed_from")
    end = p.get("last_seen") or p.get("observed_to")
    if start or end:
        lines.append(f"Time (UTC): {start or '?'} to {end or '?'}")
    if p.get("confidence_word") or p.get("confidence") is not None:
        c = p.get("confidence")
        num = f" (p = {c:.2f})" if _is_number(c) and math.isfinite(c) else ""
        lines.append(f"Confidence: {p.get('confidence_word') or 'unstated'}{num}")
    detail = p.get("attribution_detail")
    att = detail.get("text") if isinstance(detail, Mapping) else None
    if att or p.get("attribution"):
        lines.append(f"Attribution: {att or _human(p.get('attribution'))}")
    if "located" in p:
        err = p.get("error_m")
        if p.get("located") and _is_number(err) and math.isfinite(err):
            lines.append(f"Located: 95 % error {err:.0f} m")
        else:
            lines.append("Not located: indicative position only")
    if p.get("observation_count") is not None:
        lines.append(f"Observations: {p['observation_count']}")
    if p.get("channel"):
        src = f", source {p['source']}" if p.get("source") else ""
        grade = f", grade {p['grade']}" if p.get("grade") else ""
        lines.append(f"Channel: {_human(p['channel'])}{src}{grade}")
    if p.get("perception"):
        lines.append(f"Perception: {_human(p['perception'])}, count {p.get('count', '?')}, weapon {_human(p.get('weapon_class')) or '?'}")
    if p.get("narrative"):
        lines.append(f"Narrative: {p['narrative']}")
    m = p.get("marking")
    if isinstance(m, Mapping):
        lines.append(f"Marking: {_marking_text(m)}, TLP:{m.get('tlp', '?')}, originator {m.get('originator') or '?'}")
    return lines


# ---------------------------------------------------------------------------------------------
# GeoJSON
# ---------------------------------------------------------------------------------------------


def to_geojson(features: Iterable[Mapping], *, name: str) -> bytes:
    """An RFC 7946 FeatureCollection as UTF-8 bytes.

    No `crs` member (RFC 7946 §4: WGS 84 lon/lat only), positions rounded to 7 decimals, rings
    closed and right-hand-rule, `bbox` over every position, `name` as a foreign member (GDAL and
    QGIS use it as the layer name). The input dicts are not modified."""
    out = []
    lo: list[float] | None = None
    hi: list[float] | None = None
    dims = 3
    for f in features:
        geom = _geometry(f.get("geometry"))
        for pos in _positions(geom):
            dims = min(dims, len(pos))
            lo = list(pos[:3]) if lo is None else [min(a, b) for a, b in zip(lo, pos)]
            hi = list(pos[:3]) if hi is None else [max(a, b) for a, b in zip(hi, pos)]
        feat: dict = {"type": "Feature"}
        fid = f.get("id")
        if fid is not None:
            # RFC 7946 §3.2: the id is a string or a number, nothing else.
            feat["id"] = fid if (_is_number(fid) or isinstance(fid, str)) else str(fid)
        feat["geometry"] = geom
        feat["properties"] = _plain(_props(f)) if f.get("properties") is not None else None
        out.append(feat)
    fc: dict = {"type": "FeatureCollection", "name": name}
    if lo is not None and hi is not None:
        # RFC 7946 §5: 2*n values for n dimensions, all lows then all highs.
        fc["bbox"] = lo[:dims] + hi[:dims]
    fc["features"] = out
    return _utf8(json.dumps(fc, ensure_ascii=False, allow_nan=False, separators=(",", ":")))


# ---------------------------------------------------------------------------------------------
# KML 2.2
# ---------------------------------------------------------------------------------------------

KML_NS = "http://www.opengis.net/kml/2.2"

# XML 1.0 §2.2 Char: everything else (NUL, most C0 controls, lone surrogates, U+FFFE/U+FFFF)
# makes the document not well-formed, and no escape can carry it. Replaced by U+FFFD so a reader
# sees that something was there.
_XML_INVALID = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NCNAME_BAD = re.compile(r"[^A-Za-z0-9._-]")

# KML colours are aabbggrr. Attribution first (it is what a reader of the map asks: who fired
# across the line?), the family colour only when there is no attribution.
_ATTRIBUTION_COLOURS = {
    "cross_line": "ff0000ff",  # red
    "same_side": "ff00a5ff",  # orange
    "indeterminate": "ff00ffff",  # yellow
}
_FAMILY_COLOURS = {
    "shelling_impact": "ff3c14dc",
    "shelling_outgoing": "ff0045ff",
    "small_arms": "ff8b008b",
    "flare": "ff00d7ff",
    "strike": "ff000080",
    "ground_assault": "ff2f6b55",
    "mine_laying": "ff13458b",
    "weapons": "ff8b0000",
    "movement_restriction": "ffe16941",
    "interference": "ff808000",
}
_DEFAULT_COLOUR = "ff999999"


def _family(props: Mapping) -> str:
    """The event family: incidents carry it; an observation gets its event type's fusion family,
    so a report and the incident it joined share a colour on the map."""
    if props.get("family"):
        return str(props["family"])
    et = props.get("event_type")
    if not et:
        return "unknown"
    # Imported here: the fusion tables pull in numpy/scipy, which GeoJSON/CSV/STIX never need.
    from resolute.core.fusion.params import FAMILY_NAMES, GROUP_OF

    g = GROUP_OF.get(str(et))
    return FAMILY_NAMES[g] if g is not None else str(et)


def _x(s) -> str:
    return _XML_INVALID.sub("\ufffd", str(s))


def _sub(parent, tag: str, text=None, **attrib):
    el = ET.SubElement(parent, tag, {k: _x(v) for k, v in attrib.items()})
    if text is not None:
        el.text = _x(text)
    return el


def _xml_id(prefix: str, raw, used: set[str]) -> str:
    """A valid, unique xs:ID. KML 2.2 ids are xs:ID (an NCName): they may not start with a digit,
    so the bare database id '123' is invalid and strict readers (and XML tools resolving
    `#styleUrl`) reject the file. The prefix also keeps incidents and observations, which share
    integer ids, apart."""
    base = f"{prefix}-{_NCNAME_BAD.sub('_', str(raw))}" if raw is not None and str(raw) != "" else prefix
    cand, n = base, 1
    while cand in used:
        n += 1
        cand = f"{base}-{n}"
    used.add(cand)
    return cand


def _kml_coord(c: float) -> str:
    # Fixed notation: KML readers do not all accept exponents (1e-08).
    s = f"{c:.{COORD_DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _kml_geometry(parent, g) -> None:
    if g is None:
        return
    t = g["type"]
    if t == "Point":
        el = _sub(parent, "Point")
        _sub(el, "coordinates", ",".join(_kml_coord(c) for c in g["coordinates"]))
    elif t == "LineString":
        el = _sub(parent, "LineString")
        _sub(el, "coordinates", " ".join(",".join(_kml_coord(c) for c in p) for p in g["coordinates"]))
    elif t == "Polygon":
        el = _sub(parent, "Polygon")
        for i, ring in enumerate(g["coordinates"]):
            b = _sub(el, "outerBoundaryIs" if i == 0 else "innerBoundaryIs")
            lr = _sub(b, "LinearRing")
            _sub(lr, "coordinates", " ".join(",".join(_kml_coord(c) for c in p) for p in ring))
    else:
        multi = _sub(parent, "MultiGeometry")
        if t == "GeometryCollection":
            parts = g["geometries"]
        else:
            single = {"MultiPoint": "Point", "MultiLineString": "LineString", "MultiPolygon": "Polygon"}[t]
            parts = [{"type": single, "coordinates": c} for c in g["coordinates"]]
        for part in parts:
            _kml_geometry(multi, part)


def _data_value(v) -> str | None:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str) or _is_number(v):
        return str(v)
    return None  # nested structures: only the main, flat properties go into ExtendedData


def to_kml(features: Iterable[Mapping], *, name: str) -> bytes:
    """A KML 2.2 Document, one Placemark per feature, as UTF-8 bytes.

    Placemark ids are 'inc-<id>', 'obs-<id>' or 'feat-<id>' (valid, unique xs:ID); one Style per
    (event family, attribution). Descriptions are plain text escaped for HTML as well as XML:
    Google Earth renders <description> as HTML after XML parsing, so an XML-escaped '<script>'
    from a narrative would otherwise come back as live markup in the balloon."""
    feats = list(features)
    used: set[str] = set()
    # The namespace as a plain xmlns attribute on unqualified tags: ElementTree's
    # default_namespace option refuses the unqualified `id`/`name` attributes KML needs.
    root = ET.Element("kml", {"xmlns": KML_NS})
    doc = _sub(root, "Document")
    _sub(doc, "name", name)
    _sub(doc, "open", "1")

    # Styles come before features in a Document (KML 2.2 schema order), so collect them first.
    style_ids: dict[tuple[str, str], str] = {}
    keys = []
    for f in feats:
        p = _props(f)
        family = _family(p)
        att = str(p.get("attribution") or "")
        keys.append((family, att))
        if (family, att) not in style_ids:
            sid = _xml_id("style", f"{family}-{att or 'none'}", used)
            style_ids[(family, att)] = sid
            st = _sub(doc, "Style", id=sid)
            icon = _sub(st, "IconStyle")
            _sub(icon, "color", _ATTRIBUTION_COLOURS.get(att) or _FAMILY_COLOURS.get(family, _DEFAULT_COLOUR))
            _sub(icon, "scale", "1.1" if att == "cross_line" else "1.0")
            _sub(_sub(st, "LabelStyle"), "scale", "0.8")

    for f, key in zip(feats, keys):
        p = _props(f)
        kind = _kind(p)
        pm = _sub(doc, "Placemark", id=_xml_id(kind, f.get("id"), used))
        label = {"inc": "Incident", "obs": "Observation"}.get(kind, "Feature")
        title = p.get("name") or f"{label} {f.get('id', '')}: {_human(p.get('event_type')) or 'event'}".strip()
        _sub(pm, "name", title)
        lines = [str(title), *_summary_lines(f)]
        _sub(pm, "description", "\n".join(html.escape(_x(line), quote=False) for line in lines))
        begin = p.get("first_seen") or p.get("observed_from")
        end = p.get("last_seen") or p.get("observed_to")
        if begin or end:
            span = _sub(pm, "TimeSpan")
            if begin:
                _sub(span, "begin", begin)
            if end:
                _sub(span, "end", end)
        _sub(pm, "styleUrl", f"#{style_ids[key]}")
        ext = _sub(pm, "ExtendedData")
        rows = [("id", f.get("id"))] + [(k, v) for k, v in p.items() if k != "marking"]
        m = p.get("marking")
        if isinstance(m, Mapping):
            # The marking must travel with each placemark: a KML file is split and merged freely.
            rows += [
                ("classification", m.get("classification")),
                ("tlp", m.get("tlp")),
                ("releasable_to", ", ".join(_releasable(m))),
                ("originator", m.get("originator")),
            ]
        detail = p.get("attribution_detail")
        if isinstance(detail, Mapping):
            rows.append(("attribution_text", detail.get("text")))
        for k, v in rows:
            text = _data_value(v)
            if text is not None:
                _sub(_sub(ext, "Data", name=k), "value", text)
        _kml_geometry(pm, _geometry(f.get("geometry")))

    ET.indent(root, space=" ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


# ---------------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------------

# OWASP "CSV Injection": a cell starting with one of these is read as a formula by Excel,
# LibreOffice and Google Sheets ('=HYPERLINK(...)', '@SUM(...)', '-2+3+cmd|...'); a leading tab
# or CR is stripped by some importers, exposing the character after it.
_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def _neutralise(s: str) -> str:
    return "'" + s if s.startswith(_FORMULA_LEADS) else s


def _csv_cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if _is_number(v):
        # Numbers are data, not text a spreadsheet could execute: -12.5 stays -12.5 and is
        # summable. Only strings get the quote prefix.
        if not math.isfinite(v):
            return ""
        return repr(float(v)) if isinstance(v, float) else str(v)
    if isinstance(v, (Mapping, list, tuple)):
        return _neutralise(json.dumps(_plain(v), ensure_ascii=False, allow_nan=False, separators=(",", ":")))
    if isinstance(v, (dt.datetime, dt.date)):
        return _iso(v)
    return _neutralise(str(v))


def _lookup(props: Mapping, column: str):
    if column in props:
        return props[column]
    # 'marking.tlp' reaches into nested dicts for a flat spreadsheet column.
    cur = props
    for part in column.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return None
        cur = cur[part]
    return cur


def to_csv(features: Iterable[Mapping], *, columns: Sequence[str]) -> bytes:
    """One row per feature: id, lon, lat, then `columns` (property names; 'a.b' reaches into a
    nested dict; dicts and lists are written as JSON). RFC 4180 (CRLF, quoting), UTF-8 with a
    BOM so Excel does not read Ukrainian text as Windows-1252, strings starting with a formula
    character prefixed with a quote."""
    if isinstance(columns, str):
        raise TypeError("columns must be a list of property names, not one string")
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([_csv_cell(c) for c in ["id", "lon", "lat", *columns]])
    for f in features:
        p = _props(f)
        pt = _point(f)
        row = [f.get("id"), pt[0] if pt else None, pt[1] if pt else None]
        row += [_lookup(p, c) for c in columns]
        w.writerow([_csv_cell(v) for v in row])
    return _utf8("\ufeff" + buf.getvalue())


# ---------------------------------------------------------------------------------------------
# STIX 2.1
# ---------------------------------------------------------------------------------------------

# TLP 2.0 in STIX 2.1: the OASIS marking-definition extension
# (cti-stix-common-objects, extension-definition-specifications/tlp-2.0). These five objects are
# fixed by OASIS — same ids, same content everywhere — so a consumer matches them by id. Used
# instead of the STIX 2.1 predefined TLP 1.0 markings because TLP 1.0 has no AMBER+STRICT and
# no CLEAR: mapping AMBER+STRICT to TLP 1.0 AMBER would let the recipient share with its clients,
# which the originator forbade.
TLP2_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
_TLP2_IDS = {
    "CLEAR": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "GREEN": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "AMBER": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "AMBER+STRICT": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "RED": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
TLP_MARKING_DEFINITIONS: dict[str, dict] = {
    level: {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": mid,
        "created": "2022-10-01T00:00:00.000Z",
        "name": f"TLP:{level}",
        "extensions": {TLP2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": level.lower()}},
    }
    for level, mid in _TLP2_IDS.items()
}

# Root of the UUIDv5 ids. STIX 2.1 §2.9 lets SDO producers use something other than UUIDv4 if
# the namespace avoids collisions and is not the OASIS SCO namespace
# (00abedb4-aa42-466c-9c01-fed23315a9b7); under it each mission (identity_name) gets its own.
_STIX_ROOT = uuid.uuid5(uuid.NAMESPACE_URL, "urn:resolute:stix")


def _tlp_level(m: Mapping) -> str:
    level = str(m.get("tlp") or "").strip().upper().removeprefix("TLP:")
    level = {"WHITE": "CLEAR"}.get(level, level)  # TLP 1.0 spelling of the same level
    if level not in _TLP2_IDS:
        # Never export a record without (or with a misread) TLP: refuse.
        raise ValueError(f"unknown TLP level {m.get('tlp')!r}")
    return level


def _stix_ts(t) -> str:
    """STIX timestamp, UTC, millisecond precision (§3.2: created/modified need ms precision)."""
    if isinstance(t, str):
        t = dt.datetime.fromisoformat(t)  # Python 3.11+ reads the trailing Z
    if not isinstance(t, dt.datetime):
        raise TypeError(f"expected a datetime or ISO 8601 text, got {t!r}")
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)  # the serializers emit UTC; naive means UTC here
    t = t.astimezone(dt.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def to_stix(
    incidents: Iterable[Mapping],
    observations_by_incident: Mapping | None = None,
    *,
    identity_name: str,
    created,
) -> bytes:
    """A STIX 2.1 bundle (UTF-8 JSON) of incidents with their member observations.

    Per incident: an `incident` SDO (name, description with time window, confidence words and
    attribution text, the STIX `confidence` 0-100, an external reference 'inc-<id>'), a `location`
    SDO (lat, lon, precision = 95 % error in metres) linked by a `located-at` relationship, and
    a `sighting` of the incident per member observation (first/last seen = the observation's
    window, count = its event count, where_sighted_refs = the location). No custom properties.

    `observations_by_incident` maps an incident id to its observation features; when an incident
    is missing there, the `observations` an `incident_detail` carries are used.

    Markings on every object: the TLP 2.0 marking-definition and a statement marking
    'CLASSIFICATION REL TO ...' (one per distinct value). Ids are UUIDv5 of the record ids under
    a namespace per `identity_name`, and every object takes `created` as created/modified, so the
    same records exported with the same arguments give byte-identical bundles."""
    ts = _stix_ts(created)
    ns = uuid.uuid5(_STIX_ROOT, identity_name)
    by_incident = observations_by_incident or {}

    def sid(kind: str, key) -> str:
        return f"{kind}--{uuid.uuid5(ns, f'{kind}:{key}')}"

    identity_id = sid("identity", identity_name)
    # The identity only names the mission, which is public.
    identity = {
        "type": "identity", "spec_version": "2.1", "id": identity_id, "created": ts, "modified": ts,
        "name": identity_name, "identity_class": "organization",
        "object_marking_refs": [_TLP2_IDS["CLEAR"]],
    }  # fmt: skip
    tlp_used = {"CLEAR"}
    statements: dict[str, dict] = {}

    def marks(m) -> list[str]:
        if not isinstance(m, Mapping) or not m.get("classification"):
            raise ValueError("every exported record needs its marking (classification, tlp, releasable_to)")
        level = _tlp_level(m)
        tlp_used.add(level)
        text = _marking_text(m)
        if text not in statements:
            statements[text] = {
                "type": "marking-definition", "spec_version": "2.1", "id": sid("marking-definition", text),
                "created": ts, "created_by_ref": identity_id, "name": text,
                "definition_type": "statement", "definition": {"statement": text},
            }  # fmt: skip
        return [_TLP2_IDS[level], statements[text]["id"]]

    def common(kind: str, key, m) -> dict:
        return {
            "type": kind, "spec_version": "2.1", "id": sid(kind, key), "created_by_ref": identity_id,
            "created": ts, "modified": ts, "object_marking_refs": marks(m),
        }  # fmt: skip

    body: list[dict] = []
    for inc in incidents:
        p = _props(inc)
        iid = inc.get("id")
        m = p.get("marking")
        title = f"{_human(p.get('event_type')) or 'incident'} {p.get('first_seen') or ''}".strip()
        incident = common("incident", iid, m)
        incident["name"] = f"Incident {iid}: {title}"
        incident["description"] = "\n".join(_summary_lines(inc))
        conf = p.get("confidence")
        if _is_number(conf) and math.isfinite(conf):
            incident["confidence"] = max(0, min(100, round(conf * 100)))  # STIX §3.2 scale 0-100
        incident["external_references"] = [{"source_name": "resolute", "external_id": f"inc-{iid}"}]
        body.append(incident)

        location = None
        pt = _point(inc)
        if pt is not None:
            location = common("location", iid, m)
            location["name"] = f"Position of incident {iid}"
            location["latitude"], location["longitude"] = pt[1], pt[0]
            err = p.get("error_m")
            if p.get("located", True) and _is_number(err) and math.isfinite(err) and err >= 0:
                location["precision"] = float(err)
                location["description"] = "Fused fix; precision is the 95 % error ellipse semi-major axis (m)."
            else:
                location["description"] = "Indicative position only: no fix."
            body.append(location)
            rel = common("relationship", f"located-at:{iid}", m)
            rel.update(relationship_type="located-at", source_ref=incident["id"], target_ref=location["id"])
            body.append(rel)

        members = by_incident.get(iid)
        if members is None:
            members = by_incident.get(str(iid))
        if members is None:
            members = p.get("observations") or []
        for o in members:
            op = _props(o)
            oid = o.get("id")
            # Keyed by observation and incident: if re-fusion moves the observation, the sighting
            # of the other incident is a different object, not a silent rewrite of this one.
            s = common("sighting", f"{oid}@{iid}", op.get("marking"))
            s["description"] = "\n".join([f"Observation {oid}", *_summary_lines(o)])
            s["sighting_of_ref"] = incident["id"]
            first, last = op.get("observed_from"), op.get("observed_to")
            if first:
                s["first_seen"] = _stix_ts(first)
            if last:
                s["last_seen"] = _stix_ts(last)
            if first and last and s["last_seen"] < s["first_seen"]:
                s["last_seen"] = s["first_seen"]  # §4.5 last_seen >= first_seen; keep the report
            cnt = op.get("count")
            if _is_number(cnt):
                s["count"] = max(0, min(999_999_999, int(cnt)))
            if location is not None:
                s["where_sighted_refs"] = [location["id"]]
            s["external_references"] = [{"source_name": "resolute", "external_id": f"obs-{oid}"}]
            body.append(s)

    head = [identity]
    head += [TLP_MARKING_DEFINITIONS[level] for level in _TLP2_IDS if level in tlp_used]
    head += [statements[k] for k in sorted(statements)]
    objects = head + body
    bundle = {
        "type": "bundle",
        "id": sid("bundle", ",".join(sorted(o["id"] for o in objects))),
        "objects": objects,
    }
    return _utf8(json.dumps(bundle, ensure_ascii=False, allow_nan=False, indent=1))
