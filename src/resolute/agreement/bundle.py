"""The agreement bundle: a ceasefire agreement as versioned data, read and checked.

A bundle is a directory holding ``agreement.yaml`` (version metadata and the provisions, in
English, French and Ukrainian) and ``zones.geojson`` (the zones as an RFC 7946
FeatureCollection). This module only parses and validates; a service stores the result as a new
version. It stays free of Django so that the CLI, the service and tests share it without
settings, like the pure core.

Both files come from outside, so nothing in them is trusted: every problem becomes one
``{"field", "message"}`` in a :class:`BundleError`, and the checks carry on so that an author can
fix a file in one pass instead of one error per run (up to ``MAX_ERRORS``). Aliases are refused
in YAML, non-finite numbers and duplicate keys everywhere, and sizes are bounded before any
costly work.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import numbers
import os
import re
import reprlib
import stat
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import shapely
import shapely.geometry
import yaml

from resolute.core.rules import PARAMS as RULE_PARAMS
from resolute.core.rules import RULE_TYPES, ZONE_KINDS
from resolute.core.vocabulary import WEAPON_CLASSES

AGREEMENT_FILE = "agreement.yaml"
ZONES_FILE = "zones.geojson"

# The pure-Python YAML parser (needed to refuse aliases) reads roughly 1 MB/s of prose and far
# less of dense lists; 4 MB still holds a few hundred full-length trilingual provisions while
# keeping a hostile file to seconds, not minutes.
MAX_AGREEMENT_BYTES = 4 * 1024 * 1024
MAX_ZONES_BYTES = 50 * 1024 * 1024
MAX_POSITIONS = 1_000_000
# Real agreements have tens of zones; the bound keeps per-feature geometry work finite.
MAX_FEATURES = 10_000
MAX_ERRORS = 100
MAX_INVENTORY = 1_000_000
CONTACT_LINE_TOLERANCE_M = 5.0
LANGUAGES = ("en", "fr", "uk")

_A = AGREEMENT_FILE + ": "
_Z = ZONES_FILE + ": "

AGREEMENT_KEYS = (
    "agreement",
    "version_label",
    "in_force_from",
    "sides",
    "contact_line_sigma_m",
    "attribution_threshold",
    "withdrawal_bands_km",
    "provisions",
)
PROVISION_KEYS = ("id", "rule_type", "severity", "title", "text", "params")
ZONE_PROPERTY_KEYS = ("kind", "name", "party", "weapon_classes", "valid_from", "valid_to", "inventory", "radius_m")
# RFC 7946 members; "name" and "crs" are what QGIS writes into every export.
COLLECTION_KEYS = ("type", "features", "bbox", "name", "crs")
FEATURE_KEYS = ("type", "geometry", "properties", "id", "bbox")
GEOMETRY_KEYS = ("type", "coordinates", "bbox")

PARTY_REQUIRED = ("held_area", "withdrawal_band", "storage_site", "exercise_area")
GEOMETRY_TYPES = {
    "contact_line": ("LineString",),
    "storage_site": ("Point", "Polygon"),
}
AREA_TYPES = ("Polygon", "MultiPolygon")
# Nesting depth of positions inside "coordinates".
_DEPTH = {"Point": 0, "LineString": 1, "Polygon": 2, "MultiPolygon": 3}
# Old-style (GeoJSON 2008) crs members that still mean longitude, latitude on WGS 84.
_CRS84 = ("urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:OGC::CRS84", "OGC:CRS84")

_PROVISION_ID = re.compile(r"[A-Za-z0-9.\-]{1,20}")
_PARTY = re.compile(r"[A-Z]{3}")
_DATE_ONLY = re.compile(r"\d{4}-?\d{2}-?\d{2}")
# Control characters break display and PostgreSQL refuses NUL; unpaired surrogates cannot be
# encoded as UTF-8 (JSON "\ud800" escapes produce them).
_BAD_LINE_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_BAD_TEXT_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


class BundleError(ValueError):
    """The bundle was refused. ``errors`` lists every problem found (at most MAX_ERRORS), each
    ``{"field": "agreement.yaml: provisions[3].text.uk", "message": "..."}``; ``truncated`` says
    that checking stopped because there were more."""

    def __init__(self, errors: list[dict], truncated: bool = False):
        self.errors = [dict(e) for e in errors]
        self.truncated = truncated
        head = f"agreement bundle refused: {len(self.errors)} problem(s)"
        if truncated:
            head += f" (checking stopped after the first {MAX_ERRORS})"
        super().__init__("\n".join([head] + [f"{e['field']}: {e['message']}" for e in self.errors]))


@dataclass(frozen=True)
class ProvisionSpec:
    id: str
    rule_type: str
    severity: int
    title: dict[str, str]
    text: dict[str, str]
    params: dict[str, float]


@dataclass(frozen=True)
class ZoneSpec:
    kind: str
    name: str
    geometry: dict
    party: str = ""
    weapon_classes: tuple[str, ...] = ()
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    inventory: dict[str, int] = dataclasses.field(default_factory=dict)
    radius_m: float = 0.0


@dataclass(frozen=True)
class Bundle:
    agreement: str
    version_label: str
    in_force_from: datetime
    side_a: str
    side_b: str
    contact_line_sigma_m: float
    attribution_threshold: float
    withdrawal_bands_km: dict[str, float]
    provisions: tuple[ProvisionSpec, ...]
    zones: tuple[ZoneSpec, ...]

    def content_hash(self) -> str:
        """SHA-256 (hex) of a canonical JSON of the whole bundle, so that loading the same text
        twice is recognisable. Numbers were normalised to float on parsing (250 and 250.0 hash
        alike), datetimes are written in UTC, keys sorted."""
        doc = dataclasses.asdict(self)
        blob = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_json_default)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _json_default(o):
    if isinstance(o, datetime):
        return o.astimezone(timezone.utc).isoformat()
    raise TypeError(f"not serialisable: {type(o).__name__}")


# ---------------------------------------------------------------------------------------------
# Collecting problems


# What a loader returns when the file could not be read at all: distinct from a document that
# is empty or null, which is itself a fault to report.
_UNREADABLE = object()


class _Stop(BaseException):
    """Raised once MAX_ERRORS problems are known: a file with thousands of faults gains nothing
    from a longer list, and stopping bounds the work done on hostile input. A BaseException so
    that no ``except Exception`` around a third-party call can swallow it."""


class _Problems:
    def __init__(self):
        self.items: list[dict] = []
        self.truncated = False

    def add(self, field: str, message: str) -> None:
        if len(self.items) >= MAX_ERRORS:
            self.truncated = True
            raise _Stop
        self.items.append({"field": field, "message": message})


def _what(v) -> str:
    """How a value reads in a message: its kind, never its (possibly huge) content."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, numbers.Number):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, datetime):
        return "a date-time"
    if isinstance(v, date):
        return "a date"
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, (list, tuple)):
        return "a list"
    return f"a {type(v).__name__}"


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother, _REPR.maxlist, _REPR.maxdict = 2, 60, 60, 4, 4


