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


def indicative_points(obs_lat, obs_lon, bearing_deg, range_min_m, range_max_m):
    """One indicative location per direction report (vectorised), for maps, bbox filters and
    correlation; fusion locates properly. Arrays of equal length; NaN range_max_m means no range.

    With a range band: the point along the bearing at the middle of the band, radius the larger
    of half the band and half the 22.5° sector's arc there (at least 100 m). Without one: the
    observer's position, radius 10 km (hearing distance). Returns (lat, lon, radius_m)."""
    obs_lat, obs_lon, bearing_deg, range_min_m, range_max_m = (
        np.asarray(a, dtype=float) for a in (obs_lat, obs_lon, bearing_deg, range_min_m, range_max_m)
    )
    ranged = ~np.isnan(range_max_m)
    lo = np.nan_to_num(range_min_m)
    mid = np.where(ranged, 0.5 * (lo + np.nan_to_num(range_max_m)), 0.0)
    plat, plon = forward(obs_lat, obs_lon, bearing_deg, mid)
    half_arc = mid * math.radians(SECTOR_WIDTH_DEG / 2)
    radius = np.where(ranged, np.maximum(np.maximum(0.5 * (np.nan_to_num(range_max_m) - lo), half_arc), 100.0), 10_000.0)
    return np.where(ranged, plat, obs_lat), np.where(ranged, plon, obs_lon), radius
