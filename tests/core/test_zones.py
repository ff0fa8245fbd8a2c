"""Agreement geometry: the local frame, withdrawal bands, and P(inside) against analytic answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from scipy.stats import norm

from resolute.core import geo
from resolute.core import zones as zn

LINE = [(36.0, 47.0), (36.0, 49.0)]  # north-south contact line; side A to the east
SIDE_A = shapely.box(36.0, 47.0, 38.0, 49.0)
FRAME = zn.LocalFrame.around([shapely.LineString(LINE), SIDE_A])


def iso(sigma):
    return np.diag([sigma**2, sigma**2])


def east_of_line(km, lat=48.0):
    """(lon, lat) of the point ``km`` kilometres due east (geodesic; negative = west) of the line."""
    lat2, lon2 = geo.forward(lat, 36.0, 90.0 if km >= 0 else 270.0, abs(km) * 1000.0)
    return float(lon2), float(lat2)


def inside(geom_lonlat, lonlat):
    return bool(shapely.contains_xy(geom_lonlat, *lonlat))


def test_frame_is_centred_on_the_area_and_round_trips():
    assert (FRAME.lon0, FRAME.lat0) == (37.0, 48.0)
    e, n = FRAME.project([36.0, 37.0, 38.0], [47.0, 48.0, 49.0])
    assert abs(e[1]) < 1e-6 and abs(n[1]) < 1e-6
    lon, lat = FRAME.unproject(e, n)
    assert np.allclose(lon, [36.0, 37.0, 38.0], atol=1e-9) and np.allclose(lat, [47.0, 48.0, 49.0], atol=1e-9)
    with pytest.raises(ValueError, match="too large"):
        zn.LocalFrame.around([shapely.box(30.0, 45.0, 41.0, 50.0)])


def test_parallels_stay_parallels_after_projection():
    # The box's northern edge is the parallel 49N; TM bends parallels by ~0.5 km over 150 km, so
    # without densification the projected edge would cut the corner.
    box_m = FRAME.to_metres(SIDE_A)
    e, n = FRAME.project(37.0, 49.0 - 1e-4)  # 11 m inside the northern edge, mid-way along it
    assert shapely.contains_xy(box_m, e, n)
    assert not shapely.contains_xy(box_m, *FRAME.project(37.0, 49.0 + 1e-4))


def test_jacobian_has_the_meridian_convergence_and_scale_of_the_projection():
    e, n = FRAME.project(39.0, 48.0)  # 2 degrees east of the central meridian
    J = FRAME.jacobian(e, n)[0]
    convergence = math.degrees(math.atan2(-J[0, 1], J[1, 1]))
    assert convergence == pytest.approx(2.0 * math.sin(math.radians(48.0)), abs=0.005)  # gamma ~ dlon sin(lat)
    assert math.sqrt(abs(np.linalg.det(J))) == pytest.approx(float(FRAME.scale(e)), abs=2e-6)


@pytest.mark.parametrize("d_over_sigma", [-2.0, -1.0, -0.3, 0.0, 0.5, 1.0, 2.0])
def test_half_plane_matches_the_normal_cdf(d_over_sigma):
    sigma = 400.0
    big = shapely.box(-200_000.0, -200_000.0, 0.0, 200_000.0)  # the point is near its long east edge
    p, se = zn.p_inside(FRAME, big, -d_over_sigma * sigma, 0.0, iso(sigma))
    assert p == pytest.approx(norm.cdf(d_over_sigma), abs=0.01)
    assert 0.0 < se < 0.01


def test_correlated_covariance_against_a_diagonal_half_plane():
    # Half-plane x + y < 0 (edge at 45 degrees): the error along its normal u = (1, 1)/sqrt(2) has
    # variance u'Cu = (a + 2b + c)/2, so the sign of the covariance's off-diagonal term matters.
    a, b, c = 500.0**2, 0.8 * 500.0 * 300.0, 300.0**2
    half = shapely.Polygon([(-150_000.0, 150_000.0), (150_000.0, -150_000.0), (-150_000.0, -150_000.0)])
    d = 300.0  # distance inside, along -u
    x = y = -d / math.sqrt(2.0)
    for sign in (1.0, -1.0):
        cov = np.array([[a, sign * b], [sign * b, c]])
        p, _ = zn.p_inside(FRAME, half, x, y, cov)
        assert p == pytest.approx(norm.cdf(d / math.sqrt((a + 2 * sign * b + c) / 2)), abs=0.01)


@pytest.mark.parametrize("radius_over_sigma", [0.5, 1.0, 2.0, 3.0])
def test_disc_centred_on_an_isotropic_point_follows_rayleigh(radius_over_sigma):
    sigma = 800.0
    disc = shapely.Point(0.0, 0.0).buffer(radius_over_sigma * sigma, quad_segs=64)
    p, _ = zn.p_inside(FRAME, disc, 0.0, 0.0, iso(sigma))
    assert p == pytest.approx(1.0 - math.exp(-(radius_over_sigma**2) / 2.0), abs=0.01)


def test_a_true_north_ellipse_follows_a_meridian_far_from_the_central_meridian():
    # A 200 m wide strip along the meridian 39E (2 degrees east of the frame's centre, where grid
    # north is 1.5 degrees off true north) and a fix elongated along true north (20 km vs 10 m).
    # With the Jacobian the ellipse stays in the strip: p = P(|N| < 55.6 km / 20 km) = 0.9946.
    # Without it the ellipse would leave the strip sideways and p would be ~0.15.
    half_width = 100.0 / (111_320.0 * math.cos(math.radians(48.0)))
    strip = FRAME.to_metres(shapely.box(39.0 - half_width, 47.5, 39.0 + half_width, 48.5))
    e, n = FRAME.project(39.0, 48.0)
    p, _ = zn.p_inside(FRAME, strip, e, n, np.diag([10.0**2, 20_000.0**2]))
    half_length = geo.distance_m(48.0, 39.0, 48.5, 39.0)
    assert p == pytest.approx(2 * norm.cdf(half_length / 20_000.0) - 1, abs=0.01)


def test_the_gate_settles_far_points_exactly_and_near_points_are_sampled():
    sigma = 100.0
    big = shapely.box(-200_000.0, -200_000.0, 0.0, 200_000.0)
    p, se = zn.p_inside(FRAME, big, [-301.0, 301.0], [0.0, 0.0], iso(sigma), gate_sigmas=3.0)
    assert list(p) == [1.0, 0.0] and list(se) == [0.0, 0.0]
    p, se = zn.p_inside(FRAME, big, -301.0, 0.0, iso(sigma))  # default gate 5 sigma: sampled
    assert se > 0 and p == pytest.approx(norm.cdf(3.01), abs=0.003)


def test_exact_points_get_zero_or_one():
    square = shapely.box(0.0, 0.0, 1000.0, 1000.0)
    for cov in (None, np.zeros((2, 2))):
        p, se = zn.p_inside(FRAME, square, [500.0, 1001.0, 999.0], [500.0, 500.0, 500.0], cov)
        assert list(p) == [1.0, 0.0, 1.0] and not se.any()


def test_seeded_results_are_reproducible_and_independent_of_the_batch():
    square = shapely.box(0.0, 0.0, 1000.0, 1000.0)
    rng = np.random.default_rng(5)
    e, n = rng.uniform(-500, 1500, 40), rng.uniform(-500, 1500, 40)
    covs = np.array([iso(s) for s in rng.uniform(50, 600, 40)])
    p1, se1 = zn.p_inside(FRAME, square, e, n, covs, rng=11)
    p2, se2 = zn.p_inside(FRAME, square, e, n, covs, rng=11)
    assert np.array_equal(p1, p2) and np.array_equal(se1, se2)
    one_by_one = [zn.p_inside(FRAME, square, e[i], n[i], covs[i], rng=11)[0] for i in range(40)]
    assert np.array_equal(p1, one_by_one)
    p3, _ = zn.p_inside(FRAME, square, e, n, covs, rng=12)
    sampled = se1 > 0
    assert sampled.sum() > 10 and not np.array_equal(p1[sampled], p3[sampled])
    assert np.max(np.abs(p1 - p3)) < 0.03  # another seed, same answer within sampling error


def test_bad_covariance_and_sample_count_raise():
    square = shapely.box(0.0, 0.0, 1000.0, 1000.0)
    with pytest.raises(ValueError, match="positive semi-definite"):
        zn.p_inside(FRAME, square, 0.0, 0.0, np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="shape"):
        zn.p_inside(FRAME, square, [0.0, 1.0], [0.0, 1.0], np.zeros((3, 2, 2)))
    with pytest.raises(ValueError, match="n_samples"):
        zn.p_inside(FRAME, square, 0.0, 0.0, iso(10.0), n_samples=8)


def test_distance_is_true_metres_even_far_from_the_central_meridian():
    line_m = FRAME.to_metres(shapely.LineString(LINE))
    lon, lat = east_of_line(-1.0)
    assert zn.distance_m(FRAME, line_m, *FRAME.project(lon, lat)) == pytest.approx(1000.0, abs=0.5)
    # 50 km east of the meridian 39E, ~190 km from the centre: grid metres are 0.04 % long there
    # (20 m on 50 km), and distance_m removes that.
    far_line = FRAME.to_metres(shapely.LineString([(39.0, 47.0), (39.0, 49.0)]))
    lat2, lon2 = geo.forward(48.0, 39.0, 90.0, 50_000.0)
    d = zn.distance_m(FRAME, far_line, *FRAME.project([lon2, 39.0], [lat2, 48.0]))
    assert d.shape == (2,) and d[0] == pytest.approx(50_000.0, abs=2.0) and d[1] == pytest.approx(0.0, abs=1e-6)


SIDE_B = zn.other_side_area(LINE, SIDE_A, 100.0, FRAME)
BAND_A = zn.withdrawal_band(LINE, SIDE_A, 15.0, FRAME)
BAND_B = zn.withdrawal_band(LINE, SIDE_B, 15.0, FRAME)


def test_other_side_is_west_of_the_line_and_disjoint_from_side_a():
    assert FRAME.to_metres(shapely.intersection(SIDE_B, SIDE_A)).area < 1.0  # m²
    assert inside(SIDE_B, east_of_line(-90.0)) and not inside(SIDE_B, east_of_line(-110.0))
    assert not inside(SIDE_B, east_of_line(0.5)) and not inside(SIDE_B, east_of_line(60.0))


@pytest.mark.parametrize("lat", [47.2, 48.0, 48.8])
def test_bands_reach_their_width_from_the_line(lat):
    assert inside(BAND_A, east_of_line(14.9, lat)) and not inside(BAND_A, east_of_line(15.1, lat))
    assert inside(BAND_B, east_of_line(-14.9, lat)) and not inside(BAND_B, east_of_line(-15.1, lat))
    # 50 m either side of the line: each side's band, and only that one.
    assert inside(BAND_A, east_of_line(0.05, lat)) and not inside(BAND_B, east_of_line(0.05, lat))
    assert inside(BAND_B, east_of_line(-0.05, lat)) and not inside(BAND_A, east_of_line(-0.05, lat))


def test_bands_meet_the_line_and_do_not_overlap():
    line_m = FRAME.to_metres(shapely.LineString(LINE))
    a_m, b_m = FRAME.to_metres(BAND_A), FRAME.to_metres(BAND_B)
    assert shapely.intersection(a_m, b_m).area < 1.0  # m²
    # Each band's edge runs along the whole line: every point of it is within 1 m of both edges.
    along = shapely.line_interpolate_point(line_m, np.linspace(0.0, 1.0, 201), normalized=True)
    assert shapely.distance(a_m.boundary, along).max() < 1.0
    assert shapely.distance(b_m.boundary, along).max() < 1.0
    assert FRAME.to_metres(shapely.difference(BAND_A, SIDE_A)).area < 1.0
    assert a_m.area == pytest.approx(15_000.0 * line_m.length, rel=0.01)


def test_band_width_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        zn.withdrawal_band(LINE, SIDE_A, 0.0, FRAME)
    with pytest.raises(ValueError, match="two finite"):
        zn.withdrawal_band([(36.0, 47.0)], SIDE_A, 15.0, FRAME)


def test_an_area_touching_the_band_edge_still_gives_a_polygonal_band():
    # An area made of a box by the line plus everything beyond the band's own edge: the raw
    # overlay with the buffer carries the shared edge as hundreds of stray lines.
    buffer = FRAME.to_lonlat(shapely.buffer(FRAME.to_metres(shapely.LineString(LINE)), 15_000.0, quad_segs=16))
    near = shapely.box(36.0, 47.9, 36.1, 48.1)
    area = shapely.union(near, shapely.difference(shapely.box(35.0, 46.0, 39.0, 50.0), buffer))
    assert shapely.intersection(buffer, area).geom_type == "GeometryCollection"
    band = zn.withdrawal_band(LINE, area, 15.0, FRAME)
    assert band.geom_type in ("Polygon", "MultiPolygon") and band.is_valid
    assert FRAME.to_metres(band).area == pytest.approx(FRAME.to_metres(near).area, rel=1e-6)