def _short(v, limit: int = 60) -> str:
    """A bounded repr for messages: reprlib cuts depth and length, so a hostile value (deeply
    nested, megabytes long) neither recurses nor floods the error list."""
    try:
        s = _REPR.repr(v)
    except Exception:  # an odd object in a hand-built dict must not break the error report
        s = f"<{type(v).__name__}>"
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _seg(key) -> str:
    """A mapping key as a field-path segment, bounded like any other echo of the input."""
    return key if isinstance(key, str) and len(key) <= 60 else _short(key)


def _clip(s: str, limit: int) -> str:
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _is_number(v) -> bool:
    # YAML and JSON booleans are ints in Python; "true" is never a distance.
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _unknown_keys(d: dict, allowed, prefix: str, p: _Problems, what: str) -> None:
    for key in d:
        if key in allowed:
            continue
        hint = ""
        if isinstance(key, str) and len(key) <= 100:
            close = difflib.get_close_matches(key, allowed, n=1)
            if close:
                hint = f"; did you mean {close[0]!r}?"
        p.add(f"{prefix}{_seg(key)}", f"unknown {what} (a misspelt key would otherwise be ignored){hint} Expected: {', '.join(allowed)}")


def _mapping(v, field: str, p: _Problems) -> dict | None:
    if isinstance(v, dict):
        return v
    p.add(field, f"must be a mapping, not {_what(v)}")
    return None


def _string(v, field: str, p: _Problems, max_len: int, multiline: bool = False) -> str | None:
    """A required, non-blank string of at most max_len characters, surrounding whitespace
    removed (a YAML block scalar's trailing newline must not change the content hash)."""
    if not isinstance(v, str):
        p.add(field, f"must be a string, not {_what(v)}")
        return None
    s = v.strip()
    if not s:
        p.add(field, "must not be empty")
        return None
    if len(s) > max_len:
        p.add(field, f"is {len(s)} characters long; at most {max_len} are allowed")
        return None
    bad = (_BAD_TEXT_CHARS if multiline else _BAD_LINE_CHARS).search(s)
    if bad:
        p.add(field, f"contains the character U+{ord(bad.group()):04X}, which is not allowed (control character or unpaired surrogate)")
        return None
    return s


def _number(v, field: str, p: _Problems, lo: float, hi: float, unit: str = "") -> float | None:
    if not _is_number(v):
        hint = " (write it without quotes)" if isinstance(v, str) else ""
        p.add(field, f"must be a number, not {_what(v)}{hint}")
        return None
    try:
        x = float(v)
    except (OverflowError, ValueError):
        x = math.inf
    if not math.isfinite(x):
        p.add(field, "must be a finite number (NaN and infinity are refused)")
        return None
    if not lo <= x <= hi:
        p.add(field, f"must be between {lo:g} and {hi:g}{unit}, not {x:g}")
        return None
    return x


def _integer(v, field: str, p: _Problems, lo: int, hi: int) -> int | None:
    if not isinstance(v, int) or isinstance(v, bool):
        p.add(field, f"must be a whole number, not {_what(v)}")
        return None
    if not lo <= v <= hi:
        p.add(field, f"must be between {lo} and {hi}")
        return None
    return int(v)


def _aware_datetime(v, field: str, p: _Problems) -> datetime | None:
    """A timezone-aware instant, returned in UTC. YAML gives datetimes itself; JSON and quoted
    YAML give ISO 8601 strings."""
    if isinstance(v, str):
        if len(v) > 64:
            p.add(field, "is too long for an ISO 8601 date-time")
            return None
        if _DATE_ONLY.fullmatch(v.strip()):
            p.add(field, "is a date without a time; give a date-time with its timezone, such as 2026-11-01T00:00:00Z")
            return None
        try:
            v = datetime.fromisoformat(v.strip())
        except ValueError:
            p.add(field, f"is not an ISO 8601 date-time such as 2026-11-01T00:00:00Z: {_short(v)}")
            return None
    elif isinstance(v, datetime):
        pass
    elif isinstance(v, date):
        p.add(field, "is a date without a time; give a date-time with its timezone, such as 2026-11-01T00:00:00Z")
        return None
    else:
        p.add(field, f"must be an ISO 8601 date-time, not {_what(v)}")
        return None
    if v.tzinfo is None or v.utcoffset() is None:
        # A naive time would be read in whichever zone the server runs in; the instant a
        # ceasefire takes effect must not depend on that.
        p.add(field, "has no timezone; add Z (UTC) or an offset such as +02:00")
        return None
    try:
        return v.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        p.add(field, "is out of the representable range")
        return None


