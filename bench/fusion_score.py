"""Fusion benchmark: side attribution speed and error, confidence calibration naive vs collapsed.

    python bench/fusion_score.py [--incidents 10000] [--near 0.3] [--seed 1]

Prints figures, asserts nothing. Attribution: a 300 km front line with wiggles on 50 km, 8 km
and 2 km scales (vertices every 100 m, line drawing error 100 m), error ellipses with standard
deviations of 50-600 m in random orientations, a share of incidents within two combined sigmas
of the line and the rest 2-40 km away; both the origin and the impact of each incident are
attributed. Confidence: the relay-chain simulation of tests/core/fusion/test_confidence.py.
The machine may be shared: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # to reuse the test suite's simulation, so the two cannot drift

from resolute.core.fusion import attribute as at  # noqa: E402
from resolute.core.fusion import confidence as cf  # noqa: E402
from tests.core.fusion import test_confidence as sim  # noqa: E402

FRAME = "+proj=tmerc +lat_0=47.6 +lon_0=36.2 +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"


def front_line(rng):
    y = np.arange(-150_000.0, 150_000.0 + 1, 100.0)
    phase = rng.uniform(0, 2 * np.pi, 3)
    x = (
        8_000 * np.sin(2 * np.pi * y / 50_000 + phase[0])
        + 1_500 * np.sin(2 * np.pi * y / 8_000 + phase[1])
        + 300 * np.sin(2 * np.pi * y / 2_000 + phase[2])
    )
    return np.column_stack([x, y])


def incidents(rng, line_xy, count, near_share):
    """Positions (metres, FRAME) and ENU covariances; near ones within 2 combined sigmas."""
    i = rng.integers(0, len(line_xy) - 1, count)
    t = rng.random(count)
    base = line_xy[i] + t[:, None] * (line_xy[i + 1] - line_xy[i])
    d = line_xy[i + 1] - line_xy[i]
    normal = np.column_stack([-d[:, 1], d[:, 0]]) / np.hypot(d[:, 0], d[:, 1])[:, None]
    major = rng.uniform(100, 600, count)
    minor = major * rng.uniform(0.1, 1.0, count)
    theta = rng.uniform(0, np.pi, count)
    c, s = np.cos(theta), np.sin(theta)
    cov = np.empty((count, 2, 2))
    cov[:, 0, 0] = major**2 * c**2 + minor**2 * s**2
    cov[:, 1, 1] = major**2 * s**2 + minor**2 * c**2
    cov[:, 0, 1] = cov[:, 1, 0] = (major**2 - minor**2) * c * s
    near = rng.random(count) < near_share
    sigma = np.sqrt(major**2 + 100.0**2)
    offset = np.where(near, rng.uniform(-2, 2, count) * sigma, rng.choice([-1, 1], count) * rng.uniform(2_000, 40_000, count))
    return base + offset[:, None] * normal, cov, near


def bench_attribution(n, near_share, seed):
    rng = np.random.default_rng(seed)
    to_lonlat = Transformer.from_crs(FRAME, "EPSG:4326", always_xy=True)
    line_xy = front_line(rng)
    side_a_xy = np.vstack([line_xy, [(80_000, 150_000), (80_000, -150_000)]])
    lon, lat = to_lonlat.transform(line_xy[:, 0], line_xy[:, 1])
    alon, alat = to_lonlat.transform(side_a_xy[:, 0], side_a_xy[:, 1])
    t0 = time.perf_counter()
    prepared = at.prepare(list(zip(lon, lat)), shapely.Polygon(np.column_stack([alon, alat])), 100.0)
    t_prepare = time.perf_counter() - t0

    xy, cov, near = incidents(rng, line_xy, 2 * n, near_share)  # origins then impacts
    plon, plat = to_lonlat.transform(xy[:, 0], xy[:, 1])
    e, nn = prepared.project(plon, plat)

    def timed(*args, **kw):
        """Best of three (wall, CPU) seconds: other jobs share this machine."""
        runs = []
        for _ in range(3):
            w, c = time.perf_counter(), time.process_time()
            out = at.p_side_a(prepared, *args, rng=seed, **kw)
            runs.append((time.perf_counter() - w, time.process_time() - c))
        return out, min(r[0] for r in runs), min(r[1] for r in runs)

    (p, se), w_all, c_all = timed(e, nn, cov)
    _, w_orig, c_orig = timed(e[:n], nn[:n], cov[:n])
    _, w_far, c_far = timed(e[~near], nn[~near], cov[~near])
    (p_mc, se_mc), w_mc, c_mc = timed(e, nn, cov, n_samples=2500, method="mc")
    approx = at.normal_approximation(prepared, e, nn, cov)
    sampled = se > 0
    kinds = [at.classify(a, b).kind for a, b in zip(p[:n], p[n:])]
    near_indet = np.mean((p[near] > 0.05) & (p[near] < 0.95))

    print(f"attribution: line {len(line_xy)} vertices, prepare {t_prepare * 1e3:.0f} ms (best of 3 below; wall / CPU)")
    print(f"  {n} incidents = {2 * n} points, origin and impact ({near.mean():.0%} near the line), RQMC: {w_all:.2f} s / {c_all:.2f} s CPU, {w_all / (2 * n) * 1e6:.0f} us/point")
    print(f"  origins only ({n} points): {w_orig:.2f} s / {c_orig:.2f} s;  far points only ({(~near).sum()}): {w_far * 1e3:.0f} ms / {c_far * 1e3:.0f} ms (gate, no sampling)")
    print(f"  plain MC (n <= 2500) on the same {2 * n} points: {w_mc:.2f} s / {c_mc:.2f} s; max SE {se_mc.max():.4f}; |RQMC - MC| max {np.max(np.abs(p - p_mc)):.3f}")
    print(f"  RQMC sampled {sampled.sum()} points; max SE {se.max():.4f}; mean SE of sampled {se[sampled].mean():.4f}")
    print(f"  near-line points indeterminate (0.05 < p < 0.95): {near_indet:.1%}")
    print(f"  straight-line normal approximation off by > 0.05 on {np.mean(np.abs(approx - p)[near] > 0.05):.1%} of near-line points")
    print(f"  incident kinds: " + ", ".join(f"{k} {kinds.count(k)}" for k in ("cross_line", "same_side", "indeterminate")))


def bench_confidence(n, seed):
    rng = np.random.default_rng(seed)
    truth, obs = sim.simulate(rng, 2 * n)
    models, base = sim.train_models(truth[:n], obs[:n])
    y = truth[n:]
    t0 = time.perf_counter()
    p = np.array([cf.score(o, models, base).probability for o in obs[n:]])
    t_score = time.perf_counter() - t0
    naive = np.array([sim.naive_probability(o, models, base) for o in obs[n:]])
    reports = np.mean([len(o) for o in obs[n:]])
    print(f"confidence: {n} held-out incidents, {reports:.1f} reports each (relay chains 1-6, copy rate 0.9), base rate {base:.2f}")
    for name, q in (("naive summation", naive), ("chain-collapsed", p)):
        prec, calls = sim.precision_above(q, y)
        print(f"  {name:16s} ECE {cf.expected_calibration_error(q, y):.4f}   '> 0.95' calls {calls:5d}, false among them {1 - prec:.1%}")
    print(f"  score(): {t_score / n * 1e6:.0f} us per incident")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--incidents", type=int, default=10_000)
    ap.add_argument("--near", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    bench_attribution(args.incidents, args.near, args.seed)
    bench_confidence(20_000, args.seed)
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
