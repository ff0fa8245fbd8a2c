"""Benchmark for resolute.core.fusion.locate: accuracy against the Cramér–Rao bound, ellipse
calibration, failure rates, robustness to gross errors, and throughput.

Prints only (never asserts). Run: python bench/fusion_locate.py [--quick]
Timings depend on machine load: the 1/5/15-minute load averages are printed with them.
"""

from __future__ import annotations

import math
import os
import sys
import time

import numpy as np

from resolute.core import geo
from resolute.core.fusion.locate import (
    CHI2_2_95,
    SECTOR_SIGMA_DEG,
    LocalPlane,
    crlb_trace,
    fix_batch,
    fix_from_bearings,
    speed_of_sound_for,
    tdoa_crlb_trace,
    tdoa_fix,
)

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The test suite's scenario helper and origin, so the benchmark measures what the tests check.
from tests.core.fusion.test_locate import LAT0, LON0, observers  # noqa: E402

QUICK = "--quick" in sys.argv
PLANE = LocalPlane(LAT0, LON0)
TWO_PI = 2.0 * math.pi


def load() -> str:
    a, b, c = os.getloadavg()
    return f"load average {a:.2f} {b:.2f} {c:.2f} on {os.cpu_count()} CPUs"


def random_layouts(rng, m, k):
    """m layouts of k observers at uniform azimuths, 3–8 km from the origin (plane metres)."""
    ang = rng.uniform(0, TWO_PI, (m, k))
    rad = rng.uniform(3000, 8000, (m, k))
    return rad * np.sin(ang), rad * np.cos(ang)


def accuracy_table():
    print("\n== Batch ML accuracy by geometry class (random layouts, observers 3–8 km) ==")
    print("normalised RMSE = sqrt(mean(err² / tr CRLB)) per problem; median = median(err / √tr CRLB)")
    print("layouts whose √tr(CRLB) exceeds 25% of the mean range are counted as 'weak' and left out")
    print(f"{'class':>10} {'sigma':>9} {'n':>6} {'weak':>6} {'normRMSE':>9} {'median':>7} {'cover95':>8} {'no-fix':>7}")
    m = 4000 if QUICK else 20000
    rng = np.random.default_rng(1)
    for label, ks in (("2 obs", (2,)), ("3 obs", (3,)), ("4-6 obs", (4, 5, 6))):
        for sig_label, sig_deg, sector in (("2°", 2.0, False), ("5°", 5.0, False), ("sector", SECTOR_SIGMA_DEG, True)):
            kmax = max(ks)
            nobs = rng.choice(ks, m)
            mask = np.arange(kmax)[None] < nobs[:, None]
            ox, oy = random_layouts(rng, m, kmax)
            true_b = np.mod(np.arctan2(-ox, -oy), TWO_PI)
            if sector:
                # A compass report: the 16-point sector containing the true bearing (plus a
                # little observer jitter), given as the sector centre with σ = width/√12.
                b = np.mod(np.round((true_b + rng.normal(0, math.radians(2.0), true_b.shape)) / math.radians(22.5)) * math.radians(22.5), TWO_PI)
            else:
                b = np.mod(true_b + rng.normal(0, math.radians(sig_deg), true_b.shape), TWO_PI)
            sig = math.radians(sig_deg)
            res = fix_batch(ox, oy, b, sig, mask)
            crlb = np.array([crlb_trace(ox[i, : nobs[i]], oy[i, : nobs[i]], 0.0, 0.0, sig) for i in range(m)])
            mean_r = np.array([np.mean(np.hypot(ox[i, : nobs[i]], oy[i, : nobs[i]])) for i in range(m)])
            sane = np.isfinite(crlb) & (np.sqrt(crlb) < 0.25 * mean_r)
            use = sane & res.ok
            d = np.stack([res.east, res.north], axis=1)[use]
            err2 = np.sum(d * d, axis=1)
            q = np.einsum("ni,nij,nj->n", d, np.linalg.inv(res.cov[use]), d)
            print(
                f"{label:>10} {sig_label:>9} {m:>6} {1 - sane.mean():>6.3f} {math.sqrt(np.mean(err2 / crlb[use])):>9.3f} "
                f"{np.median(np.sqrt(err2 / crlb[use])):>7.3f} {np.mean(q <= CHI2_2_95):>8.3f} {1 - res.ok[sane].mean():>7.4f}"
            )


def scalar_reference():
    print("\n== Scalar path, reference geometry: 3 observers at 5 km, 120° apart, σ = 2° ==")
    trials = 1000 if QUICK else 4000
    rng = np.random.default_rng(2)
    lat, lon, brg = observers([0, 120, 240], 5000.0)
    ox, oy = PLANE.to_enu(lat, lon)
    bound = math.sqrt(crlb_trace(ox, oy, 0.0, 0.0, math.radians(2.0)))
    err2, cover, fails = [], [], 0
    for _ in range(trials):
        fix = fix_from_bearings(lat, lon, np.mod(brg + rng.normal(0, 2.0, 3), 360.0), 2.0)
        if not fix.ok:
            fails += 1
            continue
        d = np.array(PLANE.to_enu(fix.lat, fix.lon))
        err2.append(d @ d)
        cover.append(d @ np.linalg.solve(np.asarray(fix.cov_enu), d) <= CHI2_2_95)
    rmse = math.sqrt(np.mean(err2))
    print(f"trials {trials}: RMSE {rmse:.1f} m, bound {bound:.1f} m, ratio {rmse / bound:.3f}; 95% coverage {np.mean(cover):.3f}; no-fix/divergence {fails / trials:.4f}")
    print("(reference: ML 201.6 m vs bound 201.5 m, coverage 0.950)")


