"""A deterministic demo world with ground truth: a week of ceasefire violations along a schematic
2025 front line, and the observations that the mission's channels would have made of them.

Everything derives from one seed through ``numpy.random.default_rng(seed)``; the same seed, days
and start give byte-identical output. Geography is a demonstration approximation (see
:mod:`resolute.demo.places`): the contact line runs through approximate town centres, the
Russian-held side is that line closed eastward and southward with a generous box, and distances
are measured in a local transverse Mercator projection centred on the front (metres).

Times are UTC. Local time in Ukraine is UTC+2 in winter and UTC+3 in summer (EU rule); the night
weighting of violations and the daylight limit on sight use local time.

Sensing model, after the OSCE SMM's practice (shared reference ``monitoring.md``) and the error
figures in ``fusion.md``:

* monitors at observation posts and on patrols hear explosions within about 10 km and small arms
  within about 3 km, see within about 5 km by day and see flashes at night; they report a 16-point
  compass sector (their bearing error σ is 3–10°, mostly near 4°), a range band and a count;
* fixed cameras have a narrow field of view; by day they geolocate, at night they give a bearing;
* acoustic sensors give bearings with σ ≈ 2°; counter-battery radars locate firing positions;
* UAV flights locate what happens under them; national intelligence locates heavy weapons;
* reports are relayed (a patrol's report in a national summary, in the press), which the fusion
  engine must not count twice; parties complain, sometimes about nothing; clocks are skewed.
"""

from __future__ import annotations

import copy
import hashlib
import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache

import numpy as np
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import LineString, Polygon

from resolute.core.geo import COMPASS_16
from resolute.core.vocabulary import CHANNELS, EVENT_TYPES, PERCEPTIONS, WEAPON_CLASSES, WITHDRAWAL_KM  # noqa: F401 (re-exported)

from .places import HOTSPOTS, LINE_PLACES, PLACES, place

__all__ = [
    "BANDS_KM",
    "CHANNELS",
    "COMPASS_POINTS",
    "DEFAULT_START",
    "EVENT_TYPES",
    "PERCEPTIONS",
    "SIDES",
    "WEAPON_BAND_KM",
    "WEAPON_CLASSES",
    "Scenario",
    "generate",
    "local_offset_hours",
    "side_of",
    "summary",
]

DEFAULT_START = datetime(2026, 11, 16, 19, 30, tzinfo=timezone.utc)

#: Side A holds the territory west/north of the line, side B east/south of it.
SIDES: dict[str, str] = {"A": "UKR", "B": "RUS"}

# The mission's vocabulary and the withdrawal distances come from the core, so the demo can
# only produce what intake accepts.
WEAPON_BAND_KM: dict[str, int] = dict(WITHDRAWAL_KM)
BANDS_KM: tuple[int, ...] = tuple(sorted(set(WITHDRAWAL_KM.values())))
COMPASS_POINTS = COMPASS_16

#: Truth kinds whose lat/lon is where the effect lands and whose origin lies elsewhere.
IMPACT_KINDS = frozenset(
    {"explosion_impact", "explosion_airburst", "armed_drone_strike", "air_strike", "ground_assault"}
)
#: Truth kinds that are ceasefire violations by fire (what the night-time statistic counts).
FIRE_KINDS = frozenset(
    {
        "explosion_impact", "explosion_outgoing", "explosion_airburst", "small_arms_fire",
        "heavy_machine_gun_fire", "illumination_flare", "armed_drone_strike", "air_strike",
        "ground_assault",
    }
)

# A transverse Mercator centred on the front keeps scale error under 0.3% over the whole line,
# better than UTM 37N whose central meridian (39°E) is 6° east of Kherson.
_LOCAL_TM = "+proj=tmerc +lat_0=48 +lon_0=35.5 +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
_GEOD = Geod(ellps="WGS84")
_DAY_S = 86400.0
_SPEED_OF_SOUND = 340.0  # m/s; only delays "heard" reports, so the weather does not matter here
_UUID_NAMESPACE = uuid.UUID("6c1f0e0a-3b8e-4d54-9a55-7e0d2f1b9c42")

# The box that closes the line into the Russian-held polygon: north from Vovchansk past the
# state border, far east, far south over the Black Sea, west past Kinburn, back to Kherson.
_CLOSING_BOX = [(36.94, 51.5), (41.5, 51.5), (41.5, 44.0), (31.6, 44.0), (31.6, 46.5)]


# --------------------------------------------------------------------------------------------
# Geometry


@dataclass(frozen=True)
class _Geometry:
    line_ll: LineString
    line_m: LineString
    rus_ll: Polygon
    to_m: Transformer
    to_ll: Transformer
    bands: dict
    band_geoms: dict
    hot_s: np.ndarray
    hot_w: np.ndarray
    place_names: tuple
    place_lon: np.ndarray
    place_lat: np.ndarray


def _geojson(geom, ndigits: int = 6) -> dict:
    def ring(r):
        return [[round(float(x), ndigits), round(float(y), ndigits)] for x, y in r.coords]

    def poly(p):
        return [ring(p.exterior)] + [ring(i) for i in p.interiors]

    if geom.geom_type == "Polygon":
        return {"type": "Polygon", "coordinates": poly(geom)}
    return {"type": "MultiPolygon", "coordinates": [poly(p) for p in geom.geoms]}


@lru_cache(maxsize=1)
def _geometry() -> _Geometry:
    coords = [(place(n)[3], place(n)[2]) for n in LINE_PLACES]
    line_ll = LineString(coords)
    to_m = Transformer.from_crs("EPSG:4326", _LOCAL_TM, always_xy=True)
    to_ll = Transformer.from_crs(_LOCAL_TM, "EPSG:4326", always_xy=True)

    def fwd(xy):
        x, y = to_m.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    def inv(xy):
        x, y = to_ll.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    # Densify in degrees first so the metric line follows the straight lon/lat segments that
    # side_of() uses; otherwise "which side" and "how far" could disagree near the line.
    line_m = shapely.transform(shapely.segmentize(line_ll, 0.01), fwd)
    rus_ll = Polygon(coords + _CLOSING_BOX)
    if not rus_ll.is_valid:  # pragma: no cover - guards edits to places.py
        raise ValueError("contact line and closing box do not form a simple polygon")
    shapely.prepare(rus_ll)

    bands, band_geoms = {}, {}
    for km in BANDS_KM:
        buf_m = shapely.segmentize(line_m.buffer(km * 1000.0, quad_segs=12), 5000.0)
        buf_ll = shapely.transform(buf_m, inv)
        gj = _geojson(buf_ll)
        bands[km] = gj
        # Tests and the generator check membership against the published (rounded) polygon.
        g = shapely.geometry.shape(gj)
        shapely.prepare(g)
        band_geoms[km] = g

    w = np.array([HOTSPOTS.get(n, 0.0) for n in LINE_PLACES], dtype=float)
    hot_pts = shapely.points(fwd(np.array(coords, dtype=float)))
    hot_s = shapely.line_locate_point(line_m, hot_pts)
    return _Geometry(
        line_ll=line_ll,
        line_m=line_m,
        rus_ll=rus_ll,
        to_m=to_m,
        to_ll=to_ll,
        bands=bands,
        band_geoms=band_geoms,
        hot_s=np.asarray(hot_s, dtype=float),
        hot_w=w / w.sum(),
        place_names=tuple(p[0] for p in PLACES),
        place_lon=np.array([p[3] for p in PLACES]),
        place_lat=np.array([p[2] for p in PLACES]),
    )


def _is_rus(lon, lat) -> np.ndarray:
    return shapely.contains_xy(_geometry().rus_ll, np.asarray(lon, float), np.asarray(lat, float))


def held_area(side: str = "RUS") -> dict:
    """GeoJSON Polygon (lon/lat) of the area the scenario treats as held by `side` ("RUS"):
    the contact line closed with a generous box (a demo approximation, see side_of)."""
    if side != "RUS":
        raise ValueError("the demo describes the area held by RUS; UKR is its complement")
    return shapely.geometry.mapping(_geometry().rus_ll)


def side_of(lon: float, lat: float) -> str:
    """Which side holds the point (degrees, WGS 84): ``"RUS"`` east/south of the schematic contact
    line, ``"UKR"`` west/north of it. A demo approximation: the Russian-held side is the line
    closed with a generous box, so points far from the front (e.g. inside Russia north-west of
    Vovchansk) are not classified meaningfully."""
    return "RUS" if bool(_is_rus(lon, lat)) else "UKR"


def _sides(lon, lat) -> list[str]:
    return ["RUS" if r else "UKR" for r in np.atleast_1d(_is_rus(lon, lat))]


def local_offset_hours(when: datetime) -> int:
    """Offset of Ukrainian civil time from UTC, hours: 3 in summer time (last Sunday of March
    01:00 UTC to last Sunday of October 01:00 UTC, the EU rule), else 2."""
    when = when.astimezone(timezone.utc)

    def last_sunday(month: int) -> datetime:
        last = datetime(when.year, month + 1, 1, 1, tzinfo=timezone.utc) - timedelta(days=1)
        return last - timedelta(days=(last.weekday() + 1) % 7)

    return 3 if last_sunday(3) <= when < last_sunday(10) else 2