def _party(v, field: str, p: _Problems) -> str | None:
    if not isinstance(v, str) or not _PARTY.fullmatch(v):
        p.add(field, f"must be a party code of 3 uppercase letters such as UKR, not {_short(v) if isinstance(v, str) else _what(v)}")
        return None
    return v


def _weapon_class(v, field: str, p: _Problems) -> str | None:
    if isinstance(v, str) and v in WEAPON_CLASSES:
        return v
    p.add(field, f"unknown weapon class {_short(v)}; expected one of: {', '.join(WEAPON_CLASSES)}")
    return None


# ---------------------------------------------------------------------------------------------
# Reading the two files


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader without aliases and without duplicate keys.

    An alias lets a few hundred bytes expand into gigabytes ("billion laughs"); an agreement has
    no need of them, so any alias is refused rather than counted. A duplicate key would silently
    keep the last value (a second ``provisions:`` would drop the first list)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"found the alias *{_short(event.anchor, 40)}; YAML aliases are not allowed in an agreement", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    ident = (key_node.tag, key_node.value)
                    if ident in seen:
                        raise yaml.constructor.ConstructorError(
                            "while constructing a mapping", node.start_mark, f"found the duplicate key {_short(key_node.value, 40)}", key_node.start_mark
                        )
                    seen.add(ident)
        return super().construct_mapping(node, deep=deep)


def _decode(data, name: str, limit: int, p: _Problems) -> str | None:
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = bytes(data)
        if len(data) > limit:
            p.add(name, f"is {len(data):,} bytes; at most {limit:,} are accepted")
            return None
        try:
            # utf-8-sig: editors on Windows prefix a byte-order mark, which json.loads refuses.
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            p.add(name, f"is not valid UTF-8 (invalid byte at offset {e.start}); save it as UTF-8")
            return None
    if isinstance(data, str):
        if len(data) > limit:
            p.add(name, f"is {len(data):,} characters long; at most {limit:,} are accepted")
            return None
        return data.removeprefix("\ufeff")
    p.add(name, f"must be text (str or bytes), not {_what(data)}")
    return None


def _load_yaml(data, p: _Problems):
    text = _decode(data, AGREEMENT_FILE, MAX_AGREEMENT_BYTES, p)
    if text is None:
        return _UNREADABLE
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        p.add(AGREEMENT_FILE, f"is not valid YAML: {e.problem or e.context}{where}")
    except yaml.YAMLError as e:  # unmarked ones, e.g. a NUL character refused by the reader
        p.add(AGREEMENT_FILE, f"is not valid YAML: {_clip(str(e), 200)}")
    except RecursionError:
        p.add(AGREEMENT_FILE, "is nested too deeply to be an agreement")
    except Exception as e:
        # Whatever the parser trips on is a fault of the file: e.g. a 5,000-digit integer or an
        # impossible date such as 2026-02-30 (both ValueError from the constructor).
        p.add(AGREEMENT_FILE, f"could not be read as YAML: {_clip(str(e), 200)}")
    return _UNREADABLE


class _JSONRefused(ValueError):
    pass


def _refuse_constant(name):
    raise _JSONRefused(f"the constant {name} is not JSON (RFC 8259 has no NaN or infinity)")


def _no_duplicate_keys(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise _JSONRefused(f"duplicate key {_short(k, 40)} in one object")
        d[k] = v
    return d


def _load_json(data, p: _Problems):
    if isinstance(data, dict):
        return data
    text = _decode(data, ZONES_FILE, MAX_ZONES_BYTES, p)
    if text is None:
        return _UNREADABLE
    try:
        return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_no_duplicate_keys)
    except _JSONRefused as e:
        p.add(ZONES_FILE, f"is not valid JSON: {e}")
    except json.JSONDecodeError as e:
        p.add(ZONES_FILE, f"is not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})")
    except RecursionError:
        p.add(ZONES_FILE, "is nested too deeply to be GeoJSON")
    except ValueError as e:  # e.g. an integer of more than 4,300 digits
        p.add(ZONES_FILE, f"could not be read as JSON: {_clip(str(e), 200)}")
    return _UNREADABLE


# ---------------------------------------------------------------------------------------------
# agreement.yaml


