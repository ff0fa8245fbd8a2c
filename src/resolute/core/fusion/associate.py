"""Attaching bearing-only reports (no range) to incidents located by other reports.

An acoustic sensor or a monitor who heard fire "to the SSE" without a distance cannot be placed
by itself, so correlation in space cannot use it. Classic gating instead: a bearing report joins
the candidate incident of its parameter group whose time window it overlaps (± the group's
window), lying within hearing distance, whose bearing from the observer differs from the
reported one by at most `gate` standard deviations; the smallest normalised residual wins.
The standard deviation is the report's own σ combined with the angle the candidate's position
uncertainty subtends at the observer (σ² = σ_b² + (σ_c / r)²): a candidate placed from compass
sectors and range bands is uncertain by hundreds of metres, which at a few kilometres is several
degrees, far more than an acoustic sensor's 2°; gating on σ_b alone rejected most bearings of
the very event they heard.

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
    max_range_m: float = 20_000.0, gate: float = 3.0, inc_sigma_m=None,
) -> np.ndarray:  # fmt: skip
    """Index of the incident each bearing report joins, or -1.

    `window_s` is an array giving each incident's allowed time difference (its group's window).
    `inc_sigma_m` (optional, metres, per incident) is the isotropic standard deviation of each
    candidate's position per axis; None means exact positions.
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
    isg = np.zeros(m) if inc_sigma_m is None else np.broadcast_to(np.asarray(inc_sigma_m, dtype=float), (m,))
    ilat, ilon, it, ig, iw, isg = (np.asarray(a)[order] for a in (inc_lat, inc_lon, inc_t_s, inc_group, window_s, isg))
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
        # Angular σ of the candidate seen from the observer (the lateral σ over the range).
        spread = np.degrees(isg[c] / np.maximum(dist, 1.0))
        resid = np.abs(_wrap_deg(np.degrees(np.arctan2(east, north)) - bearing_deg[k])) / np.sqrt(sigma_deg[k] ** 2 + spread**2)
        # Among candidates inside the gate, prefer the one closest in direction and time (time in
        # units of a third of the window): a bearing line often passes several incidents.
        score = resid**2 + (3.0 * (it[c] - t_s[k]) / iw[c]) ** 2
        score = np.where(ok & (resid <= gate), score, np.inf)
        j = int(np.argmin(score))
        if np.isfinite(score[j]):
            out[k] = order[lo[k] + j]
    return out


def associate_points(
    lat, lon, sigma_m, t0_s, t1_s, group,
    inc_lat, inc_lon, inc_sigma_m, inc_t0_s, inc_t1_s, inc_group, window_s,
    gate: float = 3.0,
) -> np.ndarray:  # fmt: skip
    """Index of the incident each placed report joins, or -1.

    For reports that density clustering cannot place well: DBSCAN noise (an indicative point a
    little beyond the fixed radius of a cluster that, given both uncertainties, it plainly belongs
    to) and reports whose time is known only coarsely (an open source's "in the evening", a
    complaint rounded to a quarter of an hour), whose mid-times say nothing within a window of
    minutes. A report joins the candidate of its parameter group whose time span [inc_t0, inc_t1]
    (the members' mid-times) comes within `window_s` of the report's interval [t0, t1], and whose
    normalised distance d / √(σ² + σ_c²) (σ: the report's isotropic σ per axis, σ_c the
    candidate's) is at most `gate`; the smallest normalised distance wins.

    Units: degrees, metres, seconds; distances on a local equirectangular approximation (within
    0.1 % at these scales). Cost O((n + m) log m + candidates).
    """
    lat, lon, sigma_m, t0_s, t1_s = (np.asarray(a, dtype=float) for a in (lat, lon, sigma_m, t0_s, t1_s))
    group = np.asarray(group)
    n = lat.size
    out = np.full(n, -1, dtype=np.int64)
    m = np.asarray(inc_lat).size
    if n == 0 or m == 0:
        return out
    order = np.argsort(inc_t0_s, kind="stable")
    ilat, ilon, isg, it0, it1, iw = (np.asarray(a, dtype=float)[order] for a in (inc_lat, inc_lon, inc_sigma_m, inc_t0_s, inc_t1_s, window_s))
    ig = np.asarray(inc_group)[order]
    wmax = float(np.max(iw))
    span = float(np.max(it1 - it0))
    # Candidates start no earlier than t0 - window - (longest span) and no later than t1 + window.
    lo = np.searchsorted(it0, t0_s - wmax - span, side="left")
    hi = np.searchsorted(it0, t1_s + wmax, side="right")
    for k in range(n):
        if lo[k] >= hi[k] or not (np.isfinite(lat[k]) and np.isfinite(lon[k]) and sigma_m[k] > 0):
            continue
        c = slice(lo[k], hi[k])
        ok = (ig[c] == group[k]) & (it0[c] <= t1_s[k] + iw[c]) & (it1[c] >= t0_s[k] - iw[c])
        if not ok.any():
            continue
        coslat = np.cos(np.radians(lat[k]))
        east = np.radians(ilon[c] - lon[k]) * coslat * EARTH_R
        north = np.radians(ilat[c] - lat[k]) * EARTH_R
        d = np.hypot(east, north) / np.sqrt(sigma_m[k] ** 2 + isg[c] ** 2)
        d = np.where(ok, d, np.inf)
        j = int(np.argmin(d))
        if d[j] <= gate:
            out[k] = order[lo[k] + j]
    return out


