"""Reading observation files (CSV, GeoJSON, JSON Lines) into intake payloads, row by row.

Parsers of outside data: they never trust the file. Each row yields (line, payload) or
(line, error); the caller validates with the same schema as the API and writes nothing unless
every row is valid (all-or-nothing, like the API's bulk path).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

# Fields the server adds to exported features; ignored on import so exports re-import.
SERVER_FIELDS = {"indicative_radius_m", "received_at", "incident_id", "id"}

CSV_COLUMNS = (
    "client_id", "channel", "observer_lat", "observer_lon", "observer_accuracy_m", "observed_from", "observed_to",
    "event_type", "perception", "count", "weapon_class", "event_lat", "event_lon", "event_error_m", "bearing_deg",
    "bearing_sigma_deg", "compass_sector", "range_min_m", "range_max_m", "narrative", "attachments", "source", "grade",
    "chain", "classification", "tlp", "releasable_to", "originator",
)  # fmt: skip
MAX_FIELD = 64 * 1024


class RowError(Exception):
    pass


def detect_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".geojson", ".json")):
        return "geojson"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    raise RowError(f"cannot tell the format of {path.name}: use .csv, .geojson or .jsonl, or --format")


def read(path: Path, fmt: str | None = None) -> Iterator[tuple[int, dict | RowError]]:
    fmt = fmt or detect_format(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield 1 + raw[: exc.start].count(b"\n"), RowError("not UTF-8 text")
        return
    if "\x00" in text:
        yield 1 + text[: text.index("\x00")].count("\n"), RowError("NUL character in file")
        return
    yield from {"csv": _csv, "geojson": _geojson, "jsonl": _jsonl}[fmt](text)


def _num(value: str, column: str):
    try:
        return float(value)
    except ValueError:
        raise RowError(f"{column}: not a number: {value[:40]!r}") from None


def csv_row_to_payload(row: dict) -> dict:
    """One flat CSV row (columns CSV_COLUMNS) to the nested API payload."""
    g = {k: (v.strip() if isinstance(v, str) else v) for k, v in row.items() if k is not None}
    extra = [k for k in g if k not in CSV_COLUMNS]
    if extra:
        raise RowError(f"unknown column(s): {', '.join(sorted(extra))}")
    get = lambda k: g.get(k) or None  # noqa: E731 - empty cells are absent values
    p: dict = {
        "client_id": get("client_id"),
        "channel": get("channel"),
        "observer": {
            "lat": _num(g["observer_lat"], "observer_lat") if get("observer_lat") else None,
            "lon": _num(g["observer_lon"], "observer_lon") if get("observer_lon") else None,
            "accuracy_m": _num(g["observer_accuracy_m"], "observer_accuracy_m") if get("observer_accuracy_m") else 0.0,
        },
        "observed_from": get("observed_from"),
        "observed_to": get("observed_to") or get("observed_from"),
        "event_type": get("event_type"),
        "perception": get("perception"),
        "source": get("source"),
        "grade": get("grade"),
    }
    for key, col in (("count", "count"), ("weapon_class", "weapon_class"), ("narrative", "narrative")):
        if get(col):
            p[key] = g[col]
    if get("event_lat") or get("event_lon"):
        p["location"] = {
            "lat": _num(g.get("event_lat") or "", "event_lat"),
            "lon": _num(g.get("event_lon") or "", "event_lon"),
            "error_m": _num(g["event_error_m"], "event_error_m") if get("event_error_m") else 0.0,
        }
    if get("bearing_deg") or get("compass_sector"):
        p["direction"] = {
            "bearing_deg": _num(g["bearing_deg"], "bearing_deg") if get("bearing_deg") else None,
            "bearing_sigma_deg": _num(g["bearing_sigma_deg"], "bearing_sigma_deg") if get("bearing_sigma_deg") else None,
            "compass_sector": get("compass_sector"),
            "range_min_m": _num(g["range_min_m"], "range_min_m") if get("range_min_m") else None,
            "range_max_m": _num(g["range_max_m"], "range_max_m") if get("range_max_m") else None,
        }
    if get("attachments"):
        p["attachments"] = g["attachments"].split()
    if get("chain"):
        p["chain"] = [c.strip() for c in g["chain"].split(">") if c.strip()]
    marking = {}
    for col in ("classification", "tlp", "originator"):
        if get(col):
            marking[col] = g[col]
    if get("releasable_to"):
        marking["releasable_to"] = [c for c in g["releasable_to"].replace(",", " ").split() if c]
    if marking:
        p["marking"] = marking
    return p


def _csv(text: str):
    # The limit is process-wide: restore the caller's value once the file is read.
    previous = csv.field_size_limit(MAX_FIELD)
    try:
        yield from _csv_rows(text)
    finally:
        csv.field_size_limit(previous)


def _csv_rows(text: str):
    # Line numbers must point at where a record starts: a quoted narrative may span several
    # physical lines, and blank lines are skipped, so the reader's line_num (the line where a
    # record ends) is not it. Track the first non-blank line fed to the reader per record.
    at = {"line": 0, "start": None}

    def lines():
        for line in io.StringIO(text, newline=""):
            at["line"] += 1
            if at["start"] is None and line.strip("\r\n"):
                at["start"] = at["line"]
            yield line

    reader = csv.DictReader(lines(), strict=True)
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        yield 1, RowError(f"malformed CSV header: {exc}")
        return
    if not header:
        yield 1, RowError("empty file")
        return
    header_line = at["start"] or 1
    missing = [c for c in ("client_id", "channel", "observer_lat", "observer_lon", "observed_from", "event_type", "perception", "source", "grade") if c not in header]
    if missing:
        yield header_line, RowError(f"missing column(s): {', '.join(missing)}")
        return
    # Checked once on the header, not per row: a misspelt column would otherwise repeat the
    # same error on every line, and a file with no rows would pass silently. A repeated column
    # would silently keep only its last cell.
    unknown = sorted({c for c in header if c not in CSV_COLUMNS})
    if unknown:
        yield header_line, RowError(f"unknown column(s): {', '.join(unknown)}")
        return
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        yield header_line, RowError(f"repeated column(s): {', '.join(repeated)}")
        return
    while True:
        at["start"] = None
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield at["start"] or at["line"], RowError(f"malformed CSV: {exc}")
            return
        line = at["start"] or reader.line_num
        if None in row:
            yield line, RowError("more cells than header columns")
            continue
        try:
            yield line, csv_row_to_payload(row)
        except RowError as exc:
            yield line, exc


def _strip_server_fields(props: dict) -> dict:
    return {k: v for k, v in props.items() if k not in SERVER_FIELDS}


def _geojson(text: str):
    try:
        doc = json.loads(text, parse_constant=_no_constants)
    except ValueError as exc:
        yield getattr(exc, "lineno", 1), RowError(f"malformed JSON: {exc}")
        return
    except RecursionError:
        # Thousands of nested brackets exhaust the parser's stack: malformed, not a crash.
        yield 1, RowError("malformed JSON: nested too deeply")
        return
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"), list):
        yield 1, RowError("expected a GeoJSON FeatureCollection")
        return
    for n, feat in enumerate(doc["features"], start=1):
        # GeoJSON has no line numbers per feature; report the feature's position instead.
        if not isinstance(feat, dict) or not isinstance(feat.get("properties"), dict):
            yield n, RowError(f"feature {n}: not a Feature with properties")
            continue
        yield n, _strip_server_fields(feat["properties"])


def _jsonl(text: str):
    # Records end at "\n" only (JSON Lines). str.splitlines() would also split at U+2028,
    # U+2029 and U+0085, which JSON allows unescaped inside strings, e.g. in a narrative.
    for n, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            obj = json.loads(line, parse_constant=_no_constants)
        except ValueError as exc:
            yield n, RowError(f"malformed JSON: {exc}")
            continue
        except RecursionError:
            yield n, RowError("malformed JSON: nested too deeply")
            continue
        if not isinstance(obj, dict):
            yield n, RowError("each line must be a JSON object")
            continue
        yield n, _strip_server_fields(obj)


def _no_constants(name):
    raise ValueError(f"{name} is not valid JSON")