def _agreement(doc, p: _Problems) -> dict:
    """Checks agreement.yaml; returns the valid values found (missing keys for invalid ones)."""
    out: dict = {}
    if doc is _UNREADABLE:
        return out
    if not isinstance(doc, dict):
        p.add(AGREEMENT_FILE, f"must hold a mapping with the keys {', '.join(AGREEMENT_KEYS)}, not {_what(doc)}")
        return out
    _unknown_keys(doc, AGREEMENT_KEYS, _A, p, "key")
    for key in ("agreement", "version_label", "in_force_from", "sides", "provisions"):
        if key not in doc:
            p.add(_A + key, "is required")

    for key in ("agreement", "version_label"):
        if key in doc:
            out[key] = _string(doc[key], _A + key, p, 200)
    if "in_force_from" in doc:
        out["in_force_from"] = _aware_datetime(doc["in_force_from"], _A + "in_force_from", p)

    if "sides" in doc:
        sides = _mapping(doc["sides"], _A + "sides", p)
        if sides is not None:
            _unknown_keys(sides, ("a", "b"), _A + "sides.", p, "side")
            codes = {}
            for s in ("a", "b"):
                if s not in sides:
                    p.add(f"{_A}sides.{s}", "is required")
                else:
                    codes[s] = _party(sides[s], f"{_A}sides.{s}", p)
            if codes.get("a") and codes.get("a") == codes.get("b"):
                p.add(_A + "sides.b", "must differ from side a")
            elif codes.get("a") and codes.get("b"):
                out["sides"] = (codes["a"], codes["b"])

    out["contact_line_sigma_m"] = 250.0
    if "contact_line_sigma_m" in doc:
        out["contact_line_sigma_m"] = _number(doc["contact_line_sigma_m"], _A + "contact_line_sigma_m", p, 0, 5000, " m")
    out["attribution_threshold"] = 0.8
    if "attribution_threshold" in doc:
        x = _number(doc["attribution_threshold"], _A + "attribution_threshold", p, 0.5, 1)
        # At 0.5 a coin toss would name a party: the rules engine needs strictly more.
        if x == 0.5:
            p.add(_A + "attribution_threshold", "must be above 0.5")
            x = None
        out["attribution_threshold"] = x

    out["withdrawal_bands_km"] = {}
    if "withdrawal_bands_km" in doc:
        bands = _mapping(doc["withdrawal_bands_km"], _A + "withdrawal_bands_km", p)
        if bands is not None:
            for k, v in bands.items():
                field = f"{_A}withdrawal_bands_km.{_seg(k)}"
                cls = _weapon_class(k, field, p)
                km = _number(v, field, p, 1, 300, " km")
                if cls and km is not None:
                    out["withdrawal_bands_km"][cls] = km

    if "provisions" in doc:
        out["provisions"] = _provisions(doc["provisions"], p)
    return out


def _provisions(v, p: _Problems) -> list:
    field = _A + "provisions"
    if not isinstance(v, list):
        p.add(field, f"must be a list of provisions, not {_what(v)}")
        return []
    if not v:
        p.add(field, "must hold at least one provision")
    out, first_seen = [], {}
    for i, item in enumerate(v):
        f = f"{field}[{i}]"
        spec = _provision(item, f, p)
        # Duplicates are looked for among well-formed ids even when something else in the
        # provision is wrong, so that both faults show up in the same run.
        pid = item.get("id") if isinstance(item, dict) else None
        if isinstance(pid, str) and _PROVISION_ID.fullmatch(pid):
            if pid in first_seen:
                p.add(f + ".id", f"duplicate provision id {pid!r} (already used by provisions[{first_seen[pid]}])")
                spec = None
            else:
                first_seen[pid] = i
        out.append(spec)
    return out


def _provision(item, f: str, p: _Problems) -> ProvisionSpec | None:
    if _mapping(item, f, p) is None:
        return None
    _unknown_keys(item, PROVISION_KEYS, f + ".", p, "provision key")
    ok = True
    for key in ("id", "rule_type", "severity", "title", "text"):
        if key not in item:
            p.add(f"{f}.{key}", "is required")
            ok = False

    pid = item.get("id")
    if "id" in item:
        if not isinstance(pid, str):
            # YAML reads an unquoted 2.10 as the number 2.1: refuse rather than guess.
            p.add(f + ".id", f"must be a string, not {_what(pid)}; quote it in YAML (\"2.10\"), since an unquoted 2.10 reads as the number 2.1")
            ok = False
        elif not _PROVISION_ID.fullmatch(pid):
            p.add(f + ".id", f"must be 1 to 20 letters, digits, dots or hyphens, not {_short(pid)}")
            ok = False

    rule_type = item.get("rule_type")
    if "rule_type" in item and not (isinstance(rule_type, str) and rule_type in RULE_TYPES):
        p.add(f + ".rule_type", f"unknown rule type {_short(rule_type)}; expected one of: {', '.join(RULE_TYPES)}")
        ok = False

    severity = None
    if "severity" in item:
        severity = _integer(item["severity"], f + ".severity", p, 1, 5)
        ok = ok and severity is not None

    texts = {}
    for key, max_len in (("title", 200), ("text", 4000)):
        if key in item:
            texts[key] = _languages(item[key], f"{f}.{key}", p, max_len, multiline=key == "text")
            ok = ok and texts[key] is not None

    params = {}
    if "params" in item:
        m = _mapping(item["params"], f + ".params", p)
        if m is None:
            ok = False
        else:
            for k, v in m.items():
                pf = f"{f}.params.{_seg(k)}"
                name = _string(k, pf, p, 64) if isinstance(k, str) else None
                if not isinstance(k, str):
                    p.add(pf, f"a parameter name must be a string, not {_what(k)}")
                elif name is not None and name not in RULE_PARAMS:
                    p.add(pf, f"unknown parameter; known: {', '.join(sorted(RULE_PARAMS))}")
                    name = None
                # Every rule parameter is a probability (rules.PARAMS).
                x = _number(v, pf, p, 0, 1)
                if name is None or x is None:
                    ok = False
                else:
                    params[name] = x
    if not ok:
        return None
    return ProvisionSpec(id=pid, rule_type=rule_type, severity=severity, title=texts["title"], text=texts["text"], params=params)