class _Clock:
    """Seconds since the scenario start ↔ local hour and daylight, per scenario day."""

    def __init__(self, start: datetime, days: int):
        self.start = start
        self.days = days
        self.total = days * _DAY_S
        self.start_tod = start.hour * 3600 + start.minute * 60 + start.second
        mids = [start + timedelta(days=d, hours=12) for d in range(days)]
        self.offset = np.array([local_offset_hours(m) for m in mids], dtype=float)
        doy = np.array([m.timetuple().tm_yday for m in mids], dtype=float)
        # Daylight half-length (hours) and local solar noon for ~37.5°E, 48°N: accurate to a
        # quarter of an hour, which is all "seen by day" needs.
        self.half_day = 6.2 + 2.1 * np.cos(2 * np.pi * (doy - 172) / 365.0)
        self.noon = 12.0 + self.offset - 37.5 / 15.0

    def day_of(self, t):
        return np.clip((np.asarray(t, float) // _DAY_S).astype(int), 0, self.days - 1)

    def local_hour(self, t):
        t = np.asarray(t, float)
        d = self.day_of(t)
        return ((self.start_tod + t) / 3600.0 + self.offset[d]) % 24.0

    def is_day(self, t):
        d = self.day_of(t)
        return np.abs(self.local_hour(t) - self.noon[d]) < self.half_day[d]

    def at_local(self, day: int, local_hours) -> np.ndarray:
        """Seconds since start for local clock times (hours) falling in scenario day ``day``."""
        utc_s = (np.asarray(local_hours, float) - self.offset[day]) * 3600.0
        return day * _DAY_S + (utc_s - self.start_tod) % _DAY_S


# Local-hour weights: most fire at dusk and through the night, little by day.
_FIRE_HOUR_W = np.array(
    [9, 8, 7, 6, 5, 4, 2, 1.5, 1.2, 1, 1, 1, 1, 1, 1.2, 1.5, 2, 3, 5, 7, 8, 9, 10, 10], dtype=float
)
_DRONE_HOUR_W = np.array(
    [5, 4, 4, 3, 3, 3, 3, 3, 3, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5, 3, 3, 4, 5, 5, 5, 5, 5, 5], dtype=float
)


def _sample_local(rng, n: int, weights: np.ndarray) -> np.ndarray:
    h = rng.choice(24, size=n, p=weights / weights.sum())
    return h + rng.random(n)


# --------------------------------------------------------------------------------------------
# Placing points near the line


class _Placer:
    """Collects "a point on side X, between dmin and dmax metres from the line, near arc length
    s" requests and fills them in one vectorised rejection-sampling pass."""

    def __init__(self):
        self.s, self.rus, self.dmin, self.dmax, self.band = [], [], [], [], []

    def add(self, s: float, rus: bool, dmin: float, dmax: float, band_km: int | None = None) -> int:
        self.s.append(float(s))
        self.rus.append(bool(rus))
        self.dmin.append(float(dmin))
        self.dmax.append(float(dmax))
        self.band.append(band_km or 0)
        return len(self.s) - 1

    def run(self, rng, along_sigma: float = 1500.0) -> tuple[np.ndarray, np.ndarray]:
        geo = _geometry()
        n = len(self.s)
        lon, lat = np.zeros(n), np.zeros(n)
        if n == 0:
            return lon, lat
        s = np.array(self.s)
        rus = np.array(self.rus)
        dmin, dmax = np.array(self.dmin), np.array(self.dmax)
        band = np.array(self.band)
        L = geo.line_m.length
        todo = np.arange(n)
        for attempt in range(80):
            if todo.size == 0:
                break
            m = todo.size
            # Widen the along-line search on retries: near the line's ends and tight bends a
            # perpendicular offset may land too close to another stretch of the line.
            ss = np.clip(s[todo] + rng.normal(0.0, along_sigma + 1000.0 * attempt, m), 0.0, L)
            a = shapely.get_coordinates(shapely.line_interpolate_point(geo.line_m, ss))
            p0 = shapely.get_coordinates(shapely.line_interpolate_point(geo.line_m, np.clip(ss - 400, 0, L)))
            p1 = shapely.get_coordinates(shapely.line_interpolate_point(geo.line_m, np.clip(ss + 400, 0, L)))
            t = p1 - p0
            t /= np.linalg.norm(t, axis=1)[:, None]
            # The line runs south-west to north-east, so its right-hand normal points to side B.
            nrm = np.column_stack([t[:, 1], -t[:, 0]])
            d = rng.uniform(dmin[todo], dmax[todo])
            sign = np.where(rus[todo], 1.0, -1.0)
            xy = a + nrm * (sign * d)[:, None]
            x_ll, y_ll = geo.to_ll.transform(xy[:, 0], xy[:, 1])
            dist = shapely.distance(geo.line_m, shapely.points(xy))
            ok = (_is_rus(x_ll, y_ll) == rus[todo]) & (dist >= dmin[todo]) & (dist <= dmax[todo])
            for km in BANDS_KM:
                sel = band[todo] == km
                if sel.any():
                    ok[sel] &= shapely.contains_xy(geo.band_geoms[km], x_ll[sel], y_ll[sel])
            lon[todo[ok]] = x_ll[ok]
            lat[todo[ok]] = y_ll[ok]
            todo = todo[~ok]
        if todo.size:  # pragma: no cover - would mean impossible requests
            raise RuntimeError(f"could not place {todo.size} points near the contact line")
        return np.round(lon, 6), np.round(lat, 6)


def _pick_s(rng, n: int, spread_m: float, p_hot: float = 1.0) -> np.ndarray:
    """Arc lengths (metres) along the line, clustered around the hotspots."""
    geo = _geometry()
    idx = rng.choice(len(geo.hot_s), size=n, p=geo.hot_w)
    s = geo.hot_s[idx] + rng.normal(0.0, spread_m, n)
    anywhere = rng.random(n) >= p_hot
    s[anywhere] = rng.uniform(0.0, geo.line_m.length, int(anywhere.sum()))
    return np.clip(s, 0.0, geo.line_m.length)


def _spread_s(rng, n: int, spread_m: float) -> np.ndarray:
    """Arc lengths (metres) for n sites shared among the hotspots in proportion to their weight
    (systematic sampling), so that every busy sector gets its posts."""
    geo = _geometry()
    idx = np.searchsorted(np.cumsum(geo.hot_w), (np.arange(n) + rng.random()) / n)
    idx = np.minimum(idx, len(geo.hot_s) - 1)
    s = geo.hot_s[idx] + rng.normal(0.0, spread_m, n)
    return np.clip(s, 0.0, geo.line_m.length)


def _offset_ll(lon, lat, east_m, north_m):
    """Small displacement in metres (equirectangular; fine below ~20 km)."""
    lat2 = lat + north_m / 111_320.0
    lon2 = lon + east_m / (111_320.0 * np.cos(np.radians(lat)))
    return lon2, lat2


# --------------------------------------------------------------------------------------------
# Sites and sources

_CONTRIBUTORS = ("USA", "GBR", "FRA", "DEU", "POL", "CAN", "ITA", "NLD", "FIN", "SWE", "NOR", "DNK", "EST", "TUR")

_SOURCES = [
    ("MIS-PAT", "Mission patrols", "patrol", "A", 2, "USA"),
    ("MIS-OP", "Mission observation posts", "observation_post", "A", 2, "USA"),
    ("MIS-CAM", "Mission fixed cameras", "fixed_camera", "A", 2, "USA"),
    ("MIS-UAV", "Mission UAVs", "uav", "A", 2, "USA"),
    ("MIS-ACU", "Mission acoustic sensor network", "acoustic_sensor", "B", 2, "USA"),
    ("MIS-RDR", "Mission counter-battery radars", "radar", "B", 2, "USA"),
    ("USA-NIC", "United States national intelligence summary", "national_intelligence", "B", 2, "USA"),
    ("GBR-DI", "United Kingdom Defence Intelligence summary", "national_intelligence", "B", 2, "GBR"),
    ("FRA-DRM", "French military intelligence summary", "national_intelligence", "B", 2, "FRA"),
    ("OS-INTL-WIRE", "International news wire", "open_source", "C", 3, "GBR"),
    ("OS-UA-MEDIA", "Ukrainian regional media and official channels", "open_source", "C", 3, "UKR"),
    ("OS-RU-MILBLOG", "Russian military bloggers", "open_source", "D", 4, "RUS"),
    ("PTY-UKR", "Complaint lodged by the Ukrainian side", "party_complaint", "E", 5, "UKR"),
    ("PTY-RUS", "Complaint lodged by the Russian side", "party_complaint", "E", 5, "RUS"),
]
_SOURCES_BY_CODE = {s[0]: s for s in _SOURCES}
_SOURCE_OF_KIND = {
    "patrol": "MIS-PAT",
    "observation_post": "MIS-OP",
    "fixed_camera": "MIS-CAM",
    "uav": "MIS-UAV",
    "acoustic_sensor": "MIS-ACU",
    "radar": "MIS-RDR",
}
_NIC = ("USA-NIC", "GBR-DI", "FRA-DRM")
_NIC_REL = {
    "USA-NIC": ["USA", "GBR", "CAN", "AUS", "NZL"],
    "GBR-DI": ["GBR", "USA", "CAN", "AUS", "NZL"],
    "FRA-DRM": ["FRA", "USA", "GBR", "DEU"],
}
_NIC_NATION = {"USA-NIC": "USA", "GBR-DI": "GBR", "FRA-DRM": "FRA"}


def _sources() -> list[dict]:
    return [
        {"code": c, "name": n, "channel": ch, "reliability": r, "credibility": k, "nation": nat}
        for c, n, ch, r, k, nat in _SOURCES
    ]


@dataclass
class _Assets:
    sites: list[dict]
    kind: np.ndarray  # str
    lon: np.ndarray
    lat: np.ndarray
    rus: np.ndarray
    sigma: np.ndarray  # human bearing error, degrees (1σ)
    skew: np.ndarray  # clock error, seconds
    cam_az: np.ndarray
    cam_fov: np.ndarray
    routes: dict  # site index -> (route LineString in metres)
    patrol_windows: dict  # site index -> list of (t0, t1) seconds, one per active day
    flights: list  # (uav site index, lon, lat, t0, t1)


def _make_sites(rng, clock: _Clock) -> _Assets:
    geo = _geometry()
    plan = [
        # kind, code prefix, per side (UKR, RUS), dmin, dmax (m), spread along line (m)
        ("observation_post", "OP", (24, 22), 2000, 6000, 2500),
        ("patrol", "PAT", (6, 5), 3000, 12000, 8000),
        ("fixed_camera", "CAM", (10, 10), 2000, 6000, 3000),
        ("acoustic_sensor", "ACU", (10, 10), 3000, 10000, 4000),
        ("uav", "UAV", (2, 2), 8000, 15000, 10000),
        ("radar", "RDR", (2, 2), 8000, 15000, 8000),
    ]
    placer = _Placer()
    entries = []
    for kind, prefix, per_side, dmin, dmax, spread in plan:
        for side_i, n in enumerate(per_side):
            s = np.sort(_spread_s(rng, n, spread))
            for k in range(n):
                entries.append((kind, prefix, side_i == 1, k + 1, placer.add(s[k], side_i == 1, dmin, dmax), s[k]))
    lon, lat = placer.run(rng, along_sigma=800.0)

    sites, kinds, rus_l, sig, skew = [], [], [], [], []
    cam_az, cam_fov = [], []
    routes, patrol_windows = {}, {}
    route_placer = _Placer()
    route_reqs = {}
    for i, (kind, prefix, rus, k, pi, s) in enumerate(entries):
        side = "RUS" if rus else "UKR"
        site = {
            "code": f"{prefix}-{side}-{k:02d}",
            "kind": kind,
            "lat": float(lat[pi]),
            "lon": float(lon[pi]),
            "side": side,
            "nation": _CONTRIBUTORS[int(rng.integers(len(_CONTRIBUTORS)))],
        }
        sites.append(site)
        kinds.append(kind)
        rus_l.append(rus)
        human = kind in ("observation_post", "patrol")
        # Most monitors judge direction to about 4°; a few are much worse (σ up to 10°).
        sig.append(3.0 + 7.0 * rng.beta(1.0, 6.0) if human else 0.0)
        if human or kind == "fixed_camera":
            bad_clock = rng.random() < 0.12
            skew.append(rng.choice([-1, 1]) * rng.uniform(240, 720) if bad_clock else rng.normal(0, 60))
        else:
            skew.append(rng.normal(0, 1.0))  # GPS-disciplined sensor clocks
        if kind == "fixed_camera":
            # Cameras look across the line: towards its nearest point, give or take 25°.
            xy = geo.to_m.transform(site["lon"], site["lat"])
            near = shapely.get_coordinates(
                shapely.line_interpolate_point(geo.line_m, shapely.line_locate_point(geo.line_m, shapely.Point(xy)))
            )[0]
            n_lon, n_lat = geo.to_ll.transform(near[0], near[1])
            az, _, _ = _GEOD.inv(site["lon"], site["lat"], n_lon, n_lat)
            a = (az + rng.normal(0, 12)) % 360.0
            fov = float(rng.uniform(30, 60))
            site["azimuth_deg"] = round(float(a), 1)
            site["fov_deg"] = round(fov, 1)
            cam_az.append(a)
            cam_fov.append(fov)
        else:
            cam_az.append(np.nan)
            cam_fov.append(np.nan)
        if kind == "patrol":
            n_wp = int(rng.integers(4, 7))
            steps = np.cumsum(rng.uniform(3000, 8000, n_wp - 1))
            direction = rng.choice([-1.0, 1.0])
            # Keep the route at about the base's depth so it runs along the line, not across it.
            d0 = float(shapely.distance(geo.line_m, shapely.Point(geo.to_m.transform(site["lon"], site["lat"]))))
            lo_d, hi_d = max(3000.0, d0 - 1500.0), min(12000.0, d0 + 1500.0)
            route_reqs[i] = [route_placer.add(s + direction * st, rus, lo_d, hi_d) for st in steps]
    r_lon, r_lat = route_placer.run(rng, along_sigma=500.0)
    for i, reqs in route_reqs.items():
        pts = [(sites[i]["lon"], sites[i]["lat"])] + [(float(r_lon[j]), float(r_lat[j])) for j in reqs]
        sites[i]["route"] = [{"lat": la, "lon": lo} for lo, la in pts]
        xs, ys = geo.to_m.transform([p[0] for p in pts], [p[1] for p in pts])
        routes[i] = LineString(list(zip(xs, ys)))
        windows = []
        for d in range(clock.days):
            # Patrols work daylight hours and not every day (rest days, weather, restrictions).
            if rng.random() < 0.8:
                t0 = clock.at_local(d, float(rng.uniform(8.0, 9.5)))
                windows.append((float(t0), float(t0 + rng.uniform(5.0, 7.0) * 3600.0)))
        patrol_windows[i] = [w for w in windows if w[1] <= clock.total]

    return _Assets(
        sites=sites,
        kind=np.array(kinds),
        lon=np.array([s["lon"] for s in sites]),
        lat=np.array([s["lat"] for s in sites]),
        rus=np.array(rus_l),
        sigma=np.array(sig),
        skew=np.array(skew),
        cam_az=np.array(cam_az),
        cam_fov=np.array(cam_fov),
        routes=routes,
        patrol_windows=patrol_windows,
        flights=[],
    )


def _patrol_position(assets: _Assets, i: int, t: np.ndarray):
    """Patrol i's position at times t (seconds) and whether it is out: out along its route in
    the first half of its working window, back in the second. Returns lon, lat, active."""
    geo = _geometry()
    t = np.asarray(t, float)
    frac = np.full(t.shape, np.nan)
    for t0, t1 in assets.patrol_windows.get(i, []):
        inside = (t >= t0) & (t <= t1)
        u = (t[inside] - t0) / (t1 - t0)
        frac[inside] = 1.0 - np.abs(1.0 - 2.0 * u)
    active = ~np.isnan(frac)
    route = assets.routes[i]
    pts = shapely.line_interpolate_point(route, np.where(active, frac, 0.0) * route.length)
    xy = shapely.get_coordinates(pts)
    lon, lat = geo.to_ll.transform(xy[:, 0], xy[:, 1])
    return np.asarray(lon), np.asarray(lat), active


# --------------------------------------------------------------------------------------------
# Ground truth

# (origin km behind own line, impact km behind the other side's line, rounds, shell speed m/s)
_DUEL_WEAPONS = {
    "mortar": ((0.8, 4.0), (0.3, 3.0), (1, 12), 220.0),
    "artillery_under_100mm": ((2.0, 8.0), (0.5, 6.0), (1, 10), 450.0),
    "artillery_100mm_plus": ((4.0, 15.0), (0.5, 9.0), (1, 10), 550.0),
    "tank": ((1.0, 3.0), (0.3, 3.0), (1, 6), 900.0),
    "mlrs": ((5.0, 18.0), (1.0, 14.0), (4, 40), 700.0),
    "heavy_mlrs": ((15.0, 40.0), (5.0, 30.0), (4, 12), 900.0),
}
_DUEL_P = np.array([0.34, 0.10, 0.30, 0.10, 0.13, 0.03])
_BAND_WEAPONS = ("tank", "artillery_under_100mm", "mortar", "artillery_100mm_plus", "mlrs", "heavy_mlrs", "tactical_missile")
_BAND_P = np.array([0.28, 0.08, 0.10, 0.30, 0.15, 0.06, 0.03])


def _day_intensity(rng, days: int) -> tuple[np.ndarray, int | None, int | None]:
    """Relative activity per day, with one quiet and one bad day so that trends show."""
    k = np.clip(rng.lognormal(0.0, 0.12, days), 0.8, 1.3)
    quiet = bad = None
    if days >= 2:
        quiet = 2 if days >= 5 else 0
        bad = 4 if days >= 5 else days - 1
        k[quiet] = 0.25
        k[bad] = 2.6
    return k, quiet, bad


def _make_truth(rng, clock: _Clock, assets: _Assets):
    intensity, quiet, bad = _day_intensity(rng, clock.days)
    placer = _Placer()
    recs: list[dict] = []  # internal records: positions are placer indices until resolved

    def add(kind, pos, origin, t0, t1, count, weapon, **extra):
        t0 = float(min(max(t0, 0.0), clock.total - 120.0))
        t1 = float(min(max(t1, t0 + 1.0), clock.total - 1.0))
        recs.append({"kind": kind, "pos": pos, "origin": origin, "t0": t0, "t1": t1,
                     "count": int(max(1, count)), "weapon": weapon, **extra})
        return recs[-1]

    weapons = list(_DUEL_WEAPONS)
    for d in range(clock.days):
        is_bad = d == bad
        n_ep = max(1, int(round(13.0 * intensity[d] * (1.0 + 0.1 * rng.standard_normal()))))
        t_eps = clock.at_local(d, _sample_local(rng, n_ep, _FIRE_HOUR_W))
        s_eps = _pick_s(rng, n_ep, 3000.0, p_hot=0.93)
        for e in range(n_ep):
            t0, s_c = float(t_eps[e]), float(s_eps[e])
            duration = rng.uniform(20, 150) * 60.0
            n_x = 1 + int(rng.poisson(3.0 if is_bad else 1.8))
            rus_fires = rng.random() < 0.55
            t = t0
            for _ in range(n_x):
                w = weapons[int(rng.choice(len(weapons), p=_DUEL_P))]
                (o_lo, o_hi), (i_lo, i_hi), (c_lo, c_hi), speed = _DUEL_WEAPONS[w]
                oi = placer.add(s_c + rng.normal(0, 2500), rus_fires, o_lo * 1000, o_hi * 1000)
                ii = placer.add(s_c + rng.normal(0, 2500), not rus_fires, i_lo * 1000, i_hi * 1000)
                count = int(rng.integers(c_lo, c_hi + 1))
                fire_s = max(20.0, count * rng.uniform(6.0, 40.0))
                add("explosion_outgoing", oi, oi, t, t + fire_s, count, w)
                airburst = w in ("mortar", "artillery_under_100mm", "artillery_100mm_plus") and rng.random() < 0.1
                # Impact times are fixed once positions are known (flight time = distance/speed).
                add("explosion_airburst" if airburst else "explosion_impact", ii, oi, t, t + fire_s, count, w,
                    speed=speed)
                t += rng.uniform(2, 15) * 60.0
                # A duel: the other side usually answers.
                if rng.random() < 0.7:
                    rus_fires = not rus_fires
            for _ in range(int(rng.poisson(2.5 if is_bad else 1.5))):
                rus = rng.random() < 0.5
                p = placer.add(s_c + rng.normal(0, 2500), rus, 100, 2000)
                ts = t0 + rng.uniform(0, duration)
                hmg = rng.random() < 0.3
                add("heavy_machine_gun_fire" if hmg else "small_arms_fire", p, p, ts, ts + rng.uniform(1, 20) * 60,
                    rng.integers(1, 16), "heavy_machine_gun" if hmg else "small_arms")
            if not clock.is_day(t0):
                for _ in range(int(rng.poisson(0.7))):
                    rus = rng.random() < 0.5
                    p = placer.add(s_c + rng.normal(0, 2500), rus, 200, 2000)
                    ts = t0 + rng.uniform(0, duration)
                    add("illumination_flare", p, p, ts, ts + rng.uniform(1, 4) * 60, rng.integers(1, 5), "unknown")

        # Armed drones strike day and night, though more by night.
        n_dr = int(rng.poisson(3.5 * intensity[d]))
        t_dr = clock.at_local(d, _sample_local(rng, n_dr, _DRONE_HOUR_W))
        s_dr = _pick_s(rng, n_dr, 6000.0, p_hot=0.9)
        for e in range(n_dr):
            rus = rng.random() < 0.5
            oi = placer.add(s_dr[e] + rng.normal(0, 2000), rus, 2000, 8000)
            ii = placer.add(s_dr[e] + rng.normal(0, 2000), not rus, 1000, 12000)
            add("armed_drone_strike", ii, oi, t_dr[e], t_dr[e] + rng.uniform(10, 60), 1 + int(rng.random() < 0.2), "drone")

        # Glide-bomb air strikes and ground assaults mark the bad day.
        n_air = int(rng.integers(2, 5)) if is_bad else int(rng.poisson(0.25))
        t_air = clock.at_local(d, _sample_local(rng, n_air, _FIRE_HOUR_W))
        for e in range(n_air):
            s = _pick_s(rng, 1, 4000.0)[0]
            oi = placer.add(s, True, 40000, 70000)
            ii = placer.add(s + rng.normal(0, 3000), False, 3000, 20000)
            add("air_strike", ii, oi, t_air[e], t_air[e] + rng.uniform(20, 120), rng.integers(1, 4), "aircraft")
        n_ga = int(rng.integers(2, 4)) if is_bad else int(rng.poisson(0.15))
        t_ga = clock.at_local(d, _sample_local(rng, n_ga, _FIRE_HOUR_W))
        for e in range(n_ga):
            s = _pick_s(rng, 1, 4000.0)[0]
            rus = rng.random() < 0.75  # the attacker's side
            oi = placer.add(s, rus, 500, 3000)
            ii = placer.add(s + rng.normal(0, 800), not rus, 200, 1500)
            add("ground_assault", ii, oi, t_ga[e], t_ga[e] + rng.uniform(40, 180) * 60, 1, "unknown")

    # Weapons inside the withdrawal zones, seen by patrols and UAVs in daylight.
    n_wb = max(3, int(rng.poisson(1.3 * clock.days)))
    for _ in range(n_wb):
        d = int(rng.integers(clock.days))
        w = _BAND_WEAPONS[int(rng.choice(len(_BAND_WEAPONS), p=_BAND_P))]
        km = WEAPON_BAND_KM[w]
        rus = rng.random() < 0.5
        p = placer.add(_pick_s(rng, 1, 8000.0)[0], rus, 2000, min(km * 1000 - 3000, 60000), band_km=km)
        t0 = float(clock.at_local(d, rng.uniform(9.0, 14.5)))
        add("weapon_beyond_withdrawal_line", p, p, t0, t0 + rng.uniform(10, 40) * 60, rng.integers(1, 7), w)

    # Weapons missing from permanent storage sites far behind the line.
    for _ in range(1 if clock.days < 5 else 2):
        d = int(rng.integers(clock.days))
        rus = rng.random() < 0.5
        w = ("tank", "artillery_100mm_plus", "mlrs")[int(rng.integers(3))]
        p = placer.add(float(rng.uniform(0.1, 0.9)) * _geometry().line_m.length, rus, 60000, 120000)
        t0 = float(clock.at_local(d, rng.uniform(10.0, 13.0)))
        add("weapon_missing_from_storage", p, p, t0, t0 + rng.uniform(30, 90) * 60, rng.integers(1, 5), w)

    # UAV flights: each loiters over a stretch of the line for a few hours.
    uav_idx = np.flatnonzero(assets.kind == "uav")
    flight_plan = []
    for d in range(clock.days):
        for _ in range(3 + int(rng.poisson(1.0))):
            night = rng.random() < 0.4
            t0 = float(clock.at_local(d, rng.uniform(19.0, 23.0) if night else rng.uniform(8.0, 12.0)))
            t1 = min(t0 + rng.uniform(2.0, 5.0) * 3600.0, clock.total - 60.0)
            if t1 <= t0:
                continue
            c = placer.add(_pick_s(rng, 1, 6000.0)[0], rng.random() < 0.5, 500, 6000)
            flight_plan.append((int(uav_idx[int(rng.integers(len(uav_idx)))]), c, t0, t1))

    lon, lat = placer.run(rng)
    flights = [(u, float(lon[c]), float(lat[c]), t0, t1) for u, c, t0, t1 in flight_plan]
    assets.flights = flights

    truth = []
    for r in recs:
        tr = dict(r)
        tr["lon"], tr["lat"] = float(lon[r["pos"]]), float(lat[r["pos"]])
        tr["olon"], tr["olat"] = float(lon[r["origin"]]), float(lat[r["origin"]])
        truth.append(tr)

    # Impacts land after the shell's flight.
    imp = [tr for tr in truth if "speed" in tr]
    if imp:
        _, _, dist = _GEOD.inv([t["olon"] for t in imp], [t["olat"] for t in imp],
                               [t["lon"] for t in imp], [t["lat"] for t in imp])
        for tr, dd in zip(imp, np.atleast_1d(dist)):
            flight = float(dd) / tr.pop("speed")
            tr["t0"] = min(tr["t0"] + flight, clock.total - 60.0)
            tr["t1"] = min(tr["t1"] + flight, clock.total - 1.0)

    # Events tied to mission assets: UAV flights and patrols.
    for _ in range(max(1, int(rng.poisson(0.2 * clock.days)))):
        if not flights:
            break
        u, flon, flat, f0, f1 = flights[int(rng.integers(len(flights)))]
        e, n = rng.normal(0, 2500, 2)
        plon, plat = _offset_ll(flon, flat, e, n)
        t0 = f0 + rng.uniform(0.1, 0.7) * (f1 - f0)
        truth.append({"kind": "interference_jamming", "lon": plon, "lat": plat, "olon": plon, "olat": plat,
                      "t0": t0, "t1": min(t0 + rng.uniform(5, 40) * 60, f1), "count": 1, "weapon": "unknown",
                      "flight": (u, flon, flat, f0, f1)})
    for _ in range(1 if clock.days >= 3 else 0):
        if not flights:
            break
        u, flon, flat, f0, f1 = flights[int(rng.integers(len(flights)))]
        e, n = rng.normal(0, 1500, 2)
        plon, plat = _offset_ll(flon, flat, e, n)
        t0 = f0 + rng.uniform(0.1, 0.8) * (f1 - f0)
        truth.append({"kind": "interference_fire_at_asset", "lon": plon, "lat": plat, "olon": plon, "olat": plat,
                      "t0": t0, "t1": t0 + rng.uniform(1, 5) * 60, "count": int(rng.integers(1, 6)),
                      "weapon": "small_arms", "flight": (u, flon, flat, f0, f1)})
    for _ in range(max(1, int(rng.poisson(0.3 * clock.days)))):
        if not flights:
            break
        u, flon, flat, f0, f1 = flights[int(rng.integers(len(flights)))]
        e, n = rng.normal(0, 2000, 2)
        plon, plat = _offset_ll(flon, flat, e, n)
        t0 = f0 + rng.uniform(0.0, 0.6) * (f1 - f0)
        truth.append({"kind": "mine_laying", "lon": plon, "lat": plat, "olon": plon, "olat": plat,
                      "t0": t0, "t1": min(t0 + rng.uniform(20, 60) * 60, f1), "count": int(rng.integers(5, 31)),
                      "weapon": "mine", "flight": (u, flon, flat, f0, f1)})

    pat_idx = [i for i in np.flatnonzero(assets.kind == "patrol") if assets.patrol_windows.get(int(i))]
    for _ in range(max(2, int(rng.poisson(0.6 * clock.days)))):
        if not pat_idx:
            break
        i = int(pat_idx[int(rng.integers(len(pat_idx)))])
        w0, w1 = assets.patrol_windows[i][int(rng.integers(len(assets.patrol_windows[i])))]
        t0 = w0 + rng.uniform(0.1, 0.45) * (w1 - w0)
        plon, plat, _ = _patrol_position(assets, i, np.array([t0]))
        truth.append({"kind": "movement_restriction", "lon": float(plon[0]), "lat": float(plat[0]),
                      "olon": float(plon[0]), "olat": float(plat[0]), "t0": t0,
                      "t1": t0 + rng.uniform(20, 120) * 60, "count": 1, "weapon": "unknown", "patrol": i})

    for tr in truth:
        for k in ("lon", "lat", "olon", "olat"):
            tr[k] = round(float(tr[k]), 6)
        tr["t0"] = float(np.floor(min(tr["t0"], clock.total - 60.0)))
        tr["t1"] = float(np.ceil(min(max(tr["t1"], tr["t0"] + 1.0), clock.total - 1.0)))
    truth.sort(key=lambda tr: (tr["t0"], tr["kind"], tr["lon"], tr["lat"]))
    imp_side = _sides([t["lon"] for t in truth], [t["lat"] for t in truth])
    org_side = _sides([t["olon"] for t in truth], [t["olat"] for t in truth])
    for n, tr in enumerate(truth):
        tr["id"] = f"T{n + 1:06d}"
        tr["impact_side"] = imp_side[n]
        tr["origin_side"] = org_side[n]
    return truth, {"intensity": intensity, "quiet_day": quiet, "bad_day": bad}


# --------------------------------------------------------------------------------------------
# Observations

# Perception ranges (m): heard, seen by day, seen at night (flashes, tracers, flares).
_RANGES = {
    "explosion_impact": (10000.0, 5000.0, 10000.0),
    "explosion_outgoing": (10000.0, 5000.0, 10000.0),
    "explosion_airburst": (10000.0, 6000.0, 10000.0),
    "small_arms_fire": (3000.0, 1500.0, 2500.0),
    "heavy_machine_gun_fire": (4000.0, 2000.0, 3000.0),
    "illumination_flare": (0.0, 0.0, 10000.0),
    "armed_drone_strike": (6000.0, 3000.0, 4000.0),
    "air_strike": (15000.0, 8000.0, 12000.0),
    "ground_assault": (6000.0, 4000.0, 4000.0),
}
# Loudness relative to 152 mm artillery.
_LOUDNESS = {"mortar": 0.75, "tank": 0.85, "artillery_under_100mm": 0.9, "artillery_100mm_plus": 1.15, "mlrs": 1.25,
             "heavy_mlrs": 1.4}
_NEIGHBOUR_WEAPON = {
    "mortar": "artillery_under_100mm",
    "artillery_under_100mm": "mortar",
    "artillery_100mm_plus": "mlrs",
    "tank": "artillery_under_100mm",
    "mlrs": "artillery_100mm_plus",
    "heavy_mlrs": "mlrs",
    "tactical_missile": "heavy_mlrs",
}
_HEAVIER = {
    "mortar": "artillery_100mm_plus", "artillery_under_100mm": "artillery_100mm_plus",
    "artillery_100mm_plus": "mlrs", "tank": "artillery_100mm_plus", "mlrs": "heavy_mlrs",
    "drone": "artillery_100mm_plus", "unknown": "artillery_100mm_plus",
}
_EXPLOSIVE = ("mortar", "artillery_under_100mm", "artillery_100mm_plus", "tank", "mlrs", "heavy_mlrs", "tactical_missile")

_EVENT_WORDS = {
    "explosion_impact": ("explosion (impact)", "explosions (impact)"),
    "explosion_outgoing": ("explosion (outgoing)", "explosions (outgoing)"),
    "explosion_airburst": ("airburst", "airbursts"),
    "explosion_undetermined": ("undetermined explosion", "undetermined explosions"),
    "projectile_in_flight": ("projectile in flight", "projectiles in flight"),
    "muzzle_flash": ("muzzle flash", "muzzle flashes"),
    "illumination_flare": ("illumination flare", "illumination flares"),
    "small_arms_fire": ("burst of small-arms fire", "bursts of small-arms fire"),
    "heavy_machine_gun_fire": ("burst of heavy-machine-gun fire", "bursts of heavy-machine-gun fire"),
    "armed_drone_strike": ("armed drone strike", "armed drone strikes"),
    "air_strike": ("air strike", "air strikes"),
    "ground_assault": ("ground assault", "ground assaults"),
    "mine_laying": ("mine being laid", "mines being laid"),
}
_WEAPON_WORDS = {
    "tank": ("tank", "tanks"),
    "mortar": ("mortar", "mortars"),
    "artillery_under_100mm": ("artillery piece (under 100 mm)", "artillery pieces (under 100 mm)"),
    "artillery_100mm_plus": ("howitzer (100 mm or more)", "howitzers (100 mm or more)"),
    "mlrs": ("multiple-launch rocket system", "multiple-launch rocket systems"),
    "heavy_mlrs": ("heavy multiple-launch rocket system", "heavy multiple-launch rocket systems"),
    "tactical_missile": ("tactical missile launcher", "tactical missile launchers"),
}
_VERB = {"heard": "heard", "seen": "saw", "heard_and_seen": "heard and saw", "instrument": "recorded"}


def _words(table, key, n):
    one, many = table.get(key, (key.replace("_", " "), key.replace("_", " ")))
    return f"{n} {one if n == 1 else many}"


def _sector(bearing: float) -> str:
    return COMPASS_POINTS[int(math.floor(((bearing % 360.0) + 11.25) / 22.5)) % 16]


def _km(m: float) -> str:
    return f"{m / 1000.0:.1f}".rstrip("0").rstrip(".")


def _wrap(b: float) -> float:
    b = round(b % 360.0, 1)
    return 0.0 if b >= 360.0 else b


def _near_place(lon: float, lat: float) -> str:
    geo = _geometry()
    dx = (geo.place_lon - lon) * np.cos(np.radians(lat))
    dy = geo.place_lat - lat
    i = int(np.argmin(dx * dx + dy * dy))
    az, _, dist = _GEOD.inv(geo.place_lon[i], geo.place_lat[i], lon, lat)
    if dist < 1500:
        return f"in {geo.place_names[i]}"
    return f"{dist / 1000:.0f} km {_sector(az)} of {geo.place_names[i]}"


class _Out:
    """Builds observation records; keeps times in seconds until the end."""

    def __init__(self, rng, clock: _Clock):
        self.rng = rng
        self.clock = clock
        self.items: list[tuple[float, float, dict]] = []

    def emit(self, *, channel, obs_lon, obs_lat, acc, t_from, t_to, event_type, perception, count, weapon,
             location=None, direction=None, narrative, attachments=(), source, grade, chain, marking,
             truth_id) -> dict:
        total = self.clock.total
        t_from = float(min(max(t_from, 0.0), total))
        t_to = float(min(max(t_to, t_from), total))
        rec = {
            "client_id": None,
            "channel": channel,
            "observer": {"lat": round(float(obs_lat), 6), "lon": round(float(obs_lon), 6),
                         "accuracy_m": round(float(acc), 1)},
            "observed_from": None,
            "observed_to": None,
            "event_type": event_type,
            "perception": perception,
            "count": int(max(1, count)),
            "weapon_class": weapon,
            "location": location,
            "direction": direction,
            "narrative": narrative,
            "attachments": list(attachments),
            "source": source,
            "grade": grade,
            "chain": list(chain),
            "marking": marking,
            "truth_id": truth_id,
        }
        self.items.append((t_from, t_to, rec))
        return rec

    def relay(self, original: tuple[float, float, dict], *, channel, source, grade, chain_add, marking,
              prefix, round_s: float = 0.0, count_factor: float = 1.0):
        t_from, t_to, o = original
        if round_s:
            t_from = math.floor(t_from / round_s) * round_s
            t_to = math.ceil(t_to / round_s) * round_s
        rec = copy.deepcopy(o)  # relays must not share nested dicts with the original
        rec.update(
            channel=channel,
            source=source,
            grade=grade,
            chain=list(o["chain"]) + list(chain_add),
            marking=marking,
            narrative=f"{prefix}: {o['narrative']}",
            count=int(max(1, round(o["count"] * count_factor))),
            attachments=[] if channel == "open_source" else list(o["attachments"]),
        )
        total = self.clock.total
        t_from = float(min(max(t_from, 0.0), total))
        self.items.append((t_from, float(min(max(t_to, t_from), total)), rec))

    def sha(self) -> str:
        return hashlib.sha256(self.rng.bytes(32)).hexdigest()


def _mission_marking(rng, nation: str, p_public: float) -> dict:
    if rng.random() < p_public:
        return {"classification": "PUBLIC", "tlp": "CLEAR", "releasable_to": ["ALL"], "originator": nation}
    return {"classification": "RESTRICTED", "tlp": "AMBER", "releasable_to": ["ALL"], "originator": nation}


def _nic_marking(rng, code: str) -> dict:
    u = rng.random()
    tlp = "AMBER" if u < 0.5 else ("AMBER+STRICT" if u < 0.8 else "RED")
    return {
        "classification": "SECRET" if rng.random() < 0.4 else "CONFIDENTIAL",
        "tlp": tlp,
        "releasable_to": list(_NIC_REL[code]),
        "originator": _NIC_NATION[code],
    }


def _public(nation: str) -> dict:
    return {"classification": "PUBLIC", "tlp": "CLEAR", "releasable_to": ["ALL"], "originator": nation}


def _human_event_type(kind: str, weapon: str, seen: bool, day: bool, u: float) -> str:
    if kind == "explosion_outgoing":
        if seen and weapon in ("mlrs", "heavy_mlrs") and u < 0.35:
            return "projectile_in_flight"
        if seen and not day:
            return "muzzle_flash" if u < 0.35 else ("explosion_outgoing" if u < 0.8 else "explosion_undetermined")
        if seen:
            return "explosion_outgoing" if u < 0.8 else "explosion_undetermined"
        return "explosion_outgoing" if u < 0.45 else ("explosion_undetermined" if u < 0.9 else "explosion_impact")
    if kind == "explosion_impact":
        if seen:
            return "explosion_impact" if u < 0.75 else "explosion_undetermined"
        return "explosion_impact" if u < 0.45 else ("explosion_undetermined" if u < 0.9 else "explosion_outgoing")
    if kind == "explosion_airburst":
        if seen:
            return "explosion_airburst" if u < 0.7 else "explosion_undetermined"
        return "explosion_airburst" if u < 0.25 else "explosion_undetermined"
    if kind == "small_arms_fire":
        return "small_arms_fire" if u < 0.85 else "heavy_machine_gun_fire"
    if kind == "heavy_machine_gun_fire":
        return "heavy_machine_gun_fire" if u < 0.7 else "small_arms_fire"
    if kind == "armed_drone_strike":
        if seen:
            return "armed_drone_strike" if u < 0.75 else "explosion_impact"
        return "explosion_undetermined" if u < 0.6 else "explosion_impact"
    if kind == "air_strike":
        if seen and day:
            return "air_strike" if u < 0.6 else "explosion_impact"
        return "explosion_impact" if u < 0.5 else "explosion_undetermined"
    if kind == "ground_assault":
        return "ground_assault" if seen else "small_arms_fire"
    return kind


def _reported_weapon(event_type: str, true_weapon: str, u: float, p_right: float) -> str:
    if event_type == "small_arms_fire":
        return "small_arms"
    if event_type == "heavy_machine_gun_fire":
        return "heavy_machine_gun"
    if event_type == "armed_drone_strike":
        return "drone"
    if event_type == "air_strike":
        return "aircraft"
    if event_type == "ground_assault" or event_type == "illumination_flare":
        return "unknown"
    if true_weapon in _EXPLOSIVE:
        if u < p_right:
            return true_weapon
        if u < p_right + 0.1:
            return _NEIGHBOUR_WEAPON[true_weapon]
    return "unknown"


def _range_band(d: float, seen: bool, z: float, u: float, u2: float) -> tuple[float, float]:
    """A monitor's range band (metres) around a noisy estimate of the true distance d."""
    sigma = 0.12 if seen else 0.2
    est = d * math.exp(sigma * z)
    if u < 0.04:  # misjudged altogether: echoes, terrain, a second event
        est *= (2.2 if u2 < 0.5 else 1 / 2.2)
    w = 0.2 if seen else 0.35
    lo, hi = est * (1 - w), est * (1 + w)
    step = 100.0 if hi < 2000 else (500.0 if hi < 10000 else 1000.0)
    lo = math.floor(lo / step) * step
    hi = math.ceil(hi / step) * step
    if hi <= lo:
        hi = lo + step
    return float(lo), float(hi)


def _observe_fire(rng, out: _Out, clock: _Clock, assets: _Assets, truth: list[dict]):
    """Mission assets (posts, patrols, cameras, acoustic sensors, radars, UAV flights) perceiving
    fire events, each with its own reach and errors."""
    fire = [t for t in truth if t["kind"] in _RANGES]
    if not fire:
        return
    n_t = len(fire)
    t_lon = np.array([t["lon"] for t in fire])
    t_lat = np.array([t["lat"] for t in fire])
    t_o_lon = np.array([t["olon"] for t in fire])
    t_o_lat = np.array([t["olat"] for t in fire])
    t0 = np.array([t["t0"] for t in fire])
    day = clock.is_day(t0)
    loud = np.array([_LOUDNESS.get(t["weapon"], 1.0) for t in fire])
    rh = np.array([_RANGES[t["kind"]][0] for t in fire]) * loud
    rv = np.where(day, [_RANGES[t["kind"]][1] for t in fire], [_RANGES[t["kind"]][2] for t in fire])

    def detections(obs_lon, obs_lat, active, p0_h, p0_v):
        """Which (truth, observer) pairs are perceived; observer arrays are (n_t, n_o)."""
        tl = np.broadcast_to(t_lon[:, None], obs_lon.shape)
        ta = np.broadcast_to(t_lat[:, None], obs_lon.shape)
        az, _, dist = _GEOD.inv(obs_lon.ravel(), obs_lat.ravel(), tl.ravel(), ta.ravel())
        az = np.asarray(az).reshape(obs_lon.shape) % 360.0
        dist = np.asarray(dist).reshape(obs_lon.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            ph = p0_h * np.clip(1 - (dist / rh[:, None]) ** 4, 0, 1)
            pv = p0_v * np.clip(1 - (dist / rv[:, None]) ** 4, 0, 1)
        ph = np.nan_to_num(ph)
        pv = np.nan_to_num(pv)
        heard = (rng.random(dist.shape) < ph) & active
        seen = (rng.random(dist.shape) < pv) & active
        return heard, seen, az, dist

    # --- humans: observation posts (manned around the clock) and patrols (daylight, moving)
    op = np.flatnonzero(assets.kind == "observation_post")
    pat = np.flatnonzero(assets.kind == "patrol")
    op_lon = np.broadcast_to(assets.lon[op][None, :], (n_t, op.size))
    op_lat = np.broadcast_to(assets.lat[op][None, :], (n_t, op.size))
    h_op, s_op, az_op, d_op = detections(op_lon, op_lat, np.ones((n_t, op.size), bool), 0.97, 0.9)
    p_lon = np.zeros((n_t, pat.size))
    p_lat = np.zeros((n_t, pat.size))
    p_act = np.zeros((n_t, pat.size), bool)
    for j, i in enumerate(pat):
        p_lon[:, j], p_lat[:, j], p_act[:, j] = _patrol_position(assets, int(i), t0)
    h_p, s_p, az_p, d_p = detections(p_lon, p_lat, p_act, 0.9, 0.9)

    for site_idx, obs_lon, obs_lat, heard, seen, az, dist in (
        (op, op_lon, op_lat, h_op, s_op, az_op, d_op),
        (pat, p_lon, p_lat, h_p, s_p, az_p, d_p),
    ):
        ti, oj = np.nonzero(heard | seen)
        m = ti.size
        U = rng.random((m, 8))
        Z = rng.standard_normal((m, 6))
        for k in range(m):
            tr = fire[ti[k]]
            si = int(site_idx[oj[k]])
            site = assets.sites[si]
            hd, sn = bool(heard[ti[k], oj[k]]), bool(seen[ti[k], oj[k]])
            perception = "heard_and_seen" if hd and sn else ("heard" if hd else "seen")
            d = float(dist[ti[k], oj[k]])
            is_day = bool(day[ti[k]])
            b = float(az[ti[k], oj[k]]) + assets.sigma[si] * Z[k, 0]
            if U[k, 0] < 0.015:  # a gross direction error (echo off a building, a second event)
                b += (1 if U[k, 1] < 0.5 else -1) * (25 + 35 * U[k, 1])
            sector = _sector(b)
            if U[k, 2] < 0.85:
                rmin, rmax = _range_band(d, sn, Z[k, 1], U[k, 3], U[k, 1])
            else:
                rmin = rmax = None
            et = _human_event_type(tr["kind"], tr["weapon"], sn, is_day, U[k, 4])
            wc = _reported_weapon(et, tr["weapon"], U[k, 5], 0.4 if sn else 0.25)
            c = tr["count"]
            if c > 3:
                # Far away, some rounds go unnoticed; close by, counts are roughly right.
                thin = 1.0 - 0.3 * min(1.0, d / max(rh[ti[k]], 1.0))
                c = int(round(c * thin * math.exp(0.2 * Z[k, 2])))
            elif U[k, 6] < 0.15:
                c = c + (1 if U[k, 7] < 0.6 else -1)
            c = max(1, c)
            delay = d / _SPEED_OF_SOUND if not sn else 0.0
            skew = assets.skew[si]
            t_from = math.floor((tr["t0"] + skew + delay + 20 * Z[k, 3]) / 60.0) * 60.0
            t_to = math.ceil((tr["t1"] + skew + delay + 20 * abs(Z[k, 4])) / 60.0) * 60.0
            acc = 5.0 + 10.0 * U[k, 6]
            o_lon, o_lat = _offset_ll(float(obs_lon[ti[k], oj[k]]), float(obs_lat[ti[k], oj[k]]),
                                      acc * 0.7 * Z[k, 5], acc * 0.7 * Z[k, 4])
            rng_txt = f" {_km(rmin)}–{_km(rmax)} km" if rmin is not None else " at an undetermined distance"
            narrative = f"{_VERB[perception]} {_words(_EVENT_WORDS, et, c)}{rng_txt} {sector}"
            if wc != "unknown" and wc in _WEAPON_WORDS:
                narrative += f" (assessed as {_WEAPON_WORDS[wc][0]})"
            credibility = 2 if sn else 3
            out.emit(
                channel=site["kind"], obs_lon=o_lon, obs_lat=o_lat, acc=acc, t_from=t_from, t_to=t_to,
                event_type=et, perception=perception, count=c, weapon=wc,
                direction={"bearing_deg": None, "bearing_sigma_deg": None, "compass_sector": sector,
                           "range_min_m": rmin, "range_max_m": rmax},
                narrative=narrative, source=_SOURCE_OF_KIND[site["kind"]], grade=f"A{credibility}",
                chain=[site["code"]], marking=_mission_marking(rng, site["nation"], 0.22), truth_id=tr["id"],
            )

    # --- fixed cameras: a narrow field of view; geolocate by day, bearing to a flash by night
    cam = np.flatnonzero(assets.kind == "fixed_camera")
    c_lon = np.broadcast_to(assets.lon[cam][None, :], (n_t, cam.size))
    c_lat = np.broadcast_to(assets.lat[cam][None, :], (n_t, cam.size))
    _, s_c, az_c, d_c = detections(c_lon, c_lat, np.ones((n_t, cam.size), bool), 0.0, 0.9)
    # Cameras see further than people: zoom by day, flashes at night.
    off = np.abs((az_c - assets.cam_az[cam][None, :] + 180.0) % 360.0 - 180.0)
    in_fov = off <= assets.cam_fov[cam][None, :] / 2.0
    reach = np.where(day[:, None], 8000.0, 12000.0) * np.where(rv[:, None] < 5000.0, 0.4, 1.0)
    s_c = (s_c | (rng.random(d_c.shape) < 0.85 * np.clip(1 - (d_c / reach) ** 2, 0, 1))) & in_fov
    ti, oj = np.nonzero(s_c)
    U = rng.random((ti.size, 4))
    Z = rng.standard_normal((ti.size, 3))
    for k in range(ti.size):
        tr = fire[ti[k]]
        si = int(cam[oj[k]])
        site = assets.sites[si]
        d = float(d_c[ti[k], oj[k]])
        is_day = bool(day[ti[k]])
        et = _human_event_type(tr["kind"], tr["weapon"], True, is_day, U[k, 0])
        wc = _reported_weapon(et, tr["weapon"], U[k, 1], 0.3)
        skew = assets.skew[si]
        t_from = tr["t0"] + skew
        t_to = tr["t1"] + skew
        if is_day:
            err = 150.0 + 0.06 * d
            lo, la = _offset_ll(tr["lon"], tr["lat"], err * 0.7 * Z[k, 0], err * 0.7 * Z[k, 1])
            location = {"lat": round(float(la), 6), "lon": round(float(lo), 6), "error_m": round(err, 0)}
            direction = None
            where = _near_place(lo, la)
        else:
            location = None
            b = _wrap(float(az_c[ti[k], oj[k]]) + 1.0 * Z[k, 2])
            direction = {"bearing_deg": b, "bearing_sigma_deg": 1.0, "compass_sector": None,
                         "range_min_m": None, "range_max_m": None}
            where = f"on bearing {b:.0f}°"
        out.emit(
            channel="fixed_camera", obs_lon=site["lon"], obs_lat=site["lat"], acc=3.0, t_from=t_from, t_to=t_to,
            event_type=et, perception="seen", count=tr["count"], weapon=wc, location=location,
            direction=direction, narrative=f"camera {site['code']} recorded {_words(_EVENT_WORDS, et, tr['count'])} {where}",
            attachments=[out.sha()], source="MIS-CAM", grade="A2", chain=[site["code"]],
            marking=_mission_marking(rng, site["nation"], 0.25), truth_id=tr["id"],
        )

    # --- acoustic sensors: bearings with σ ≈ 2°, no range from a single array
    acu = np.flatnonzero(assets.kind == "acoustic_sensor")
    a_lon = np.broadcast_to(assets.lon[acu][None, :], (n_t, acu.size))
    a_lat = np.broadcast_to(assets.lat[acu][None, :], (n_t, acu.size))
    _, _, az_a, d_a = detections(a_lon, a_lat, np.ones((n_t, acu.size), bool), 0.0, 0.0)
    r_ac = np.where(rh < 5000.0, 2000.0, 18000.0 * loud)
    p_ac = np.where(rh < 5000.0, 0.4, 0.92)[:, None] * np.clip(1 - (d_a / r_ac[:, None]) ** 2, 0, 1)
    p_ac[np.array([t["kind"] == "illumination_flare" for t in fire])] = 0.0
    det = rng.random(d_a.shape) < p_ac
    ti, oj = np.nonzero(det)
    U = rng.random((ti.size, 3))
    Z = rng.standard_normal((ti.size, 2))
    for k in range(ti.size):
        tr = fire[ti[k]]
        si = int(acu[oj[k]])
        site = assets.sites[si]
        d = float(d_a[ti[k], oj[k]])
        kind = tr["kind"]
        if kind in ("explosion_outgoing", "explosion_impact"):
            u = U[k, 0]
            other = "explosion_impact" if kind == "explosion_outgoing" else "explosion_outgoing"
            et = kind if u < 0.65 else ("explosion_undetermined" if u < 0.95 else other)
        elif kind in ("small_arms_fire", "heavy_machine_gun_fire", "ground_assault"):
            et = "small_arms_fire" if kind != "heavy_machine_gun_fire" else kind
        elif kind == "explosion_airburst":
            et = kind if U[k, 0] < 0.5 else "explosion_undetermined"
        else:
            et = "explosion_undetermined"
        wc = _reported_weapon(et, tr["weapon"], U[k, 1], 0.5)
        c = max(1, int(round(tr["count"] * (1 + 0.08 * Z[k, 1]))))
        b = _wrap(float(az_a[ti[k], oj[k]]) + 2.0 * Z[k, 0])
        delay = d / _SPEED_OF_SOUND + assets.skew[si]
        out.emit(
            channel="acoustic_sensor", obs_lon=site["lon"], obs_lat=site["lat"], acc=2.0,
            t_from=tr["t0"] + delay, t_to=tr["t1"] + delay, event_type=et, perception="instrument", count=c,
            weapon=wc, direction={"bearing_deg": b, "bearing_sigma_deg": 2.0, "compass_sector": None,
                                  "range_min_m": None, "range_max_m": None},
            narrative=f"acoustic sensor {site['code']} registered {_words(_EVENT_WORDS, et, c)}, bearing {b:.1f}°",
            source="MIS-ACU", grade="B2", chain=[site["code"]], marking=_mission_marking(rng, site["nation"], 0.0),
            truth_id=tr["id"],
        )

    # --- counter-battery radars: locate the firing position of indirect fire
    rdr = np.flatnonzero(assets.kind == "radar")
    radar_reach = {"mortar": 15000.0, "artillery_under_100mm": 22000.0, "artillery_100mm_plus": 28000.0,
                   "mlrs": 35000.0, "heavy_mlrs": 50000.0}
    out_idx = [k for k, t in enumerate(fire) if t["kind"] == "explosion_outgoing" and t["weapon"] in radar_reach]
    if out_idx and rdr.size:
        oi = np.array(out_idx)
        r_lon = np.broadcast_to(assets.lon[rdr][None, :], (oi.size, rdr.size))
        r_lat = np.broadcast_to(assets.lat[rdr][None, :], (oi.size, rdr.size))
        _, _, dist = _GEOD.inv(r_lon.ravel(), r_lat.ravel(), np.repeat(t_o_lon[oi], rdr.size),
                               np.repeat(t_o_lat[oi], rdr.size))
        dist = np.asarray(dist).reshape(oi.size, rdr.size)
        reach = np.array([radar_reach[fire[k]["weapon"]] for k in out_idx])[:, None]
        det = rng.random(dist.shape) < 0.85 * np.clip(1 - (dist / reach) ** 2, 0, 1)
        ti, oj = np.nonzero(det)
        U = rng.random((ti.size, 2))
        Z = rng.standard_normal((ti.size, 2))
        for k in range(ti.size):
            tr = fire[out_idx[ti[k]]]
            si = int(rdr[oj[k]])
            site = assets.sites[si]
            err = 40.0 + 0.004 * float(dist[ti[k], oj[k]])
            lo, la = _offset_ll(tr["olon"], tr["olat"], err * 0.7 * Z[k, 0], err * 0.7 * Z[k, 1])
            wc = tr["weapon"] if U[k, 0] < 0.7 else "unknown"
            c = max(1, tr["count"] - int(U[k, 1] * 0.3 * tr["count"]))
            out.emit(
                channel="radar", obs_lon=site["lon"], obs_lat=site["lat"], acc=5.0, t_from=tr["t0"], t_to=tr["t1"],
                event_type="projectile_in_flight", perception="instrument", count=c, weapon=wc,
                location={"lat": round(float(la), 6), "lon": round(float(lo), 6), "error_m": round(err, 0)},
                narrative=f"radar {site['code']} tracked {_words(_EVENT_WORDS, 'projectile_in_flight', c)}, "
                          f"firing position {_near_place(lo, la)}",
                source="MIS-RDR", grade="B2", chain=[site["code"]],
                marking=_mission_marking(rng, site["nation"], 0.0), truth_id=tr["id"],
            )

    # --- UAV flights: locate what happens under the aircraft while it loiters
    if assets.flights:
        fl = assets.flights
        f_lon = np.array([f[1] for f in fl])
        f_lat = np.array([f[2] for f in fl])
        f0 = np.array([f[3] for f in fl])
        f1 = np.array([f[4] for f in fl])
        tl = np.broadcast_to(t_lon[:, None], (n_t, len(fl)))
        ta = np.broadcast_to(t_lat[:, None], (n_t, len(fl)))
        _, _, dist = _GEOD.inv(np.broadcast_to(f_lon, tl.shape).ravel(), np.broadcast_to(f_lat, tl.shape).ravel(),
                               tl.ravel(), ta.ravel())
        dist = np.asarray(dist).reshape(tl.shape)
        airborne = (t0[:, None] >= f0[None, :]) & (t0[:, None] <= f1[None, :])
        small = (rv < 5000.0)[:, None]
        p = np.where(small, 0.35, 0.7) * (dist <= 8000.0) * airborne
        det = rng.random(dist.shape) < p
        ti, fj = np.nonzero(det)
        U = rng.random((ti.size, 3))
        Z = rng.standard_normal((ti.size, 4))
        for k in range(ti.size):
            tr = fire[ti[k]]
            si = fl[fj[k]][0]
            site = assets.sites[si]
            err = 40.0 + 40.0 * U[k, 0]
            lo, la = _offset_ll(tr["lon"], tr["lat"], err * 0.7 * Z[k, 0], err * 0.7 * Z[k, 1])
            u_lon, u_lat = _offset_ll(tr["lon"], tr["lat"], 1500 * Z[k, 2], 1500 * Z[k, 3])
            et = tr["kind"]
            if et.startswith("explosion_") and U[k, 1] >= 0.9:
                et = "explosion_undetermined"
            wc = _reported_weapon(et, tr["weapon"], U[k, 2], 0.8)
            n_att = 1 + int(U[k, 2] * 3)
            out.emit(
                channel="uav", obs_lon=u_lon, obs_lat=u_lat, acc=15.0, t_from=tr["t0"], t_to=tr["t1"],
                event_type=et, perception="seen", count=tr["count"], weapon=wc,
                location={"lat": round(float(la), 6), "lon": round(float(lo), 6), "error_m": round(err, 0)},
                narrative=f"UAV ({site['code']}) spotted {_words(_EVENT_WORDS, et, tr['count'])} {_near_place(lo, la)}",
                attachments=[out.sha() for _ in range(n_att)], source="MIS-UAV", grade="A2", chain=[site["code"]],
                marking=_mission_marking(rng, site["nation"], 0.2), truth_id=tr["id"],
            )


def _observe_special(rng, out: _Out, clock: _Clock, assets: _Assets, truth: list[dict]):
    """Weapons sightings, storage checks, restrictions and interference: seen by one asset."""
    pat = [int(i) for i in np.flatnonzero(assets.kind == "patrol")]
    uav = [int(i) for i in np.flatnonzero(assets.kind == "uav")]
    for tr in truth:
        kind = tr["kind"]
        if kind == "weapon_beyond_withdrawal_line":
            u = rng.random()
            seers = []
            if u < 0.6 or u >= 0.85:
                seers.append("uav")
            if u >= 0.6:
                seers.append("patrol")
            for who in seers:
                same_side = [i for i in (pat if who == "patrol" else uav) if assets.sites[i]["side"] == tr["impact_side"]]
                pool = same_side or (pat if who == "patrol" else uav)
                si = pool[int(rng.integers(len(pool)))]
                site = assets.sites[si]
                err = 150.0 if who == "patrol" else 40.0
                lo, la = _offset_ll(tr["lon"], tr["lat"], *(rng.normal(0, err * 0.7, 2)))
                sep = 800.0 if who == "patrol" else 1500.0
                o_lon, o_lat = _offset_ll(tr["lon"], tr["lat"], *(rng.normal(0, sep, 2)))
                km = WEAPON_BAND_KM[tr["weapon"]]
                out.emit(
                    channel=who, obs_lon=o_lon, obs_lat=o_lat, acc=10.0, t_from=tr["t0"], t_to=tr["t1"],
                    event_type=kind, perception="seen", count=tr["count"], weapon=tr["weapon"],
                    location={"lat": round(float(la), 6), "lon": round(float(lo), 6), "error_m": err},
                    narrative=(f"{'patrol' if who == 'patrol' else 'UAV'} ({site['code']}) saw "
                               f"{_words(_WEAPON_WORDS, tr['weapon'], tr['count'])} {_near_place(lo, la)}, "
                               f"inside the {km} km withdrawal zone"),
                    attachments=[out.sha()] if who == "uav" else [], source=_SOURCE_OF_KIND[who], grade="A2",
                    chain=[site["code"]], marking=_mission_marking(rng, site["nation"], 0.5), truth_id=tr["id"],
                )
        elif kind == "weapon_missing_from_storage":
            same_side = [i for i in pat if assets.sites[i]["side"] == tr["impact_side"]] or pat
            si = same_side[int(rng.integers(len(same_side)))]
            site = assets.sites[si]
            o_lon, o_lat = _offset_ll(tr["lon"], tr["lat"], *(rng.normal(0, 60, 2)))
            out.emit(
                channel="patrol", obs_lon=o_lon, obs_lat=o_lat, acc=8.0, t_from=tr["t0"], t_to=tr["t1"],
                event_type=kind, perception="seen", count=tr["count"], weapon=tr["weapon"],
                location={"lat": tr["lat"], "lon": tr["lon"], "error_m": 50.0},
                narrative=(f"patrol ({site['code']}) found {_words(_WEAPON_WORDS, tr['weapon'], tr['count'])} missing "
                           f"from a permanent storage site {_near_place(tr['lon'], tr['lat'])}"),
                source="MIS-PAT", grade="A1", chain=[site["code"]],
                marking=_mission_marking(rng, site["nation"], 0.5), truth_id=tr["id"],
            )
        elif kind == "movement_restriction":
            site = assets.sites[tr["patrol"]]
            o_lon, o_lat = _offset_ll(tr["lon"], tr["lat"], *(rng.normal(0, 15, 2)))
            out.emit(
                channel="patrol", obs_lon=o_lon, obs_lat=o_lat, acc=8.0, t_from=tr["t0"], t_to=tr["t1"],
                event_type=kind, perception="seen", count=1, weapon="unknown",
                location={"lat": tr["lat"], "lon": tr["lon"], "error_m": 20.0},
                narrative=(f"patrol {site['code']} was denied passage at a checkpoint {_near_place(tr['lon'], tr['lat'])}; "
                           f"armed personnel cited orders from their superiors"),
                source="MIS-PAT", grade="A1", chain=[site["code"]],
                marking=_mission_marking(rng, site["nation"], 0.7), truth_id=tr["id"],
            )
        elif kind in ("interference_jamming", "interference_fire_at_asset", "mine_laying"):
            si = tr["flight"][0]
            site = assets.sites[si]
            jam = kind == "interference_jamming"
            err = 1500.0 if jam else (60.0 if kind == "mine_laying" else 300.0)
            lo, la = _offset_ll(tr["lon"], tr["lat"], *(rng.normal(0, err * 0.5, 2)))
            text = {
                "interference_jamming": "UAV experienced dual-frequency GPS signal interference, assessed as jamming",
                "interference_fire_at_asset": f"UAV came under small-arms fire ({tr['count']} bursts)",
                "mine_laying": f"UAV saw {tr['count']} anti-tank mines being laid",
            }[kind]
            out.emit(
                channel="uav", obs_lon=tr["flight"][1], obs_lat=tr["flight"][2], acc=2000.0 if jam else 15.0,
                t_from=tr["t0"], t_to=tr["t1"], event_type=kind, perception="instrument" if jam else "seen",
                count=tr["count"], weapon=tr["weapon"],
                location={"lat": round(float(la), 6), "lon": round(float(lo), 6), "error_m": err},
                narrative=f"{text} ({site['code']}) {_near_place(lo, la)}",
                attachments=[] if jam else [out.sha()], source="MIS-UAV", grade="A2", chain=[site["code"]],
                marking=_mission_marking(rng, site["nation"], 0.6), truth_id=tr["id"],
            )


def _observe_others(rng, out: _Out, clock: _Clock, assets: _Assets, truth: list[dict]):
    """National intelligence, open source and party complaints, original and false."""
    total = clock.total
    heavy = ("artillery_100mm_plus", "mlrs", "heavy_mlrs", "tactical_missile")
    n_complaints = {"UKR": 0, "RUS": 0}
    n_os = 0
    for tr in truth:
        kind = tr["kind"]
        # National intelligence locates heavy weapons firing and in the zones.
        nic_p = 0.0
        if kind == "explosion_outgoing" and tr["weapon"] in heavy:
            nic_p = 0.35
        elif kind == "air_strike":
            nic_p = 0.6
        elif kind == "weapon_beyond_withdrawal_line":
            nic_p = 0.5
        if nic_p and rng.random() < nic_p:
            code = _NIC[int(rng.choice(3, p=[0.55, 0.25, 0.20]))]
            if kind == "air_strike":
                plon, plat = tr["olon"], tr["olat"]
            else:
                plon, plat = tr["lon"], tr["lat"]
            err = float(rng.uniform(200, 1000))
            lo, la = _offset_ll(plon, plat, *(rng.normal(0, err * 0.7, 2)))
            # A standoff collection platform 40–80 km behind the Ukrainian-held side.
            s_lon, s_lat = _offset_ll(plon, plat, -float(rng.uniform(40000, 80000)), float(rng.normal(0, 20000)))
            et = "explosion_outgoing" if kind == "explosion_outgoing" else kind
            c = max(1, int(round(tr["count"] * rng.uniform(0.7, 1.3))))
            wc = tr["weapon"] if rng.random() < 0.85 else _NEIGHBOUR_WEAPON.get(tr["weapon"], "unknown")
            what = (_words(_WEAPON_WORDS, wc, c) if kind == "weapon_beyond_withdrawal_line"
                    else f"{_words(_EVENT_WORDS, et, c)}")
            out.emit(
                channel="national_intelligence", obs_lon=s_lon, obs_lat=s_lat, acc=1000.0,
                t_from=math.floor(tr["t0"] / 600) * 600, t_to=math.ceil(tr["t1"] / 600) * 600, event_type=et,
                perception="instrument", count=c, weapon=wc,
                location={"lat": round(float(la), 6), "lon": round(float(lo), 6), "error_m": round(err, 0)},
                narrative=f"collection indicates {what} {_near_place(lo, la)}",
                source=code, grade="B2" if rng.random() < 0.8 else "B3", chain=[code],
                marking=_nic_marking(rng, code), truth_id=tr["id"],
            )

        # Parties complain about what lands on their side.
        if kind in IMPACT_KINDS and rng.random() < 0.25:
            party = tr["impact_side"]
            src = f"PTY-{party}"
            err = float(rng.uniform(500, 2500))
            lo, la = _offset_ll(tr["lon"], tr["lat"], *(rng.normal(0, err * 0.7, 2)))
            c = int(math.ceil(tr["count"] * rng.uniform(1.0, 2.5)))
            wc = tr["weapon"] if tr["weapon"] in _EXPLOSIVE or tr["weapon"] in ("drone", "aircraft") else "unknown"
            if rng.random() < 0.3:
                wc = _HEAVIER.get(wc, wc)
            et = kind if kind != "explosion_airburst" else "explosion_impact"
            o_lon, o_lat = _offset_ll(tr["lon"], tr["lat"], *(rng.normal(0, 1500, 2)))
            other = "RUS" if party == "UKR" else "UKR"
            out.emit(
                channel="party_complaint", obs_lon=o_lon, obs_lat=o_lat, acc=500.0,
                t_from=math.floor(tr["t0"] / 900) * 900, t_to=math.ceil(tr["t1"] / 900) * 900, event_type=et,
                perception="heard_and_seen", count=c, weapon=wc,
                location={"lat": round(float(la), 6), "lon": round(float(lo), 6), "error_m": round(err, 0)},
                narrative=(f"{party} side reports {_words(_EVENT_WORDS, et, c)} by {other} forces "
                           f"{_near_place(lo, la)}"),
                source=src, grade="E5" if rng.random() < 0.8 else "F6", chain=[src],
                marking={"classification": "RESTRICTED", "tlp": "GREEN", "releasable_to": ["ALL"], "originator": party},
                truth_id=tr["id"],
            )
            n_complaints[party] += 1

        # Local media report heavy impacts in or near towns.
        if kind in IMPACT_KINDS and tr["count"] >= 3 and rng.random() < 0.12:
            src = "OS-UA-MEDIA" if tr["impact_side"] == "UKR" else "OS-RU-MILBLOG"
            err = float(rng.uniform(2000, 4000))
            lo, la = _offset_ll(tr["lon"], tr["lat"], *(rng.normal(0, err * 0.7, 2)))
            c = max(1, int(round(tr["count"] * rng.uniform(0.5, 2.0))))
            out.emit(
                channel="open_source", obs_lon=lo, obs_lat=la, acc=err, t_from=math.floor(tr["t0"] / 3600) * 3600,
                t_to=math.ceil(tr["t1"] / 3600) * 3600, event_type="explosion_impact", perception="heard_and_seen",
                count=c, weapon="unknown",
                location={"lat": round(float(la), 6), "lon": round(float(lo), 6), "error_m": round(err, 0)},
                narrative=f"residents report {c} explosions {_near_place(lo, la)}",
                source=src, grade="C3" if src == "OS-UA-MEDIA" else "D4", chain=[src],
                marking=_public(_SOURCES_BY_CODE[src][5]), truth_id=tr["id"],
            )
            n_os += 1
            if rng.random() < 0.25:
                out.relay(out.items[-1], channel="open_source", source="OS-INTL-WIRE", grade="C3",
                          chain_add=["OS-INTL-WIRE"], marking=_public("GBR"), prefix="wire, citing local media",
                          round_s=3600.0)

    # False reports: nothing real behind them.
    for party, n in n_complaints.items():
        n_false = max(1, int(round(n * 0.05 / 0.95)))
        s = _pick_s(rng, n_false, 8000.0)
        placer = _Placer()
        idx = [placer.add(si, party == "RUS", 1000, 10000) for si in s]
        lon, lat = placer.run(rng)
        for k in idx:
            d = int(rng.integers(clock.days))
            t = float(clock.at_local(d, _sample_local(rng, 1, _FIRE_HOUR_W))[0])
            c = int(rng.integers(2, 20))
            wc = ("artillery_100mm_plus", "mlrs", "mortar", "drone")[int(rng.integers(4))]
            other = "RUS" if party == "UKR" else "UKR"
            o_lon, o_lat = _offset_ll(lon[k], lat[k], *(rng.normal(0, 1500, 2)))
            out.emit(
                channel="party_complaint", obs_lon=o_lon, obs_lat=o_lat, acc=500.0,
                t_from=math.floor(t / 900) * 900, t_to=math.ceil((t + 600) / 900) * 900, event_type="explosion_impact",
                perception="heard_and_seen", count=c, weapon=wc,
                location={"lat": float(lat[k]), "lon": float(lon[k]), "error_m": 1500.0},
                narrative=f"{party} side reports {c} explosions (impact) by {other} forces {_near_place(lon[k], lat[k])}",
                source=f"PTY-{party}", grade="E5" if rng.random() < 0.8 else "F6", chain=[f"PTY-{party}"],
                marking={"classification": "RESTRICTED", "tlp": "GREEN", "releasable_to": ["ALL"], "originator": party},
                truth_id=None,
            )
    n_false_os = max(2, int(round(n_os * 0.15)))
    s = _pick_s(rng, n_false_os, 10000.0)
    placer = _Placer()
    rus = rng.random(n_false_os) < 0.5
    idx = [placer.add(s[k], bool(rus[k]), 1000, 20000) for k in range(n_false_os)]
    lon, lat = placer.run(rng)
    for k in idx:
        src = "OS-RU-MILBLOG" if rus[k] else "OS-UA-MEDIA"
        d = int(rng.integers(clock.days))
        t = float(clock.at_local(d, _sample_local(rng, 1, _FIRE_HOUR_W))[0])
        c = int(rng.integers(1, 12))
        out.emit(
            channel="open_source", obs_lon=lon[k], obs_lat=lat[k], acc=3000.0, t_from=math.floor(t / 3600) * 3600,
            t_to=min(total, math.ceil((t + 600) / 3600) * 3600), event_type="explosion_impact",
            perception="heard_and_seen", count=c, weapon="unknown",
            location={"lat": float(lat[k]), "lon": float(lon[k]), "error_m": 3000.0},
            narrative=f"residents report {c} explosions {_near_place(lon[k], lat[k])}",
            source=src, grade="C3" if src == "OS-UA-MEDIA" else "D4", chain=[src],
            marking=_public(_SOURCES_BY_CODE[src][5]), truth_id=None,
        )
    # An acoustic array now and then triggers on a bang that is no violation (demolition, backfire).
    acu = [int(i) for i in np.flatnonzero(assets.kind == "acoustic_sensor")]
    for _ in range(int(rng.poisson(1.0 * clock.days))):
        si = acu[int(rng.integers(len(acu)))]
        site = assets.sites[si]
        t = float(rng.uniform(0, total - 60))
        b = _wrap(float(rng.uniform(0, 360)))
        out.emit(
            channel="acoustic_sensor", obs_lon=site["lon"], obs_lat=site["lat"], acc=2.0, t_from=t, t_to=t + 2,
            event_type="explosion_undetermined", perception="instrument", count=1, weapon="unknown",
            direction={"bearing_deg": b, "bearing_sigma_deg": 2.0, "compass_sector": None,
                       "range_min_m": None, "range_max_m": None},
            narrative=f"acoustic sensor {site['code']} registered 1 undetermined explosion, bearing {b:.1f}°",
            source="MIS-ACU", grade="B2", chain=[site["code"]], marking=_mission_marking(rng, site["nation"], 0.0),
            truth_id=None,
        )


def _relay_mission_reports(rng, out: _Out):
    """National summaries and the press pass mission reports on; the fusion engine must see
    these as one chain, not as corroboration."""
    mission = [it for it in out.items
               if it[2]["channel"] in _SOURCE_OF_KIND and it[2]["truth_id"] is not None and len(it[2]["chain"]) == 1]
    U = rng.random((len(mission), 4))
    for k, it in enumerate(mission):
        o = it[2]
        special = o["event_type"] in ("weapon_beyond_withdrawal_line", "movement_restriction",
                                      "weapon_missing_from_storage", "interference_jamming")
        if U[k, 0] < (0.4 if special else 0.12):
            code = _NIC[int(U[k, 1] * 3)]
            out.relay(it, channel="national_intelligence", source=code, grade="B2", chain_add=[code],
                      marking=_nic_marking(rng, code), prefix=f"summary of mission report ({o['chain'][0]})",
                      round_s=300.0)
        if o["marking"]["classification"] == "PUBLIC" and U[k, 2] < 0.45:
            out.relay(it, channel="open_source", source="OS-INTL-WIRE", grade="C3", chain_add=["OS-INTL-WIRE"],
                      marking=_public("GBR"), prefix="the monitoring mission reported")
            if U[k, 3] < 0.3:
                last = out.items[-1]
                src = "OS-UA-MEDIA" if U[k, 3] < 0.2 else "OS-RU-MILBLOG"
                out.relay(last, channel="open_source", source=src, grade="C3" if src == "OS-UA-MEDIA" else "D4",
                          chain_add=[src], marking=_public(_SOURCES_BY_CODE[src][5]), prefix="reposted",
                          count_factor=1.0 if src == "OS-UA-MEDIA" else 1.5)


# --------------------------------------------------------------------------------------------
# Public API


@dataclass(frozen=True)
class Scenario:
    """A generated demo world. Coordinates are WGS 84 degrees, times UTC.

    ``truth`` holds the true events; ``observations`` the intake payloads, each with an extra
    ``truth_id`` key (``None`` for a false report) that a loader must store apart and strip."""

    seed: int
    days: int
    start: datetime
    end: datetime
    contact_line: list  # [(lon, lat), ...] south-west to north-east
    sides: dict  # {"A": "UKR", "B": "RUS"}
    withdrawal_bands: dict  # band km -> GeoJSON Polygon/MultiPolygon (lon, lat)
    sites: list
    sources: list
    truth: list
    observations: list
    quiet_day: int | None = None
    bad_day: int | None = None

    def side_of(self, lon: float, lat: float) -> str:
        """``"UKR"`` or ``"RUS"`` for a point in degrees; see :func:`side_of`."""
        return side_of(lon, lat)


def _iso(start: datetime, t: float) -> str:
    return (start + timedelta(seconds=round(t))).strftime("%Y-%m-%dT%H:%M:%SZ")


def generate(seed: int = 7, days: int = 7, start: datetime | None = None) -> Scenario:
    """Generate the demo world: ``days`` days from ``start`` (UTC; default 2026-11-16T19:30Z,
    the start of a 19:30-to-19:30 reporting period). Deterministic in (seed, days, start)."""
    if days < 1:
        raise ValueError("days must be at least 1")
    start = (start or DEFAULT_START).astimezone(timezone.utc).replace(microsecond=0)
    rng = np.random.default_rng(seed)
    clock = _Clock(start, days)
    geo = _geometry()

    assets = _make_sites(rng, clock)
    truth, meta = _make_truth(rng, clock, assets)

    out = _Out(rng, clock)
    _observe_fire(rng, out, clock, assets, truth)
    _observe_special(rng, out, clock, assets, truth)
    _observe_others(rng, out, clock, assets, truth)
    _relay_mission_reports(rng, out)

    items = sorted(out.items, key=lambda it: it[0])  # stable: ties keep generation order
    observations = []
    for n, (t_from, t_to, rec) in enumerate(items):
        o = dict(rec)
        o["client_id"] = str(uuid.uuid5(_UUID_NAMESPACE, f"resolute-demo/{seed}/{days}/{start.isoformat()}/{n}"))
        o["observed_from"] = _iso(start, t_from)
        o["observed_to"] = _iso(start, t_to)
        observations.append(o)

    truth_out = [
        {
            "truth_id": tr["id"],
            "kind": tr["kind"],
            "lat": tr["lat"],
            "lon": tr["lon"],
            "origin_lat": tr["olat"],
            "origin_lon": tr["olon"],
            "origin_side": tr["origin_side"],
            "impact_side": tr["impact_side"],
            "start": start + timedelta(seconds=tr["t0"]),
            "end": start + timedelta(seconds=tr["t1"]),
            "count": int(tr["count"]),
            "weapon_class": tr["weapon"],
        }
        for tr in truth
    ]

    sites = [dict(s) for s in assets.sites]
    return Scenario(
        seed=seed,
        days=days,
        start=start,
        end=start + timedelta(days=days),
        contact_line=[(float(x), float(y)) for x, y in geo.line_ll.coords],
        sides=dict(SIDES),
        withdrawal_bands={k: v for k, v in geo.bands.items()},
        sites=sites,
        sources=_sources(),
        truth=truth_out,
        observations=observations,
        quiet_day=meta["quiet_day"],
        bad_day=meta["bad_day"],
    )


def summary(s: Scenario) -> dict:
    """Counts for a glance: observations by channel, event type and reporting day (the 24-hour
    period from the start, labelled by its start date, UTC), true events by kind and day, and
    false reports (observations with no true event behind them)."""

    def day_label(when: datetime) -> str:
        d = min(max(int((when - s.start).total_seconds() // _DAY_S), 0), s.days - 1)
        return (s.start + timedelta(days=d)).date().isoformat()

    def count(keys) -> dict:
        out: dict = {}
        for k in keys:
            out[k] = out.get(k, 0) + 1
        return dict(sorted(out.items()))

    def parse(z: str) -> datetime:
        return datetime.strptime(z, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)

    obs_days = count(day_label(parse(o["observed_from"])) for o in s.observations)
    return {
        "seed": s.seed,
        "days": s.days,
        "start": s.start.isoformat().replace("+00:00", "Z"),
        "truth_events": len(s.truth),
        "observations": len(s.observations),
        "false_reports": sum(1 for o in s.observations if o["truth_id"] is None),
        "relayed": sum(1 for o in s.observations if len(o["chain"]) > 1),
        "by_channel": count(o["channel"] for o in s.observations),
        "by_event_type": count(o["event_type"] for o in s.observations),
        "by_day": obs_days,
        "truth_by_kind": count(t["kind"] for t in s.truth),
        "truth_by_day": count(day_label(t["start"]) for t in s.truth),
        "sites_by_kind": count(x["kind"] for x in s.sites),
        "quiet_day": s.quiet_day,
        "bad_day": s.bad_day,
    }