def gross_errors():
    print("\n== Gross errors: 10% of bearings off by ±20°, σ = 2° (scalar path) ==")
    trials = 500 if QUICK else 2000
    for label, az, dist in (
        ("6 obs irregular", np.array([10.0, 75, 140, 190, 255, 320]), np.array([4000.0, 6000, 5000, 7000, 4500, 5500])),
        ("6 obs even 60°", np.arange(6) * 60.0, np.full(6, 5000.0)),
        ("5 obs irregular", np.array([10.0, 75, 140, 230, 300]), np.array([4000.0, 6000, 5000, 7000, 4500])),
    ):
        rng = np.random.default_rng(3)
        lat, lon, brg = observers(az, dist)
        ox, oy = PLANE.to_enu(lat, lon)
        bound = math.sqrt(crlb_trace(ox, oy, 0.0, 0.0, math.radians(2.0)))
        e_rob, e_plain, cov_rob, cov_plain = [], [], [], []
        for _ in range(trials):
            gross = np.where(rng.random(az.size) < 0.1, rng.choice([-20.0, 20.0], az.size), 0.0)
            b = np.mod(brg + rng.normal(0, 2.0, az.size) + gross, 360.0)
            for robust, errs, covs in ((True, e_rob, cov_rob), (False, e_plain, cov_plain)):
                fix = fix_from_bearings(lat, lon, b, 2.0, robust=robust)
                if not fix.ok:
                    errs.append(np.inf)
                    covs.append(False)
                    continue
                d = np.array(PLANE.to_enu(fix.lat, fix.lon))
                errs.append(math.hypot(*d))
                covs.append(d @ np.linalg.solve(np.asarray(fix.cov_enu), d) <= CHI2_2_95)
        for name, errs, covs in (("robust", e_rob, cov_rob), ("plain ML", e_plain, cov_plain)):
            errs = np.array(errs)
            print(
                f"{label:>16} {name:>9}: bound {bound:6.1f} m, median {np.median(errs):7.1f} m ({np.median(errs) / bound:.2f}×), "
                f"p95 {np.quantile(errs, 0.95) / bound:5.2f}× bound, coverage {np.mean(covs):.3f}, no-fix {np.mean(~np.isfinite(errs)):.4f}"
            )
    print("(reference, 6 obs: plain ML coverage 0.51; pair-RANSAC + refit median 134 m vs 147 m bound)")
    print("(the tail comes from trials with ≥ 2 gross errors where a wrong consensus fits as well as the true one)")


def bands():
    print("\n== Range bands in a poor geometry (3 observers in a 40° arc at 4 km, 2 km bands) ==")
    trials = 300 if QUICK else 1000
    rng = np.random.default_rng(4)
    dist = np.full(3, 4000.0)
    lat, lon, brg = observers([-20.0, 0.0, 20.0], dist)
    for label, sig, sector in (("σ = 10°", 10.0, False), ("sectors, σ = 6.5°", SECTOR_SIGMA_DEG, True)):
        e_plain, e_band, cover, fails = [], [], [], 0
        for _ in range(trials):
            if sector:
                r, a = 1500 * math.sqrt(rng.random()), rng.uniform(0, 360)
                slat, slon = geo.forward(LAT0, LON0, a, r)
                az, _, dd = geo.WGS84.inv(lon, lat, np.full(3, slon), np.full(3, slat))
                b = np.mod(np.round(np.mod(az, 360.0) / 22.5), 16) * 22.5
                truth = np.array(PLANE.to_enu(slat, slon))
                dd = np.asarray(dd)
            else:
                b = np.mod(brg + rng.normal(0, sig, 3), 360.0)
                truth = np.zeros(2)
                dd = dist
            lo = np.maximum(dd - rng.random(3) * 2000.0, 0.0)
            plain = fix_from_bearings(lat, lon, b, sig)
            banded = fix_from_bearings(lat, lon, b, sig, lo, lo + 2000.0)
            if plain.ok:
                e_plain.append(np.sum((np.array(PLANE.to_enu(plain.lat, plain.lon)) - truth) ** 2))
            else:
                fails += 1
            d = np.array(PLANE.to_enu(banded.lat, banded.lon)) - truth
            e_band.append(d @ d)
            cover.append(d @ np.linalg.solve(np.asarray(banded.cov_enu), d) <= CHI2_2_95)
        print(
            f"{label:>18}: bearings only RMSE {math.sqrt(np.mean(e_plain)):6.0f} m (no-fix {fails / trials:.3f}); "
            f"with bands {math.sqrt(np.mean(e_band)):5.0f} m, 95% coverage {np.mean(cover):.3f}"
        )
    print("(reference, σ = 10°: 3.8 km → 0.9 km)")