def _languages(v, field: str, p: _Problems, max_len: int, multiline: bool) -> dict | None:
    m = _mapping(v, field, p)
    if m is None:
        return None
    _unknown_keys(m, LANGUAGES, field + ".", p, "language")
    out = {}
    for lang in LANGUAGES:
        if lang not in m:
            p.add(f"{field}.{lang}", "is required: every provision is authentic in English, French and Ukrainian")
            continue
        s = _string(m[lang], f"{field}.{lang}", p, max_len, multiline=multiline)
        if s is not None:
            out[lang] = s
    return out if len(out) == len(LANGUAGES) and len(m) == len(LANGUAGES) else None


# ---------------------------------------------------------------------------------------------
# zones.geojson


def _count_positions(coords, depth: int, budget: int) -> int:
    """Positions in a coordinates array, counted from the list lengths alone (no position is
    looked at), stopping once past budget: a cheap bound before any per-position work."""
    if depth == 0:
        return 1
    if not isinstance(coords, (list, tuple)):
        return 0
    if depth == 1:
        return len(coords)
    n = 0
    for c in coords:
        n += _count_positions(c, depth - 1, budget - n)
        if n > budget:
            break
    return n


class _PositionFaults:
    """The first faulty position of one geometry and how many there are: one bad import would
    otherwise fill the whole error list with the same complaint."""

    def __init__(self):
        self.first: tuple[str, str] | None = None
        self.count = 0

    def add(self, field: str, message: str) -> None:
        self.count += 1
        if self.first is None:
            self.first = (field, message)


def _position(v, field: str, faults: _PositionFaults):
    if not isinstance(v, (list, tuple)) or len(v) not in (2, 3):
        faults.add(field, f"a position is [longitude, latitude] or [longitude, latitude, altitude], not {_what(v)}" + (f" of {len(v)} numbers" if isinstance(v, (list, tuple)) else ""))
        return None
    xs = []
    for x in v:
        if not _is_number(x):
            faults.add(field, f"coordinates must be numbers, not {_what(x)}")
            return None
        try:
            x = float(x)
        except (OverflowError, ValueError):
            x = math.inf
        if not math.isfinite(x):
            faults.add(field, "coordinates must be finite numbers")
            return None
        xs.append(x)
    lon, lat = xs[0], xs[1]  # any altitude is dropped: zones are drawn on the ground
    if not -180.0 <= lon <= 180.0:
        faults.add(field, f"longitude {lon:g} is outside -180..180 (RFC 7946 positions are [longitude, latitude])")
        return None
    if not -90.0 <= lat <= 90.0:
        faults.add(field, f"latitude {lat:g} is outside -90..90 (RFC 7946 positions are [longitude, latitude])")
        return None
    return [lon, lat]


def _positions(coords, depth: int, field: str, faults: _PositionFaults):
    if depth == 0:
        return _position(coords, field, faults)
    if not isinstance(coords, (list, tuple)):
        faults.add(field, f"must be a list, not {_what(coords)}")
        return None
    out = [_positions(c, depth - 1, f"{field}[{i}]", faults) for i, c in enumerate(coords)]
    return out


def _polygon_rings(rings, field: str, p: _Problems) -> bool:
    if not rings:
        p.add(field, "a polygon needs at least its exterior ring")
        return False
    ok = True
    for i, ring in enumerate(rings):
        if len(ring) < 4:
            p.add(f"{field}[{i}]", f"a ring needs at least 4 positions (a triangle and its closing position), not {len(ring)}")
            ok = False
        elif ring[0] != ring[-1]:
            p.add(f"{field}[{i}]", "the ring is not closed: its last position must repeat its first (RFC 7946 §3.1.6)")
            ok = False
    return ok


def _geometry(g, kind: str | None, field: str, p: _Problems) -> dict | None:
    """The geometry with 2-D float positions, or None after reporting why it is unusable."""
    if g is None:
        p.add(field, "is required: a zone without geometry cannot be checked against")
        return None
    if _mapping(g, field, p) is None:
        return None
    _unknown_keys(g, GEOMETRY_KEYS, field + ".", p, "geometry member")
    gtype = g.get("type")
    allowed = GEOMETRY_TYPES.get(kind, AREA_TYPES) if kind else tuple(_DEPTH)
    if gtype not in allowed:
        p.add(field + ".type", f"a {kind or 'zone'} must be a {' or '.join(allowed)}, not {_short(gtype)}")
        return None
    if "coordinates" not in g:
        p.add(field + ".coordinates", "is required")
        return None
    faults = _PositionFaults()
    coords = _positions(g["coordinates"], _DEPTH[gtype], field + ".coordinates", faults)
    if faults.count:
        fld, msg = faults.first
        more = f" ({faults.count - 1} more faulty positions or arrays in this geometry)" if faults.count > 1 else ""
        p.add(fld, msg + more)
        return None
    cf = field + ".coordinates"
    if gtype == "LineString" and len(coords) < 2:
        p.add(cf, f"a LineString needs at least 2 positions, not {len(coords)}")
        return None
    if gtype == "Polygon" and not _polygon_rings(coords, cf, p):
        return None
    if gtype == "MultiPolygon":
        if not coords:
            p.add(cf, "a MultiPolygon needs at least one polygon")
            return None
        # Every polygon is checked (no short-circuit) so that all faulty rings are reported.
        rings_ok = [_polygon_rings(poly, f"{cf}[{i}]", p) for i, poly in enumerate(coords)]
        if not all(rings_ok):
            return None
    geometry = {"type": gtype, "coordinates": coords}
    if gtype != "Point":
        try:
            shape = shapely.geometry.shape(geometry)
            valid = bool(shapely.is_valid(shape))
            reason = "" if valid else shapely.is_valid_reason(shape)
        except Exception as e:  # GEOS refusing to build a shape is a fault of the input
            valid, reason = False, str(e)
        if not valid:
            p.add(field, f"is not a valid {gtype}: {reason}")
            return None
    return geometry


