"""Statistical accuracy of the pure fusion pipeline against the demo world's ground truth.

Fixed seeds, no database: the scenario's intake payloads become an ObservationTable
(resolute.bench_fusion.table_from_payloads) and core.fusion.pipeline.assemble fuses them as the
service would (grade-seeded source models, the demo contact line). `resolute bench fusion`
prints the same figures for more seeds.

Tolerances come from six demo seeds (7, 11, 23, 42, 5, 99) measured when they were set:

    seed   precision recall  coverage  ECE     >0.95 real  origin  impact
    7      0.836     0.644   0.861     0.013   0.987       0.937   0.979
    11     0.794     0.669   0.856     0.014   0.986       0.909   0.971
    23     0.817     0.667   0.838     0.011   0.988       0.931   0.957
    42     0.562     0.554   0.825     0.013   0.987       0.893   0.964
    5      0.866     0.705   0.872     0.011   0.989       0.918   0.975
    99     0.841     0.660   0.813     0.016   0.984       0.898   0.959

(before the accuracy work: precision 0.21-0.60, recall 0.49-0.58, coverage ~0.80, ECE 0.06).
Seed 42's bad day has some 16 volleys within 40 minutes and a few kilometres of each other,
which no radius/window separates; the floors below are for ordinary weeks and are tested on
seeds 7 and 23 with a margin of about 0.05-0.08 under the lowest ordinary seed. Never timings.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from resolute import bench_fusion as bf
from resolute.core.fusion import confidence
from resolute.core.fusion import params as fparams
from resolute.core.fusion.pipeline import ObservationTable, _locate, assemble, estimate_prior
from resolute.core.markings import ALL

SEEDS = (7, 23)


@pytest.fixture(scope="module", params=SEEDS, ids=lambda s: f"seed{s}")
def scored(request):
    w = bf.build_world([request.param])
    return bf.evaluate(w)


def _all_location(ev):
    rows = [r for k, r in ev["location"].items() if k in bf.CLASSES]
    return np.concatenate([np.array(r.errors) for r in rows]), np.concatenate([np.array(r.maha) for r in rows])


def test_clustering_precision_and_recall_against_truth(scored):
    c = scored["clustering"]
    # Ordinary seeds: precision 0.79-0.87, recall 0.64-0.71 (see the module docstring).
    assert c["precision"] >= 0.75, c
    assert c["recall"] >= 0.60, c
    # Within one family (families are correlated apart by design) recall is higher still.
    assert c["recall_fam"] >= 0.72, c


def test_error_ellipses_cover_the_truth_about_as_often_as_they_claim(scored):
    errors, maha = _all_location(scored)
    coverage = float(np.mean(maha <= bf.CHI2_95))
    # Measured 0.81-0.87 over six seeds, short of the 0.93-0.97 target: monitors' range bands
    # miss the true distance in about one report in five, and locate's band tails (10 % of the
    # width) treat them as nearly hard limits. The band keeps the level from sliding back
    # (0.80 before) and catches ellipses grown uselessly wide (coverage near 1).
    assert 0.78 <= coverage <= 0.97, coverage
    assert np.median(errors) <= 600.0  # metres; measured 360-460


def test_confidence_is_calibrated(scored):
    cal = scored["calibration"]
    # ECE measured 0.011-0.016 (target <= 0.03; 0.06 with the fixed even prior).
    assert cal["ece"] <= 0.025, cal["ece"]
    # Measured 0.984-0.989 of "> 0.95" calls real (target >= 0.95).
    assert cal["n_high"] > 0 and cal["high_real"] >= 0.97, cal["high_real"]


def test_attribution_among_determinate_calls(scored):
    a = scored["attribution"]
    (o_right, o_wrong, o_ind), (i_right, i_wrong, i_ind) = a["origin"], a["impact"]
    # Origin measured 0.89-0.94 (an impact's origin comes from pairing it with an outgoing-fire
    # incident in time, which a duel makes ambiguous); impact 0.96-0.98.
    assert o_right / (o_right + o_wrong) >= 0.87, a
    assert i_right / (i_right + i_wrong) >= 0.93, a
    # Indeterminate is allowed, not a way out: measured 18-23 % (origin), 12-18 % (impact).
    assert o_ind / (o_right + o_wrong + o_ind) <= 0.35
    assert i_ind / (i_right + i_wrong + i_ind) <= 0.30


def test_bearing_fixes_reach_the_bound_in_normal_geometry():
    # 300 fixes, 3-6 bearings, σ 2°, 3-10 km, 60-180° of arc. Seeds 3-6 gave RMSE/√tr 1.01-1.02
    # and coverage 0.93-0.95; the standard errors at n = 300 are about 0.03 and 0.013.
    g = bf.bench_locate_geometry(n=300, seed=3, sigma_deg=2.0)
    assert g["n"] >= 295
    assert g["ratio"] <= 1.10, g
    assert 0.91 <= g["coverage"] <= 0.98, g


def test_relays_do_not_shrink_the_ellipse():
    # An observation post's bearing and range band, then the same report relayed by a national
    # summary (same chain, same measurement): one measurement, one ellipse.
    t = bf.bearing_table([48.0], [37.5], [90.0], [8.0])
    lone, _ = _locate(_with_band(t), np.arange(1))
    both, _ = _locate(_with_band(_twice(t)), np.arange(2))
    assert lone.ok and both.ok
    assert both.semi_major_m == pytest.approx(lone.semi_major_m, rel=1e-9)
    assert (both.lat, both.lon) == pytest.approx((lone.lat, lone.lon))


def _with_band(t: ObservationTable) -> ObservationTable:
    t.range_min_m = np.full(len(t), 3000.0)
    t.range_max_m = np.full(len(t), 5000.0)
    return t


def _twice(t: ObservationTable) -> ObservationTable:
    cols = {k: getattr(t, k) for k in t.__dataclass_fields__}
    out = {k: (np.concatenate([v, v]) if isinstance(v, np.ndarray) else list(v) * 2) for k, v in cols.items()}
    out["id"] = np.array([1, 2])
    return ObservationTable(**out)


def test_estimated_prior_follows_the_evidence():
    # No incidents, or a handful: the even prior. Many incidents with supporting reports: a high
    # base rate, never 1. Mostly contradicted: a low one.
    assert estimate_prior([]) == 0.5
    assert abs(estimate_prior([2.5, 2.5]) - 0.5) < 0.1
    high = estimate_prior([2.5] * 2000)
    assert 0.95 < high < 1.0
    assert estimate_prior([-2.0] * 2000) < 0.2


# ------------------------------------------------------------------------------- bad input


def _points(n: int, lat=48.0, lon=37.5) -> ObservationTable:
    nan = np.full(n, np.nan)
    return ObservationTable(
        id=np.arange(1, n + 1, dtype=np.int64), lat=np.full(n, lat), lon=np.full(n, lon),
        t0=np.full(n, bf.T0), t1=np.full(n, bf.T0 + 60.0), event_type=["explosion_impact"] * n,
        observer_lat=np.full(n, lat + 0.02), observer_lon=np.full(n, lon), observer_accuracy_m=np.full(n, 10.0),
        event_lat=np.full(n, lat), event_lon=np.full(n, lon), event_error_m=np.full(n, 200.0),
        bearing_deg=nan.copy(), bearing_sigma_deg=nan.copy(), compass_sector=[None] * n, range_min_m=nan.copy(),
        range_max_m=nan.copy(), count=np.ones(n, dtype=np.int64), source=["MIS-UAV"] * n,
        chain_key=[f"obs:{i}" for i in range(n)], classification=np.ones(n, dtype=np.int64), tlp=["AMBER"] * n,
        releasable_to=[(ALL,)] * n, originator=["USA"] * n, previous_incident=np.full(n, -1, dtype=np.int64),
    )  # fmt: skip


SOURCES = {"MIS-UAV": confidence.prior_for_grade("A", 2), "MIS-ACU": confidence.prior_for_grade("B", 2)}


def test_an_empty_table_gives_no_incidents():
    res = assemble(_points(0), fparams.params_by_group(), SOURCES)
    assert res.drafts == [] and res.incident_of_row.size == 0


def test_one_observation_is_one_incident():
    res = assemble(_points(1), fparams.params_by_group(), SOURCES)
    assert len(res.drafts) == 1 and res.drafts[0].fix.ok
    assert 0.0 < res.drafts[0].confidence.probability < 1.0
    # A lone bearing without a range cannot be located: an explicit "no fix", no exception.
    lone = assemble(bf.bearing_table([48.0], [37.5], [90.0], [2.0]), fparams.params_by_group(), SOURCES)
    assert len(lone.drafts) == 1 and not lone.drafts[0].fix.ok and lone.drafts[0].fix.reason


def test_a_flood_of_identical_reports_is_one_incident():
    # 200,000 reports of one point at one time (a replayed feed): one incident, the fix at the
    # point with σ/√n, no exception. (A million works too, about five times as long; it is left
    # to `resolute bench fusion` to keep this file short.)
    n = 200_000
    res = assemble(_points(n), fparams.params_by_group(), SOURCES)
    assert len(res.drafts) == 1
    d = res.drafts[0]
    assert d.members.size == n and d.fix.ok
    assert (d.fix.lat, d.fix.lon) == pytest.approx((48.0, 37.5), abs=1e-9)
    assert d.fix.semi_major_m == pytest.approx(200.0 / math.sqrt(n) * math.sqrt(bf.CHI2_95), rel=1e-6)
