"""Correlating monitoring observations into incidents: spatio-temporal DBSCAN and reconciliation.

Units: latitude/longitude in degrees (WGS 84), positions in metres (ECEF, height 0), times in
seconds (float64; any epoch, UTC epoch seconds in practice), radius in metres, window in seconds.

Reference: the DBSCAN definitions of Ester, Kriegel, Sander & Xu (KDD 1996), with the
spatio-temporal neighbourhood of Birant & Kut, "ST-DBSCAN" (Data & Knowledge Engineering 60, 2007):
two observations are neighbours when they belong to the same parameter group, their straight-line
(chord) distance between ECEF points is at most ``radius_m`` and their time difference is at most
``window_s`` (both bounds inclusive). The neighbourhood is a cylinder in space-time, never a ball,
and the time window is always applied: observations at one place on different days never connect.
The chord is shorter than the surface distance by d³/(24 R²), 0.03 mm at 3 km.

The neighbour search is grid hashing as in the fusion reference notes
(/work/shared/reference/fusion.md, "Correlating observations into incidents"): cells of
radius × radius (× radius) × window, one sort of packed int64 cell keys, a join of each cell with
half of its neighbouring cells, an exact vectorised distance/time check, then connected components
(scipy.sparse.csgraph) for the clusters. Cost O(n log n + candidate pairs); nothing n × n is built.

Design points (see also the docstrings of `neighbour_pairs`, `dbscan` and `reconcile`):

* Cells are laid out in a local frame rotated from ECEF (east, north, up at the data centroid).
  A rotation preserves chord distances and dropping "up" is a projection, which never lengthens
  a distance, so a 2-D (east, north) + time grid finds every neighbour pair; it is used when all
  observations lie within 45° of the centroid (4 neighbour lookups per cell instead of 13), the
  3-D + time grid otherwise. The frame only decides which pairs are candidates: the exact check
  uses the ECEF coordinates given, and cells are a hair larger than radius/window so rounding
  never hides a neighbour. Keys pack the cell digits with time last, so the time cells t-1, t,
  t+1 of a spatial neighbour are consecutive keys: one contiguous range of sorted positions per
  neighbour, found by two binary searches over sorted queries.
* Dense data: a cell, or a range of adjacent cells, with at least ``_BLOCK_MIN`` candidate pairs
  is judged on bounding boxes: skipped when no pair can be in range, a block when every pair is
  (a clique inside one cell, or a complete bipartite join of two cells), checked pair by pair
  otherwise. `dbscan` handles blocks arithmetically (neighbour counts added per cell, cores
  chained to one another), so a million identical observations take O(n) time and memory.
  Pair-by-pair work is generated in chunks of ``_CHUNK`` candidates; beyond ``_STORE_MAX``
  candidates the in-range pairs are generated twice instead of stored (components merged
  incrementally), so memory stays O(n + chunk). When more than ``max_candidates`` candidates
  would have to be checked (e.g. 10⁵ observations spread over one 1 km × 5 min cell: 5·10⁹
  candidates), `DenseDataError` is raised at once, before the work, instead of hanging.
  `neighbour_pairs` must materialise every pair, so it also refuses when more than
  ``max_pairs`` pairs are certain to exist.
* Tie rules, so that labels are deterministic and do not depend on the input order beyond them:
  a border observation joins the cluster of its core neighbour of lowest input index; clusters
  are numbered 0..k-1 in order of their lowest member index.
* NaN or infinite coordinates or times raise ValueError naming the array and the index: a broken
  position is an upstream error, not an observation to drop silently.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

__all__ = [
    "NOISE",
    "NO_INCIDENT",
    "DenseDataError",
    "Merge",
    "NewIncident",
    "Params",
    "Reconciliation",
    "Result",
    "Split",
    "correlate",
    "dbscan",
    "neighbour_pairs",
    "placeholder_id",
    "reconcile",
    "to_ecef",
]

#: WGS 84 semi-major axis (metres) and flattening.
WGS84_A = 6_378_137.0
WGS84_F = 1.0 / 298.257223563
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)

#: Label of an observation that belongs to no cluster.
NOISE = -1
#: Incident id meaning "no incident" (input and output of `reconcile`).
NO_INCIDENT = -1

#: Default budget of candidate pairs checked one by one (a few seconds of work on one core).
DEFAULT_MAX_CANDIDATES = 200_000_000
#: Default limit on pairs returned by `neighbour_pairs` (two int64 arrays: 800 MB).
DEFAULT_MAX_PAIRS = 50_000_000
# Candidate pairs generated per chunk: bounds the transient memory to some 100 MB.
_CHUNK = 1 << 20
# Above this many candidate pairs dbscan does not store the in-range pairs (16 bytes a pair)
# but generates them twice, keeping memory O(n + chunk).
_STORE_MAX = 16_000_000
# Block (arithmetic) handling pays off only for big cells; below this many candidate pairs a
# cell pair is checked explicitly, which is cheaper for the typical 1–10 point cell.
_BLOCK_MIN = 1024
# 2-D grid when every observation is within this angle of the centroid direction.
_REGIONAL_COS = math.cos(math.radians(45.0))
_KEY_LIMIT = 1 << 62


class DenseDataError(ValueError):
    """The data are too dense for the requested operation within its budget (see message)."""


@dataclass(frozen=True)
class Params:
    """Clustering parameters of one event type.

    radius_m: neighbourhood radius in metres (chord distance, inclusive), > 0.
    window_s: time window in seconds (|Δt| inclusive), > 0.
    min_points: neighbours, the observation itself included, that make a core observation
        (scikit-learn's ``min_samples``), >= 1.
    """

    radius_m: float
    window_s: float
    min_points: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.radius_m) and self.radius_m > 0):
            raise ValueError(f"radius_m must be a positive number of metres, got {self.radius_m!r}")
        if not (math.isfinite(self.window_s) and self.window_s > 0):
            raise ValueError(f"window_s must be a positive number of seconds, got {self.window_s!r}")
        if int(self.min_points) != self.min_points or self.min_points < 1:
            raise ValueError(f"min_points must be an integer >= 1, got {self.min_points!r}")


@dataclass(frozen=True)
class Result:
    """DBSCAN output, one entry per observation in input order.

    labels: int64, NOISE (-1) or a cluster number 0..n_clusters-1; clusters are numbered in
        order of their lowest member index.
    core: bool, True for core observations.
    n_clusters: number of clusters.
    """

    labels: np.ndarray
    core: np.ndarray
    n_clusters: int


# --------------------------------------------------------------------------------------------
# Coordinates and validation


def to_ecef(lat, lon) -> np.ndarray:
    """Earth-centred Earth-fixed coordinates (metres, shape (n, 3), float64) of points at
    height 0 on the WGS 84 ellipsoid, from geodetic latitude and longitude in degrees.

    Reference: the standard geodetic-to-ECEF conversion (e.g. NGA TR8350.2, §4.1.1 and
    equation 4-14 with h = 0). Raises ValueError on NaN/infinite values or |lat| > 90.
    """
    lat = _as_float_1d(lat, "lat")
    lon = _as_float_1d(lon, "lon")
    if lat.shape != lon.shape:
        raise ValueError(f"lat and lon differ in length ({lat.size} and {lon.size})")
    if lat.size and np.abs(lat).max() > 90.0:
        i = int(np.flatnonzero(np.abs(lat) > 90.0)[0])
        raise ValueError(f"lat out of range [-90, 90] at index {i}: {lat[i]!r}")
    phi = np.radians(lat)
    lam = np.radians(lon)
    sphi = np.sin(phi)
    cphi = np.cos(phi)
    # Prime vertical radius of curvature.
    n_rad = WGS84_A / np.sqrt(1.0 - WGS84_E2 * sphi * sphi)
    out = np.empty((lat.size, 3), dtype=np.float64)
    out[:, 0] = n_rad * cphi * np.cos(lam)
    out[:, 1] = n_rad * cphi * np.sin(lam)
    out[:, 2] = n_rad * (1.0 - WGS84_E2) * sphi
    return out


def _as_float_1d(a, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if np.issubdtype(arr.dtype, np.datetime64):
        # Datetimes become float seconds since the Unix epoch (UTC).
        arr = arr.astype("datetime64[ns]").astype(np.int64) / 1e9
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} contains a non-finite value (NaN or infinity) at index {i}")
    return arr


def _as_xyz(xyz) -> np.ndarray:
    arr = np.ascontiguousarray(np.asarray(xyz, dtype=np.float64))
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"xyz must have shape (n, 3), got {arr.shape}")
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"xyz contains a non-finite value (NaN or infinity) in row {i}")
    return arr


def _as_group(group, n: int) -> np.ndarray:
    if group is None:
        return np.zeros(n, dtype=np.int64)
    g = np.asarray(group)
    if g.ndim == 0:
        return np.full(n, int(g), dtype=np.int64)
    if g.ndim != 1 or g.size != n:
        raise ValueError(f"group must be one integer per observation ({n}), got shape {g.shape}")
    if g.size and not np.issubdtype(g.dtype, np.integer):
        raise ValueError(f"group must be an integer array, got dtype {g.dtype}")
    return g.astype(np.int64, copy=False)


# --------------------------------------------------------------------------------------------
# Grid


@dataclass
class _Grid:
    n: int
    order: np.ndarray  # sorted position -> input index (stable: ascending within a cell)
    x: np.ndarray  # ECEF metres in sorted order (exact checks), one contiguous array per axis
    y: np.ndarray
    z: np.ndarray
    t: np.ndarray  # seconds, sorted order
    starts: np.ndarray  # first sorted position of each non-empty cell
    counts: np.ndarray  # observations per cell
    cell_of: np.ndarray  # cell of each sorted position
    keys: np.ndarray  # packed cell keys (sorted, unique)
    spatial_offsets: list[int]  # packed key offsets of the "positive half" spatial neighbours
    centre: np.ndarray  # origin of the local frame (ECEF metres)
    rot: np.ndarray  # rows: east, north, up unit vectors of the local frame


def _frame(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Local east/north/up frame at the centroid direction, and whether every point lies
    within 45° of that direction (then "up" may be dropped from the grid)."""
    centre = np.array([x.mean(), y.mean(), z.mean()])
    norm = float(np.linalg.norm(centre))
    if norm == 0.0:
        return centre, np.eye(3), False
    up = centre / norm
    east = np.cross([0.0, 0.0, 1.0], up)
    if np.linalg.norm(east) < 1e-9:  # centroid on the polar axis
        east = np.array([1.0, 0.0, 0.0])
    east = east / np.linalg.norm(east)
    north = np.cross(up, east)
    dot = x * up[0] + y * up[1] + z * up[2]
    rad2 = x * x + y * y + z * z
    regional = bool(np.all(dot > 0.0) and np.all(dot * dot >= _REGIONAL_COS**2 * rad2))
    return centre, np.stack([east, north, up]), regional


def _rotate(x, y, z, centre: np.ndarray, row: np.ndarray) -> np.ndarray:
    # Column arithmetic: (n, 3) @ (3, 3) is several times slower in numpy.
    out = (x - centre[0]) * row[0]
    out += (y - centre[1]) * row[1]
    out += (z - centre[2]) * row[2]
    return out


def _argsort_keys(key: np.ndarray, nbits: int) -> np.ndarray:
    """Stable argsort of non-negative int64 keys below 2**nbits. Up to 48 bits, an LSD radix
    sort on 16-bit digits (numpy's stable sort of uint16 is a counting sort) runs about twice
    as fast as a comparison sort of int64."""
    if nbits > 48:
        return np.argsort(key, kind="stable")
    order = None
    for shift in range(0, max(nbits, 1), 16):
        k = key if order is None else key[order]
        digit = ((k >> shift) & 0xFFFF).astype(np.uint16)
        o = np.argsort(digit, kind="stable")
        order = o if order is None else order[o]
    return order


def _build_grid(xyz: np.ndarray, t: np.ndarray, radius_m: float, window_s: float) -> _Grid:
    n = t.size
    x, y, z = (np.ascontiguousarray(xyz[:, k]) for k in range(3))
    centre, rot, regional = _frame(x, y, z)
    dims = 2 if regional else 3
    # Cells a hair larger than radius/window so that rounding (rotation, subtracting the
    # minimum: about 1e-16 of the coordinates' magnitude) can never put two neighbours two
    # cells apart; a larger cell is always correct, only less selective.
    scale = float(np.abs(xyz).max())
    cell = radius_m * (1.0 + 1e-9) + 1e-9 * scale + 1e-9
    tcell = window_s * (1.0 + 1e-9) + 1e-12 * float(np.abs(t).max())
    cols = [_rotate(x, y, z, centre, rot[d]) for d in range(dims)] + [t]
    mins = [float(c.min()) for c in cols]
    spans = [float(c.max()) - m for c, m in zip(cols, mins)]
    sizes = [cell] * dims + [tcell]
    # Mixed-radix packing must fit in int64. On overflow (tiny radius over a huge extent) grow
    # all cells by a common factor: correctness is unaffected, only more candidates are checked.
    while True:
        radix = [int(s / c) + 3 for s, c in zip(spans, sizes)]
        if math.prod(radix) < _KEY_LIMIT:
            break
        grow = (math.prod(radix) / _KEY_LIMIT) ** (1.0 / len(radix)) * 1.01
        sizes = [c * grow for c in sizes]
    key = np.zeros(n, dtype=np.int64)
    for c, m, s, r in zip(cols, mins, sizes, radix):
        q = np.floor((c - m) / s).astype(np.int64)
        np.clip(q, 0, r - 3, out=q)
        key *= r
        # +1 leaves an empty margin digit on both sides: neighbour keys never carry.
        key += q + 1
    del cols
    order = _argsort_keys(key, (math.prod(radix) - 1).bit_length())
    skey = key[order]
    del key
    starts = np.flatnonzero(np.r_[True, skey[1:] != skey[:-1]])
    counts = np.diff(np.r_[starts, n])
    keys = skey[starts]
    del skey
    # Packed offset of a unit step in each spatial dimension (time is the last digit).
    steps = [math.prod(radix[d + 1 :]) for d in range(dims)]
    offsets = []
    for combo in np.ndindex(*([3] * dims)):
        delta = [c - 1 for c in combo]
        nz = [v for v in delta if v != 0]
        if nz and nz[0] > 0:  # lexicographically positive half
            offsets.append(sum(v * s for v, s in zip(delta, steps)))
    cell_of = np.repeat(np.arange(starts.size), counts)
    sx, sy, sz, st = x[order], y[order], z[order], t[order]
    return _Grid(n, order, sx, sy, sz, st, starts, counts, cell_of, keys, offsets, centre, rot)


def _bbox(g: _Grid, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounding boxes (local east, north, up metres; time seconds) of the given cells."""
    cnt = g.counts[cells]
    members = _expand(g.starts[cells], cnt)
    seg = np.cumsum(cnt) - cnt
    xm, ym, zm = g.x[members], g.y[members], g.z[members]
    coords = [_rotate(xm, ym, zm, g.centre, g.rot[d]) for d in range(3)] + [g.t[members]]
    lo = np.column_stack([np.minimum.reduceat(c, seg) for c in coords])
    hi = np.column_stack([np.maximum.reduceat(c, seg) for c in coords])
    return lo, hi


@dataclass
class _Work:
    """How the neighbour pairs of one group are found.

    Explicit work is a list of rows: position ra[k] against positions rb[k] .. rb[k]+rl[k]-1
    (sorted order), every candidate checked exactly. Blocks are cells (clique_cells) or cell
    pairs (full_a[k], full_b[k]) all of whose pairs are certainly in range."""

    ra: np.ndarray
    rb: np.ndarray
    rl: np.ndarray
    clique_cells: np.ndarray
    full_a: np.ndarray
    full_b: np.ndarray

    def candidates(self) -> int:
        return int(self.rl.sum())


def _pair_rows(g: _Grid, a: np.ndarray, b: np.ndarray):
    """Rows for cell pairs (a, b): each member of a against all members of b; for a == b, each
    member against the members after it (pairs i < j once)."""
    starts, counts = g.starts, g.counts
    ca = counts[a]
    ra = _expand(starts[a], ca)
    same = np.repeat(a == b, ca)
    rb = np.where(same, ra + 1, np.repeat(starts[b], ca))
    rl = np.where(same, np.repeat(starts[a] + ca, ca) - ra - 1, np.repeat(counts[b], ca))
    return ra, rb, rl


def _plan(g: _Grid, radius_m: float, window_s: float, block_min: float, blocks: bool = True) -> _Work:
    """Decide how to find the neighbour pairs.

    Each cell is joined with a "forward" range (itself and, if present, the next time cell of
    the same spatial cell) and, for each positive-half spatial offset, with the time cells
    t-1, t, t+1 of that spatial neighbour: consecutive keys, hence one contiguous range of
    cells and of sorted positions, found with two binary searches over sorted queries.
    A range with fewer than ``block_min`` candidate pairs becomes rows directly (the common
    case: a few observations per cell). Bigger ones are split into cell pairs and judged on
    bounding boxes: skipped when no pair can be in range, a block when every pair is
    (``blocks=False`` turns blocks back into rows), rows otherwise.
    """
    keys, starts, counts = g.keys, g.starts, g.counts
    m = keys.size
    idx = np.arange(m)
    bound = np.r_[starts, g.n]  # sorted position where cell k begins (k = m: the end)
    cf = counts.astype(np.float64)

    # Forward range: [k, k+1) or [k, k+2) in cells.
    has_next = np.r_[keys[1:] == keys[:-1] + 1, False]
    f_hi = idx + 1 + has_next
    f_cand = cf * (cf - 1) / 2 + cf * (bound[f_hi] - bound[idx + 1])
    # Small forward ranges: each member p against p+1 .. end of the range.
    f_small = f_cand < block_min
    ra_f = np.arange(g.n) if f_small.all() else np.flatnonzero(f_small[g.cell_of])
    rb_f = ra_f + 1
    rl_f = bound[f_hi][g.cell_of[ra_f]] - rb_f
    rows = [(ra_f, rb_f, rl_f)]
    r_cell = [idx[~f_small]]
    r_lo = [idx[~f_small]]
    r_hi = [f_hi[~f_small]]
    r_cand = [f_cand[~f_small]]
    del ra_f, rb_f, rl_f
    for off in g.spatial_offsets:
        lo = np.searchsorted(keys, keys + (off - 1))
        hi = np.searchsorted(keys, keys + (off + 2))
        ne = np.flatnonzero(hi > lo)
        r_cell.append(ne)
        r_lo.append(lo[ne])
        r_hi.append(hi[ne])
        r_cand.append(cf[ne] * (bound[hi[ne]] - bound[lo[ne]]))
    cell = np.concatenate(r_cell)
    lo = np.concatenate(r_lo)
    hi = np.concatenate(r_hi)
    cand = np.concatenate(r_cand)
    del r_cell, r_lo, r_hi, r_cand

    # Small neighbour ranges: one row per member of the cell.
    small = np.flatnonzero(cand < block_min)
    sc = cell[small]
    cnt = counts[sc]
    which = np.repeat(small, cnt)
    rb = bound[lo[which]]
    rows.append((_expand(starts[sc], cnt), rb, bound[hi[which]] - rb))
    del small, sc, cnt, which, rb

    empty = np.zeros(0, dtype=np.int64)
    clique_cells, full_a, full_b = empty, empty, empty
    big = cand >= block_min
    big &= cand > 0
    if big.any():
        # Split big ranges into cell pairs (a, b), a == b for a cell against itself.
        bc, blo, bhi = cell[big], lo[big], hi[big]
        pa = np.repeat(bc, bhi - blo)
        pb = _expand(blo, bhi - blo)
        keep = counts[pb] > 0
        keep &= (pa != pb) | (counts[pa] > 1)
        pa, pb = pa[keep], pb[keep]
        need = np.unique(np.r_[pa, pb])
        bl, bh = _bbox(g, need)
        ia, ib = np.searchsorted(need, pa), np.searchsorted(need, pb)
        # Margin for rounding in the rotated frame: skip only beyond radius + eps, blocks only
        # within radius - eps, so the exact check on ECEF coordinates never disagrees.
        scale = max(float(np.abs(a).max()) for a in (g.x, g.y, g.z))
        eps = 1e-6 + 1e-12 * scale
        r_in2 = (radius_m - eps) ** 2 if radius_m > eps else -1.0
        r_out2 = (radius_m + eps) ** 2
        gap = np.maximum(np.maximum(bl[ib] - bh[ia], bl[ia] - bh[ib]), 0.0)
        near = ((gap[:, :3] ** 2).sum(axis=1) <= r_out2) & (gap[:, 3] <= window_s)
        far = np.maximum(bh[ib] - bl[ia], bh[ia] - bl[ib])
        full = near & ((far[:, :3] ** 2).sum(axis=1) <= r_in2) & (far[:, 3] <= window_s)
        if not blocks:
            full[:] = False
        partial = near & ~full
        rows.append(_pair_rows(g, pa[partial], pb[partial]))
        same = pa == pb
        clique_cells = pa[full & same]
        full_a, full_b = pa[full & ~same], pb[full & ~same]
    ra, rb, rl = (np.concatenate(c) for c in zip(*rows))
    keep = rl > 0
    return _Work(ra[keep], rb[keep], rl[keep], clique_cells, full_a, full_b)


def _explicit_pairs(g: _Grid, ra, rb, rl, radius_m: float, window_s: float):
    """Yield (pa, pb) sorted positions of the in-range pairs among the candidate rows, chunk by
    chunk so that memory stays bounded whatever the number of candidates."""
    if rl.size == 0:
        return
    if rl.max() > _CHUNK:  # only with cells of more than _CHUNK observations
        pieces = -(-rl // _CHUNK)
        first = np.repeat(np.cumsum(pieces) - pieces, pieces)
        j = np.arange(int(pieces.sum())) - first
        ra = np.repeat(ra, pieces)
        rb = np.repeat(rb, pieces) + j * _CHUNK
        rl = np.minimum(np.repeat(rl, pieces) - j * _CHUNK, _CHUNK)
    end = np.cumsum(rl)
    chunk_of = (end - rl) // _CHUNK
    bounds = np.flatnonzero(np.r_[True, chunk_of[1:] != chunk_of[:-1], True])
    r2 = radius_m * radius_m
    x, y, z, t = g.x, g.y, g.z, g.t
    for c0, c1 in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        ln = rl[c0:c1]
        tot = int(end[c1 - 1] - end[c0] + ln[0])
        pa = np.repeat(ra[c0:c1], ln)
        pb = np.repeat(rb[c0:c1] - (np.cumsum(ln) - ln), ln)
        pb += np.arange(tot)
        # Time first: cheaper (one coordinate) and it removes about a third of the candidates.
        ok = np.abs(t[pa] - t[pb]) <= window_s
        pa = pa[ok]
        pb = pb[ok]
        d = x[pa] - x[pb]
        d2 = d * d
        d = y[pa] - y[pb]
        d2 += d * d
        d = z[pa] - z[pb]
        d2 += d * d
        ok = d2 <= r2
        yield pa[ok], pb[ok]


def _prepare(xyz, t) -> tuple[np.ndarray, np.ndarray]:
    xyz = _as_xyz(xyz)
    t = _as_float_1d(t, "t")
    if xyz.shape[0] != t.size:
        raise ValueError(f"xyz and t differ in length ({xyz.shape[0]} and {t.size})")
    return xyz, t


def neighbour_pairs(
    xyz,
    t,
    radius_m: float,
    window_s: float,
    *,
    max_pairs: int = DEFAULT_MAX_PAIRS,
    max_candidates: int = DEFAULT_MAX_CANDIDATES,
) -> tuple[np.ndarray, np.ndarray]:
    """All pairs (i, j), i < j, with chord distance <= radius_m (metres) and |t_i - t_j| <=
    window_s (seconds), by grid hashing (see the module docstring). xyz: (n, 3) ECEF metres,
    t: seconds.

    Returns two int64 arrays of equal length, in no particular order (deterministic).
    Raises DenseDataError, before allocating them, when more than ``max_pairs`` pairs are
    certain to exist (e.g. a million identical observations: 5·10¹¹ pairs) or when more than
    ``max_candidates`` candidate pairs would have to be checked; `dbscan` does not need the
    pairs and handles such data.
    """
    xyz, t = _prepare(xyz, t)
    Params(radius_m, window_s, 1)  # validates
    if t.size < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    g = _build_grid(xyz, t, radius_m, window_s)
    w = _plan(g, radius_m, window_s, _BLOCK_MIN)
    c = g.counts.astype(np.float64)
    certain = float((c[w.clique_cells] * (c[w.clique_cells] - 1) / 2).sum())
    certain += float((c[w.full_a] * c[w.full_b]).sum())
    if certain > max_pairs:
        raise DenseDataError(
            f"at least {certain:.3g} neighbour pairs exist (largest cell: {int(c.max())} observations), "
            f"above max_pairs={max_pairs}; dbscan() does not materialise pairs and handles such "
            "data, or deduplicate the observations"
        )
    if w.clique_cells.size or w.full_a.size:
        w = _plan(g, radius_m, window_s, _BLOCK_MIN, blocks=False)
    ra, rb, rl = w.ra, w.rb, w.rl
    cand = w.candidates()
    if cand > max_candidates:
        raise DenseDataError(
            f"{cand:.3g} candidate pairs would have to be checked (largest cell: {int(c.max())} "
            f"observations), above max_candidates={max_candidates}"
        )
    out_i, out_j = [], []
    total = 0
    for pa, pb in _explicit_pairs(g, ra, rb, rl, radius_m, window_s):
        total += pa.size
        if total > max_pairs:
            raise DenseDataError(f"more than max_pairs={max_pairs} neighbour pairs")
        oa, ob = g.order[pa], g.order[pb]
        out_i.append(np.minimum(oa, ob))
        out_j.append(np.maximum(oa, ob))
    if not out_i:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(out_i).astype(np.int64), np.concatenate(out_j).astype(np.int64)


# --------------------------------------------------------------------------------------------
# DBSCAN


def _expand(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, s + l) for each (s, l)."""
    lengths = lengths.astype(np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    base = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return base + np.arange(total, dtype=np.int64)


def _components(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Connected-component label of each of n nodes given undirected edges (u, v)."""
    graph = csr_matrix((np.ones(u.size, dtype=np.int8), (u, v)), shape=(n, n))
    # Weak components of the one-directional edge list are the undirected components, and
    # scipy finds them without building the symmetric matrix (twice as fast).
    return connected_components(graph, directed=True, connection="weak")[1]


def _border_candidates(best, pa, pb, cpa, cpb, order) -> None:
    """best[p] = min(best[p], input index of each core neighbour of non-core p), in place."""
    mixed = cpa != cpb
    qa, qb, qa_core = pa[mixed], pb[mixed], cpa[mixed]
    qcore = np.where(qa_core, qa, qb)
    qbord = np.where(qa_core, qb, qa)
    np.minimum.at(best, qbord, order[qcore])


def _dbscan_one(
    xyz: np.ndarray, t: np.ndarray, p: Params, max_candidates: int, block_min: float
) -> tuple[np.ndarray, np.ndarray]:
    """DBSCAN of one parameter group. Returns (raw labels in input order, -1 noise, cluster ids
    arbitrary; core mask)."""
    n = t.size
    g = _build_grid(xyz, t, p.radius_m, p.window_s)
    w = _plan(g, p.radius_m, p.window_s, block_min)
    cand = w.candidates()
    if cand > max_candidates:
        raise DenseDataError(
            f"{cand:.3g} candidate pairs would have to be checked one by one (dense cells not all "
            f"within {p.radius_m} m and {p.window_s} s of each other; largest cell: "
            f"{int(g.counts.max())} observations), above max_candidates={max_candidates}; "
            "deduplicate the observations, narrow the radius/window, or raise max_candidates"
        )

    def pairs():
        return _explicit_pairs(g, w.ra, w.rb, w.rl, p.radius_m, p.window_s)

    m = g.counts.size
    cell_of = g.cell_of
    order = g.order
    # Up to _STORE_MAX candidates the in-range pairs are kept (one pass, <= 16 bytes a pair).
    # Beyond, they are generated twice (counts, then edges and borders) and never stored,
    # so memory stays O(n + chunk) whatever the density.
    store = cand <= _STORE_MAX
    pos_dtype = np.int32 if n < 2**31 else np.int64  # for edges handed to scipy

    count = np.ones(n, dtype=np.int64)
    kept = []
    for pa, pb in pairs():
        count += np.bincount(pa, minlength=n)
        count += np.bincount(pb, minlength=n)
        if store:
            kept.append((pa, pb))

    # Blocks: every member of a clique cell sees the other count-1; a complete join of cells A
    # and B adds |B| to each member of A and |A| to each member of B.
    cc = w.clique_cells
    fa, fb = w.full_a, w.full_b
    extra = np.zeros(m, dtype=np.int64)
    extra[cc] += g.counts[cc] - 1
    np.add.at(extra, fa, g.counts[fb])
    np.add.at(extra, fb, g.counts[fa])
    count += extra[cell_of]
    core = count >= p.min_points
    del count, extra

    # Block edges between cores, and block border candidates.
    pos = np.arange(n)
    # First core position of each cell (n if none); with the stable sort it is also the core
    # member of lowest input index.
    first_core = np.minimum.reduceat(np.where(core, pos, n), g.starts)
    first_core_index = np.where(first_core < n, order[np.minimum(first_core, n - 1)], n)
    ea, eb = [], []
    if cc.size:
        # A clique cell's cores are all mutual neighbours: a chain links them.
        members = _expand(g.starts[cc], g.counts[cc])
        members = members[core[members]]
        link = cell_of[members[1:]] == cell_of[members[:-1]]
        ea.append(members[:-1][link])
        eb.append(members[1:][link])
    if fa.size:
        # Complete join: each core of A is adjacent to the first core of B and vice versa.
        both = (first_core[fa] < n) & (first_core[fb] < n)
        for x, y in ((fa[both], fb[both]), (fb[both], fa[both])):
            members = _expand(g.starts[x], g.counts[x])
            hub = np.repeat(first_core[y], g.counts[x])
            keep = core[members]
            ea.append(members[keep])
            eb.append(hub[keep])
    cell_best = np.full(m, n, dtype=np.int64)
    cell_best[cc] = first_core_index[cc]
    np.minimum.at(cell_best, fa, first_core_index[fb])
    np.minimum.at(cell_best, fb, first_core_index[fa])
    # Border observations: the core neighbour of lowest input index decides (tie rule).
    best = cell_best[cell_of]  # input index of the chosen core neighbour, n if none
    del cell_best

    if store:
        pa = np.concatenate([a for a, _ in kept]) if kept else np.zeros(0, np.int64)
        pb = np.concatenate([b for _, b in kept]) if kept else np.zeros(0, np.int64)
        del kept
        cpa = core[pa]
        cpb = core[pb]
        ok = cpa & cpb
        ea.append(pa[ok])
        eb.append(pb[ok])
        _border_candidates(best, pa, pb, cpa, cpb, order)
        del pa, pb, cpa, cpb, ok
        u = np.concatenate(ea).astype(pos_dtype) if ea else np.zeros(0, pos_dtype)
        v = np.concatenate(eb).astype(pos_dtype) if eb else np.zeros(0, pos_dtype)
        del ea, eb
        comp = _components(n, u, v)
        del u, v
    else:
        u = np.concatenate(ea) if ea else np.zeros(0, np.int64)
        v = np.concatenate(eb) if eb else np.zeros(0, np.int64)
        comp = _components(n, u, v)
        # Incremental components: edges are mapped onto current component labels; those
        # inside one component are dropped, the rest buffered and merged when the buffer fills.
        bu, bv, buffered = [], [], 0
        for pa, pb in pairs():
            cpa = core[pa]
            cpb = core[pb]
            ok = cpa & cpb
            cu, cv = comp[pa[ok]], comp[pb[ok]]
            diff = cu != cv
            bu.append(cu[diff])
            bv.append(cv[diff])
            buffered += int(diff.sum())
            if buffered > _CHUNK:
                comp = _components(n, np.concatenate(bu), np.concatenate(bv))[comp]
                bu, bv, buffered = [], [], 0
            _border_candidates(best, pa, pb, cpa, cpb, order)
        if buffered:
            comp = _components(n, np.concatenate(bu), np.concatenate(bv))[comp]

    lab_pos = np.full(n, -1, dtype=np.int64)
    lab_pos[core] = comp[core]
    border = ~core & (best < n)
    inv = np.empty(n, dtype=np.int64)
    inv[order] = pos
    lab_pos[border] = comp[inv[best[border]]]

    labels = np.empty(n, dtype=np.int64)
    labels[order] = lab_pos
    core_out = np.empty(n, dtype=bool)
    core_out[order] = core
    return labels, core_out


def _renumber(raw: np.ndarray) -> tuple[np.ndarray, int]:
    """Relabel clusters 0..k-1 in order of their lowest member index; -1 stays noise."""
    n = raw.size
    labels = np.full(n, NOISE, dtype=np.int64)
    members = np.flatnonzero(raw >= 0)
    if members.size == 0:
        return labels, 0
    lab = raw[members]
    # Raw labels are below n (component ids plus group offsets): no sort needed.
    first = np.full(int(lab.max()) + 1, n, dtype=np.int64)
    np.minimum.at(first, lab, members)
    used = np.flatnonzero(first < n)
    rank = np.full(first.size, -1, dtype=np.int64)
    rank[used[np.argsort(first[used], kind="stable")]] = np.arange(used.size)
    labels[members] = rank[lab]
    return labels, int(used.size)


def dbscan(
    xyz,
    t,
    params_by_group: Mapping[int, Params] | Params,
    group=None,
    *,
    max_candidates: int = DEFAULT_MAX_CANDIDATES,
    _block_min: float = _BLOCK_MIN,
) -> Result:
    """Spatio-temporal DBSCAN of observations at ECEF positions ``xyz`` ((n, 3), metres) and
    times ``t`` (seconds), with per-group parameters.

    group: one integer per observation (None: all 0). Observations of different groups are
        never neighbours; each group uses ``params_by_group[group]`` (a single Params applies
        to every group). A group without parameters raises ValueError.
    Core observation: at least ``min_points`` neighbours including itself (scikit-learn's
    ``min_samples`` convention). Clusters are the connected components of core–core
    neighbour edges; a border observation (not core, with a core neighbour) joins the cluster
    of its core neighbour of lowest input index; the rest is noise (label -1). Clusters are
    numbered 0..k-1 in order of their lowest member index.
    NaN or infinite coordinates/times raise ValueError naming the array and row (a broken
    position is an upstream bug, not an observation to drop silently).
    Dense data are handled without materialising pairs (module docstring); more than
    ``max_candidates`` explicit candidate pairs raise DenseDataError.
    ``_block_min`` is for tests: the candidate count from which a cell pair all within range is
    handled arithmetically (0: always, inf: never); the result does not depend on it.
    """
    xyz, t = _prepare(xyz, t)
    n = t.size
    group = _as_group(group, n)
    raw = np.full(n, NOISE, dtype=np.int64)
    core = np.zeros(n, dtype=bool)
    if n == 0:
        return Result(raw, core, 0)
    values = np.unique(group)
    params = []
    for gval in values.tolist():
        p = params_by_group if isinstance(params_by_group, Params) else params_by_group.get(gval)
        if p is None:
            raise ValueError(f"no clustering parameters for group {gval}")
        if not isinstance(p, Params):
            raise ValueError(f"parameters for group {gval} must be a Params, got {type(p).__name__}")
        params.append(p)
    if values.size > 1:
        # Members of each group in ascending input order, so that the tie rules (lowest input
        # index) mean the same inside a group as overall.
        by_group = np.argsort(group, kind="stable")
        cuts = np.searchsorted(group[by_group], values)
        cuts = np.r_[cuts, n]
    offset = 0
    for k, p in enumerate(params):
        if values.size == 1:
            idx = None
            lab, cor = _dbscan_one(xyz, t, p, max_candidates, _block_min)
        else:
            idx = by_group[cuts[k] : cuts[k + 1]]
            lab, cor = _dbscan_one(xyz[idx], t[idx], p, max_candidates, _block_min)
        clustered = lab >= 0
        if idx is None:
            raw[clustered] = lab[clustered]
            core = cor
        else:
            raw[idx[clustered]] = lab[clustered] + offset
            core[idx] = cor
        if clustered.any():
            offset += int(lab.max()) + 1
    labels, k = _renumber(raw)
    return Result(labels, core, k)


def correlate(
    lat,
    lon,
    t,
    group,
    params_by_group: Mapping[int, Params] | Params,
    *,
    max_candidates: int = DEFAULT_MAX_CANDIDATES,
) -> Result:
    """Group observations at (lat, lon) degrees WGS 84 and times t (seconds, UTC epoch; numpy
    datetime64 accepted) into incidents: `to_ecef` then `dbscan`. ``group`` (int per
    observation, or None) selects the Params of each observation's event type."""
    xyz = to_ecef(lat, lon)
    return dbscan(xyz, t, params_by_group, group, max_candidates=max_candidates)


# --------------------------------------------------------------------------------------------
# Incremental reconciliation


@dataclass(frozen=True)
class Merge:
    """Previous incident ``absorbed_id`` lost its identity; its largest remaining part
    (``n_members`` observations) is now in incident ``kept_id`` (an existing id)."""

    absorbed_id: int
    kept_id: int
    n_members: int


@dataclass(frozen=True)
class Split:
    """``n_members`` observations of previous incident ``source_id`` are now in ``part_id``:
    a placeholder (new incident) or another existing incident. Reported for every part that
    does not carry the source's identity (and is not its `Merge` target)."""

    source_id: int
    part_id: int
    n_members: int


@dataclass(frozen=True)
class NewIncident:
    """A cluster that takes no previous identity: the service creates it and replaces
    ``placeholder_id`` (-2, -3, …) by its database id. ``label`` is the cluster label,
    ``split_from`` the previous incident it contains most members of (None if none)."""

    placeholder_id: int
    label: int
    n_members: int
    split_from: int | None


@dataclass(frozen=True)
class Reconciliation:
    """incident: int64 per observation, the incident id (existing id, placeholder <= -2, or
    NO_INCIDENT for noise). cluster_incident: {cluster label: id}. dissolved: previous
    incidents none of whose observations is in a cluster any more."""

    incident: np.ndarray
    cluster_incident: dict[int, int]
    merges: tuple[Merge, ...]
    splits: tuple[Split, ...]
    new: tuple[NewIncident, ...]
    dissolved: tuple[int, ...]


def _index_in(uniq: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Position of each value in the sorted unique non-negative array ``uniq`` (all present).
    Cluster labels are small integers, so a dense table beats a binary search."""
    if uniq.size and uniq[-1] <= 4 * values.size + 1024:
        table = np.zeros(int(uniq[-1]) + 1, dtype=np.int64)
        table[uniq] = np.arange(uniq.size)
        return table[values]
    return np.searchsorted(uniq, values)


def placeholder_id(k: int) -> int:
    """The k-th (0-based) placeholder id: -2, -3, … (-1 is NO_INCIDENT)."""
    return -2 - k


def reconcile(previous_incident, labels) -> Reconciliation:
    """Give the clusters of a re-clustering (``labels``, -1 noise) stable incident identities
    from the observations' ``previous_incident`` ids (non-negative, or NO_INCIDENT = -1).

    Rules (identity follows the majority of members):
    * Every (cluster, previous incident) overlap is considered in decreasing size, ties by
      smallest previous id then smallest cluster label; an overlap assigns the incident's id to
      the cluster when neither has one yet. So a cluster keeps the previous id contributing
      most of its members (tie: smallest id) and a split incident's id stays with its largest
      part, unless that part already carries a bigger incident's id.
    * Clusters left without an id are new (placeholders -2, -3, … in label order).
    * A previous incident whose id is not kept is a Merge into the cluster holding its largest
      part (tie: smallest cluster label); its other parts are Splits.
    * A previous incident whose id is kept reports each other part as a Split.
    * Noise observations get NO_INCIDENT; an incident with no clustered member is dissolved.

    Precondition for subsets (the service re-clusters the neighbourhood of new observations):
    every previous incident that appears in the input must appear with all of its members,
    otherwise a partial view could be mistaken for a split. Observations outside the subset
    and incidents not appearing in it are unaffected.
    """
    prev = np.asarray(previous_incident)
    lab = np.asarray(labels)
    if prev.ndim != 1 or lab.ndim != 1 or prev.size != lab.size:
        raise ValueError(
            f"previous_incident and labels must be 1-D of equal length ({prev.shape}, {lab.shape})"
        )
    if prev.size and not (np.issubdtype(prev.dtype, np.integer) and np.issubdtype(lab.dtype, np.integer)):
        raise ValueError("previous_incident and labels must be integer arrays")
    prev = prev.astype(np.int64, copy=False)
    lab = lab.astype(np.int64, copy=False)
    if prev.size and prev.min() < NO_INCIDENT:
        raise ValueError("previous_incident ids must be >= 0, or -1 for none")
    if lab.size and lab.min() < NOISE:
        raise ValueError("labels must be >= 0, or -1 for noise")

    clusters, cluster_size = np.unique(lab[lab >= 0], return_counts=True)
    # Overlaps (cluster label, previous id, size), counted through one packed int64 key.
    both = (lab >= 0) & (prev >= 0)
    prev_ids, prev_idx = np.unique(prev[both], return_inverse=True)
    lab_idx = _index_in(clusters, lab[both])
    key, sizes = np.unique(lab_idx * max(prev_ids.size, 1) + prev_idx, return_counts=True)
    pl = clusters[key // max(prev_ids.size, 1)]
    pp = prev_ids[key % max(prev_ids.size, 1)]
    order = np.lexsort((pl, pp, -sizes))

    pl_list, pp_list, size_list = pl.tolist(), pp.tolist(), sizes.tolist()
    cluster_id: dict[int, int] = {}
    kept: dict[int, int] = {}  # previous id -> cluster label
    top_source: dict[int, int] = {}  # largest previous contributor of each cluster
    for i in order.tolist():
        c, q = pl_list[i], pp_list[i]
        top_source.setdefault(c, q)
        if c not in cluster_id and q not in kept:
            cluster_id[c] = q
            kept[q] = c

    new = []
    for c, size in zip(clusters.tolist(), cluster_size.tolist()):
        if c not in cluster_id:
            pid = placeholder_id(len(new))
            cluster_id[c] = pid
            new.append(NewIncident(pid, c, size, top_source.get(c)))

    # Parts of each previous incident, largest first (ties: smallest cluster label).
    merges, splits = [], []
    last = None
    for i in np.lexsort((pl, -sizes, pp)).tolist():
        c, q, size = pl_list[i], pp_list[i], size_list[i]
        first_part = q != last
        last = q
        if q in kept:
            if c != kept[q]:
                splits.append(Split(q, cluster_id[c], size))
        elif first_part:
            merges.append(Merge(q, cluster_id[c], size))
        else:
            splits.append(Split(q, cluster_id[c], size))

    previous = set(np.unique(prev[prev >= 0]).tolist())
    dissolved = tuple(sorted(previous - set(pp.tolist())))

    ids = np.array([cluster_id[c] for c in clusters.tolist()], dtype=np.int64)
    incident = np.full(lab.size, NO_INCIDENT, dtype=np.int64)
    clustered = lab >= 0
    if clustered.any():
        incident[clustered] = ids[_index_in(clusters, lab[clustered])]
    return Reconciliation(incident, cluster_id, tuple(merges), tuple(splits), tuple(new), dissolved)
