"""resolute.core.fusion.correlate: neighbour pairs against brute force, DBSCAN against
scikit-learn, groups, days, bad and dense input, and incident reconciliation."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from resolute.core.fusion import correlate as fc
from resolute.core.fusion.correlate import (
    NO_INCIDENT,
    NOISE,
    DenseDataError,
    Merge,
    Params,
    Split,
    correlate,
    dbscan,
    neighbour_pairs,
    reconcile,
    to_ecef,
)

DAY = 86_400.0
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
M_PER_DEG = 111_200.0


# ------------------------------------------------------------------------------------------
# helpers


def brute_pairs(xyz: np.ndarray, t: np.ndarray, r: float, w: float) -> set[tuple[int, int]]:
    """O(n²) reference with the same arithmetic as the module (so boundaries agree exactly)."""
    out = set()
    n = t.size
    for i in range(n - 1):
        d = xyz[i + 1 :, 0] - xyz[i, 0]
        d2 = d * d
        d = xyz[i + 1 :, 1] - xyz[i, 1]
        d2 += d * d
        d = xyz[i + 1 :, 2] - xyz[i, 2]
        d2 += d * d
        ok = (d2 <= r * r) & (np.abs(t[i + 1 :] - t[i]) <= w)
        out.update((i, i + 1 + int(j)) for j in np.flatnonzero(ok))
    return out


def pair_set(i: np.ndarray, j: np.ndarray) -> set[tuple[int, int]]:
    assert i.dtype == np.int64 and j.dtype == np.int64
    assert np.all(i < j)
    s = set(zip(i.tolist(), j.tolist()))
    assert len(s) == i.size, "duplicate pairs"
    return s


def bursts(rng, n_bursts: int, per: int, n_noise: int, *, box_km=40.0, hours=6.0, sd_m=400.0, sd_s=90.0):
    """Synthetic observations near 48.5 N 37.5 E: Gaussian bursts plus uniform noise.
    Returns lat, lon (degrees), t (seconds, integer-valued to hit the window boundary)."""
    half = box_km * 1000 / 2
    cx = rng.uniform(-half, half, n_bursts)
    cy = rng.uniform(-half, half, n_bursts)
    ct = rng.uniform(0, hours * 3600, n_bursts)
    k = np.repeat(np.arange(n_bursts), per)
    x = np.r_[cx[k] + rng.normal(0, sd_m, k.size), rng.uniform(-half, half, n_noise)]
    y = np.r_[cy[k] + rng.normal(0, sd_m, k.size), rng.uniform(-half, half, n_noise)]
    t = np.r_[ct[k] + rng.normal(0, sd_s, k.size), rng.uniform(0, hours * 3600, n_noise)]
    lat = 48.5 + y / M_PER_DEG
    lon = 37.5 + x / (M_PER_DEG * np.cos(np.radians(48.5)))
    perm = rng.permutation(lat.size)
    return lat[perm], lon[perm], T0 + np.round(t[perm])


def adjacency(n: int, pairs: set[tuple[int, int]]) -> list[set[int]]:
    adj = [set() for _ in range(n)]
    for i, j in pairs:
        adj[i].add(j)
        adj[j].add(i)
    return adj


def reference_core(n: int, adj: list[set[int]], min_points: int) -> np.ndarray:
    return np.array([len(adj[i]) + 1 >= min_points for i in range(n)])


def assert_same_partition(a: np.ndarray, b: np.ndarray) -> None:
    """Same partition up to renaming (both arrays: a label per element)."""
    assert a.shape == b.shape
    pairs = {(int(x), int(y)) for x, y in zip(a, b)}
    assert len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def check_dbscan_against_graph(res: fc.Result, n: int, pairs, min_points: int) -> None:
    """Core mask exact, core partition = connected components of core-core edges, borders in a
    cluster of one of their core neighbours (lowest input index: our tie rule), noise otherwise."""
    adj = adjacency(n, pairs)
    core = reference_core(n, adj, min_points)
    np.testing.assert_array_equal(res.core, core)
    # Components of the core graph by union-find.
    parent = list(range(n))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for i, j in pairs:
        if core[i] and core[j]:
            parent[find(i)] = find(j)
    comp = np.array([find(i) for i in range(n)])
    assert (res.labels[core] >= 0).all()
    assert_same_partition(res.labels[core], comp[core])
    for i in np.flatnonzero(~core):
        cn = [j for j in adj[i] if core[j]]
        if cn:
            assert res.labels[i] == res.labels[min(cn)]
        else:
            assert res.labels[i] == NOISE
    # Numbering: 0..k-1 by lowest member index.
    k = res.n_clusters
    firsts = [int(np.flatnonzero(res.labels == c)[0]) for c in range(k)]
    assert firsts == sorted(firsts)
    assert set(res.labels.tolist()) <= set(range(-1, k))


# ------------------------------------------------------------------------------------------
# ECEF


def test_to_ecef_matches_pyproj_and_known_points():
    pyproj = pytest.importorskip("pyproj")
    rng = np.random.default_rng(1)
    lat = rng.uniform(-90, 90, 500)
    lon = rng.uniform(-180, 180, 500)
    tr = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4978", always_xy=True)
    x, y, z = tr.transform(lon, lat, np.zeros_like(lat))
    np.testing.assert_allclose(to_ecef(lat, lon), np.column_stack([x, y, z]), atol=1e-6)
    np.testing.assert_allclose(to_ecef([0.0], [0.0]), [[fc.WGS84_A, 0, 0]], atol=1e-9)
    b = fc.WGS84_A * (1 - fc.WGS84_F)
    np.testing.assert_allclose(to_ecef([90.0], [0.0]), [[0, 0, b]], atol=1e-6)


def test_to_ecef_rejects_bad_input():
    with pytest.raises(ValueError, match="lat"):
        to_ecef([np.nan], [0.0])
    with pytest.raises(ValueError, match="lon"):
        to_ecef([0.0], [np.inf])
    with pytest.raises(ValueError, match="lat out of range"):
        to_ecef([91.0], [0.0])
    with pytest.raises(ValueError, match="differ in length"):
        to_ecef([1.0, 2.0], [0.0])


# ------------------------------------------------------------------------------------------
# Neighbour pairs


@pytest.mark.parametrize("seed", [0, 1])
def test_pairs_equal_brute_force_regional(seed):
    rng = np.random.default_rng(seed)
    lat, lon, t = bursts(rng, 60, 20, 800)
    # Exact duplicates and a pair exactly one window apart.
    lat = np.r_[lat, lat[:5], lat[7]]
    lon = np.r_[lon, lon[:5], lon[7]]
    t = np.r_[t, t[:5], t[7] + 300.0]
    xyz = to_ecef(lat, lon)
    r, w = 1_000.0, 300.0
    got = pair_set(*neighbour_pairs(xyz, t, r, w))
    ref = brute_pairs(xyz, t, r, w)
    assert len(ref) > 1_000
    assert got == ref
    assert (7, t.size - 1) in got  # |Δt| == window counts (inclusive)
    g = fc._build_grid(xyz, t, r, w)
    assert len(g.spatial_offsets) == 4  # regional data: 2-D + time grid


def test_pairs_equal_brute_force_global_3d_grid():
    rng = np.random.default_rng(2)
    n = 2_000
    v = rng.normal(size=(n, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    lat = np.degrees(np.arcsin(v[:, 2]))
    lon = np.degrees(np.arctan2(v[:, 1], v[:, 0]))
    t = rng.uniform(0, 10 * DAY, n)
    xyz = to_ecef(lat, lon)
    r, w = 600_000.0, 3 * DAY
    g = fc._build_grid(xyz, t, r, w)
    assert len(g.spatial_offsets) == 13  # whole globe: 3-D + time grid
    got = pair_set(*neighbour_pairs(xyz, t, r, w))
    assert got == brute_pairs(xyz, t, r, w)
    assert len(got) > 1_000


def test_pairs_equal_brute_force_when_keys_would_overflow():
    """Micrometre radius and millisecond window over the globe and 30 years: the packed key
    would overflow int64, cells are grown instead; only exact duplicates pair up."""
    rng = np.random.default_rng(3)
    lat = rng.uniform(-80, 80, 1_500)
    lon = rng.uniform(-180, 180, 1_500)
    t = rng.uniform(0, 30 * 365 * DAY, 1_500)
    lat, lon, t = np.r_[lat, lat[:40]], np.r_[lon, lon[:40]], np.r_[t, t[:40]]
    xyz = to_ecef(lat, lon)
    got = pair_set(*neighbour_pairs(xyz, t, 1e-6, 1e-3))
    assert got == brute_pairs(xyz, t, 1e-6, 1e-3)
    assert got == {(i, 1_500 + i) for i in range(40)}


def test_pairs_accept_arbitrary_cartesian_coordinates():
    """The grid frame is only an accelerator: planar metres (z = 0) work as well."""
    rng = np.random.default_rng(4)
    xyz = np.column_stack([rng.uniform(0, 5_000, 1_500), rng.uniform(0, 5_000, 1_500), np.zeros(1_500)])
    t = rng.uniform(0, 3_600, 1_500)
    assert pair_set(*neighbour_pairs(xyz, t, 300.0, 600.0)) == brute_pairs(xyz, t, 300.0, 600.0)


def test_pairs_small_inputs():
    e = np.zeros((0, 3))
    i, j = neighbour_pairs(e, np.zeros(0), 1.0, 1.0)
    assert i.size == j.size == 0
    i, j = neighbour_pairs(to_ecef([48.0], [37.0]), [0.0], 1.0, 1.0)
    assert i.size == 0


def test_pairs_refuse_a_million_identical_points_quickly():
    n = 1_000_000
    xyz = np.repeat(to_ecef([48.0], [37.0]), n, axis=0)
    with pytest.raises(DenseDataError, match="max_pairs"):
        neighbour_pairs(xyz, np.full(n, T0), 1_000.0, 300.0)


# ------------------------------------------------------------------------------------------
# DBSCAN


@pytest.mark.parametrize("min_points", [1, 2, 4, 7])
def test_dbscan_against_brute_force_graph(min_points):
    rng = np.random.default_rng(10 + min_points)
    lat, lon, t = bursts(rng, 50, 15, 700)
    xyz = to_ecef(lat, lon)
    p = Params(1_000.0, 300.0, min_points)
    res = dbscan(xyz, t, p)
    check_dbscan_against_graph(res, t.size, brute_pairs(xyz, t, p.radius_m, p.window_s), min_points)


def test_dbscan_same_as_sklearn_on_the_same_neighbour_graph():
    sklearn_cluster = pytest.importorskip("sklearn.cluster")
    from scipy.sparse import csr_matrix

    rng = np.random.default_rng(20)
    lat, lon, t = bursts(rng, 120, 20, 1_500)
    n = t.size
    xyz = to_ecef(lat, lon)
    p = Params(1_000.0, 300.0, 5)
    pairs = brute_pairs(xyz, t, p.radius_m, p.window_s)
    ij = np.array(sorted(pairs)).T
    # Any stored value <= eps is a neighbour; 0.5 keeps duplicates from being dropped as zeros.
    graph = csr_matrix((np.full(2 * ij.shape[1], 0.5), (np.r_[ij[0], ij[1]], np.r_[ij[1], ij[0]])), shape=(n, n))
    sk = sklearn_cluster.DBSCAN(eps=1.0, min_samples=p.min_points, metric="precomputed").fit(graph)
    sk_core = np.zeros(n, dtype=bool)
    sk_core[sk.core_sample_indices_] = True

    res = dbscan(xyz, t, p)
    np.testing.assert_array_equal(res.core, sk_core)
    assert_same_partition(res.labels[res.core], sk.labels_[res.core])
    assert res.n_clusters == sk.labels_.max() + 1 > 20
    # Border points: clustered by both, each into a cluster of one of its core neighbours.
    adj = adjacency(n, pairs)
    border = ~res.core & (res.labels >= 0)
    np.testing.assert_array_equal(border, ~sk_core & (sk.labels_ >= 0))
    for i in np.flatnonzero(border):
        assert res.labels[i] in {res.labels[j] for j in adj[i] if res.core[j]}
    np.testing.assert_array_equal(res.labels < 0, sk.labels_ < 0)


def test_dbscan_same_as_sklearn_euclidean_when_all_in_one_window():
    """With every time equal the neighbourhood is the ECEF ball, which scikit-learn computes
    independently of our pair search."""
    sklearn_cluster = pytest.importorskip("sklearn.cluster")
    rng = np.random.default_rng(21)
    lat, lon, _ = bursts(rng, 150, 15, 2_000)
    xyz = to_ecef(lat, lon)
    t = np.full(lat.size, T0)
    p = Params(700.0, 60.0, 4)
    sk = sklearn_cluster.DBSCAN(eps=p.radius_m, min_samples=p.min_points).fit(xyz)
    sk_core = np.zeros(lat.size, dtype=bool)
    sk_core[sk.core_sample_indices_] = True
    res = dbscan(xyz, t, p)
    np.testing.assert_array_equal(res.core, sk_core)
    assert_same_partition(res.labels[res.core], sk.labels_[res.core])
    np.testing.assert_array_equal(res.labels < 0, sk.labels_ < 0)


def test_dbscan_block_route_gives_identical_labels():
    """Dense cells handled arithmetically (cliques, complete joins) or pair by pair: same result.
    Tight bursts straddle cell boundaries; some observations are exact duplicates."""
    rng = np.random.default_rng(30)
    lat, lon, t = bursts(rng, 25, 60, 400, box_km=8.0, hours=1.0, sd_m=60.0, sd_s=20.0)
    lat = np.r_[lat, np.full(300, lat[0])]
    lon = np.r_[lon, np.full(300, lon[0])]
    t = np.r_[t, np.full(300, t[0])]
    xyz = to_ecef(lat, lon)
    p = Params(500.0, 120.0, 6)
    results = [dbscan(xyz, t, p, _block_min=b) for b in (0, 16, fc._BLOCK_MIN, np.inf)]
    plan = fc._plan(fc._build_grid(xyz, t, p.radius_m, p.window_s), p.radius_m, p.window_s, 0)
    assert plan.clique_cells.size > 0 and plan.full_a.size > 0  # both block kinds exercised
    for r in results[1:]:
        np.testing.assert_array_equal(r.labels, results[0].labels)
        np.testing.assert_array_equal(r.core, results[0].core)
    check_dbscan_against_graph(results[0], t.size, brute_pairs(xyz, t, p.radius_m, p.window_s), p.min_points)


def test_dbscan_streaming_route_and_small_chunks_give_identical_labels(monkeypatch):
    """Above _STORE_MAX candidates pairs are generated twice and never stored (components merged
    incrementally); tiny chunks also split long rows. Same labels as the stored route."""
    rng = np.random.default_rng(32)
    lat, lon, t = bursts(rng, 30, 40, 500, box_km=10.0, hours=1.0, sd_m=150.0, sd_s=40.0)
    xyz = to_ecef(lat, lon)
    p = Params(500.0, 120.0, 5)
    ref = dbscan(xyz, t, p)
    monkeypatch.setattr(fc, "_STORE_MAX", 0)
    monkeypatch.setattr(fc, "_CHUNK", 37)
    for block_min in (0, np.inf):
        got = dbscan(xyz, t, p, _block_min=block_min)
        np.testing.assert_array_equal(got.labels, ref.labels)
        np.testing.assert_array_equal(got.core, ref.core)
    got = pair_set(*neighbour_pairs(xyz, t, p.radius_m, p.window_s))
    assert got == brute_pairs(xyz, t, p.radius_m, p.window_s)


def test_dbscan_invariant_under_permutation():
    rng = np.random.default_rng(31)
    lat, lon, t = bursts(rng, 40, 12, 300)
    xyz = to_ecef(lat, lon)
    p = Params(1_000.0, 300.0, 3)
    a = dbscan(xyz, t, p)
    perm = rng.permutation(t.size)
    b = dbscan(xyz[perm], t[perm], p)
    np.testing.assert_array_equal(a.core[perm], b.core)
    core = b.core
    assert_same_partition(a.labels[perm][core], b.labels[core])


def test_border_point_joins_lowest_index_core_neighbour_and_numbering():
    # Two groups of four in a line, 1.6 km apart (cores with min_points 4), and one observation
    # in the middle, 800 m from the nearest member of each: it sees one core of each group and
    # has only 3 neighbours, so it is a border of the cluster of its lower-index core neighbour.
    p = Params(1_000.0, 300.0, 4)
    lat0, lon0 = 48.0, 37.0
    dlon = 1.0 / (M_PER_DEG * np.cos(np.radians(lat0)))
    x = np.array([0.0, -300.0, -600.0, -900.0, 1_600.0, 1_900.0, 2_200.0, 2_500.0, 800.0])
    lat = np.full(x.size, lat0)
    lon = lon0 + x * dlon
    t = np.full(x.size, T0)
    res = dbscan(to_ecef(lat, lon), t, p)
    assert res.n_clusters == 2
    assert not res.core[8] and res.core[:8].all()
    assert res.labels.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 0]  # index 0 < index 4
    # Swap the groups' order: the border follows the lowest index again, numbering too.
    order = [4, 5, 6, 7, 0, 1, 2, 3, 8]
    res2 = dbscan(to_ecef(lat[order], lon[order]), t, p)
    assert res2.labels.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 0]
    # The border now sees the first group's core (index 4) before the other (index 0 → 1).
    order = [4, 5, 6, 7, 8, 0, 1, 2, 3]
    res3 = dbscan(to_ecef(lat[order], lon[order]), t, p)
    assert res3.labels.tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 1]


def test_groups_are_never_neighbours_and_use_their_own_params():
    small_arms, artillery = 0, 1
    params = {small_arms: Params(1_000.0, 300.0, 2), artillery: Params(3_000.0, 600.0, 3)}
    lat0, lon0 = 48.0, 37.0
    dlon = 1.0 / (M_PER_DEG * np.cos(np.radians(lat0)))
    # Same place and time, different groups: not clustered together.
    res = correlate([lat0, lat0], [lon0, lon0], [T0, T0], [small_arms, artillery], params)
    assert res.labels.tolist() == [NOISE, NOISE]
    # Three reports 2 km apart within 8 minutes: a cluster for artillery, noise for small arms.
    lat = np.full(3, lat0)
    lon = lon0 + np.array([0.0, 2_000.0, 4_000.0]) * dlon
    t = T0 + np.array([0.0, 240.0, 480.0])
    assert correlate(lat, lon, t, np.full(3, artillery), params).labels.tolist() == [0, 0, 0]
    assert correlate(lat, lon, t, np.full(3, small_arms), params).labels.tolist() == [NOISE] * 3
    # Mixed: two pairs, one per group, at the same place; numbering by lowest index.
    g = [artillery, small_arms, artillery, small_arms, artillery]
    lat5 = np.full(5, lat0)
    lon5 = lon0 + np.array([0.0, 0.0, 100.0, 100.0, 200.0]) * dlon
    res = correlate(lat5, lon5, np.full(5, T0), g, params)
    assert res.labels.tolist() == [0, 1, 0, 1, 0]
    with pytest.raises(ValueError, match="group 7"):
        correlate(lat5, lon5, np.full(5, T0), [7] * 5, params)


def test_many_groups_equal_separate_runs():
    rng = np.random.default_rng(41)
    lat, lon, t = bursts(rng, 80, 15, 600)
    group = rng.integers(0, 5, t.size) * 10
    params = {g: Params(400.0 + 300.0 * k, 120.0 + 60.0 * k, 2 + k % 3) for k, g in enumerate(range(0, 50, 10))}
    res = correlate(lat, lon, t, group, params)
    total = 0
    for g, p in params.items():
        sel = np.flatnonzero(group == g)
        sub = correlate(lat[sel], lon[sel], t[sel], None, p)
        np.testing.assert_array_equal(res.core[sel], sub.core)
        assert_same_partition(res.labels[sel], sub.labels)
        assert not set(res.labels[sel][res.labels[sel] >= 0].tolist()) & set(res.labels[group != g].tolist())
        total += sub.n_clusters
    assert res.n_clusters == total > 20


def test_two_bursts_same_place_different_days_are_two_clusters():
    rng = np.random.default_rng(40)
    lat = 48.0 + rng.normal(0, 100 / M_PER_DEG, 20)
    lon = 37.0 + rng.normal(0, 100 / M_PER_DEG, 20)
    t = T0 + np.r_[rng.uniform(0, 120, 10), DAY + rng.uniform(0, 120, 10)]
    res = correlate(lat, lon, t, None, Params(1_000.0, 300.0, 2))
    assert res.n_clusters == 2
    assert (res.labels[:10] == 0).all() and (res.labels[10:] == 1).all()


def test_datetime64_times_accepted():
    t = np.array(["2026-01-01T00:00:00", "2026-01-01T00:04:00", "2026-01-02T00:00:00"], dtype="datetime64[s]")
    res = correlate([48.0] * 3, [37.0] * 3, t, None, Params(1_000.0, 300.0, 2))
    assert res.labels.tolist() == [0, 0, NOISE]


def test_empty_and_single_observation():
    p = Params(1_000.0, 300.0, 2)
    res = correlate([], [], [], None, p)
    assert res.labels.size == 0 and res.core.size == 0 and res.n_clusters == 0
    res = correlate([48.0], [37.0], [T0], None, p)
    assert res.labels.tolist() == [NOISE] and res.n_clusters == 0
    res = correlate([48.0], [37.0], [T0], None, Params(1_000.0, 300.0, 1))
    assert res.labels.tolist() == [0] and res.core.tolist() == [True]


@pytest.mark.parametrize(
    "lat, lon, t, name",
    [
        ([48.0, np.nan], [37.0, 37.0], [T0, T0], "lat"),
        ([48.0, 48.0], [37.0, np.nan], [T0, T0], "lon"),
        ([48.0, 48.0], [37.0, 37.0], [T0, np.nan], "t"),
    ],
)
def test_nan_rejected_naming_the_array(lat, lon, t, name):
    with pytest.raises(ValueError, match=f"^{name} contains a non-finite value .* index 1"):
        correlate(lat, lon, t, None, Params(1_000.0, 300.0, 2))


def test_other_bad_input():
    p = Params(1_000.0, 300.0, 2)
    xyz = to_ecef([48.0, 48.0], [37.0, 37.0])
    with pytest.raises(ValueError, match="xyz contains a non-finite"):
        dbscan(np.array([[1.0, 2.0, np.nan]]), [0.0], p)
    with pytest.raises(ValueError, match="differ in length"):
        dbscan(xyz, [0.0], p)
    with pytest.raises(ValueError, match="group must be"):
        dbscan(xyz, [0.0, 0.0], p, [0])
    with pytest.raises(ValueError, match="radius_m"):
        Params(0.0, 300.0, 2)
    with pytest.raises(ValueError, match="window_s"):
        Params(1_000.0, float("nan"), 2)
    with pytest.raises(ValueError, match="min_points"):
        Params(1_000.0, 300.0, 0)


def test_a_million_identical_points_one_cluster_bounded_memory():
    n = 1_000_000
    xyz = np.repeat(to_ecef([48.0], [37.0]), n, axis=0)
    t = np.full(n, T0)
    tracemalloc.start()
    try:
        res = dbscan(xyz, t, Params(1_000.0, 300.0, 3))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert res.n_clusters == 1
    assert (res.labels == 0).all() and res.core.all()
    assert peak < 400 * 2**20  # a few arrays of n, nothing quadratic


def test_dense_cell_that_is_not_a_clique_is_refused_not_hung():
    rng = np.random.default_rng(50)
    n = 200_000
    # 200,000 observations spread over 2 km × 2 km in one minute, radius 1 km: ~10¹⁰ candidate
    # pairs that cannot be settled by blocks.
    lat = 48.0 + rng.uniform(0, 2_000, n) / M_PER_DEG
    lon = 37.0 + rng.uniform(0, 2_000, n) / (M_PER_DEG * np.cos(np.radians(48.0)))
    t = T0 + rng.uniform(0, 60, n)
    with pytest.raises(DenseDataError, match="max_candidates"):
        correlate(lat, lon, t, None, Params(1_000.0, 300.0, 3))


def test_candidate_budget_is_honoured():
    rng = np.random.default_rng(51)
    lat, lon, t = bursts(rng, 20, 30, 100)
    p = Params(1_000.0, 300.0, 3)
    with pytest.raises(DenseDataError):
        correlate(lat, lon, t, None, p, max_candidates=100)
    assert correlate(lat, lon, t, None, p).n_clusters > 0


# ------------------------------------------------------------------------------------------
# Reconciliation


def test_reconcile_stable_when_nothing_changes():
    prev = np.array([10, 10, 10, 42, 42, NO_INCIDENT])
    labels = np.array([1, 1, 1, 0, 0, NOISE])  # renumbered clusters, same partition
    rec = reconcile(prev, labels)
    assert rec.incident.tolist() == [10, 10, 10, 42, 42, NO_INCIDENT]
    assert rec.cluster_incident == {0: 42, 1: 10}
    assert rec.merges == rec.splits == rec.new == rec.dissolved == ()


def test_reconcile_join_and_create():
    prev = np.array([5, 5, 5, NO_INCIDENT, NO_INCIDENT, NO_INCIDENT, NO_INCIDENT])
    labels = np.array([0, 0, 0, 0, 1, 1, NOISE])  # obs 3 joins incident 5; 4, 5 form a new one
    rec = reconcile(prev, labels)
    assert rec.incident.tolist() == [5, 5, 5, 5, -2, -2, NO_INCIDENT]
    assert len(rec.new) == 1
    assert rec.new[0].placeholder_id == -2 and rec.new[0].label == 1 and rec.new[0].n_members == 2
    assert rec.new[0].split_from is None
    assert rec.merges == rec.splits == ()


def test_reconcile_merge_keeps_the_majority_id():
    # Incidents 7 (3 members) and 3 (2 members) bridged by a new observation.
    prev = np.array([7, 7, 7, 3, 3, NO_INCIDENT])
    rec = reconcile(prev, np.zeros(6, dtype=int))
    assert rec.incident.tolist() == [7] * 6
    assert rec.merges == (Merge(absorbed_id=3, kept_id=7, n_members=2),)
    assert rec.splits == () and rec.new == ()
    # Tie: the smaller id is kept.
    rec = reconcile(np.array([7, 7, 3, 3, NO_INCIDENT]), np.zeros(5, dtype=int))
    assert rec.incident.tolist() == [3] * 5
    assert rec.merges == (Merge(absorbed_id=7, kept_id=3, n_members=2),)


def test_reconcile_split_largest_part_keeps_id():
    prev = np.array([9, 9, 9, 9, 9, 9])
    labels = np.array([1, 1, 0, 0, 0, NOISE])  # parts of 2 and 3, one observation now noise
    rec = reconcile(prev, labels)
    assert rec.incident.tolist() == [-2, -2, 9, 9, 9, NO_INCIDENT]
    assert rec.splits == (Split(source_id=9, part_id=-2, n_members=2),)
    assert [(x.placeholder_id, x.label, x.n_members, x.split_from) for x in rec.new] == [(-2, 1, 2, 9)]
    assert rec.merges == () and rec.dissolved == ()


def test_reconcile_noise_and_dissolved():
    prev = np.array([4, 4, 8, 8, 8])
    labels = np.array([NOISE, NOISE, 0, 0, NOISE])
    rec = reconcile(prev, labels)
    assert rec.incident.tolist() == [NO_INCIDENT, NO_INCIDENT, 8, 8, NO_INCIDENT]
    assert rec.dissolved == (4,)


def test_reconcile_split_part_going_to_another_incident():
    # Incident 1 (5 members) keeps its id; 2 of incident 2's members went into it, the other 4
    # keep incident 2; reported as a split of 2 into 1.
    prev = np.array([1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2])
    labels = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    rec = reconcile(prev, labels)
    assert rec.incident.tolist() == [1] * 7 + [2] * 4
    assert rec.splits == (Split(source_id=2, part_id=1, n_members=2),)
    assert rec.merges == () and rec.new == ()


def test_reconcile_rejects_bad_input():
    with pytest.raises(ValueError):
        reconcile([1, 2], [0])
    with pytest.raises(ValueError):
        reconcile([-5], [0])
    with pytest.raises(ValueError):
        reconcile([1], [-3])
    rec = reconcile(np.zeros(0, dtype=int), np.zeros(0, dtype=int))
    assert rec.incident.size == 0


def test_incremental_neighbourhood_reclustering_matches_full_run():
    """The service's incremental path: cluster, then a new observation bridges two incidents;
    re-clustering only the neighbourhood (observations near the new one plus all members of
    their incidents) and reconciling gives the same identities as a full re-run."""
    p = Params(1_000.0, 300.0, 3)
    rng = np.random.default_rng(60)
    dlon = 1.0 / (M_PER_DEG * np.cos(np.radians(48.0)))

    def blob(x_m, n, t_s):
        return (
            48.0 + rng.normal(0, 60, n) / M_PER_DEG,
            37.0 + (x_m + rng.normal(0, 60, n)) * dlon,
            T0 + t_s + rng.uniform(0, 60, n),
        )

    parts = [blob(0, 8, 0), blob(1_500, 5, 0), blob(30_000, 6, 0), blob(0, 6, DAY)]
    lat = np.concatenate([q[0] for q in parts])
    lon = np.concatenate([q[1] for q in parts])
    t = np.concatenate([q[2] for q in parts])
    first = correlate(lat, lon, t, None, p)
    assert first.n_clusters == 4
    db_ids = np.array([101, 102, 103, 104])  # ids the service stored
    prev = db_ids[first.labels]

    # A new observation halfway between the first two blobs, same minute.
    lat2 = np.r_[lat, 48.0]
    lon2 = np.r_[lon, 37.0 + 750 * dlon]
    t2 = np.r_[t, T0 + 30]
    prev2 = np.r_[prev, NO_INCIDENT]
    full = reconcile(prev2, correlate(lat2, lon2, t2, None, p).labels)

    # Neighbourhood: within radius/window of the new observation, plus their incidents' members.
    new = np.array([lat2.size - 1])
    i, j = neighbour_pairs(to_ecef(lat2, lon2), t2, p.radius_m, p.window_s)
    near = set(new.tolist())
    near |= {int(b) for a, b in zip(i, j) if a in new} | {int(a) for a, b in zip(i, j) if b in new}
    touched = {int(prev2[k]) for k in near if prev2[k] != NO_INCIDENT}
    subset = np.flatnonzero(np.isin(np.arange(lat2.size), list(near)) | np.isin(prev2, list(touched)))
    part = reconcile(prev2[subset], correlate(lat2[subset], lon2[subset], t2[subset], None, p).labels)

    np.testing.assert_array_equal(part.incident, full.incident[subset])
    assert part.merges == full.merges == (Merge(absorbed_id=102, kept_id=101, n_members=5),)
    assert set(full.incident.tolist()) == {101, 103, 104}
    outside = np.setdiff1d(np.arange(lat2.size), subset)
    np.testing.assert_array_equal(full.incident[outside], prev2[outside])


def test_pairs_at_exactly_the_window_with_tiny_window_and_epoch_times():
    """A 1 ms window on UTC epoch seconds (ulp 2.4e-7 s): the grid's cell margins must cover
    rounding so that pairs exactly one window apart are never lost."""
    rng = np.random.default_rng(5)
    n = 3_000
    lat = 48.0 + rng.uniform(0, 0.001, n)
    lon = 37.0 + rng.uniform(0, 0.001, n)
    t = T0 + rng.integers(0, 40, n) * 0.001
    xyz = to_ecef(lat, lon)
    got = pair_set(*neighbour_pairs(xyz, t, 50.0, 0.001))
    assert got == brute_pairs(xyz, t, 50.0, 0.001)
    assert any(abs(t[i] - t[j]) > 0.0005 for i, j in got)


@pytest.mark.parametrize("seed", range(5))
def test_reconcile_invariants_on_random_partitions(seed):
    rng = np.random.default_rng(70 + seed)
    n = 400
    prev = np.where(rng.random(n) < 0.2, NO_INCIDENT, rng.integers(100, 130, n))
    labels = np.where(rng.random(n) < 0.15, NOISE, rng.integers(0, 25, n))
    rec = reconcile(prev, labels)
    clusters = sorted(set(labels[labels >= 0].tolist()))
    ids = [rec.cluster_incident[c] for c in clusters]
    assert sorted(rec.cluster_incident) == clusters
    assert len(set(ids)) == len(ids)  # one identity per cluster, never shared
    for c, q in rec.cluster_incident.items():
        members = labels == c
        np.testing.assert_array_equal(rec.incident[members], q)
        if q >= 0:
            assert (prev[members] == q).any()  # a kept id comes from the cluster's own members
    assert (rec.incident[labels < 0] == NO_INCIDENT).all()
    assert sorted(x.placeholder_id for x in rec.new) == sorted(range(-1 - len(rec.new), -1))
    assert {x.label for x in rec.new} == {c for c in clusters if rec.cluster_incident[c] < 0}
    # Every clustered member of a previous incident is accounted for exactly once.
    for q in set(prev[prev >= 0].tolist()):
        clustered = int(((prev == q) & (labels >= 0)).sum())
        moved = sum(s.n_members for s in rec.splits if s.source_id == q)
        moved += sum(m.n_members for m in rec.merges if m.absorbed_id == q)
        stayed = int(((prev == q) & (rec.incident == q)).sum())
        assert moved + stayed == clustered
        assert (clustered == 0) == (q in rec.dissolved)
        assert sum(m.absorbed_id == q for m in rec.merges) == (q not in ids and clustered > 0)
