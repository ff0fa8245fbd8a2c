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
