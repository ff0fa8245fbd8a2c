"""The ACLED and UCDP GED importers: `parse()` on small files written in each dataset's layout,
with the quirks real files have, every mapping table, every refusal, and hostile input.

All or nothing: parse returns every observation (each valid under ObservationIn) or raises
ImportRowsError listing every problem with its line and column; it never raises anything else,
whatever the bytes. Rows of kinds the monitoring vocabulary does not cover are skipped and
counted, not refused.
"""

from __future__ import annotations

import ast
import csv
import datetime as dt
import io
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resolute.interop import acled, ucdp
from resolute.interop.acled import ImportRowsError
from resolute.monitoring.schemas import ObservationIn

TODAY = dt.datetime.now(dt.UTC).date()

# ---------------------------------------------------------------------------- file makers

ACLED_COLUMNS = (
    "event_id_cnty", "event_date", "year", "time_precision", "disorder_type", "event_type", "sub_event_type", "actor1",
    "assoc_actor_1", "inter1", "actor2", "assoc_actor_2", "inter2", "interaction", "civilian_targeting", "iso", "region",
    "country", "admin1", "admin2", "admin3", "location", "latitude", "longitude", "geo_precision", "source",
    "source_scale", "notes", "fatalities", "tags", "timestamp",
)  # fmt: skip
AVDIIVKA = {
    "event_id_cnty": "UKR140231", "event_date": "2024-02-10", "year": "2024", "time_precision": "1",
    "disorder_type": "Political violence", "event_type": "Explosions/Remote violence",
    "sub_event_type": "Shelling/artillery/missile attack", "actor1": "Military Forces of Russia (2000-)",
    "assoc_actor_1": "", "inter1": "8", "actor2": "Civilians (Ukraine)", "assoc_actor_2": "", "inter2": "7",
    "interaction": "78", "civilian_targeting": "Civilian targeting", "iso": "804", "region": "Europe",
    "country": "Ukraine", "admin1": "Donetsk", "admin2": "Pokrovskyi", "admin3": "Avdiivska", "location": "Avdiivka",
    "latitude": "48.1394", "longitude": "37.7497", "geo_precision": "1", "source": "Ukrinform; Ministry of Defence of Ukraine",
    "source_scale": "National", "notes": 'On 10 February 2024, Russian forces shelled Avdiivka (Donetsk).\n'
    'Two "civilians" were injured. [size=no report]', "fatalities": "0", "tags": "", "timestamp": "1708365432",
}  # fmt: skip
BAKHMUT_CLASH = {**AVDIIVKA, "event_id_cnty": "UKR130002", "event_date": "2023-05-20", "year": "2023", "disorder_type": "Political violence",
                 "event_type": "Battles", "sub_event_type": "Armed clash", "location": "Bakhmut", "admin2": "Bakhmutskyi",
                 "latitude": "48.5956", "longitude": "38.0007", "notes": "Clashes in Bakhmut.", "fatalities": "12"}  # fmt: skip
KHARKIV_DRONES = {**AVDIIVKA, "event_id_cnty": "UKR141555", "event_date": "12 February 2024", "time_precision": "2",
                  "event_type": "Explosions/Remote violence", "sub_event_type": "Air/drone strike", "admin1": "Kharkiv",
                  "location": "Kharkiv", "latitude": "49.9935", "longitude": "36.2304", "geo_precision": "2",
                  "source": "Suspilne", "notes": "Russian forces hit Kharkiv with Shahed drones.", "fatalities": "1"}  # fmt: skip
ZAPORIZHZHIA_PROTEST = {**AVDIIVKA, "event_id_cnty": "UKR141600", "disorder_type": "Demonstrations", "event_type": "Protests",
                        "sub_event_type": "Peaceful protest", "admin1": "Zaporizhia", "location": "Zaporizhzhia",
                        "latitude": "47.8388", "longitude": "35.1396", "notes": "Relatives of POWs protested.", "fatalities": "0"}  # fmt: skip

UCDP_COLUMNS = (
    "id", "relid", "year", "active_year", "code_status", "type_of_violence", "conflict_new_id", "conflict_name",
    "dyad_new_id", "dyad_name", "side_a_new_id", "gwnoa", "side_a", "side_b_new_id", "gwnob", "side_b",
    "number_of_sources", "source_article", "source_office", "source_date", "source_headline", "source_original",
    "where_prec", "where_coordinates", "where_description", "adm_1", "adm_2", "latitude", "longitude", "geom_wkt",
    "priogrid_gid", "country", "country_id", "region", "event_clarity", "date_prec", "date_start", "date_end",
    "deaths_a", "deaths_b", "deaths_civilians", "deaths_unknown", "best", "high", "low",
)  # fmt: skip
UCDP_BAKHMUT = {
    "id": "170451", "relid": "UKR-2014-1-13243-51", "year": "2014", "active_year": "1", "code_status": "Clear",
    "type_of_violence": "1", "conflict_new_id": "13243", "conflict_name": "Ukraine:Novorossiya", "dyad_new_id": "14470",
    "dyad_name": "Government of Ukraine - DPR", "side_a_new_id": "132", "gwnoa": "369", "side_a": "Government of Ukraine",
    "side_b_new_id": "1146", "gwnob": "", "side_b": "DPR", "number_of_sources": "2",
    "source_article": '"Kyiv Post,2014-07-22,""Fighting near Artemivsk""";"Reuters,2014-07-22,Ukraine says troops"',
    "source_office": "Kyiv Post;Reuters", "source_date": "2014-07-22;2014-07-22",
    "source_headline": "Fighting near Artemivsk; Ukraine says troops attacked", "source_original": "Ukrainian military",
    "where_prec": "1", "where_coordinates": "Artemivsk town", "where_description": "Artemivsk (now Bakhmut)",
    "adm_1": "Donetsk oblast", "adm_2": "Artemivsk raion", "latitude": "48.5956", "longitude": "38.0007",
    "geom_wkt": "POINT (38.0007 48.5956)", "priogrid_gid": "177917", "country": "Ukraine", "country_id": "369",
    "region": "Europe", "event_clarity": "1", "date_prec": "1", "date_start": "7/21/2014 12:00:00 AM",
    "date_end": "7/21/2014 12:00:00 AM", "deaths_a": "3", "deaths_b": "5", "deaths_civilians": "1",
    "deaths_unknown": "0", "best": "9", "high": "14", "low": "9",
}  # fmt: skip
UCDP_AVDIIVKA = {**UCDP_BAKHMUT, "id": "170452", "where_coordinates": "Avdiivka town", "where_description": "Avdiivka",
                 "latitude": "48.1394", "longitude": "37.7497", "date_start": "2014-08-05", "date_end": "2014-08-05 00:00:00.000",
                 "best": "2", "high": "2", "low": "2", "source_headline": "Shelling of Avdiivka"}  # fmt: skip