def _zones(doc, sides: tuple[str, str] | None, p: _Problems) -> list | None:
    """Checks zones.geojson; returns one _Feature per feature, or None if unusable."""
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        p.add(ZONES_FILE, f"must be a GeoJSON FeatureCollection, not {_what(doc) if not isinstance(doc, dict) else 'a mapping of type ' + _short(doc.get('type'))}")
        return None
    _unknown_keys(doc, COLLECTION_KEYS, _Z, p, "member")
    if "crs" in doc:
        crs = doc["crs"]
        name = crs.get("properties", {}).get("name") if isinstance(crs, dict) and isinstance(crs.get("properties"), dict) else None
        if name not in _CRS84:
            p.add(_Z + "crs", "only WGS 84 longitude, latitude (CRS84) is accepted; reproject the file and drop the crs member (RFC 7946 has none)")
    features = doc.get("features")
    if not isinstance(features, list):
        p.add(_Z + "features", f"must be a list of Features, not {_what(features)}")
        return None
    if len(features) > MAX_FEATURES:
        p.add(_Z + "features", f"holds {len(features):,} features; at most {MAX_FEATURES:,} are accepted")
        return None

    # The whole collection's size is bounded before any position is examined.
    total = 0
    for feat in features:
        g = feat.get("geometry") if isinstance(feat, dict) else None
        if isinstance(g, dict) and g.get("type") in _DEPTH:
            total += _count_positions(g.get("coordinates"), _DEPTH[g["type"]], MAX_POSITIONS - total)
        if total > MAX_POSITIONS:
            p.add(_Z + "features", f"hold more than {MAX_POSITIONS:,} positions in total; simplify the geometry (a few metres of tolerance is plenty)")
            return None

    return [_zone(feat, i, sides, p) for i, feat in enumerate(features)]


@dataclass
class _Feature:
    """A feature's kind and party as far as they are valid, kept even when something else in it
    is not, so that "exactly one contact_line" is not misreported because of an unrelated fault."""

    index: int
    kind: str | None = None
    party: str | None = None
    spec: ZoneSpec | None = None


def _zone(feat, i: int, sides, p: _Problems) -> _Feature:
    seen = _Feature(i)
    f = f"{_Z}features[{i}]"
    if not isinstance(feat, dict) or feat.get("type") != "Feature":
        p.add(f, f"must be a GeoJSON Feature, not {_what(feat) if not isinstance(feat, dict) else 'a mapping of type ' + _short(feat.get('type'))}")
        return seen
    _unknown_keys(feat, FEATURE_KEYS, f + ".", p, "feature member")
    props = feat.get("properties")
    pf = f + ".properties"
    if not isinstance(props, dict):
        p.add(pf, f"must be a mapping with at least kind and name, not {_what(props)}")
        _geometry(feat.get("geometry"), None, f + ".geometry", p)
        return seen
    _unknown_keys(props, ZONE_PROPERTY_KEYS, pf + ".", p, "property")
    ok = True

    kind = props.get("kind")
    if "kind" not in props:
        p.add(pf + ".kind", f"is required; one of: {', '.join(ZONE_KINDS)}")
        kind, ok = None, False
    elif not (isinstance(kind, str) and kind in ZONE_KINDS):
        p.add(pf + ".kind", f"unknown zone kind {_short(kind)}; expected one of: {', '.join(ZONE_KINDS)}")
        kind, ok = None, False
    seen.kind = kind

    name = None
    if "name" not in props:
        p.add(pf + ".name", "is required")
    else:
        name = _string(props["name"], pf + ".name", p, 200)
    ok = ok and name is not None

    party = ""
    if "party" in props:
        party = _party(props["party"], pf + ".party", p)
        if party is None:
            ok = False
        elif sides is not None and party not in sides:
            p.add(pf + ".party", f"{party} is not one of the sides ({sides[0]}, {sides[1]})")
            ok = False
        seen.party = party
    elif kind in PARTY_REQUIRED:
        p.add(pf + ".party", f"is required for a zone of kind {kind}: the zone belongs to one side")
        ok = False

    weapon_classes: list = []
    if "weapon_classes" in props:
        wc = props["weapon_classes"]
        if not isinstance(wc, (list, tuple)):
            p.add(pf + ".weapon_classes", f"must be a list of weapon classes, not {_what(wc)}")
            ok = False
        else:
            for j, c in enumerate(wc):
                cls = _weapon_class(c, f"{pf}.weapon_classes[{j}]", p)
                if cls is None:
                    ok = False
                elif cls in weapon_classes:
                    p.add(f"{pf}.weapon_classes[{j}]", f"{cls} is listed twice")
                    ok = False
                else:
                    weapon_classes.append(cls)
    listed = props.get("weapon_classes", ())
    if kind == "withdrawal_band" and isinstance(listed, (list, tuple)) and not listed:
        p.add(pf + ".weapon_classes", "a withdrawal_band needs at least one weapon class: which weapons must leave it")
        ok = False

    when = {}
    for key in ("valid_from", "valid_to"):
        if key in props:
            when[key] = _aware_datetime(props[key], f"{pf}.{key}", p)
            ok = ok and when[key] is not None
        elif kind == "exercise_area":
            p.add(f"{pf}.{key}", "is required for an exercise_area: a declared exercise has a start and an end")
            ok = False
    if when.get("valid_from") and when.get("valid_to") and when["valid_from"] >= when["valid_to"]:
        p.add(pf + ".valid_to", "must be later than valid_from")
        ok = False

    inventory = {}
    if "inventory" in props:
        if kind is not None and kind != "storage_site":
            p.add(pf + ".inventory", "is only for a storage_site")
            ok = False
        else:
            inv = _mapping(props["inventory"], pf + ".inventory", p)
            if inv is None:
                ok = False
            else:
                for k, v in inv.items():
                    kf = f"{pf}.inventory.{_seg(k)}"
                    cls = _weapon_class(k, kf, p)
                    n = _integer(v, kf, p, 0, MAX_INVENTORY)
                    if cls is None or n is None:
                        ok = False
                    else:
                        inventory[cls] = n

    geometry = _geometry(feat.get("geometry"), kind, f + ".geometry", p) if "geometry" in feat else None
    if "geometry" not in feat:
        p.add(f + ".geometry", "is required")
    ok = ok and geometry is not None

    radius = 0.0
    is_point_site = kind == "storage_site" and geometry is not None and geometry["type"] == "Point"
    if "radius_m" in props:
        if kind is not None and kind != "storage_site":
            p.add(pf + ".radius_m", "is only for a storage_site given as a Point")
            ok = False
        elif geometry is not None and geometry["type"] != "Point":
            p.add(pf + ".radius_m", "is only for a storage_site given as a Point; a Polygon already has its extent")
            ok = False
        else:
            radius = _number(props["radius_m"], pf + ".radius_m", p, 10, 20000, " m")
            ok = ok and radius is not None
    elif is_point_site:
        p.add(pf + ".radius_m", "is required for a storage_site given as a Point (10 to 20000 m): the extent of the site")
        ok = False

    if not ok:
        return seen
    seen.spec = ZoneSpec(
        kind=kind,
        name=name,
        geometry=geometry,
        party=party,
        weapon_classes=tuple(weapon_classes),
        valid_from=when.get("valid_from"),
        valid_to=when.get("valid_to"),
        inventory=inventory,
        radius_m=radius or 0.0,
    )
    return seen