def tdoa():
    print("\n== Acoustic TDOA: 6 sensors ~1 km, source 2.9 km out, σ = 1 ms, air 10 °C warmer than assumed ==")
    trials = 200 if QUICK else 1000
    rng = np.random.default_rng(5)
    ang = np.radians([0.0, 55, 130, 180, 235, 300])
    rad = np.array([800.0, 1200, 1000, 900, 1100, 1300])
    se, sn = rad * np.sin(ang), rad * np.cos(ang)
    slat, slon = PLANE.to_latlon(se, sn)
    src = np.array([2500.0, 1500.0])
    sig = 1e-3
    c_true, c_assumed = speed_of_sound_for(25.0), speed_of_sound_for(15.0)
    b_free = math.sqrt(tdoa_crlb_trace(se, sn, *src, sig, c_true, estimate_speed=True))
    b_known = math.sqrt(tdoa_crlb_trace(se, sn, *src, sig, c_true))
    e_free, e_fixed, speeds = [], [], []
    t0 = time.perf_counter()
    for _ in range(trials):
        toa = 100.0 + np.hypot(se - src[0], sn - src[1]) / c_true + rng.normal(0, sig, 6)
        f = tdoa_fix(slat, slon, toa, sig)
        g = tdoa_fix(slat, slon, toa, sig, c_assumed)
        e_free.append(np.sum((np.array(PLANE.to_enu(f.lat, f.lon)) - src) ** 2))
        e_fixed.append(np.sum((np.array(PLANE.to_enu(g.lat, g.lon)) - src) ** 2))
        speeds.append(f.speed_of_sound)
    dt = (time.perf_counter() - t0) / (2 * trials)
    print(f"c estimated: RMSE {math.sqrt(np.mean(e_free)):.2f} m vs bound {b_free:.2f} m (ratio {math.sqrt(np.mean(e_free)) / b_free:.3f}); ĉ = {np.mean(speeds):.2f} ± {np.std(speeds):.2f} m/s (true {c_true:.2f})")
    print(f"c assumed {c_assumed:.1f} m/s: RMSE {math.sqrt(np.mean(e_fixed)):.1f} m = {math.sqrt(np.mean(e_fixed)) / b_known:.1f}× the known-c bound {b_known:.2f} m")
    print(f"scalar TDOA: {1 / dt:,.0f} fixes/s ({load()})")
    print("(reference: unmodelled +10 °C moved a fix 14–18× the bound)")


def throughput():
    print("\n== Throughput (best of 3; single process) ==")
    print(load())
    m = 100_000
    rng = np.random.default_rng(6)
    for k in (3, 4, 6):
        ox, oy = random_layouts(rng, m, k)
        b = np.mod(np.arctan2(-ox, -oy) + rng.normal(0, math.radians(2.0), (m, k)), TWO_PI)
        best = math.inf
        for _ in range(3):
            t0 = time.perf_counter()
            res = fix_batch(ox, oy, b, math.radians(2.0))
            best = min(best, time.perf_counter() - t0)
        print(f"batch k={k}: {m / best:>10,.0f} fixes/s ({best / m * 1e6:.2f} µs/fix, mean LM iterations {res.iterations[res.ok].mean():.2f}, ok {res.ok.mean():.4f})")
    lat, lon, brg = observers([0, 120, 240], 5000.0)
    lat6, lon6, brg6 = observers(np.array([10.0, 75, 140, 190, 255, 320]), np.array([4000.0, 6000, 5000, 7000, 4500, 5500]))
    cases = (
        ("scalar 3 bearings (ml)", lambda b: fix_from_bearings(lat, lon, np.mod(brg + b[:3], 360.0), 2.0)),
        ("scalar 6 bearings (ransac+ml)", lambda b: fix_from_bearings(lat6, lon6, np.mod(brg6 + b, 360.0), 2.0)),
        ("scalar 3 bearings + bands", lambda b: fix_from_bearings(lat, lon, np.mod(brg + b[:3], 360.0), 2.0, 4000.0, 6000.0)),
    )
    n = 300 if QUICK else 1000
    noise = rng.normal(0, 2.0, (n, 6))
    for label, fn in cases:
        t0 = time.perf_counter()
        for i in range(n):
            fn(noise[i])
        dt = time.perf_counter() - t0
        print(f"{label}: {n / dt:>8,.0f} fixes/s ({dt / n * 1e3:.2f} ms/fix)")
    print(load())
    print("(reference: vectorised LS 0.33 µs/fix, 10-iteration Gauss–Newton 3.5 µs/fix)")


def main():
    print(f"resolute.core.fusion.locate benchmark{' (quick)' if QUICK else ''}; {load()}")
    t0 = time.perf_counter()
    throughput()
    accuracy_table()
    scalar_reference()
    gross_errors()
    bands()
    tdoa()
    print(f"\ntotal {time.perf_counter() - t0:.0f} s; {load()}")


if __name__ == "__main__":
    main()
