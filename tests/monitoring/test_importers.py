"""Observation files from outside: `importers.read()` and `resolute import`, fed hostile input.

An import is all or nothing: any bad row means the command exits 1, prints each bad row with
its line (or feature) number, and stores nothing. A clean file exits 0; importing it again
stores nothing new.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from resolute import cli
from resolute.audit.models import AuditEntry
from resolute.monitoring import importers
from resolute.monitoring.importers import CSV_COLUMNS, RowError
from resolute.monitoring.models import Observation
from tests.conftest import observation

pytestmark = [pytest.mark.django_db, pytest.mark.db_backends]

NARRATIVE = 'heard 3 impacts, then "silence";\nsecond line, with commas\n  and a third "quoted" line'
FORMULA = "=cmd|' /C calc'!A0"


def row(**over) -> dict:
    """One CSV row with every column: a compass-sector report unless overridden."""
    r = {
        "client_id": "", "channel": "observation_post", "observer_lat": "47.6", "observer_lon": "35.8",
        "observer_accuracy_m": "10", "observed_from": "2025-03-01T21:40:00Z", "observed_to": "2025-03-01T21:52:00Z",
        "event_type": "explosion_impact", "perception": "heard", "count": "3", "weapon_class": "artillery_100mm_plus",
        "event_lat": "", "event_lon": "", "event_error_m": "", "bearing_deg": "", "bearing_sigma_deg": "",
        "compass_sector": "SSE", "range_min_m": "1400", "range_max_m": "1600", "narrative": "heard 3 impacts",
        "attachments": "", "source": "OP-UKR-01", "grade": "B2", "chain": "OP-UKR-01 > HQ-FRA",
        "classification": "RESTRICTED", "tlp": "AMBER", "releasable_to": "FRA,USA", "originator": "FRA",
    }  # fmt: skip
    r.update(over)
    return r


def uid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def write_csv(path: Path, rows: list[dict], columns=CSV_COLUMNS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns))
        w.writeheader()
        w.writerows(rows)
    return path


def run_import(path: Path, capsys, *extra: str) -> tuple[int, str]:
    code = cli.main(["import", str(path), *extra])
    captured = capsys.readouterr()
    # Rich wraps long lines at the console width; compare words, not line breaks.
    return code, " ".join((captured.out + captured.err).split())


def read_all(path: Path, fmt: str | None = None) -> list[tuple[int, dict | RowError]]:
    return list(importers.read(path, fmt))


def errors_of(rows) -> list[tuple[int, str]]:
    return [(line, str(p)) for line, p in rows if isinstance(p, RowError)]


# --------------------------------------------------------------------------------- CSV


def test_valid_csv_with_sector_bearing_and_point_rows_imports_all(tmp_path, source, capsys):
    rows = [
        row(client_id=uid(1), narrative=NARRATIVE),
        row(client_id=uid(2), compass_sector="", bearing_deg="135.5", bearing_sigma_deg="4", range_min_m="", range_max_m="",
            attachments="a" * 64 + " " + "b" * 64),
        row(client_id=uid(3), compass_sector="", range_min_m="", range_max_m="", event_lat="47.59", event_lon="35.81",
            event_error_m="300", perception="seen", narrative=FORMULA),
    ]  # fmt: skip
    code, out = run_import(write_csv(tmp_path / "obs.csv", rows), capsys)
    assert code == 0, out
    assert "imported 3 new observation(s); 0 already stored" in out

    sector, bearing, point = (Observation.objects.get(client_id=uid(n)) for n in (1, 2, 3))
    assert sector.compass_sector == "SSE" and sector.bearing_deg is None and (sector.range_min_m, sector.range_max_m) == (1400, 1600)
    assert sector.narrative == NARRATIVE  # commas, quotes and line breaks survive
    assert sector.chain == ["OP-UKR-01", "HQ-FRA"] and sector.releasable_to == "|FRA|USA|"
    assert bearing.bearing_deg == 135.5 and bearing.bearing_sigma_deg == 4 and bearing.compass_sector is None
    assert bearing.attachments == ["a" * 64, "b" * 64]
    assert (point.event_lat, point.event_lon, point.event_error_m) == (47.59, 35.81, 300)
    # A spreadsheet formula is data: stored exactly as written, never evaluated or altered.
    assert point.narrative == FORMULA
    assert set(Observation.objects.values_list("intake", flat=True)) == {"import"}


def test_importing_the_same_file_twice_stores_nothing_new(tmp_path, source, capsys):
    path = write_csv(tmp_path / "obs.csv", [row(client_id=uid(n)) for n in range(1, 4)])
    assert run_import(path, capsys)[0] == 0
    audits = AuditEntry.objects.filter(action="observation.submit").count()
    code, out = run_import(path, capsys)
    assert code == 0
    assert "imported 0 new observation(s); 3 already stored" in out
    assert Observation.objects.count() == 3
    assert AuditEntry.objects.filter(action="observation.submit").count() == audits


def test_bad_row_in_the_middle_names_its_line_and_imports_nothing(tmp_path, source, capsys):
    rows = [
        row(client_id=uid(1)),
        row(client_id=uid(2), narrative="spans\nthree\nlines"),  # lines 3-5
        row(client_id=uid(3), observer_lat="forty-seven"),  # line 6
        row(client_id=uid(4), grade="Z9"),  # line 7
        row(client_id=uid(5)),
    ]
    path = write_csv(tmp_path / "obs.csv", rows)
    assert errors_of(read_all(path)) == [(6, "observer_lat: not a number: 'forty-seven'")]
    code, out = run_import(path, capsys)
    assert code == 1
    assert "obs.csv:line 6: (row): observer_lat: not a number" in out
    assert "obs.csv:line 7: grade:" in out
    assert "2 error(s); nothing was imported" in out
    assert Observation.objects.count() == 0


def test_a_bad_multi_line_row_is_reported_at_its_first_line(tmp_path, source):
    rows = [row(client_id=uid(1)), row(client_id=uid(2), narrative="one\ntwo\nthree", count="lots")]
    path = write_csv(tmp_path / "obs.csv", rows)
    lines = [line for line, _ in read_all(path)]
    assert lines == [2, 3]


def test_blank_lines_do_not_shift_line_numbers(tmp_path):
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerow(row(client_id=uid(1)))
    buf.write("\n\n")
    w.writerow(row(client_id=uid(2)))
    path = tmp_path / "obs.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    assert [line for line, _ in read_all(path)] == [2, 5]


def test_missing_required_column_is_refused(tmp_path, source, capsys):
    columns = [c for c in CSV_COLUMNS if c != "grade"]
    path = write_csv(tmp_path / "obs.csv", [{k: v for k, v in row(client_id=uid(1)).items() if k != "grade"}], columns)
    assert errors_of(read_all(path)) == [(1, "missing column(s): grade")]
    code, out = run_import(path, capsys)
    assert code == 1 and "missing column(s): grade" in out
    assert Observation.objects.count() == 0


@pytest.mark.parametrize("rows", [[row(client_id=uid(1), colour="red")], []], ids=["with rows", "header only"])
def test_unknown_column_is_refused_once_at_the_header(tmp_path, source, capsys, rows):
    path = write_csv(tmp_path / "obs.csv", rows, [*CSV_COLUMNS, "colour"])
    assert errors_of(read_all(path)) == [(1, "unknown column(s): colour")]
    code, out = run_import(path, capsys)
    assert code == 1 and Observation.objects.count() == 0


def test_repeated_column_is_refused(tmp_path):
    # csv.DictReader would silently keep only the last of two 'narrative' cells.
    path = tmp_path / "obs.csv"
    path.write_text(",".join([*CSV_COLUMNS, "narrative"]) + "\n", encoding="utf-8")
    assert errors_of(read_all(path)) == [(1, "repeated column(s): narrative")]


def test_more_cells_than_header_columns_is_a_row_error(tmp_path, source, capsys):
    path = write_csv(tmp_path / "obs.csv", [row(client_id=uid(1)), row(client_id=uid(2))])
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] += ",surplus"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert errors_of(read_all(path)) == [(3, "more cells than header columns")]
    code, _ = run_import(path, capsys)
    assert code == 1 and Observation.objects.count() == 0


def test_a_100_kb_field_is_refused_without_changing_the_csv_limit(tmp_path, source, capsys):
    # Some other code in the process allows big fields; the importer applies its own limit
    # and, the limit being process-wide, must leave the other one as it was.
    previous = csv.field_size_limit(1_000_000)
    try:
        path = write_csv(tmp_path / "obs.csv", [row(client_id=uid(1)), row(client_id=uid(2), narrative="x" * 100_000)])
        errs = errors_of(read_all(path))
        assert len(errs) == 1 and errs[0][0] == 3 and "field larger than field limit" in errs[0][1]
        assert csv.field_size_limit() == 1_000_000
    finally:
        csv.field_size_limit(previous)
    code, _ = run_import(path, capsys)
    assert code == 1 and Observation.objects.count() == 0


def test_nul_byte_is_refused_with_its_line(tmp_path, source, capsys):
    path = write_csv(tmp_path / "obs.csv", [row(client_id=uid(1)), row(client_id=uid(2), narrative="a\x00b")])
    assert errors_of(read_all(path)) == [(3, "NUL character in file")]
    code, out = run_import(path, capsys)
    assert code == 1 and "line 3" in out and Observation.objects.count() == 0


def test_invalid_utf8_is_refused_with_its_line(tmp_path, source, capsys):
    path = write_csv(tmp_path / "obs.csv", [row(client_id=uid(1)), row(client_id=uid(2), narrative="café")])
    path.write_bytes(path.read_bytes().replace("café".encode(), b"caf\xe9"))  # Latin-1, not UTF-8
    assert errors_of(read_all(path)) == [(3, "not UTF-8 text")]
    code, out = run_import(path, capsys)
    assert code == 1 and "not UTF-8" in out and Observation.objects.count() == 0


def test_byte_order_mark_is_ignored(tmp_path, source, capsys):
    path = write_csv(tmp_path / "obs.csv", [row(client_id=uid(1))])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # as Excel saves 'CSV UTF-8'
    code, out = run_import(path, capsys)
    assert code == 0, out
    assert Observation.objects.filter(client_id=uid(1)).exists()


def test_empty_file_is_an_error(tmp_path, source, capsys):
    path = tmp_path / "obs.csv"
    path.write_bytes(b"")
    assert errors_of(read_all(path)) == [(1, "empty file")]
    code, out = run_import(path, capsys)
    assert code == 1 and "empty file" in out


def test_header_only_file_imports_nothing(tmp_path, source, capsys):
    path = write_csv(tmp_path / "obs.csv", [])
    assert read_all(path) == []
    code, out = run_import(path, capsys)
    assert code == 0 and "imported 0 new observation(s)" in out
    assert Observation.objects.count() == 0


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity", "1e999"])
def test_non_finite_numbers_are_refused(tmp_path, source, capsys, value):
    path = write_csv(tmp_path / "obs.csv", [row(client_id=uid(1), observer_lat=value)])
    code, out = run_import(path, capsys)
    assert code == 1 and "line 2: observer.lat" in out
    assert Observation.objects.count() == 0


def test_unknown_format_is_refused(tmp_path, source, capsys):
    path = tmp_path / "obs.xlsx"
    path.write_bytes(b"PK\x03\x04")
    code, out = run_import(path, capsys)
    assert code == 2 and "cannot tell the format" in out


# ----------------------------------------------------------------------------- GeoJSON


def feature_collection(*payloads) -> dict:
    return {
        "type": "FeatureCollection",
        "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [35.8, 47.6]}, "properties": p} for p in payloads],
    }


def test_geojson_feature_collection_imports(tmp_path, source, capsys):
    items = [observation(), observation(direction=None, location={"lat": 47.59, "lon": 35.81, "error_m": 300})]
    path = tmp_path / "obs.geojson"
    path.write_text(json.dumps(feature_collection(*items)), encoding="utf-8")
    code, out = run_import(path, capsys)
    assert code == 0, out
    assert sorted(str(c) for c in Observation.objects.values_list("client_id", flat=True)) == sorted(p["client_id"] for p in items)


@pytest.mark.parametrize(
    "doc",
    [
        {"type": "Feature", "geometry": None, "properties": {}},
        [{"type": "Feature", "properties": {}}],
        {"type": "FeatureCollection", "features": {"0": {}}},
        {"type": "FeatureCollection"},
    ],
    ids=["a single feature", "a bare list", "features not a list", "no features"],
)
def test_geojson_that_is_not_a_feature_collection_is_refused(tmp_path, source, capsys, doc):
    path = tmp_path / "obs.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert errors_of(read_all(path)) == [(1, "expected a GeoJSON FeatureCollection")]
    code, _ = run_import(path, capsys)
    assert code == 1 and Observation.objects.count() == 0


def test_geojson_feature_without_properties_is_named(tmp_path, source, capsys):
    doc = feature_collection(observation(), observation())
    del doc["features"][1]["properties"]
    path = tmp_path / "obs.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    code, out = run_import(path, capsys)
    assert code == 1
    assert "obs.geojson:feature 2: (row): feature 2: not a Feature with properties" in out
    assert Observation.objects.count() == 0


def test_geojson_export_of_the_api_reimports_as_already_stored(tmp_path, api, tokens, source, capsys):
    items = [
        observation(),
        observation(direction={"bearing_deg": 135.0, "bearing_sigma_deg": 5.0, "range_min_m": 800, "range_max_m": 1200}),
        observation(direction=None, location={"lat": 47.59, "lon": 35.81, "error_m": 300}, attachments=["c" * 64]),
    ]
    assert api.post("/api/v1/observations", items, tokens["monitor"]).status_code == 201
    export = api.get("/api/v1/observations", tokens["monitor"])
    assert export.status_code == 200 and len(export.json()["features"]) == 3
    path = tmp_path / "export.geojson"
    path.write_bytes(export.content)
    code, out = run_import(path, capsys)
    assert code == 0, out
    assert "imported 0 new observation(s); 3 already stored" in out
    assert Observation.objects.count() == 3


def test_geojson_nested_too_deeply_is_an_error_not_a_crash(tmp_path, source, capsys):
    path = tmp_path / "obs.geojson"
    path.write_text("[" * 100_000, encoding="utf-8")
    assert errors_of(read_all(path)) == [(1, "malformed JSON: nested too deeply")]
    code, _ = run_import(path, capsys)
    assert code == 1


def test_geojson_malformed_names_the_line(tmp_path):
    path = tmp_path / "obs.geojson"
    path.write_text('{"type": "FeatureCollection",\n "features": [\n  {,}\n]}', encoding="utf-8")
    (line, err), = read_all(path)
    assert line == 3 and str(err).startswith("malformed JSON")


# -------------------------------------------------------------------------- JSON Lines


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_jsonl_skips_blank_lines_and_counts_them(tmp_path, source, capsys):
    a, b = observation(), observation()
    path = write_jsonl(tmp_path / "obs.jsonl", [json.dumps(a), "", "   ", json.dumps(b)])
    assert [line for line, _ in read_all(path)] == [1, 4]
    code, out = run_import(path, capsys)
    assert code == 0, out
    assert Observation.objects.count() == 2


def test_jsonl_crlf_line_endings(tmp_path, source, capsys):
    path = tmp_path / "obs.jsonl"
    path.write_bytes(b"\r\n".join(json.dumps(observation()).encode() for _ in range(2)) + b"\r\n")
    code, out = run_import(path, capsys)
    assert code == 0, out
    assert Observation.objects.count() == 2


def test_jsonl_line_separator_inside_a_string_is_not_a_line_break(tmp_path, source, capsys):
    # JSON allows U+2028, U+2029 and U+0085 unescaped inside strings.
    narrative = "first part\u2028second part\u2029third\x85fourth"
    p = observation(narrative=narrative)
    path = write_jsonl(tmp_path / "obs.jsonl", [json.dumps(p, ensure_ascii=False), json.dumps(observation())])
    code, out = run_import(path, capsys)
    assert code == 0, out
    assert Observation.objects.get(client_id=p["client_id"]).narrative == narrative


@pytest.mark.parametrize(
    "bad, message",
    [
        ("[1, 2, 3]", "each line must be a JSON object"),
        ('"a string"', "each line must be a JSON object"),
        ('{"client_id": ', "malformed JSON"),
        ('{"count": NaN}', "malformed JSON: NaN is not valid JSON"),
        ("[" * 50_000, "malformed JSON: nested too deeply"),
    ],
    ids=["array", "string", "truncated", "NaN", "deep"],
)
def test_jsonl_bad_line_is_named_and_nothing_is_imported(tmp_path, source, capsys, bad, message):
    path = write_jsonl(tmp_path / "obs.jsonl", [json.dumps(observation()), "", bad, json.dumps(observation())])
    errs = errors_of(read_all(path))
    assert len(errs) == 1 and errs[0][0] == 3 and errs[0][1].startswith(message)
    code, out = run_import(path, capsys)
    assert code == 1 and "obs.jsonl:line 3: (row): " + message in out
    assert Observation.objects.count() == 0


@pytest.mark.parametrize("change", [{"chain": ["\udfff"]}, {"narrative": "\ud800"}, {"source": "OP\udc00"}], ids=["chain", "narrative", "source"])
def test_jsonl_lone_surrogate_escape_is_refused_not_a_crash(tmp_path, source, capsys, change):
    # json.dumps writes the escape "\\udfff", which json.loads turns into a lone surrogate:
    # not text, and not encodable for the content hash or the database.
    code, out = run_import(write_jsonl(tmp_path / "obs.jsonl", [json.dumps(observation(**change))]), capsys)
    assert code == 1 and f"obs.jsonl:line 1: {next(iter(change))}" in out
    assert Observation.objects.count() == 0


def test_jsonl_schema_errors_name_line_and_field(tmp_path, source, capsys):
    lines = [json.dumps(observation()), json.dumps(observation(count=0)), json.dumps(observation(colour="red"))]
    code, out = run_import(write_jsonl(tmp_path / "obs.jsonl", lines), capsys)
    assert code == 1
    assert "obs.jsonl:line 2: count:" in out and "obs.jsonl:line 3: colour:" in out
    assert Observation.objects.count() == 0


def test_server_fields_of_an_export_are_ignored(tmp_path, source, capsys):
    p = observation(id=5, received_at="2025-01-01T00:00:00Z", incident_id=None, indicative_radius_m=100.0)
    code, out = run_import(write_jsonl(tmp_path / "obs.jsonl", [json.dumps(p)]), capsys)
    assert code == 0, out
    assert Observation.objects.count() == 1


# ----------------------------------------------------------- known CLI reporting gaps (cli.py)


def test_unknown_source_is_reported_with_its_line(tmp_path, source, capsys):
    path = write_csv(tmp_path / "obs.csv", [row(client_id=uid(1)), row(client_id=uid(2), source="NOPE")])
    code, out = run_import(path, capsys)
    assert code == 1 and Observation.objects.count() == 0
    assert "line 3" in out


def test_square_brackets_in_a_bad_cell_do_not_crash_the_report(tmp_path, source, capsys):
    path = write_csv(tmp_path / "obs.csv", [row(client_id=uid(1), observer_lat="[/]")])
    code, out = run_import(path, capsys)
    assert code == 1 and "[/]" in out