UCDP_KHARKIV_ONE_SIDED = {**UCDP_BAKHMUT, "id": "170453", "type_of_violence": "3", "where_description": "Kharkiv",
                          "latitude": "49.9935", "longitude": "36.2304", "date_start": "2014-04-07", "date_end": "2014-04-07"}  # fmt: skip
UCDP_ZAPORIZHZHIA = {**UCDP_BAKHMUT, "id": "170454", "where_prec": "4", "where_description": "Zaporizhzhia oblast",
                     "adm_1": "Zaporizhzhia oblast", "latitude": "47.8388", "longitude": "35.1396", "date_prec": "4",
                     "date_start": "05/02/2014 00:00", "date_end": "05/02/2014 00:00"}  # fmt: skip


def table(columns, base: dict, *rows: dict, newline: str = "\n", delimiter: str = ",") -> str:
    """A CSV in the dataset's layout, written by the csv module (Excel's quoting); each row is
    `base` with the given cells replaced."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator=newline, delimiter=delimiter)
    w.writeheader()
    for r in rows:
        w.writerow({**base, **r})
    return buf.getvalue()


def acled_csv(*rows: dict, **kw) -> str:
    return table(ACLED_COLUMNS, AVDIIVKA, *rows, **kw)


def ucdp_csv(*rows: dict, **kw) -> str:
    return table(UCDP_COLUMNS, UCDP_BAKHMUT, *rows, **kw)


def parse_acled(data, **kw):
    return acled.parse(data, source_code="ACLED-UKR", **kw)


def parse_ucdp(data, **kw):
    return ucdp.parse(data, source_code="UCDP-GED", **kw)


def errors(fn, data, **kw) -> list[tuple[int, str | None, str]]:
    with pytest.raises(ImportRowsError) as info:
        fn(data, **kw)
    return [(e["line"], e["field"], e["message"]) for e in info.value.errors]


def one_error(fn, data, **kw) -> tuple[int, str | None, str]:
    errs = errors(fn, data, **kw)
    assert len(errs) == 1, errs
    return errs[0]


def one(fn, data, **kw) -> dict:
    out = fn(data, **kw)
    assert len(out) == 1, out
    return out[0]


def window(p: dict) -> tuple[str, str]:
    return p["observed_from"], p["observed_to"]


# ==================================================================================== ACLED


def test_realistic_acled_file_becomes_valid_observations():
    data = ("\ufeff" + acled_csv(AVDIIVKA, BAKHMUT_CLASH, KHARKIV_DRONES, ZAPORIZHZHIA_PROTEST)).encode("utf-8")
    out = parse_acled(data)
    assert [p["narrative"].split(":")[0] for p in out] == ["ACLED UKR140231", "ACLED UKR130002", "ACLED UKR141555"]
    assert out.skipped == {"Protests": 1}
    for p in out:
        ObservationIn.model_validate(p)  # each payload is what the intake accepts

    shelling = out[0]
    assert uuid.UUID(shelling["client_id"]).version == 5
    assert shelling["channel"] == "open_source" and shelling["source"] == "ACLED-UKR" and shelling["grade"] == "C3"
    assert shelling["chain"] == ["ACLED", "Ukrinform; Ministry of Defence of Ukraine"]
    assert shelling["perception"] == "seen" and shelling["count"] == 1
    assert (shelling["event_type"], shelling["weapon_class"]) == ("explosion_impact", "unknown")
    assert shelling["location"] == {"lat": 48.1394, "lon": 37.7497, "error_m": 2000.0}
    # No observer: the point is a geocoded place, so the observer is the place itself.
    assert shelling["observer"] == {"lat": 48.1394, "lon": 37.7497, "accuracy_m": 2000.0}
    assert window(shelling) == ("2024-02-10T00:00:00Z", "2024-02-10T23:59:59Z")
    assert shelling["marking"] == {"classification": "PUBLIC", "tlp": "CLEAR", "releasable_to": ["ALL"], "originator": ""}
    assert "direction" not in shelling
    # The quoted multi-line note with doubled quotes survives; actors and fatalities are told.
    assert shelling["narrative"].endswith('Two "civilians" were injured. [size=no report]')
    assert "Military Forces of Russia (2000-) vs Civilians (Ukraine)" in shelling["narrative"]
    assert "fatalities 0" in shelling["narrative"]

    clash, drones = out[1], out[2]
    assert clash["event_type"] == "small_arms_fire" and clash["count"] == 1  # 12 fatalities, one event
    assert (drones["event_type"], drones["weapon_class"]) == ("armed_drone_strike", "drone")
    assert window(drones) == ("2024-02-09T00:00:00Z", "2024-02-15T23:59:59Z")  # "12 February 2024", a week
    assert drones["location"]["error_m"] == 25_000


def test_client_ids_are_stable_across_imports_and_distinct_per_row_and_dataset():
    data = acled_csv(AVDIIVKA, BAKHMUT_CLASH)
    first, again = parse_acled(data), parse_acled(data.encode())
    assert [p["client_id"] for p in first] == [p["client_id"] for p in again]
    assert first[0]["client_id"] != first[1]["client_id"]
    # The source code does not enter the id: the same ACLED event is the same event.
    assert acled.parse(data, source_code="OTHER")[0]["client_id"] == first[0]["client_id"]
    # The same row id in the other dataset is another event.
    same_id = one(parse_ucdp, ucdp_csv({"id": "140231"}))
    assert one(parse_acled, acled_csv({"event_id_cnty": "140231"}))["client_id"] != same_id["client_id"]


@pytest.mark.parametrize(
    ("event_type", "sub_event_type", "notes", "expected"),
    [
        ("Battles", "Armed clash", "Clashes near Bakhmut.", ("small_arms_fire", "unknown")),
        ("Battles", "Government regains territory", "Ukrainian forces retook Robotyne.", ("ground_assault", "unknown")),
        ("Battles", "Non-state actor overtakes territory", "Wagner took the town.", ("ground_assault", "unknown")),
        ("Explosions/Remote violence", "Shelling/artillery/missile attack", "Shelling of Avdiivka.", ("explosion_impact", "unknown")),
        ("Explosions/Remote violence", "Air/drone strike", "Russian aircraft dropped glide bombs.", ("air_strike", "aircraft")),
        ("Explosions/Remote violence", "Air/drone strike", "A Ukrainian UAV struck a depot.", ("armed_drone_strike", "drone")),
        ("Explosions/Remote violence", "Air/drone strike", "An FPV hit a car.", ("armed_drone_strike", "drone")),
        ("Explosions/Remote violence", "Remote explosive/landmine/IED", "A tractor hit a mine.", ("explosion_undetermined", "unknown")),
        ("Explosions/Remote violence", "Grenade", "A grenade exploded.", ("explosion_undetermined", "unknown")),
        ("Explosions/Remote violence", "Suicide bomb", "A suicide bomber.", ("explosion_undetermined", "unknown")),
        ("Explosions/Remote violence", "Chemical weapon", "CS gas grenades.", ("explosion_undetermined", "unknown")),
        ("Violence against civilians", "Attack", "Soldiers shot two civilians in Bucha.", ("small_arms_fire", "small_arms")),
        ("Violence against civilians", "Attack", "A drone dropped explosives on a civilian car.", ("armed_drone_strike", "drone")),
        # Spelling and spacing of releases differ; the comparison ignores them.
        ("explosions / remote violence", "SHELLING/ARTILLERY/MISSILE  ATTACK", "", ("explosion_impact", "unknown")),
    ],
)  # fmt: skip
def test_acled_event_types_map_to_the_vocabulary(event_type, sub_event_type, notes, expected):
    p = one(parse_acled, acled_csv({"event_type": event_type, "sub_event_type": sub_event_type, "notes": notes}))
    assert (p["event_type"], p["weapon_class"]) == expected


def test_acled_rows_outside_the_ceasefire_vocabulary_are_skipped_and_counted():
    rows = [
        {"event_id_cnty": "UKR1", "event_type": "Protests", "sub_event_type": "Peaceful protest"},
        {"event_id_cnty": "UKR2", "event_type": "Protests", "sub_event_type": "Protest with intervention"},
        {"event_id_cnty": "UKR3", "event_type": "Riots", "sub_event_type": "Mob violence"},
        {"event_id_cnty": "UKR4", "event_type": "Strategic developments", "sub_event_type": "Disrupted weapons use"},
        # A sub-event a later release invents is still skipped with its type.
        {"event_id_cnty": "UKR5", "event_type": "Strategic developments", "sub_event_type": "Something new"},
        {"event_id_cnty": "UKR6", "event_type": "Violence against civilians", "sub_event_type": "Sexual violence"},
        {"event_id_cnty": "UKR7", "event_type": "Violence against civilians", "sub_event_type": "Abduction/forced disappearance"},
        {"event_id_cnty": "UKR8", "event_type": "Violence against civilians", "sub_event_type": "Attack", "notes": "A man was beaten."},
        # A skipped row is not read further: its bad cells cannot harm the store.
        {"event_id_cnty": "UKR9", "event_type": "Riots", "sub_event_type": "Violent demonstration", "latitude": "n/a"},
        {"event_id_cnty": "UKR10"},
    ]  # fmt: skip
    out = parse_acled(acled_csv(*rows))
    assert [p["narrative"].split(":")[0] for p in out] == ["ACLED UKR10"]
    assert out.skipped == {
        "Protests": 2, "Riots": 2, "Strategic developments": 2,
        "Violence against civilians: Sexual violence": 1,
        "Violence against civilians: Abduction/forced disappearance": 1,
        "Violence against civilians: Attack with no weapon named in the notes": 1,
    }  # fmt: skip


def test_unknown_acled_event_types_are_refused_not_skipped():
    data = acled_csv(
        {"event_id_cnty": "UKR1", "event_type": "Remote violence", "sub_event_type": "Shelling/artillery/missile attack"},
        {"event_id_cnty": "UKR2", "event_type": "Battles", "sub_event_type": "Ambush"},
        {"event_id_cnty": "UKR3", "event_type": "", "sub_event_type": "", "notes": ""},
    )
    # Each AVDIIVKA-based row's note spans two lines.
    assert errors(parse_acled, data) == [
        (2, "event_type", "unknown event type 'Remote violence'"),
        (4, "sub_event_type", "unknown sub-event type 'Ambush' of 'Battles'"),
        (6, "event_type", "empty: every row needs its event type"),
    ]


@pytest.mark.parametrize(("geo_precision", "error_m"), [("1", 2_000), ("2", 25_000), ("3", 100_000), ("3.0", 100_000)])
def test_acled_geo_precision_sets_the_location_error(geo_precision, error_m):
    p = one(parse_acled, acled_csv({"geo_precision": geo_precision}))
    assert p["location"]["error_m"] == p["observer"]["accuracy_m"] == error_m
    assert window(p) == ("2024-02-10T00:00:00Z", "2024-02-10T23:59:59Z")  # the time is untouched


@pytest.mark.parametrize(
    ("time_precision", "expected"),
    [
        ("1", ("2024-02-10T00:00:00Z", "2024-02-10T23:59:59Z")),
        ("2", ("2024-02-07T00:00:00Z", "2024-02-13T23:59:59Z")),
        ("3", ("2024-02-01T00:00:00Z", "2024-02-29T23:59:59Z")),
    ],
)
def test_acled_time_precision_sets_the_window(time_precision, expected):
    p = one(parse_acled, acled_csv({"time_precision": time_precision}))
    assert window(p) == expected
    assert p["location"]["error_m"] == 2_000  # the place is untouched


def test_acled_time_and_geo_precision_are_not_swapped():
    # A month known to the town, and a day known to the region: swapping the two columns would
    # give a day at 100 km for the first and a month at 2 km for the second.
    month_in_town, day_in_region = parse_acled(acled_csv(
        {"event_id_cnty": "UKR1", "time_precision": "3", "geo_precision": "1"},
        {"event_id_cnty": "UKR2", "time_precision": "1", "geo_precision": "3"},
    ))  # fmt: skip
    assert window(month_in_town) == ("2024-02-01T00:00:00Z", "2024-02-29T23:59:59Z")
    assert month_in_town["location"]["error_m"] == 2_000
    assert window(day_in_region) == ("2024-02-10T00:00:00Z", "2024-02-10T23:59:59Z")
    assert day_in_region["location"]["error_m"] == 100_000


@pytest.mark.parametrize("value", ["0", "4", "", "x", "1.5", "-1", "١"])
def test_acled_precision_codes_outside_their_range_are_refused(value):
    for column in ("time_precision", "geo_precision"):
        line, field, message = one_error(parse_acled, acled_csv({column: value}))
        assert (line, field) == (2, column)
        assert "(1, 2, 3)" in message or message.startswith("empty")


@pytest.mark.parametrize(
    ("value", "day"),
    [("2024-02-10", "2024-02-10"), ("10 February 2024", "2024-02-10"), ("10-Feb-2024", "2024-02-10"),
     ("1 march 2024", "2024-03-01"), ("2024-02-10 00:00:00", "2024-02-10")],
)  # fmt: skip
def test_acled_event_dates_in_both_published_formats(value, day):
    p = one(parse_acled, acled_csv({"event_date": value, "year": day[:4]}))
    assert p["observed_from"] == f"{day}T00:00:00Z"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("03/01/2024", "not a date: '03/01/2024' (expected YYYY-MM-DD or '01 March 2024')"),  # Europe or the US?
        ("2024-02-30", "not a date: '2024-02-30'"),
        ("31 Febtember 2024", "not a date: '31 Febtember 2024' (expected YYYY-MM-DD or '01 March 2024')"),
        ("", "empty: every row needs its event date"),
        ("2099-01-01", "2099-01-01 is in the future"),
        ("1988-12-31", "1988-12-31 is before 1989, earlier than ACLED or UCDP record anything: a typo?"),
    ],
)
def test_acled_bad_event_dates_are_refused(value, message):
    assert one_error(parse_acled, acled_csv({"event_date": value, "year": ""})) == (2, "event_date", message)


def test_dates_before_the_observation_store_begins_are_refused():
    # 1989 is inside the datasets' coverage but before the store's first day (1990-01-01).
    line, field, message = one_error(parse_acled, acled_csv({"event_date": "1989-06-01", "year": ""}))
    assert (line, field) == (2, "event_date") and "before 1990-01-01 where the observation store begins" in message
    # A window widened across 1 January 1990 would start before it too: refused, not clipped.
    assert one_error(parse_acled, acled_csv({"event_date": "1990-01-02", "year": "", "time_precision": "2"}))[1] == "event_date"


def test_acled_year_column_must_agree_with_the_date():
    assert one_error(parse_acled, acled_csv({"year": "2023"})) == (
        2, "year", "year 2023 but event_date 2024-02-10: a misread date?"
    )  # fmt: skip


def test_a_widened_window_ends_now_at_the_latest():
    # An event of this month known only to the month: the month's end lies ahead.
    p = one(parse_acled, acled_csv({"event_date": TODAY.isoformat(), "year": str(TODAY.year), "time_precision": "3"}))
    assert p["observed_from"] == f"{TODAY.replace(day=1).isoformat()}T00:00:00Z"
    end = dt.datetime.fromisoformat(p["observed_to"])
    assert end <= dt.datetime.now(dt.UTC)


@pytest.mark.parametrize(
    ("cells", "field", "message"),
    [
        ({"latitude": ""}, "latitude", "empty: every row needs its latitude"),
        ({"longitude": ""}, "longitude", "empty: every row needs its longitude"),
        ({"latitude": "nan"}, "latitude", "not a number: 'nan'"),
        ({"latitude": "NaN"}, "latitude", "not a number: 'NaN'"),
        ({"longitude": "inf"}, "longitude", "not a number: 'inf'"),
        ({"longitude": "-Infinity"}, "longitude", "not a number: '-Infinity'"),
        ({"latitude": "1e999"}, "latitude", "not a number: '1e999'"),
        ({"latitude": "48,1394"}, "latitude", "not a number: '48,1394'"),
        ({"latitude": "4_8.1"}, "latitude", "not a number: '4_8.1'"),
        ({"latitude": "٤٨.١"}, "latitude", "not a number: '٤٨.١'"),  # Arabic-Indic digits: float() would take them
        ({"latitude": "=1+47"}, "latitude", "not a number: '=1+47'"),
        ({"latitude": "91"}, "latitude", "'91' is outside -90..90"),
        ({"longitude": "-180.5"}, "longitude", "'-180.5' is outside -180..180"),
        ({"latitude": "0", "longitude": "0.0"}, "latitude", "0, 0 is a missing location written as zeros"),
    ],
)  # fmt: skip
def test_missing_or_invalid_coordinates_are_refused(cells, field, message):
    assert one_error(parse_acled, acled_csv(cells)) == (2, field, message)
    ucdp_line = one_error(parse_ucdp, ucdp_csv(cells))
    assert ucdp_line == (2, field, message)


def test_spreadsheet_formulas_are_kept_as_text_where_text_belongs():
    formula = "=HYPERLINK(\"http://evil.example\",\"click\")"
    p = one(parse_acled, acled_csv({"notes": formula, "source": "@SUM(A1:A9)"}))
    assert p["narrative"].endswith("\n" + formula)
    assert p["chain"] == ["ACLED", "@SUM(A1:A9)"]
    # An id is not text to keep: a formula there is refused.
    assert one_error(parse_acled, acled_csv({"event_id_cnty": "=1+1"})) == (2, "event_id_cnty", "not an ACLED event id: '=1+1'")


def test_long_source_and_notes_are_truncated_to_the_schema_limits():
    p = one(parse_acled, acled_csv({"source": "S" * 300, "notes": "n" * 50_000}))
    assert len(p["chain"][1]) == 100 and p["chain"][1].endswith("…")
    assert len(p["narrative"]) == 10_000 and p["narrative"].endswith("…")
    assert p["narrative"].startswith("ACLED UKR140231")  # the facts come before the notes
    # An empty source leaves the dataset alone in the chain (chain items may not be empty).
    assert one(parse_acled, acled_csv({"source": ""}))["chain"] == ["ACLED"]


def test_duplicate_event_ids_are_refused():
    data = acled_csv({}, {"event_id_cnty": "UKR1"}, {})
    # Each row's note spans two lines: the rows start on lines 2, 4 and 6.
    assert one_error(parse_acled, data) == (6, "event_id_cnty", "'UKR140231' already on line 2")


def test_one_bad_row_refuses_the_whole_file_and_every_problem_is_listed():
    data = acled_csv(AVDIIVKA, {**BAKHMUT_CLASH, "latitude": "north", "geo_precision": "9"}, KHARKIV_DRONES)
    with pytest.raises(ImportRowsError) as info:
        parse_acled(data)
    assert isinstance(info.value, ValueError)
    # AVDIIVKA's note spans two lines, so the bad row starts on line 4.
    assert info.value.errors == [
        {"line": 4, "field": "geo_precision", "message": "'9' is not a geo precision code (1, 2, 3)"},
        {"line": 4, "field": "latitude", "message": "not a number: 'north'"},
    ]
    assert str(info.value).startswith("2 problem(s) in the ACLED file, nothing read; first at line 4, geo_precision:")


def test_acled_header_in_capitals_semicolons_and_crlf_are_read():
    text = acled_csv(AVDIIVKA, newline="\r\n")
    header, rest = text.split("\r\n", 1)
    assert len(parse_acled(header.upper() + "\r\n" + rest)) == 1
    # A European Excel separates cells with semicolons.
    assert one(parse_acled, acled_csv(AVDIIVKA, delimiter=";"))["location"]["lat"] == 48.1394


def test_unknown_columns_are_ignored_but_missing_or_repeated_ones_refused():
    extra = acled_csv(AVDIIVKA).replace("timestamp", "timestamp,new_column", 1).replace("1708365432", "1708365432,x")
    assert len(parse_acled(extra)) == 1
    no_geo = acled_csv().replace("geo_precision", "precision")
    assert one_error(parse_acled, no_geo) == (1, None, "missing column(s): geo_precision")
    twice = acled_csv().replace("tags", "latitude")
    assert one_error(parse_acled, twice) == (1, None, "repeated column(s): latitude")


# ===================================================================================== UCDP


def test_realistic_ucdp_file_becomes_valid_observations():
    data = ("\ufeff" + ucdp_csv(UCDP_BAKHMUT, UCDP_AVDIIVKA, UCDP_KHARKIV_ONE_SIDED, UCDP_ZAPORIZHZHIA)).encode()
    out = parse_ucdp(data)
    assert len(out) == 3 and out.skipped == {"type_of_violence 3 (one-sided violence)": 1}
    for p in out:
        ObservationIn.model_validate(p)

    bakhmut, avdiivka, zaporizhzhia = out
    assert uuid.UUID(bakhmut["client_id"]).version == 5
    assert bakhmut["channel"] == "open_source" and bakhmut["source"] == "UCDP-GED" and bakhmut["grade"] == "B2"
    assert bakhmut["chain"] == ["UCDP GED", "Kyiv Post;Reuters"]
    assert (bakhmut["event_type"], bakhmut["weapon_class"], bakhmut["perception"]) == ("explosion_undetermined", "unknown", "seen")
    # Nine deaths are not nine explosions: count stays 1, the deaths go to the narrative.
    assert bakhmut["count"] == 1
    assert "deaths: best estimate 9 (low 9, high 14)" in bakhmut["narrative"]
    assert "Headline: Fighting near Artemivsk; Ukraine says troops attacked" in bakhmut["narrative"]
    assert "Government of Ukraine vs DPR" in bakhmut["narrative"]
    assert bakhmut["location"] == {"lat": 48.5956, "lon": 38.0007, "error_m": 1000.0}
    assert bakhmut["observer"] == {"lat": 48.5956, "lon": 38.0007, "accuracy_m": 1000.0}
    assert window(bakhmut) == ("2014-07-21T00:00:00Z", "2014-07-21T23:59:59Z")  # "7/21/2014 12:00:00 AM"
    assert bakhmut["marking"] == {"classification": "PUBLIC", "tlp": "CLEAR", "releasable_to": ["ALL"], "originator": ""}

    assert window(avdiivka) == ("2014-08-05T00:00:00Z", "2014-08-05T23:59:59Z")  # ISO, and ISO with .000
    # "05/02/2014 00:00" is ambiguous: the file's only other slash dates are in another style,
    # so UCDP's month-first convention decides (2 May), widened to the month by date_prec 4.
    assert window(zaporizhzhia) == ("2014-05-01T00:00:00Z", "2014-05-31T23:59:59Z")
    assert zaporizhzhia["location"]["error_m"] == 150_000


@pytest.mark.parametrize(
    ("where_prec", "error_m"),
    [("1", 1_000), ("2", 25_000), ("3", 50_000), ("4", 150_000), ("5", 100_000), ("6", 500_000), ("7", 500_000)],
)
def test_ucdp_where_prec_sets_the_location_error(where_prec, error_m):
    p = one(parse_ucdp, ucdp_csv({"where_prec": where_prec}))
    assert p["location"]["error_m"] == error_m
    # The schema caps an observer's accuracy at 100 km; the location keeps the full radius.
    assert p["observer"]["accuracy_m"] == min(error_m, 100_000)
    assert window(p) == ("2014-07-21T00:00:00Z", "2014-07-21T23:59:59Z")  # the time is untouched
    assert f"(where_prec {where_prec})" in p["narrative"]


def test_a_ucdp_event_known_only_to_the_country_is_kept_and_says_so():
    p = one(parse_ucdp, ucdp_csv({"where_prec": "6", "latitude": "48.38", "longitude": "31.17"}))
    assert p["location"]["error_m"] == 500_000
    assert "only the country is known" in p["narrative"]


@pytest.mark.parametrize(
    ("date_prec", "expected"),
    [
        ("1", ("2014-07-21T00:00:00Z", "2014-07-21T23:59:59Z")),
        ("2", ("2014-07-18T00:00:00Z", "2014-07-24T23:59:59Z")),
        ("3", ("2014-07-18T00:00:00Z", "2014-07-24T23:59:59Z")),
        ("4", ("2014-07-01T00:00:00Z", "2014-07-31T23:59:59Z")),
        ("5", ("2014-01-01T00:00:00Z", "2014-12-31T23:59:59Z")),
    ],
)
def test_ucdp_date_prec_widens_a_single_date(date_prec, expected):
    p = one(parse_ucdp, ucdp_csv({"date_prec": date_prec}))
    assert window(p) == expected
    assert p["location"]["error_m"] == 1_000  # the place is untouched


def test_a_ucdp_date_range_is_used_as_given():
    p = one(parse_ucdp, ucdp_csv({"date_prec": "4", "date_start": "2014-07-21", "date_end": "2014-07-29"}))
    assert window(p) == ("2014-07-21T00:00:00Z", "2014-07-29T23:59:59Z")
    assert "date 2014-07-21 to 2014-07-29" in p["narrative"]


def test_ucdp_date_and_where_precision_are_not_swapped():
    year_at_point, day_in_country = parse_ucdp(ucdp_csv(
        {"id": "1", "date_prec": "5", "where_prec": "1"},
        {"id": "2", "date_prec": "1", "where_prec": "5"},
    ))  # fmt: skip
    assert window(year_at_point) == ("2014-01-01T00:00:00Z", "2014-12-31T23:59:59Z")
    assert year_at_point["location"]["error_m"] == 1_000
    assert window(day_in_country) == ("2014-07-21T00:00:00Z", "2014-07-21T23:59:59Z")
    assert day_in_country["location"]["error_m"] == 100_000


@pytest.mark.parametrize(
    ("cells", "field", "message"),
    [
        ({"where_prec": "0"}, "where_prec", "'0' is not a where precision code (1, 2, 3, 4, 5, 6, 7)"),
        ({"where_prec": "8"}, "where_prec", "'8' is not a where precision code (1, 2, 3, 4, 5, 6, 7)"),
        ({"date_prec": "6"}, "date_prec", "'6' is not a date precision code (1, 2, 3, 4, 5)"),
        ({"date_prec": ""}, "date_prec", "empty: every row needs its date precision code"),
        ({"type_of_violence": "4"}, "type_of_violence", "'4' is not a type of violence (1, 2, 3)"),
        ({"id": "UKR-1"}, "id", "not a UCDP event id: 'UKR-1'"),
        ({"id": ""}, "id", "empty: every row needs its event id"),
        ({"best": "many"}, "best", "not a whole number: 'many'"),
        ({"date_start": "2014-07-22", "date_end": "2014-07-21"}, "date_end", "2014-07-21 is before date_start 2014-07-22"),
        ({"date_start": "2099-01-01", "date_end": "2099-01-01", "year": ""}, "date_start", "2099-01-01 is in the future"),
        ({"date_start": "1988-05-01", "date_end": "1988-05-01", "year": ""}, "date_start",
         "1988-05-01 is before 1989, earlier than ACLED or UCDP record anything: a typo?"),
        ({"year": "2015"}, "year", "year 2015 but the event runs 2014-07-21..2014-07-21: a misread date?"),
    ],
)  # fmt: skip
def test_ucdp_bad_cells_are_refused(cells, field, message):
    errs = errors(parse_ucdp, ucdp_csv(cells))
    assert (2, field, message) in errs


def test_ucdp_non_state_and_one_sided_violence_are_skipped_and_counted():
    out = parse_ucdp(ucdp_csv({"id": "1", "type_of_violence": "2"}, {"id": "2", "type_of_violence": "3"},
                              {"id": "3", "type_of_violence": "3.0", "latitude": "junk"}, {"id": "4"}))  # fmt: skip
    assert len(out) == 1
    assert out.skipped == {"type_of_violence 2 (non-state conflict)": 1, "type_of_violence 3 (one-sided violence)": 2}


@pytest.mark.parametrize(
    ("value", "day"),
    [
        ("1/22/2014 12:00:00 AM", "2014-01-22"),
        ("1/22/2014 12:00 AM", "2014-01-22"),
        ("01/22/2014", "2014-01-22"),
        ("22/01/2014 00:00", "2014-01-22"),  # the only reading of 22/01
        ("2014-01-22", "2014-01-22"),
        ("2014-01-22 00:00:00.000", "2014-01-22"),
        ("2014-01-22T00:00:00", "2014-01-22"),
        ("5/5/2014", "2014-05-05"),  # both readings agree
    ],
)
def test_ucdp_date_formats(value, day):
    p = one(parse_ucdp, ucdp_csv({"date_start": value, "date_end": value, "year": day[:4]}))
    assert p["observed_from"] == f"{day}T00:00:00Z"


def test_ambiguous_slash_dates_follow_the_files_other_dates_of_the_same_style():
    # The 24-hour export here writes 13/02/2014 (day first): its 05/02/2014 is 5 February. The
    # 12-hour dates keep UCDP's month-first convention: 3/4/2014 12:00:00 AM is 4 March.
    out = parse_ucdp(ucdp_csv(
        {"id": "1", "date_start": "13/02/2014 00:00", "date_end": "13/02/2014 00:00"},
        {"id": "2", "date_start": "05/02/2014 00:00", "date_end": "05/02/2014 00:00"},
        {"id": "3", "date_start": "3/4/2014 12:00:00 AM", "date_end": "3/4/2014 12:00:00 AM"},
    ))  # fmt: skip
    assert [p["observed_from"][:10] for p in out] == ["2014-02-13", "2014-02-05", "2014-03-04"]


def test_ambiguous_slash_dates_default_to_month_first():
    p = one(parse_ucdp, ucdp_csv({"date_start": "05/02/2014 00:00", "date_end": "05/02/2014 00:00"}))
    assert p["observed_from"] == "2014-05-02T00:00:00Z"


def test_ambiguous_slash_dates_are_refused_when_the_file_contradicts_itself():
    data = ucdp_csv(
        {"id": "1", "date_start": "13/02/2014", "date_end": "13/02/2014"},
        {"id": "2", "date_start": "02/14/2014", "date_end": "02/14/2014"},
        {"id": "3", "date_start": "05/02/2014", "date_end": "2014-05-02"},
    )
    assert errors(parse_ucdp, data) == [
        (4, "date_start", (
            "ambiguous date '05/02/2014': this file writes such dates month first (line 3) and day first (line 2); "
            "write YYYY-MM-DD"
        )),
    ]  # fmt: skip


@pytest.mark.parametrize("value", ["2/30/2014", "13/13/2014", "1/22/2014 25:00", "1/22/2014 13:00 PM", "22.01.2014", "44621", "2014-1-22x"])
def test_ucdp_impossible_dates_are_refused(value):
    errs = errors(parse_ucdp, ucdp_csv({"date_start": value}))
    assert (2, "date_start", f"not a date: {value!r} (expected YYYY-MM-DD or M/D/YYYY)") in errs


def test_ucdp_ids_are_normalised_and_duplicates_refused():
    # A pandas round trip writes 170451.0; it is the same event, the same client_id.
    assert one(parse_ucdp, ucdp_csv({"id": "170451.0"}))["client_id"] == one(parse_ucdp, ucdp_csv({}))["client_id"]
    assert one_error(parse_ucdp, ucdp_csv({}, {"id": "0170451"})) == (3, "id", "'170451' already on line 2")


def test_ucdp_chain_falls_back_to_the_original_source():
    assert one(parse_ucdp, ucdp_csv({"source_office": ""}))["chain"] == ["UCDP GED", "Ukrainian military"]
    assert one(parse_ucdp, ucdp_csv({"source_office": "", "source_original": ""}))["chain"] == ["UCDP GED"]


def test_a_minimal_ucdp_file_with_only_the_needed_columns_is_read():
    text = "id,type_of_violence,date_prec,date_start,date_end,where_prec,latitude,longitude\n1,1,1,2014-07-21,2014-07-21,1,48.5956,38.0007\n"
    p = one(parse_ucdp, text)
    assert p["chain"] == ["UCDP GED"] and p["narrative"].startswith("UCDP GED 1: state-based violence")


# ============================================================================ hostile input


@pytest.mark.parametrize(("fn", "make", "column"), [(parse_acled, acled_csv, "notes"), (parse_ucdp, ucdp_csv, "source_headline")])
def test_nul_and_control_characters_are_refused_with_line_and_column(fn, make, column):
    assert one_error(fn, make({column: "bad\x00byte"})) == (2, column, "NUL character (binary data?)")
    assert one_error(fn, make({column: "bell\x07"})) == (2, column, "control character in the text")
    # In a column that is not read, they do no harm.
    assert len(fn(make({"tags" if fn is parse_acled else "geom_wkt": "x\x00y"}))) == 1


@pytest.mark.parametrize(("fn", "make"), [(parse_acled, acled_csv), (parse_ucdp, ucdp_csv)])
def test_oversized_files_are_refused_before_parsing(fn, make, monkeypatch):
    def must_not_read(*a, **kw):
        raise AssertionError("read the file")

    monkeypatch.setattr(acled, "read_table", must_not_read)
    monkeypatch.setattr(ucdp, "read_table", must_not_read)
    data = make({})
    assert one_error(fn, data.encode(), max_bytes=100) == (1, None, "file larger than 100 bytes")
    assert one_error(fn, data, max_bytes=100) == (1, None, "file larger than 100 bytes")
    # Multi-byte text is measured in bytes: 60 Cyrillic letters are 120 bytes.
    assert one_error(fn, "Ж" * 60, max_bytes=100) == (1, None, "file larger than 100 bytes")


@pytest.mark.parametrize(("fn", "make", "column"), [(parse_acled, acled_csv, "notes"), (parse_ucdp, ucdp_csv, "source_headline")])
def test_a_huge_field_stops_reading_with_an_error(fn, make, column):
    previous = csv.field_size_limit(10 * acled.MAX_FIELD)
    try:
        _, field, message = one_error(fn, make({}, {column: "A" * (acled.MAX_FIELD + 10)}))
        assert (field, message) == (None, f"malformed CSV: a cell longer than {acled.MAX_FIELD} characters; reading stopped here")
        assert csv.field_size_limit() == 10 * acled.MAX_FIELD  # the process-wide limit is restored
    finally:
        csv.field_size_limit(previous)


@pytest.mark.parametrize(("fn", "make", "one_line"), [(parse_acled, acled_csv, {"notes": "x"}), (parse_ucdp, ucdp_csv, {})])
def test_wrong_cell_counts_are_refused_per_row(fn, make, one_line):
    text = make(one_line).rstrip("\n")
    header_columns = text.split("\n", 1)[0].count(",") + 1
    more, fewer = text.split("\n")[-1] + ",extra", "1,2,3"
    errs = errors(fn, "\n".join([text.split("\n", 1)[0], more, fewer]) + "\n")
    assert errs == [
        (2, None, f"{header_columns + 1} cells, more than the header's {header_columns} columns"),
        (3, None, f"3 cells, fewer than the header's {header_columns} columns"),
    ]


@pytest.mark.parametrize(("fn", "make"), [(parse_acled, acled_csv), (parse_ucdp, ucdp_csv)])
def test_broken_files_are_refused(fn, make):
    assert one_error(fn, b"") == (1, None, "empty file")
    assert one_error(fn, b"\n\n  \n") == (1, None, "empty file")
    assert one_error(fn, make({}).encode("cp1252")[:-1] + b"\xff\n")[2] == "not UTF-8 text: save the file as 'CSV UTF-8'"
    assert one_error(fn, make({}) + "\ud800")[2] == "invalid character (lone surrogate) in the text"
    unclosed = make({}) + 'x,"never closed\n'
    assert errors(fn, unclosed)[-1][2] == "malformed CSV: a quoted cell is never closed (mismatched quotes); reading stopped here"
    assert one_error(fn, b"\x89PNG\r\n\x1a\n\x00\x00")[0] == 1
    with pytest.raises(TypeError):
        fn(12345)
    with pytest.raises(ValueError, match="source_code"):
        (acled.parse if fn is parse_acled else ucdp.parse)(make({}), source_code="")


@pytest.mark.parametrize(("fn", "columns", "base"), [(parse_acled, ACLED_COLUMNS, AVDIIVKA), (parse_ucdp, UCDP_COLUMNS, UCDP_BAKHMUT)])
def test_utf16_excel_export_with_tabs_is_read(fn, columns, base):
    # Excel's "Unicode text": UTF-16 with a byte order mark, cells separated by tabs.
    data = table(columns, base, {}, delimiter="\t", newline="\r\n").encode("utf-16")
    assert len(fn(data)) == 1


def test_line_numbers_point_at_the_start_of_multi_line_records_and_skip_blank_lines():
    data = acled_csv({"event_id_cnty": "UKR1", "notes": "one\ntwo\nthree"}, {"event_id_cnty": "UKR2"})
    data = data.replace("\nUKR2", "\n\n\nUKR2").replace("UKR2,2024-02-10", "UKR2,2024-02-31")
    # header 1; UKR1 spans 2-4; blank 5-6 (the next row is UKR2 with a 2-line note: 7-8).
    assert one_error(parse_acled, data) == (7, "event_date", "not a date: '2024-02-31'")


def test_too_many_rows_stop_the_reader():
    data = ucdp_csv(*({"id": str(n)} for n in range(1, 6)))
    assert len(parse_ucdp(data, max_rows=5)) == 5
    assert one_error(parse_ucdp, data, max_rows=4) == (6, None, "more than 4 rows: split the file")


def test_errors_stop_at_the_limit_and_say_so():
    data = acled_csv(*({"event_id_cnty": f"UKR{n}", "latitude": "x"} for n in range(300)))
    with pytest.raises(ImportRowsError) as info:
        parse_acled(data)
    assert len(info.value.errors) == acled.MAX_ERRORS and info.value.truncated
    assert str(info.value).startswith("200+ problem(s)")


def test_the_schema_checks_every_payload_and_its_complaints_become_row_errors(monkeypatch):
    # A radius beyond the schema's 500 km (as if the table were mis-edited) is caught by
    # ObservationIn inside the parser, reported against the file's column, not raised raw.
    monkeypatch.setitem(acled.GEO_PRECISION_M, 3, 600_000)
    errs = errors(parse_acled, acled_csv({"geo_precision": "3"}))
    assert errs and all(line == 2 and field == "latitude" for line, field, _ in errs)


def test_the_importers_do_not_import_django():
    for module in (acled, ucdp):
        tree = ast.parse(Path(module.__file__).read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [n for n in names if n.split(".")[0] in ("django", "ninja")], module.__name__


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_crash_either_parser(data):
    for fn in (parse_acled, parse_ucdp):
        try:
            out = fn(data)
        except ImportRowsError as exc:
            assert exc.errors and all(set(e) == {"line", "field", "message"} for e in exc.errors)
        else:
            assert isinstance(out, list)


_TOKENS = [",", ";", '"', "\n", "\r", "\x00", "=1+1", "nan", "inf", "1", "3", "7", "48.1394", "-181", "2014-07-21",
           "1/22/2014 12:00:00 AM", "05/02/2014 00:00", "Battles", "Armed clash", "Protests", "é", "Ж", " "]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_TOKENS), max_size=150))
def test_arbitrary_rows_under_a_real_header_never_crash(tokens):
    body = "".join(tokens)
    for fn, columns in ((parse_acled, ACLED_COLUMNS), (parse_ucdp, UCDP_COLUMNS)):
        try:
            out = fn(",".join(columns) + "\n" + body)
        except ImportRowsError:
            continue
        for p in out:
            ObservationIn.model_validate(p)
