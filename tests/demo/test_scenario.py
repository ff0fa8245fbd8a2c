"""The demo world: reproducible, valid as intake payloads, and faithful to its own ground truth."""

from __future__ import annotations

import hashlib
import json
import re
import sys
import uuid
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import LineString, Point, shape

try:
    from resolute.demo import scenario as sc
except ImportError:  # running from a checkout without an installed package
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    from resolute.demo import scenario as sc

GEOD = Geod(ellps="WGS84")

# The intake format, written out here rather than imported so that the test checks the generator
# against the specification and not against itself.
CHANNELS = {
    "patrol", "observation_post", "fixed_camera", "uav", "acoustic_sensor", "radar",
    "national_intelligence", "open_source", "party_complaint",
}
EVENT_TYPES = {
    "explosion_impact", "explosion_outgoing", "explosion_airburst", "explosion_undetermined",
    "projectile_in_flight", "muzzle_flash", "illumination_flare", "small_arms_fire",
    "heavy_machine_gun_fire", "armed_drone_strike", "air_strike", "ground_assault",
    "weapon_beyond_withdrawal_line", "weapon_missing_from_storage", "mine_laying",
    "movement_restriction", "interference_jamming", "interference_fire_at_asset",
}
PERCEPTIONS = {"heard", "seen", "heard_and_seen", "instrument"}
WEAPONS = {
    "small_arms", "heavy_machine_gun", "mortar", "artillery_under_100mm", "artillery_100mm_plus",
    "tank", "mlrs", "heavy_mlrs", "tactical_missile", "drone", "aircraft", "mine", "unknown",
}
COMPASS = ["N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW"]
CLASSIFICATIONS = {"PUBLIC", "RESTRICTED", "CONFIDENTIAL", "SECRET"}
TLPS = {"CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"}
KEYS = {
    "client_id", "channel", "observer", "observed_from", "observed_to", "event_type", "perception", "count",
    "weapon_class", "location", "direction", "narrative", "attachments", "source", "grade", "chain", "marking",
    "truth_id",
}
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
ALPHA3 = re.compile(r"^[A-Z]{3}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture(autouse=True)
def _fast_password_hashing():
    """Shadows the suite-wide fixture of the same name, which needs pytest-django's ``settings``:
    these tests touch no Django and must also run with ``-p no:django``."""
    yield


@pytest.fixture(scope="module")
def world():
    return sc.generate(seed=7)


def _digest(s) -> str:
    return hashlib.sha256(json.dumps(s.observations, sort_keys=True, default=str).encode()).hexdigest()


def _parse(z: str) -> datetime:
    return datetime.strptime(z, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def _truth(world) -> dict:
    return {t["truth_id"]: t for t in world.truth}


# --- reproducibility -------------------------------------------------------------------------


def test_same_seed_gives_identical_world(world):
    again = sc.generate(seed=7)
    assert [o["client_id"] for o in again.observations] == [o["client_id"] for o in world.observations]
    assert _digest(again) == _digest(world)
    assert again.truth == world.truth
    assert again.sites == world.sites


def test_different_seed_gives_different_world(world):
    other = sc.generate(seed=8)
    assert _digest(other) != _digest(world)
    assert not {o["client_id"] for o in other.observations} & {o["client_id"] for o in world.observations}


def test_default_start_and_volume(world):
    assert world.start == datetime(2026, 11, 16, 19, 30, tzinfo=timezone.utc)
    assert world.end == world.start + timedelta(days=7)
    assert 300 <= len(world.truth) <= 1500  # several hundred true events
    assert 3000 <= len(world.observations) <= 8000


# --- every observation is a valid intake payload ---------------------------------------------


def _problems(o: dict, sources: dict, start: datetime, end: datetime) -> list[str]:
    p = []
    if set(o) != KEYS:
        p.append(f"keys {sorted(set(o) ^ KEYS)}")
        return p
    try:
        uuid.UUID(o["client_id"])
    except (ValueError, TypeError):
        p.append("client_id")
    if o["channel"] not in CHANNELS:
        p.append("channel")
    ob = o["observer"]
    if set(ob) != {"lat", "lon", "accuracy_m"} or not (-90 <= ob["lat"] <= 90 and -180 <= ob["lon"] <= 180):
        p.append("observer")
    if not (isinstance(ob["accuracy_m"], float) and ob["accuracy_m"] >= 0):
        p.append("observer.accuracy_m")
    if not (ISO_Z.match(o["observed_from"]) and ISO_Z.match(o["observed_to"])):
        p.append("time format")
    else:
        t0, t1 = _parse(o["observed_from"]), _parse(o["observed_to"])
        if not (start <= t0 <= t1 <= end):
            p.append("time order/window")
    if o["event_type"] not in EVENT_TYPES:
        p.append("event_type")
    if o["perception"] not in PERCEPTIONS:
        p.append("perception")
    if not (type(o["count"]) is int and o["count"] >= 1):
        p.append("count")
    if o["weapon_class"] not in WEAPONS:
        p.append("weapon_class")
    loc, d = o["location"], o["direction"]
    if (loc is None) == (d is None):
        p.append("exactly one of location/direction")
    if loc is not None:
        if set(loc) != {"lat", "lon", "error_m"} or not (-90 <= loc["lat"] <= 90 and -180 <= loc["lon"] <= 180):
            p.append("location")
        elif not loc["error_m"] >= 0:
            p.append("location.error_m")
    if d is not None:
        if set(d) != {"bearing_deg", "bearing_sigma_deg", "compass_sector", "range_min_m", "range_max_m"}:
            p.append("direction keys")
        else:
            if (d["bearing_deg"] is None) == (d["compass_sector"] is None):
                p.append("bearing xor sector")
            if d["bearing_deg"] is not None and not 0 <= d["bearing_deg"] < 360:
                p.append("bearing range")
            if d["bearing_sigma_deg"] is not None and (d["bearing_deg"] is None or not d["bearing_sigma_deg"] > 0):
                p.append("bearing sigma")
            if d["compass_sector"] is not None and d["compass_sector"] not in COMPASS:
                p.append("sector")
            lo, hi = d["range_min_m"], d["range_max_m"]
            if (lo is None) != (hi is None) or (lo is not None and not 0 <= lo <= hi):
                p.append("range band")
    if not (isinstance(o["narrative"], str) and o["narrative"].strip()):
        p.append("narrative")
    if not all(isinstance(a, str) and SHA256.match(a) for a in o["attachments"]):
        p.append("attachments")
    src = sources.get(o["source"])
    if src is None:
        p.append("source unknown")
    elif src["channel"] != o["channel"]:
        p.append("source channel")
    if not re.match(r"^[A-F][1-6]$", o["grade"]):
        p.append("grade")
    if not (o["chain"] and all(isinstance(c, str) and c for c in o["chain"])):
        p.append("chain")
    m = o["marking"]
    if (
        m["classification"] not in CLASSIFICATIONS
        or m["tlp"] not in TLPS
        or not m["releasable_to"]
        or not all(r == "ALL" or ALPHA3.match(r) for r in m["releasable_to"])
        or not ALPHA3.match(m["originator"])
    ):
        p.append("marking")
    if o["truth_id"] is not None and not re.match(r"^T\d{6}$", o["truth_id"]):
        p.append("truth_id")
    return p


def test_every_observation_is_valid(world):
    sources = {s["code"]: s for s in world.sources}
    bad = {}
    for o in world.observations:
        p = _problems(o, sources, world.start, world.end)
        if p:
            bad[o["client_id"]] = p
    assert not bad, list(bad.items())[:5]
    assert len({o["client_id"] for o in world.observations}) == len(world.observations)
    truth_ids = {t["truth_id"] for t in world.truth}
    assert {o["truth_id"] for o in world.observations} - {None} <= truth_ids


def test_a_short_summer_world_is_valid_too():
    start = datetime(2026, 7, 1, 4, 0, tzinfo=timezone.utc)
    s = sc.generate(seed=3, days=2, start=start)
    sources = {x["code"]: x for x in s.sources}
    assert s.end == start + timedelta(days=2)
    assert s.observations and s.truth
    assert not [p for o in s.observations if (p := _problems(o, sources, s.start, s.end))]
    assert all(start <= t["start"] <= t["end"] <= s.end for t in s.truth)


def test_markings_follow_the_channel(world):
    by_channel = defaultdict(list)
    for o in world.observations:
        by_channel[o["channel"]].append(o["marking"])
    mission = [m for ch in ("patrol", "observation_post", "fixed_camera", "uav", "acoustic_sensor", "radar")
               for m in by_channel[ch]]
    restricted = sum(m["classification"] == "RESTRICTED" and m["tlp"] == "AMBER" for m in mission)
    public = sum(m["classification"] == "PUBLIC" and m["tlp"] == "CLEAR" for m in mission)
    assert restricted > len(mission) / 2 and public > 0
    assert all(m["releasable_to"] == ["ALL"] for m in mission)
    nic = by_channel["national_intelligence"]
    assert nic and all(m["classification"] in ("CONFIDENTIAL", "SECRET") and "ALL" not in m["releasable_to"] for m in nic)
    assert any(m["tlp"] == "RED" for m in nic)
    assert all(m["classification"] == "RESTRICTED" and m["tlp"] == "GREEN" for m in by_channel["party_complaint"])


# --- geography -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,lat,lon,side",
    [
        ("Kramatorsk", 48.723, 37.556, "UKR"),
        ("Sloviansk", 48.853, 37.605, "UKR"),
        ("Zaporizhzhia", 47.839, 35.140, "UKR"),
        ("Kharkiv", 49.993, 36.230, "UKR"),
        ("Mykolaiv", 46.975, 31.995, "UKR"),
        ("Donetsk", 48.015, 37.803, "RUS"),
        ("Horlivka", 48.305, 38.029, "RUS"),
        ("Tokmak", 47.255, 35.712, "RUS"),
        ("Melitopol", 46.849, 35.365, "RUS"),
        ("Luhansk", 48.574, 39.307, "RUS"),
    ],
)
def test_side_of_known_towns(world, name, lat, lon, side):
    assert sc.side_of(lon, lat) == side
    assert world.side_of(lon, lat) == side


def test_contact_line_and_sides(world):
    assert world.sides == {"A": "UKR", "B": "RUS"}
    line = world.contact_line
    assert len(line) >= 10
    assert all(30 < lon < 40 and 45 < lat < 51 for lon, lat in line)
    assert LineString(line).is_simple


def _metric_line(world):
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32637", always_xy=True)
    line = shapely.transform(shapely.segmentize(LineString(world.contact_line), 0.01),
                             lambda xy: np.column_stack(to_utm.transform(xy[:, 0], xy[:, 1])))
    return to_utm, line


def test_withdrawal_bands_are_nested_buffers(world):
    assert sc.WEAPON_BAND_KM["tank"] == 15 and sc.WEAPON_BAND_KM["artillery_100mm_plus"] == 50
    assert sc.WEAPON_BAND_KM["mlrs"] == 70 and sc.WEAPON_BAND_KM["heavy_mlrs"] == 140
    assert set(world.withdrawal_bands) == {15, 50, 70, 140}
    bands = {k: shape(v) for k, v in world.withdrawal_bands.items()}
    assert all(v["type"] in ("Polygon", "MultiPolygon") for v in world.withdrawal_bands.values())
    for small, big in ((15, 50), (50, 70), (70, 140)):
        assert bands[big].buffer(1e-6).contains(bands[small])
    # A point about 30 km from the line (UTM 37N has ~0.4% scale error here; the margin is ample).
    to_utm, line = _metric_line(world)
    kramatorsk = Point(to_utm.transform(37.556, 48.723))
    d_km = line.distance(kramatorsk) / 1000
    assert 15 < d_km < 50
    assert bands[50].contains(Point(37.556, 48.723)) and not bands[15].contains(Point(37.556, 48.723))


def test_sites_lie_near_the_line_on_their_side(world):
    kinds = defaultdict(int)
    for s in world.sites:
        kinds[s["kind"]] += 1
    assert 35 <= kinds["observation_post"] <= 50
    assert kinds["patrol"] and kinds["fixed_camera"] and kinds["acoustic_sensor"] and kinds["uav"]
    to_utm, line = _metric_line(world)
    for s in world.sites:
        assert s["side"] == sc.side_of(s["lon"], s["lat"]), s["code"]
        assert s["code"].split("-")[1] == s["side"]
        d = line.distance(Point(to_utm.transform(s["lon"], s["lat"]))) / 1000
        assert 1.9 <= d <= 15.1, (s["code"], d)
        if s["kind"] == "patrol":
            assert len(s["route"]) >= 2 and all({"lat", "lon"} == set(p) for p in s["route"])
    assert {s["side"] for s in world.sites} == {"UKR", "RUS"}
    assert len({s["code"] for s in world.sites}) == len(world.sites)


def test_sources_cover_every_channel(world):
    assert {s["channel"] for s in world.sources} == CHANNELS
    for s in world.sources:
        assert s["reliability"] in "ABCDEF" and 1 <= s["credibility"] <= 6 and ALPHA3.match(s["nation"])
    nic = {s["nation"] for s in world.sources if s["channel"] == "national_intelligence"}
    assert {"USA", "GBR", "FRA"} <= nic
    assert all(s["reliability"] in "AB" for s in world.sources if s["code"].startswith("MIS-"))
    assert all(s["reliability"] in "EF" for s in world.sources if s["channel"] == "party_complaint")


# --- faithful to the ground truth ------------------------------------------------------------


def test_truth_sides_agree_with_side_of(world):
    kinds = set()
    for t in world.truth:
        kinds.add(t["kind"])
        assert t["impact_side"] == sc.side_of(t["lon"], t["lat"]), t["truth_id"]
        assert t["origin_side"] == sc.side_of(t["origin_lon"], t["origin_lat"]), t["truth_id"]
        assert t["start"] <= t["end"] and t["start"].tzinfo is not None
        assert world.start <= t["start"] and t["end"] <= world.end
        assert t["count"] >= 1 and t["weapon_class"] in WEAPONS and t["kind"] in EVENT_TYPES
        if t["kind"] == "explosion_outgoing":
            assert (t["lat"], t["lon"]) == (t["origin_lat"], t["origin_lon"])
    duels = [t for t in world.truth if t["kind"] == "explosion_impact"]
    assert duels and all(t["origin_side"] != t["impact_side"] for t in duels)
    assert {"explosion_outgoing", "explosion_impact", "small_arms_fire", "armed_drone_strike",
            "weapon_beyond_withdrawal_line", "weapon_missing_from_storage", "movement_restriction",
            "interference_jamming"} <= kinds


def _bearings_and_distances(world, obs):
    truth = _truth(world)
    az, _, dist = GEOD.inv(
        [o["observer"]["lon"] for o in obs], [o["observer"]["lat"] for o in obs],
        [truth[o["truth_id"]]["lon"] for o in obs], [truth[o["truth_id"]]["lat"] for o in obs],
    )
    return np.asarray(az) % 360.0, np.asarray(dist)


def test_compass_sectors_and_range_bands_fit_the_truth(world):
    obs = [o for o in world.observations if o["truth_id"] and o["direction"] and o["direction"]["compass_sector"]]
    assert len(obs) > 500
    assert {o["channel"] for o in obs if len(o["chain"]) == 1} <= {"patrol", "observation_post"}
    az, dist = _bearings_and_distances(world, obs)
    centre = np.array([COMPASS.index(o["direction"]["compass_sector"]) * 22.5 for o in obs])
    off = np.abs((az - centre + 180.0) % 360.0 - 180.0)
    in_sector = np.mean(off <= 11.25)
    assert in_sector >= 0.80, in_sector
    # Noise is real: not every report is in the right sector.
    assert in_sector < 0.99

    banded = [(o, d) for o, d in zip(obs, dist) if o["direction"]["range_min_m"] is not None]
    assert len(banded) > 300
    inside = np.mean([o["direction"]["range_min_m"] <= d <= o["direction"]["range_max_m"] for o, d in banded])
    assert 0.70 <= inside < 1.0, inside


def test_instrument_bearings_are_tight(world):
    obs = [o for o in world.observations
           if o["truth_id"] and o["channel"] == "acoustic_sensor" and len(o["chain"]) == 1]
    az, _ = _bearings_and_distances(world, obs)
    err = (np.array([o["direction"]["bearing_deg"] for o in obs]) - az + 180.0) % 360.0 - 180.0
    assert 1.5 < np.std(err) < 2.5
    assert all(o["direction"]["bearing_sigma_deg"] == 2.0 for o in obs)


def test_relay_chains_share_their_origin(world):
    by_truth_origin = defaultdict(set)
    for o in world.observations:
        if o["truth_id"]:
            by_truth_origin[(o["truth_id"], o["chain"][0])].add(tuple(o["chain"]))
    relayed = [k for k, chains in by_truth_origin.items() if len(chains) >= 2]
    assert len(relayed) >= 20
    chains = {c for cs in by_truth_origin.values() for c in cs}
    assert any(len(c) == 2 and c[1] in ("USA-NIC", "GBR-DI", "FRA-DRM") for c in chains)
    assert any(len(c) >= 2 and c[1] == "OS-INTL-WIRE" for c in chains)
    assert any(len(c) >= 3 for c in chains)
    # A relay repeats the original report: same observer, time and direction.
    first = {}
    for o in world.observations:
        if len(o["chain"]) == 1 and o["truth_id"]:
            first.setdefault((o["truth_id"], o["chain"][0]), o)
    for o in world.observations:
        if len(o["chain"]) >= 2 and o["chain"][0].split("-")[0] in ("OP", "PAT", "CAM", "ACU", "UAV", "RDR"):
            src = first[(o["truth_id"], o["chain"][0])] if (o["truth_id"], o["chain"][0]) in first else None
            if src is not None and src["observer"] == o["observer"]:
                assert o["direction"] == src["direction"] and o["location"] == src["location"]


def test_false_reports_exist(world):
    false = [o for o in world.observations if o["truth_id"] is None]
    assert false
    channels = {o["channel"] for o in false}
    assert "party_complaint" in channels and "open_source" in channels
    complaints = [o for o in world.observations if o["channel"] == "party_complaint"]
    share = sum(o["truth_id"] is None for o in complaints) / len(complaints)
    assert 0.02 <= share <= 0.15


def test_weapons_in_withdrawal_zones_lie_inside_their_band(world):
    bands = {k: shape(v) for k, v in world.withdrawal_bands.items()}
    found = [t for t in world.truth if t["kind"] == "weapon_beyond_withdrawal_line"]
    assert found
    for t in found:
        km = sc.WEAPON_BAND_KM[t["weapon_class"]]
        assert bands[km].contains(Point(t["lon"], t["lat"])), t
    seen = {o["truth_id"] for o in world.observations if o["event_type"] == "weapon_beyond_withdrawal_line"}
    assert {t["truth_id"] for t in found} <= seen


def _local_hour(when: datetime) -> int:
    try:
        from zoneinfo import ZoneInfo

        return when.astimezone(ZoneInfo("Europe/Kyiv")).hour
    except Exception:  # no tz database on this machine
        return (when + timedelta(hours=sc.local_offset_hours(when))).hour


def test_most_violations_happen_at_night(world):
    fire = [t for t in world.truth if t["kind"] in sc.FIRE_KINDS]
    night = sum(1 for t in fire if _local_hour(t["start"]) >= 18 or _local_hour(t["start"]) < 6)
    assert night / len(fire) > 0.6


def test_local_offset_follows_the_eu_rule():
    assert sc.local_offset_hours(datetime(2026, 11, 16, 19, 30, tzinfo=timezone.utc)) == 2
    assert sc.local_offset_hours(datetime(2026, 7, 1, tzinfo=timezone.utc)) == 3
    assert sc.local_offset_hours(datetime(2026, 3, 29, 0, 59, tzinfo=timezone.utc)) == 2
    assert sc.local_offset_hours(datetime(2026, 3, 29, 1, 0, tzinfo=timezone.utc)) == 3
    assert sc.local_offset_hours(datetime(2026, 10, 25, 1, 0, tzinfo=timezone.utc)) == 2


def test_clock_skew_shows_in_mission_reports(world):
    truth = _truth(world)
    lag = defaultdict(list)
    for o in world.observations:
        if o["truth_id"] and o["channel"] == "observation_post" and len(o["chain"]) == 1:
            lag[o["chain"][0]].append((_parse(o["observed_from"]) - truth[o["truth_id"]]["start"]).total_seconds())
    medians = [np.median(v) for v in lag.values() if len(v) >= 5]
    assert any(abs(m) > 180 for m in medians)  # some posts' clocks are minutes off
    assert np.median(np.abs(medians)) < 120


def test_summary_shows_a_quiet_and_a_bad_day(world):
    s = sc.summary(world)
    assert s["truth_events"] == len(world.truth)
    assert s["observations"] == len(world.observations) == sum(s["by_channel"].values())
    assert sum(s["by_event_type"].values()) == sum(s["by_day"].values()) == len(world.observations)
    assert s["false_reports"] == sum(o["truth_id"] is None for o in world.observations) > 0
    assert set(s["by_channel"]) == CHANNELS
    days = s["truth_by_day"]
    assert len(days) == 7
    quiet = (world.start + timedelta(days=s["quiet_day"])).date().isoformat()
    bad = (world.start + timedelta(days=s["bad_day"])).date().isoformat()
    normal = [v for k, v in days.items() if k not in (quiet, bad)]
    assert days[quiet] < min(normal) and days[bad] > max(normal)
    json.dumps(s)  # serialisable as it stands


def test_vocabulary_matches_the_core():
    vocab = pytest.importorskip("resolute.core.vocabulary")
    assert set(vocab.CHANNELS) == CHANNELS and set(vocab.EVENT_TYPES) == EVENT_TYPES
    assert set(vocab.PERCEPTIONS) == PERCEPTIONS and set(vocab.WEAPON_CLASSES) == WEAPONS
    assert vocab.WITHDRAWAL_KM == sc.WEAPON_BAND_KM

