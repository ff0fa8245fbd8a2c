"""Attaching bearing-only reports (no range) to incidents located by other reports.

An acoustic sensor or a monitor who heard fire "to the SSE" without a distance cannot be placed
by itself, so correlation in space cannot use it. Classic gating instead: a bearing report joins
the candidate incident of its parameter group whose time window it overlaps (± the group's
window), lying within hearing distance, whose bearing from the observer differs from the
reported one by at most `gate` standard deviations; the smallest normalised residual wins.

Units: degrees, metres, seconds. Distances on a local equirectangular approximation, which is
within 0.1% at the ≤ 20 km scales of hearing distance.
"""

from __future__ import annotations

import numpy as np

EARTH_R = 6_371_008.8


def _wrap_deg(a):
    return (np.asarray(a) + 180.0) % 360.0 - 180.0


def associate_bearings(
    obs_lat, obs_lon, bearing_deg, sigma_deg, t_s, group,
    inc_lat, inc_lon, inc_t_s, inc_group, window_s,
    max_range_m: float = 20_000.0, gate: float = 3.0,
) -> np.ndarray:  # fmt: skip
    """Index of the incident each bearing report joins, or -1.

    `window_s` is an array giving each incident's allowed time difference (its group's window).
    Incidents are sorted by time once; each report examines only the incidents inside the
    largest window around it (searchsorted), so the cost is O((n + m) log m + candidates).
    """
    obs_lat, obs_lon, bearing_deg, sigma_deg, t_s = (np.asarray(a, dtype=float) for a in (obs_lat, obs_lon, bearing_deg, sigma_deg, t_s))
    group = np.asarray(group)
    n = obs_lat.size
    out = np.full(n, -1, dtype=np.int64)
    m = np.asarray(inc_lat).size
    if n == 0 or m == 0:
        return out
    order = np.argsort(inc_t_s, kind="stable")
    ilat, ilon, it, ig, iw = (np.asarray(a)[order] for a in (inc_lat, inc_lon, inc_t_s, inc_group, window_s))
    ilat = ilat.astype(float)
    ilon = ilon.astype(float)
    wmax = float(np.max(iw))
    lo = np.searchsorted(it, t_s - wmax, side="left")
    hi = np.searchsorted(it, t_s + wmax, side="right")
    for k in range(n):
        if lo[k] >= hi[k] or not np.isfinite(bearing_deg[k]) or not sigma_deg[k] > 0:
            continue
        c = slice(lo[k], hi[k])
        ok = (ig[c] == group[k]) & (np.abs(it[c] - t_s[k]) <= iw[c])
        if not ok.any():
            continue
        coslat = np.cos(np.radians(obs_lat[k]))
        east = np.radians(ilon[c] - obs_lon[k]) * coslat * EARTH_R
        north = np.radians(ilat[c] - obs_lat[k]) * EARTH_R
        dist = np.hypot(east, north)
        ok &= dist <= max_range_m
        if not ok.any():
            continue
        resid = np.abs(_wrap_deg(np.degrees(np.arctan2(east, north)) - bearing_deg[k])) / sigma_deg[k]
        resid = np.where(ok, resid, np.inf)
        j = int(np.argmin(resid))
        if resid[j] <= gate:
            out[k] = order[lo[k] + j]
    return out