def _departure_m(line_geom: dict, area_geom: dict):
    """How far the contact line strays from the held area's boundary: (metres, lon, lat) of the
    worst point found, or None if all of it keeps within CONTACT_LINE_TOLERANCE_M.

    Measured in a transverse Mercator projection centred on the line (scale error ~0.3 % at
    500 km from its centre: nothing against a 5 m tolerance). The test is exact rather than
    sampled: the part of the line outside a 5 m buffer of the boundary must be empty. Only the
    stretch of boundary within 10 m of the line is buffered, so that a held area closed through
    a long rear costs nothing."""
    # Imported here: only a full bundle check needs it, and importing the module stays cheap.
    from pyproj import Transformer

    line = shapely.geometry.shape(line_geom)
    boundary = shapely.geometry.shape(area_geom).boundary
    minx, miny, maxx, maxy = line.bounds
    tm = Transformer.from_crs(
        "EPSG:4326", f"+proj=tmerc +lat_0={(miny + maxy) / 2} +lon_0={(minx + maxx) / 2} +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m", always_xy=True
    )

    def fwd(xy):
        x, y = tm.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    line_m = shapely.transform(line, fwd)
    boundary_m = shapely.transform(boundary, fwd)
    if not (np.isfinite(shapely.get_coordinates(line_m)).all() and np.isfinite(shapely.get_coordinates(boundary_m)).all()):
        lon, lat = line_geom["coordinates"][0]
        return math.inf, lon, lat
    tol = CONTACT_LINE_TOLERANCE_M
    # Any boundary point within tol of the line lies within 2·tol of it, whatever the polygonal
    # approximation of the round joins (at most 0.8 m inward for the clip, 0.1 m for the test).
    near = shapely.intersection(boundary_m, shapely.buffer(line_m, 2 * tol, quad_segs=2))
    stray = shapely.difference(line_m, shapely.buffer(near, tol, quad_segs=4))
    if stray.is_empty or stray.length < 1e-6:
        return None
    # The message wants a distance and a place: measure up to ~2,000 points of the stray part.
    samples = shapely.get_coordinates(shapely.segmentize(stray, max(1.0, stray.length / 2000)))
    segments = []
    for part in shapely.get_parts(boundary_m):
        c = shapely.get_coordinates(part)
        seg = np.stack([c[:-1], c[1:]], axis=1)
        segments.append(seg[np.any(seg[:, 0] != seg[:, 1], axis=1)])
    segs = np.concatenate(segments) if segments else np.empty((0, 2, 2))
    if not len(segs):
        lon, lat = tm.transform(samples[0, 0], samples[0, 1], direction="INVERSE")
        return math.inf, float(lon), float(lat)
    tree = shapely.STRtree(shapely.linestrings(segs))
    idx, d = tree.query_nearest(shapely.points(samples), return_distance=True, all_matches=False)
    dist = np.full(len(samples), np.inf)
    dist[idx[0]] = d
    worst = int(np.argmax(dist))
    lon, lat = tm.transform(samples[worst, 0], samples[worst, 1], direction="INVERSE")
    return float(dist[worst]), float(lon), float(lat)


