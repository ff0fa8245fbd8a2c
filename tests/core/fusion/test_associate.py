"""Bearing-only reports join the incident they point at, within the gate, same family and time."""

from __future__ import annotations

import numpy as np

from resolute.core.fusion.associate import associate_bearings
from resolute.core.geo import forward


def _incident_at(lat0, lon0, bearing, dist):
    return forward(lat0, lon0, bearing, dist)


def test_a_bearing_joins_the_incident_it_points_at():
    # Two incidents 8 km from the observer, 40° apart; the report points at the second.
    a = _incident_at(47.6, 35.8, 100.0, 8000.0)
    b = _incident_at(47.6, 35.8, 140.0, 8000.0)
    idx = associate_bearings([47.6], [35.8], [138.0], [3.0], [1000.0], [0], [a[0], b[0]], [a[1], b[1]], [1010.0, 990.0], [0, 0], [600.0, 600.0])
    assert idx.tolist() == [1]


def test_outside_gate_time_group_or_range_it_joins_nothing():
    a = _incident_at(47.6, 35.8, 100.0, 8000.0)
    far = _incident_at(47.6, 35.8, 100.0, 40_000.0)
    args = dict(inc_lat=[a[0]], inc_lon=[a[1]], inc_t_s=[1000.0], inc_group=[0], window_s=[600.0])
    assert associate_bearings([47.6], [35.8], [120.0], [3.0], [1000.0], [0], **args).tolist() == [-1]  # 20° off, σ 3°
    assert associate_bearings([47.6], [35.8], [100.0], [3.0], [5000.0], [0], **args).tolist() == [-1]  # too late
    assert associate_bearings([47.6], [35.8], [100.0], [3.0], [1000.0], [1], **args).tolist() == [-1]  # other family
    assert associate_bearings([47.6], [35.8], [100.0], [3.0], [1000.0], [0], [far[0]], [far[1]], [1000.0], [0], [600.0]).tolist() == [-1]


def test_bearing_wraps_around_north():
    a = _incident_at(47.6, 35.8, 359.0, 5000.0)
    assert associate_bearings([47.6], [35.8], [1.0], [2.0], [0.0], [0], [a[0]], [a[1]], [0.0], [0], [60.0]).tolist() == [0]


def test_empty_inputs_and_bad_sigma():
    assert associate_bearings([], [], [], [], [], [], [], [], [], [], []).tolist() == []
    assert associate_bearings([47.6], [35.8], [np.nan], [0.0], [0.0], [0], [47.6], [35.9], [0.0], [0], [60.0]).tolist() == [-1]


def _bearing_to(obs, target):
    from pyproj import Geod

    az, _, _ = Geod(ellps="WGS84").inv(obs[1], obs[0], target[1], target[0])
    return az % 360.0


def test_crossing_bearings_are_grouped_and_others_are_not():
    from resolute.core.fusion.associate import triangulate

    target, other = (47.50, 35.90), (47.70, 36.40)
    obs = [forward(*target, 200.0, 6000.0), forward(*target, 300.0, 7000.0), forward(*target, 60.0, 5000.0), forward(*other, 180.0, 4000.0)]
    brg = [_bearing_to(o, target) for o in obs[:3]] + [_bearing_to(obs[3], other)]
    lat, lon = [o[0] for o in obs], [o[1] for o in obs]
    labels = triangulate(lat, lon, brg, [2.0] * 4, [0.0, 30.0, 60.0, 40.0], [0] * 4, [600.0] * 4, [3000.0] * 4)
    assert labels[0] == labels[1] == labels[2] >= 0
    assert labels[3] == -1  # its bearing crosses none of the others near a common point
    # Same bearings, but one report an hour later or of another family: not grouped with it.
    late = triangulate(lat[:2], lon[:2], brg[:2], [2.0, 2.0], [0.0, 3600.0], [0, 0], [600.0] * 2, [3000.0] * 2)
    fam = triangulate(lat[:2], lon[:2], brg[:2], [2.0, 2.0], [0.0, 30.0], [0, 1], [600.0] * 2, [3000.0] * 2)
    assert late.tolist() == [-1, -1] and fam.tolist() == [-1, -1]


def test_parallel_bearings_and_saturated_windows_are_left_alone():
    from resolute.core.fusion.associate import triangulate

    a, b = (47.5, 35.9), forward(47.5, 35.9, 90.0, 3000.0)
    assert triangulate([a[0], b[0]], [a[1], b[1]], [0.0, 0.0], [2.0, 2.0], [0.0, 1.0], [0, 0], [600.0] * 2, [3000.0] * 2).tolist() == [-1, -1]
    n = 300
    rng = np.random.default_rng(1)
    lat = 47.5 + rng.uniform(-0.1, 0.1, n)
    lon = 35.9 + rng.uniform(-0.1, 0.1, n)
    args = (lat, lon, rng.uniform(0, 360, n), np.full(n, 2.0), np.zeros(n), np.zeros(n, int), np.full(n, 600.0), np.full(n, 3000.0))
    # Random bearings in a crowd do cross; with the cap at 0 every window counts as saturated
    # and nothing is paired at all.
    assert (triangulate(*args) >= 0).any()
    assert (triangulate(*args, max_per_window=0) == -1).all()