def triangulate(
    obs_lat, obs_lon, bearing_deg, sigma_deg, t_s, group, window_s, radius_m,
    max_range_m: float = 20_000.0, min_angle_deg: float = 10.0, max_per_window: int = 200,
) -> np.ndarray:  # fmt: skip
    """Group bearing-only reports that cross each other: a cluster label per report, or -1.

    What an acoustic array or two posts do with bearings alone: two bearings of the same family,
    from observers at least 200 m apart, within the family's window, that intersect in front of
    both within `max_range_m` and at an angle of at least `min_angle_deg`, give a candidate point.
    Candidate points of one family closer than `radius_m` (per report's group, an array) are the
    same event; reports sharing such points form one group, each report going to the group
    where it has most crossings. The fix itself is then made by `locate` from the group's
    bearings (robustly), so a wrong pairing shows up as an outlier, not as a false point.

    Cost: pairs are formed only inside the time window; a window holding more than
    `max_per_window` reports of one family (a saturated sensor) is not triangulated (those
    reports stay alone) rather than risk a quadratic blow-up.
    """
    obs_lat, obs_lon, bearing_deg, sigma_deg, t_s = (np.asarray(a, dtype=float) for a in (obs_lat, obs_lon, bearing_deg, sigma_deg, t_s))
    group, window_s, radius_m = np.asarray(group), np.asarray(window_s, dtype=float), np.asarray(radius_m, dtype=float)
    n = obs_lat.size
    labels = np.full(n, -1, dtype=np.int64)
    if n < 2:
        return labels
    order = np.lexsort((t_s, group))
    pts_i, pts_j, px, py = [], [], [], []
    lat0 = float(np.mean(obs_lat))
    kx = np.cos(np.radians(lat0)) * EARTH_R * np.pi / 180.0
    ky = EARTH_R * np.pi / 180.0
    x, y = obs_lon * kx, obs_lat * ky
    th = np.radians(bearing_deg)
    dx, dy = np.sin(th), np.cos(th)
    for a_pos, a in enumerate(order):
        if not np.isfinite(th[a]):
            continue
        # Reports after `a` in the same group and window (order is by group, then time).
        hi = a_pos + 1
        while hi < n and group[order[hi]] == group[a] and t_s[order[hi]] - t_s[a] <= window_s[a]:
            hi += 1
        cand = order[a_pos + 1 : hi]
        if cand.size > max_per_window:
            continue
        cand = cand[np.isfinite(th[cand])]
        if not cand.size:
            continue
        # Solve x_a + r_a d_a = x_b + r_b d_b for r_a, r_b (2x2, Cramer's rule).
        det = dx[cand] * dy[a] - dx[a] * dy[cand]
        ex, ey = x[cand] - x[a], y[cand] - y[a]
        with np.errstate(divide="ignore", invalid="ignore"):
            ra = (dx[cand] * ey - dy[cand] * ex) / det
            rb = (dx[a] * ey - dy[a] * ex) / det
        angle = np.degrees(np.abs(np.arcsin(np.clip(det, -1.0, 1.0))))
        ok = (np.hypot(ex, ey) >= 200.0) & (angle >= min_angle_deg) & (ra > 0) & (rb > 0) & (ra <= max_range_m) & (rb <= max_range_m)
        for b, r in zip(cand[ok], ra[ok]):
            pts_i.append(a)
            pts_j.append(b)
            px.append(x[a] + r * dx[a])
            py.append(y[a] + r * dy[a])
    if not pts_i:
        return labels
    pi, pj = np.array(pts_i), np.array(pts_j)
    px, py = np.array(px), np.array(py)
    # Link crossing points of one family within the radius (union-find over a sorted sweep in x).
    m = pi.size
    parent = np.arange(m)

    def find(k):
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    pg = group[pi]
    rad = radius_m[pi]
    sweep = np.lexsort((px, pg))
    for s_pos, p in enumerate(sweep):
        q_pos = s_pos + 1
        while q_pos < m and pg[sweep[q_pos]] == pg[p] and px[sweep[q_pos]] - px[p] <= rad[p]:
            q = sweep[q_pos]
            if abs(py[q] - py[p]) <= rad[p] and np.hypot(px[q] - px[p], py[q] - py[p]) <= rad[p] and abs(t_s[pi[q]] - t_s[pi[p]]) <= window_s[pi[p]]:
                parent[find(q)] = find(p)
            q_pos += 1
    roots = np.array([find(k) for k in range(m)])
    # Each report joins the point cluster where it has most crossings.
    votes: dict[int, dict[int, int]] = {}
    for k in range(m):
        for r in (pi[k], pj[k]):
            v = votes.setdefault(int(r), {})
            v[roots[k]] = v.get(roots[k], 0) + 1
    cluster_of = {r: max(v.items(), key=lambda kv: (kv[1], -kv[0]))[0] for r, v in votes.items()}
    members: dict[int, list[int]] = {}
    for r, c in cluster_of.items():
        members.setdefault(c, []).append(r)
    next_label = 0
    for c in sorted(members, key=lambda c: min(members[c])):
        if len(members[c]) >= 2:
            labels[members[c]] = next_label
            next_label += 1
    return labels