def _cross_checks(zones: list[_Feature], sides, p: _Problems) -> None:
    lines = [z for z in zones if z.kind == "contact_line"]
    if not lines:
        p.add(_Z + "features", "no contact_line: exactly one LineString feature of kind contact_line is required")
    for z in lines[1:]:
        p.add(f"{_Z}features[{z.index}].properties.kind", f"a second contact_line (the first is features[{lines[0].index}]); exactly one is required")
    if sides is None:
        return
    held = [z for z in zones if z.kind == "held_area" and z.party == sides[0]]
    if not held and not any(z.kind == "held_area" and z.party is None for z in zones):
        p.add(_Z + "features", f"no held_area of side a ({sides[0]}): exactly one is required, bounded by the contact line")
    for z in held[1:]:
        p.add(f"{_Z}features[{z.index}].properties.party", f"a second held_area of side a {sides[0]} (the first is features[{held[0].index}]); merge them into one MultiPolygon")
    if len(lines) == 1 and len(held) == 1 and lines[0].spec is not None and held[0].spec is not None:
        li, line, hi, area = lines[0].index, lines[0].spec, held[0].index, held[0].spec
        try:
            off = _departure_m(line.geometry, area.geometry)
        except Exception:
            # Degenerate input the projection or GEOS cannot take still counts as "not on the
            # boundary"; it must not escape as another exception type.
            off = (math.inf, *line.geometry["coordinates"][0])
        if off is not None:
            metres, lon, lat = off
            amount = "an unmeasurable distance" if not math.isfinite(metres) else f"{metres:,.0f} m"
            p.add(
                f"{_Z}features[{li}].geometry",
                f"the contact line must lie on the boundary of the held_area of {sides[0]} (features[{hi}]) within "
                f"{CONTACT_LINE_TOLERANCE_M:g} m, but departs from it by {amount} near longitude {lon:.5f}, latitude {lat:.5f}. "
                "To fix it, build the held_area from the contact line itself: its exterior ring should run along the "
                "line's own positions and close through the rear of the held side (or redraw the line along the "
                "held_area's edge); both must come from the same vertices, not two separate drawings.",
            )


# ---------------------------------------------------------------------------------------------
# Entry points


def parse(agreement_yaml: str | bytes, zones_geojson: str | bytes | dict) -> Bundle:
    """Parses and checks a bundle. Raises BundleError listing every problem found in both files
    (up to MAX_ERRORS); nothing else escapes for any input."""
    p = _Problems()
    try:
        a = _agreement(_load_yaml(agreement_yaml, p), p)
        sides = a.get("sides")
        zones_doc = _load_json(zones_geojson, p)
        zones = _zones(zones_doc, sides, p) if zones_doc is not _UNREADABLE else None
        if zones is not None:
            _cross_checks(zones, sides, p)
    except _Stop:
        raise BundleError(p.items, truncated=True) from None
    except RecursionError:
        # A hand-built dict nested deeper than any check expects (JSON and YAML text are caught
        # at their parsers).
        raise BundleError(p.items[: MAX_ERRORS - 1] + [{"field": ZONES_FILE, "message": "is nested too deeply"}]) from None
    if p.items:
        raise BundleError(p.items)
    side_a, side_b = a["sides"]
    return Bundle(
        agreement=a["agreement"],
        version_label=a["version_label"],
        in_force_from=a["in_force_from"],
        side_a=side_a,
        side_b=side_b,
        contact_line_sigma_m=a["contact_line_sigma_m"],
        attribution_threshold=a["attribution_threshold"],
        withdrawal_bands_km=a["withdrawal_bands_km"],
        provisions=tuple(a["provisions"]),
        zones=tuple(z.spec for z in zones),
    )


def _read(directory: Path, name: str, limit: int, p: _Problems) -> bytes | None:
    path = directory / name
    try:
        st = os.stat(path)
    except FileNotFoundError:
        p.add(name, f"is missing from {directory}")
        return None
    except (OSError, ValueError) as e:
        p.add(name, f"cannot be read: {getattr(e, 'strerror', None) or e}")
        return None
    if not stat.S_ISREG(st.st_mode):
        # A FIFO or device would block or never end; only regular files are read.
        p.add(name, "is not a regular file")
        return None
    if st.st_size > limit:
        p.add(name, f"is {st.st_size:,} bytes; at most {limit:,} are accepted")
        return None
    try:
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)  # the file may have grown since stat
    except OSError as e:
        p.add(name, f"cannot be read: {getattr(e, 'strerror', None) or e}")
        return None
    if len(data) > limit:
        p.add(name, f"is more than {limit:,} bytes; at most {limit:,} are accepted")
        return None
    return data


def load_dir(path) -> Bundle:
    """Reads DIR/agreement.yaml and DIR/zones.geojson and parses them. A missing, oversized or
    unreadable file is a BundleError naming it; sizes are checked before anything is read."""
    p = _Problems()
    try:
        directory = Path(os.fspath(path))
    except TypeError:
        raise BundleError([{"field": "bundle", "message": f"the bundle path must be a path, not {_what(path)}"}]) from None
    try:
        is_dir = directory.is_dir()
    except (OSError, ValueError):  # e.g. a name too long, or with a NUL byte
        is_dir = False
    if not is_dir:
        raise BundleError([{"field": "bundle", "message": f"{directory} is not a directory holding {AGREEMENT_FILE} and {ZONES_FILE}"}])
    agreement = _read(directory, AGREEMENT_FILE, MAX_AGREEMENT_BYTES, p)
    zones = _read(directory, ZONES_FILE, MAX_ZONES_BYTES, p)
    if p.items:
        raise BundleError(p.items)
    return parse(agreement, zones)
