"""Side attribution: analytic cases, the distance gate, bends, the indeterminate band, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from scipy.stats import ncx2, norm

from resolute.core.fusion import attribute as at

# Test geometry is drawn in metres in a frame of our own near Zaporizhzhia and handed to
# prepare() in lon/lat, as real data would be; prepare() then chooses its own projection.
_FRAME = "+proj=tmerc +lat_0=47.8 +lon_0=35.9 +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
_TO_LONLAT = Transformer.from_crs(_FRAME, "EPSG:4326", always_xy=True)


def _lonlat(xy):
    xy = np.asarray(xy, dtype=float)
    lon, lat = _TO_LONLAT.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


def prepare_metric(line_xy, side_a_xy, line_sigma_m, holes=()):
    line = _lonlat(line_xy)
    poly = shapely.Polygon(_lonlat(side_a_xy), [_lonlat(h) for h in holes])
    return at.prepare([tuple(v) for v in line], poly, line_sigma_m)


def to_prepared(prepared, x, y):
    lonlat = _lonlat(np.column_stack([np.atleast_1d(x), np.atleast_1d(y)]))
    return prepared.project(lonlat[:, 0], lonlat[:, 1])


def iso(sigma):
    return np.diag([sigma**2, sigma**2])


# A north-south line, side A to the east of it.
STRAIGHT = [(0.0, -30_000.0), (0.0, 30_000.0)]
STRAIGHT_A = STRAIGHT + [(30_000.0, 30_000.0), (30_000.0, -30_000.0)]
# A sinusoidal front: amplitude 2 km, wavelength 8 km, vertices every 50 m; side A to the east.
_Y = np.arange(-30_000.0, 30_000.0 + 1, 50.0)
WIGGLY = np.column_stack([2000.0 * np.sin(2 * np.pi * _Y / 8000.0), _Y])
WIGGLY_A = np.vstack([WIGGLY, [(30_000.0, 30_000.0), (30_000.0, -30_000.0)]])


@pytest.mark.parametrize("method", ["qmc", "mc"])
def test_straight_line_matches_the_normal_cdf_within_3_se(method):
    prepared = prepare_metric(STRAIGHT, STRAIGHT_A, line_sigma_m=100.0)
    x = np.array([-700.0, -400.0, -200.0, -60.0, 0.0, 60.0, 200.0, 400.0, 700.0])
    e, n = to_prepared(prepared, x, np.zeros_like(x))
    p, se = at.p_side_a(prepared, e, n, iso(200.0), rng=3, method=method)
    exact = norm.cdf(x / math.hypot(200.0, 100.0))  # the line's error adds in quadrature
    z = (p - exact) / np.maximum(se, 1e-12)
    print(method, "straight-line z-scores", np.round(z, 2), "max se", se.max())
    assert np.all(np.abs(p - exact) <= 3 * se)
    assert np.all(se <= 0.01)


def test_anisotropic_covariance_uses_the_component_normal_to_the_line():
    prepared = prepare_metric(STRAIGHT, STRAIGHT_A, line_sigma_m=0.0)
    # 1000 m along the line (north), 100 m across it: only the 100 m matters.
    e, n = to_prepared(prepared, [120.0], [0.0])
    p, se = at.p_side_a(prepared, e[0], n[0], np.diag([100.0**2, 1000.0**2]), rng=5)
    assert abs(p - norm.cdf(1.2)) <= 3 * se
    # Rotated 45 degrees: the normal variance is (100^2 + 1000^2) / 2.
    c = 0.5 * np.array([[1000.0**2 + 100.0**2, 1000.0**2 - 100.0**2], [1000.0**2 - 100.0**2, 1000.0**2 + 100.0**2]])
    p, se = at.p_side_a(prepared, e[0], n[0], c, rng=5)
    assert abs(p - norm.cdf(120.0 / math.sqrt(0.5 * (1000.0**2 + 100.0**2)))) <= 3 * se


class NoSampling(np.random.Generator):
    def standard_normal(self, *args, **kwargs):
        raise AssertionError("sampled a point that the distance gate should have decided")


def test_far_points_on_a_wiggly_line_are_decided_without_sampling():
    prepared = prepare_metric(WIGGLY, WIGGLY_A, line_sigma_m=100.0)
    rng = np.random.default_rng(1)
    y = rng.uniform(-25_000, 25_000, 2000)
    line_x = 2000.0 * np.sin(2 * np.pi * y / 8000.0)
    x = line_x + rng.choice([-1, 1], y.size) * rng.uniform(2_500, 20_000, y.size)
    # Keep the points beyond the gate: 5 x sqrt(300^2 + 100^2) = 1.58 km from the line.
    far = shapely.distance(shapely.points(x, y), shapely.LineString(WIGGLY)) > 1_700.0
    x, y, line_x = x[far], y[far], line_x[far]
    assert x.size > 1500
    e, n = to_prepared(prepared, x, y)
    p, se = at.p_side_a(prepared, e, n, iso(300.0), rng=NoSampling(np.random.PCG64(0)))
    assert set(np.unique(p)) <= {0.0, 1.0} and np.all(se == 0.0)
    assert np.array_equal(p, (x > line_x).astype(float))


def test_right_angle_bend_matches_the_product_of_normal_cdfs_not_the_straight_line_formula():
    # Side A is the quadrant x > 0, y < 0; the line turns through a right angle at (0, 0).
    line = [(0.0, -20_000.0), (0.0, 0.0), (20_000.0, 0.0)]
    side_a = line + [(20_000.0, -20_000.0)]
    prepared = prepare_metric(line, side_a, line_sigma_m=100.0)
    s = math.hypot(150.0, 100.0)
    # Inside the corner and outside it, one sigma from both arms; and on a straight stretch.
    pts = np.array([(s, -s), (-s, s), (0.5 * s, -2 * s), (s, -15_000.0)])
    e, n = to_prepared(prepared, pts[:, 0], pts[:, 1])
    p, se = at.p_side_a(prepared, e, n, iso(150.0), rng=11)
    # A rigid isotropic shift keeps the quadrant exact: P = P(x > 0) P(y < 0).
    exact = norm.cdf(pts[:, 0] / s) * norm.cdf(-pts[:, 1] / s)
    approx = at.normal_approximation(prepared, e, n, iso(150.0))
    print("corner: MC", np.round(p, 3), "exact", np.round(exact, 3), "straight-line", np.round(approx, 3))
    assert np.all(np.abs(p - exact) <= 3 * se)
    assert abs(approx[0] - exact[0]) > 0.05 and abs(approx[1] - exact[1]) > 0.05
    assert abs(approx[2] - exact[2]) < 0.02  # twice as far from one arm: the bend matters less
    assert abs(approx[3] - exact[3]) < 1e-3  # far from the bend the two agree (frames differ by ~1e-5)


def test_salient_matches_the_noncentral_chi_square_and_the_straight_formula_fails_there():
    # A round salient (side A = a disc of radius 600 m): P(inside) = ncx2 CDF, exactly.
    R, sig = 600.0, 200.0
    ang = np.linspace(0, 2 * np.pi, 721)
    ring = np.column_stack([R * np.cos(ang), R * np.sin(ang)])
    ring[-1] = ring[0]
    prepared = prepare_metric(ring, ring[:-1], line_sigma_m=0.0)
    r = np.array([0.0, 300.0, 500.0, 600.0, 700.0, 900.0])
    e, n = to_prepared(prepared, r, np.zeros_like(r))
    p, se = at.p_side_a(prepared, e, n, iso(sig), rng=2)
    # The 721-gon is 0.02 m inside the circle at worst: negligible against sigma = 200 m.
    exact = ncx2.cdf(R**2 / sig**2, df=2, nc=r**2 / sig**2)
    approx = at.normal_approximation(prepared, e, n, iso(sig))
    print("salient: MC", np.round(p, 3), "exact", np.round(exact, 3), "straight-line", np.round(approx, 3))
    assert np.all(np.abs(p - exact) <= 3 * se + 1e-4)
    assert np.all(np.abs(approx - exact)[2:5] > 0.05)


def test_wiggly_line_near_points_differ_from_the_straight_formula_at_bends_only():
    prepared = prepare_metric(WIGGLY, WIGGLY_A, line_sigma_m=100.0)
    rng = np.random.default_rng(4)
    y = rng.uniform(-25_000, 25_000, 3000)
    line_x = 2000.0 * np.sin(2 * np.pi * y / 8000.0)
    x = line_x + rng.normal(0.0, 400.0, y.size)
    e, n = to_prepared(prepared, x, y)
    cov = iso(300.0)
    p, se = at.p_side_a(prepared, e, n, cov, rng=4)
    approx = at.normal_approximation(prepared, e, n, cov)
    diff = np.abs(p - approx)
    phase = np.mod(y / 8000.0, 0.5)  # 0 and 0.5: inflection (straight); 0.25: crest (bend)
    straight = np.abs(phase - 0.25) > 0.2
    bend = np.abs(phase - 0.25) < 0.05
    print(f"share off by > 0.05: all {np.mean(diff > 0.05):.3f}, bends {np.mean(diff[bend] > 0.05):.3f}, straight {np.mean(diff[straight] > 0.05):.3f}")
    assert np.mean(diff[bend] > 0.05) > 0.2
    assert np.mean(diff[straight] > 0.05) < 0.01
    assert np.all(se <= 0.01)


def test_standard_error_is_at_most_0_01_and_sampling_adapts():
    prepared = prepare_metric(WIGGLY, WIGGLY_A, line_sigma_m=50.0)
    rng = np.random.default_rng(9)
    y = rng.uniform(-20_000, 20_000, 500)
    x = 2000.0 * np.sin(2 * np.pi * y / 8000.0) + rng.normal(0, 600.0, y.size)
    e, n = to_prepared(prepared, x, y)
    covs = np.array([[[a, c], [c, b]] for a, b, c in zip(rng.uniform(1e4, 3e5, 500), rng.uniform(1e4, 3e5, 500), rng.uniform(-5e3, 5e3, 500))])
    p, se = at.p_side_a(prepared, e, n, covs, rng=9)
    assert p.shape == se.shape == (500,) and np.all(se <= 0.01)
    assert np.all((p >= 0) & (p <= 1))
    # Fewer samples than 0.25 / 0.01^2 cannot promise 0.01 and the output says so honestly.
    p_few, se_few = at.p_side_a(prepared, e, n, covs, n_samples=400, rng=9, method="mc")
    assert se_few.max() > 0.01


def test_deterministic_with_a_seed():
    prepared = prepare_metric(WIGGLY, WIGGLY_A, line_sigma_m=100.0)
    e, n = to_prepared(prepared, np.array([100.0, 1900.0, -300.0]), np.array([0.0, 2000.0, 500.0]))
    a = at.p_side_a(prepared, e, n, iso(250.0), rng=42)
    b = at.p_side_a(prepared, e, n, iso(250.0), rng=np.random.default_rng(42))
    c = at.p_side_a(prepared, e, n, iso(250.0), rng=43)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    assert np.all(np.abs(a[0] - c[0]) <= 4 * np.hypot(a[1], c[1]))
    assert np.array_equal(at.p_side_a(prepared, e, n, iso(250.0))[0], at.p_side_a(prepared, e, n, iso(250.0))[0])
    # With RQMC a point's result depends on the seed and its own inputs only, not on the batch.
    alone = at.p_side_a(prepared, e[1], n[1], iso(250.0), rng=42)
    assert alone == (a[0][1], a[1][1])


def test_classify_never_forces_a_side_inside_the_band():
    r = at.classify(0.03, 0.99)
    assert (r.origin, r.impact, r.kind) == ("B", "A", "cross_line")
    assert r.text == "cross-line fire, origin side B (p = 0.97), impact side A (p = 0.99)"
    r = at.classify(0.5, 0.999, names=("RU", "UA"))
    assert r.origin is None and r.impact == "RU" and r.kind == "indeterminate"
    assert "origin side indeterminate (p(RU) = 0.50)" in r.text and "impact side RU (p > 0.99)" in r.text
    for p in (0.051, 0.5, 0.949):
        assert at.classify(p, p).kind == "indeterminate"
    assert at.classify(0.05, 0.05).kind == "same_side"
    assert at.classify(0.95, 0.02).kind == "cross_line"
    assert at.classify(0.97, 0.98).text.startswith("fire within side A")
    r = at.classify(0.99, None)
    assert r.kind == "indeterminate" and r.impact is None and "impact not located" in r.text
    for bad in ((float("nan"), 0.5), (1.2, 0.5), (0.5, -0.1)):
        with pytest.raises(ValueError):
            at.classify(*bad)
    with pytest.raises(ValueError):
        at.classify(0.5, 0.5, low=0.6, high=0.4)


def test_bad_input_gives_a_clear_result_or_value_error():
    prepared = prepare_metric(STRAIGHT, STRAIGHT_A, line_sigma_m=100.0)
    e, n = to_prepared(prepared, np.array([50.0, 80.0, 5000.0]), np.zeros(3))
    with pytest.raises(ValueError, match="index 1: position not finite"):
        at.p_side_a(prepared, [e[0], np.nan, e[2]], n, iso(100.0))
    p, se = at.p_side_a(prepared, [e[0], np.nan, e[2]], n, iso(100.0), invalid="nan")
    assert np.isnan(p[1]) and np.isnan(se[1]) and np.isfinite(p[[0, 2]]).all()
    for cov, msg in (
        (np.array([[1e4, 0.0], [0.0, -1.0]]), "positive semi-definite"),
        (np.array([[1e4, 1e3], [0.0, 1e4]]), "not symmetric"),
        (np.array([[1e4, 2e4], [2e4, 1e4]]), "positive semi-definite"),
        (np.array([[np.inf, 0.0], [0.0, 1.0]]), "not finite"),
    ):
        with pytest.raises(ValueError, match=msg):
            at.p_side_a(prepared, e, n, cov)
    with pytest.raises(ValueError, match="shape"):
        at.p_side_a(prepared, e, n, np.eye(3))
    # Singular covariances are legitimate (a range-only or perfectly known point).
    sharp = prepare_metric(STRAIGHT, STRAIGHT_A, line_sigma_m=0.0)
    e0, n0 = to_prepared(sharp, np.array([150.0, -150.0]), np.zeros(2))
    p, se = at.p_side_a(sharp, e0, n0, np.zeros((2, 2)))
    assert list(p) == [1.0, 0.0] and list(se) == [0.0, 0.0]
    p, se = at.p_side_a(sharp, e0[0], n0[0], np.diag([150.0**2, 0.0]), rng=1)  # across the line
    assert abs(p - norm.cdf(1.0)) <= 3 * se
    p, se = at.p_side_a(sharp, e0[0], n0[0], np.diag([0.0, 1e6]), rng=1)  # along it only
    assert p == 1.0
    # prepare() refuses malformed geometry with a reason.
    poly = shapely.Polygon(_lonlat(STRAIGHT_A))
    line = [tuple(v) for v in _lonlat(STRAIGHT)]
    with pytest.raises(ValueError, match="at least two"):
        at.prepare(line[:1], poly, 100.0)
    with pytest.raises(ValueError, match="NaN"):
        at.prepare([line[0], (np.nan, 48.0)], poly, 100.0)
    with pytest.raises(ValueError, match="line_sigma_m"):
        at.prepare(line, poly, -5.0)
    with pytest.raises(ValueError, match="invalid"):
        bowtie = shapely.Polygon(_lonlat([(0, -30_000), (0, 30_000), (30_000, -30_000), (30_000, 30_000)]))
        at.prepare(line, bowtie, 100.0)
    with pytest.raises(ValueError, match="not on side A's boundary"):
        shifted = shapely.Polygon(_lonlat([(x + 500.0, y) for x, y in STRAIGHT_A]))
        at.prepare(line, shifted, 100.0)
    with pytest.raises(ValueError, match="Polygon"):
        at.prepare(line, shapely.LineString(line), 100.0)


def test_covariance_is_turned_into_grid_axes_by_the_meridian_convergence():
    # 190 km east of the projection's centre, grid north is ~1.86 degrees east of true north: a
    # long thin north-south ellipse must lean west in grid axes (pyproj agrees on the angle).
    from pyproj import Proj

    line = [(36.0, 47.5), (36.0, 48.5)]
    prepared = at.prepare(line, shapely.Polygon(line + [(37.0, 48.5), (37.0, 47.5)]), 0.0)
    e, n = prepared.project(38.5, 48.0)
    G = at._grid_covariance(prepared, np.atleast_1d(e), np.atleast_1d(n), np.array([np.diag([0.0, 1.0])]))[0]
    lean = math.degrees(math.atan2(G[0, 1], G[1, 1]))
    expected = Proj(prepared.proj).get_factors(38.5, 48.0).meridian_convergence
    assert lean == pytest.approx(-expected, abs=0.01) and abs(lean) > 1.5
