"""Geodesy helpers on WGS 84 (pyproj.Geod). Degrees, metres, bearings clockwise from true north."""

from __future__ import annotations

import math

import numpy as np
from pyproj import Geod

WGS84 = Geod(ellps="WGS84")

COMPASS_16 = ("N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE", "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW")
SECTOR_WIDTH_DEG = 360.0 / 16


def sector_bearing(sector: str) -> tuple[float, float]:
    """Centre bearing (degrees) and the standard deviation of a uniform 22.5° sector
    (width/√12 ≈ 6.5°) for a 16-point compass sector such as 'SSE'."""
    idx = COMPASS_16.index(sector)
    return idx * SECTOR_WIDTH_DEG, SECTOR_WIDTH_DEG / math.sqrt(12.0)


def forward(lat: np.ndarray | float, lon: np.ndarray | float, bearing_deg, distance_m):
    """Point reached from (lat, lon) along a bearing for a distance (vectorised). Returns (lat, lon)."""
    lon2, lat2, _ = WGS84.fwd(lon, lat, bearing_deg, distance_m)
    return lat2, lon2


def distance_m(lat1, lon1, lat2, lon2):
    """Geodesic distance in metres (vectorised)."""
    _, _, d = WGS84.inv(lon1, lat1, lon2, lat2)
    return d


def indicative_point(
    obs_lat: float,
    obs_lon: float,
    bearing_deg: float | None,
    range_min_m: float | None,
    range_max_m: float | None,
) -> tuple[float, float, float]:
    """A single indicative location (lat, lon, radius m) for a bearing report, used for map
    display and coarse filtering only; fusion locates properly. Without a range we keep the
    observer's position and widen the radius to hearing distance (10 km)."""
    if bearing_deg is None or range_max_m is None:
        return obs_lat, obs_lon, 10_000.0
    lo = range_min_m if range_min_m is not None else 0.0
    mid = 0.5 * (lo + range_max_m)
    lat, lon = forward(obs_lat, obs_lon, bearing_deg, mid)
    half_arc = mid * math.radians(SECTOR_WIDTH_DEG / 2)
    return float(lat), float(lon), float(max(0.5 * (range_max_m - lo), half_arc, 100.0))
