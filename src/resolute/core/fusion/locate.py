"""Locating the origin of an event from bearings, point estimates and acoustic arrival times.

Units: latitudes/longitudes in degrees (WGS 84); bearings in degrees clockwise from true north
(public API) and radians clockwise from grid north (batch API); distances in metres; times in
seconds; covariances in m² on local east/north axes.

Method (see shared/reference/fusion.md, "Locating the origin from bearings" and "Acoustic time
difference of arrival"):

* Geometry is solved in a local tangent plane (east/north metres, ENU from ECEF) around the mean
  of the observers. True bearings are turned into grid bearings at each observer, so meridian
  convergence costs nothing; straight lines in the plane stand in for geodesics, which is good to
  well under 0.01° over the tens of kilometres that matter here.
* Start: Stansfield-weighted least squares on the line equations (Stansfield 1947: weights
  1/(σ² r²), with r from a first unweighted fix, two reweighting passes).
* Maximum likelihood: Levenberg–Marquardt (Marquardt 1963, diagonal scaling) on bearing residuals
  wrapped to (−180°, 180°] and normalised by σ, plus soft range-interval terms.
* Robustness: Huber loss (Huber 1964; threshold 1.5 σ, iteratively reweighted inside LM) from
  4 bearings; pair-RANSAC (Fischler & Bolles 1981; MSAC scoring, Torr & Zisserman 2000) from 6;
  observations left beyond 3 σ are reported as outliers and the fix is refitted without them;
  a fit that still fails the χ² test gets an exhaustive deletion search (≤ 8 observations).
* Range bands: soft intervals (flat inside, Gaussian tails outside); because that likelihood
  is flat-topped, fixes with bands report the posterior mean and covariance (flat prior) by
  grid quadrature instead of the ML point and Fisher inverse.
* Uncertainty: covariance = inverse Fisher information (JᵀWJ) at the solution; the 95 % ellipse
  uses χ²₂(0.95) = 5.991; a χ² test of the normalised residuals (dof = terms − 2) says whether the
  reports agree with each other.
* Cramér–Rao bound for N bearings: J = Σ wᵢ nᵢ nᵢᵀ, wᵢ = 1/(σᵢ² rᵢ²), nᵢ the unit normal to the
  line of sight (Torrieri 1984, "Statistical theory of passive location systems").
* TDOA: tᵢ = t₀ + |p − sᵢ| / c, solved for (p, t₀) or (p, t₀, c) by the same LM; started from the
  linear "squared range" solution (Smith & Abel 1987 style, with c² as an extra unknown).

One residual/Jacobian implementation (`_BearingTerms.rows`) serves the scalar path, the
vectorised batch path, RANSAC scoring and the Cramér–Rao bound; one LM loop (`_lm`) serves
bearings and TDOA alike, over m problems at once.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from itertools import combinations
from typing import NamedTuple

import numpy as np
from scipy.stats import chi2 as _chi2

from resolute.core.geo import COMPASS_16, SECTOR_WIDTH_DEG

__all__ = [
    "Fix",
    "BatchFix",
    "LocalPlane",
    "sigma_for",
    "speed_of_sound_for",
    "fix_from_bearings",
    "fix_batch",
    "fuse_points",
    "tdoa_fix",
    "ellipse_polygon",
    "crlb_trace",
    "tdoa_crlb_trace",
    "CHI2_2_95",
    "SECTOR_SIGMA_DEG",
]

# ---------------------------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------------------------

#: χ² quantile with 2 degrees of freedom at 0.95 (= −2 ln 0.05): scales a 2-D covariance to
#: its 95 % ellipse.
CHI2_2_95 = -2.0 * math.log(0.05)
#: σ of a uniform 22.5° compass sector (width/√12 ≈ 6.5°), the floor for sector-only reports.
SECTOR_SIGMA_DEG = SECTOR_WIDTH_DEG / math.sqrt(12.0)

#: A solution further than this from the observers' centroid is a divergence, not a fix.
MAX_DISTANCE_M = 100_000.0
#: Bearing lines within this angle of each other (or of 180° apart) do not cross usefully.
PARALLEL_DEG = 2.0
#: Observers closer together than this are one viewpoint: their bearings cannot be intersected.
COLOCATED_M = 1.0
#: Largest accepted condition number of the 2×2 information matrix (axis ratio 10⁴).
MAX_CONDITION = 1e8
#: Huber threshold and outlier threshold in units of σ.
HUBER_K = 1.5
OUTLIER_K = 3.0
#: Range-band tails: Gaussian scale outside the band = max(10 % of the band width, 100 m).
BAND_TAIL_FRACTION = 0.10
BAND_TAIL_MIN_M = 100.0
#: Physically possible speed of sound in air (m/s): −60 °C to +60 °C with margin.
C_MIN, C_MAX = 250.0, 450.0
#: Largest number of observations for the exhaustive deletion search (2⁸ subsets at most).
DELETION_MAX_N = 8
#: χ² p-value below which the reports are declared mutually inconsistent.
CONSISTENCY_ALPHA = 0.01

_WGS84_A = 6378137.0
_WGS84_F = 1.0 / 298.257223563
_WGS84_E2 = _WGS84_F * (2.0 - _WGS84_F)
_WGS84_B = _WGS84_A * (1.0 - _WGS84_F)
_WGS84_EP2 = _WGS84_E2 / (1.0 - _WGS84_E2)
_TWO_PI = 2.0 * math.pi


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------

_NAN2 = ((math.nan, math.nan), (math.nan, math.nan))


@dataclass(frozen=True)
class Fix:
    """A located origin, or an explicit "no fix" (`ok` False, `reason` says why).

    lat/lon: degrees WGS 84. cov_enu: 2×2 covariance in m² on local east/north axes at the fix.
    semi_major_m/semi_minor_m: 95 % error ellipse semi-axes (m); orientation_deg: direction of
    the major axis, degrees clockwise from true north in [0, 180). chi2/dof/p_value: χ² test of
    the normalised residuals of the terms used (p_value NaN when dof ≤ 0); consistent: p > 0.01
    (True when there is nothing to test). n_used: observations used; outliers: indices of
    observations rejected as gross errors. method: "ml", "ml-huber", "ransac+ml", "points",
    "tdoa". iterations: LM iterations of the final solve. speed_of_sound (m/s) and
    emission_time_s are set by `tdoa_fix` only. residuals: normalised residual of each input
    observation at the maximum-likelihood point (the larger of bearing and band residual). reason may carry a note when ok is True.
    """

    ok: bool
    reason: str = ""
    lat: float = math.nan
    lon: float = math.nan
    cov_enu: tuple[tuple[float, float], tuple[float, float]] = _NAN2
    semi_major_m: float = math.nan
    semi_minor_m: float = math.nan
    orientation_deg: float = math.nan
    chi2: float = math.nan
    dof: int = 0
    p_value: float = math.nan
    consistent: bool = False
    n_used: int = 0
    outliers: tuple[int, ...] = ()
    method: str = ""
    iterations: int = 0
    speed_of_sound: float | None = None
    emission_time_s: float | None = None
    residuals: tuple[float, ...] = ()


def _no_fix(reason: str, method: str, iterations: int = 0) -> Fix:
    return Fix(ok=False, reason=reason, method=method, iterations=iterations)


class BatchFix(NamedTuple):
    """Output of `fix_batch` for m problems: east/north (m,) metres in the caller's plane,
    cov (m, 2, 2) m², ok (m,) bool, chi2 (m,) and dof (m,) of the bearing residuals,
    iterations (m,) LM iterations."""

    east: np.ndarray
    north: np.ndarray
    cov: np.ndarray
    ok: np.ndarray
    chi2: np.ndarray
    dof: np.ndarray
    iterations: np.ndarray


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def sigma_for(bearing_sigma_deg: float | None = None, compass_sector: str | bool | float | None = None, default_deg: float = 8.0) -> float:
    """Bearing standard deviation (degrees) to use for a report.

    `bearing_sigma_deg` is the reporter's own σ (default `default_deg`, 8°, inside the 7–12°
    budget of fusion.md). A report given only as a compass sector cannot be better than a
    uniform sector: σ ≥ width/√12 (6.5° for 16 points). `compass_sector` is a 16-point name
    ('SSE'), True for a 16-point sector, or a sector width in degrees.
    """
    sigma = default_deg if bearing_sigma_deg is None or not math.isfinite(bearing_sigma_deg) else float(bearing_sigma_deg)
    if compass_sector is None or compass_sector is False:
        return sigma
    if isinstance(compass_sector, str):
        if compass_sector.upper() not in COMPASS_16:
            raise ValueError(f"unknown compass sector {compass_sector!r}")
        width = SECTOR_WIDTH_DEG
    elif compass_sector is True:
        width = SECTOR_WIDTH_DEG
    else:
        width = float(compass_sector)
    return max(sigma, width / math.sqrt(12.0))


def speed_of_sound_for(temperature_c: float = 15.0) -> float:
    """Speed of sound in dry air (m/s) at a temperature (°C): 331.3 √(1 + T/273.15)
    (ideal-gas law; 340.3 m/s at 15 °C, 343.2 m/s at 20 °C)."""
    return 331.3 * math.sqrt(1.0 + temperature_c / 273.15)


def _wrap(a: np.ndarray) -> np.ndarray:
    """Wrap angles (radians) to (−π, π]; inputs lie in (−3π, π] here (atan2 minus a bearing in
    [0, 2π)), and one ceil covers any real input anyway."""
    return a - _TWO_PI * np.ceil((a - math.pi) / _TWO_PI)


def _ecef(lat_deg, lon_deg):
    """Geodetic (height 0) to ECEF metres; returns (x, y, z) arrays."""
    lat = np.radians(lat_deg)
    lon = np.radians(lon_deg)
    sl, cl = np.sin(lat), np.cos(lat)
    n = _WGS84_A / np.sqrt(1.0 - _WGS84_E2 * sl * sl)
    return n * cl * np.cos(lon), n * cl * np.sin(lon), n * (1.0 - _WGS84_E2) * sl


def _geodetic(x, y, z):
    """ECEF to geodetic latitude/longitude (degrees) by Bowring's formula (Bowring 1976); for
    points within a few kilometres of the ellipsoid the error is far below a millimetre."""
    lon = np.arctan2(y, x)
    p = np.hypot(x, y)
    th = np.arctan2(z * _WGS84_A, p * _WGS84_B)
    st, ct = np.sin(th), np.cos(th)
    lat = np.arctan2(z + _WGS84_EP2 * _WGS84_B * st**3, p - _WGS84_E2 * _WGS84_A * ct**3)
    return np.degrees(lat), np.degrees(lon)


def _enu_axes(lat_deg, lon_deg):
    """Unit east, north, up vectors (ECEF components, last axis) at geodetic points."""
    lat = np.radians(np.asarray(lat_deg, float))
    lon = np.radians(np.asarray(lon_deg, float))
    sl, cl, so, co = np.sin(lat), np.cos(lat), np.sin(lon), np.cos(lon)
    zero = np.zeros_like(lat)
    east = np.stack([-so, co, zero], axis=-1)
    north = np.stack([-sl * co, -sl * so, cl], axis=-1)
    up = np.stack([cl * co, cl * so, sl], axis=-1)
    return east, north, up


class LocalPlane:
    """Local tangent plane (east/north metres) at a reference point, via ECEF.

    Distances and angles are preserved to O((d/R)²): about 4 m in 100 km and 0.04 m in 10 km.
    """

    def __init__(self, lat0: float, lon0: float):
        self.lat0 = float(lat0)
        self.lon0 = float(lon0)
        self._o = np.array(_ecef(self.lat0, self.lon0))
        e, n, u = _enu_axes(self.lat0, self.lon0)
        self._e, self._n, self._u = e, n, u
        sl = math.sin(math.radians(self.lat0))
        w = 1.0 - _WGS84_E2 * sl * sl
        # Gaussian mean radius √(M N) at the reference, for the height of the plane above the
        # ellipsoid at distance d (≈ d²/2R): only a first guess, corrected below.
        self._radius = _WGS84_A * math.sqrt(1.0 - _WGS84_E2) / w

    @classmethod
    def around(cls, lat, lon) -> "LocalPlane":
        """Plane centred on the mean of points (mean of ECEF unit directions, so it works across
        the antimeridian)."""
        x, y, z = _ecef(np.asarray(lat, float), np.asarray(lon, float))
        lat0, lon0 = _geodetic(np.mean(x), np.mean(y), np.mean(z))
        return cls(float(lat0), float(lon0))

    def to_enu(self, lat, lon):
        """Geodetic degrees → (east, north) metres in the plane."""
        x, y, z = _ecef(np.asarray(lat, float), np.asarray(lon, float))
        dx, dy, dz = x - self._o[0], y - self._o[1], z - self._o[2]
        return dx * self._e[0] + dy * self._e[1] + dz * self._e[2], dx * self._n[0] + dy * self._n[1] + dz * self._n[2]

    def to_latlon(self, east, north):
        """(east, north) metres in the plane → geodetic degrees of the ellipsoid point with those
        plane coordinates (two Newton corrections make the round trip exact to < 1 mm)."""
        east = np.asarray(east, float)
        north = np.asarray(north, float)
        up = -(east * east + north * north) / (2.0 * self._radius)
        pt = [self._o[i] + east * self._e[i] + north * self._n[i] + up * self._u[i] for i in range(3)]
        lat, lon = _geodetic(*pt)
        for _ in range(2):
            e1, n1 = self.to_enu(lat, lon)
            de, dn = east - e1, north - n1
            x, y, z = _ecef(lat, lon)
            lat, lon = _geodetic(x + de * self._e[0] + dn * self._n[0], y + de * self._e[1] + dn * self._n[1], z + de * self._e[2] + dn * self._n[2])
        return lat, lon

    def grid_bearing(self, lat, lon, bearing_deg):
        """True bearing (degrees, at the observer) → bearing in the plane (radians, clockwise from
        the plane's north, in [0, 2π)). The observer's horizontal direction is expressed on the
        plane's axes, which removes meridian convergence exactly."""
        east, north, _ = _enu_axes(lat, lon)
        b = np.radians(np.asarray(bearing_deg, float))
        d = np.sin(b)[..., None] * east + np.cos(b)[..., None] * north
        g = np.arctan2(d @ self._e, d @ self._n)
        return np.mod(g, _TWO_PI)

    def local_rotation(self, lat: float, lon: float) -> np.ndarray:
        """2×2 matrix taking plane east/north components to local east/north at (lat, lon)."""
        east, north, _ = _enu_axes(lat, lon)
        return np.array([[east @ self._e, east @ self._n], [north @ self._e, north @ self._n]])


def _ellipse(cov: np.ndarray) -> tuple[float, float, float]:
    """95 % ellipse of a 2×2 covariance: (semi-major m, semi-minor m, orientation of the major
    axis in degrees clockwise from north, in [0, 180))."""
    a, b, d = cov[0, 0], cov[0, 1], cov[1, 1]
    mean = 0.5 * (a + d)
    rad = math.hypot(0.5 * (a - d), b)
    lmax, lmin = mean + rad, max(mean - rad, 0.0)
    # Major-axis direction: angle from east counter-clockwise is ½ atan2(2b, a − d).
    phi = 0.5 * math.atan2(2.0 * b, a - d)
    orientation = math.degrees(math.pi / 2 - phi) % 180.0
    return math.sqrt(lmax * CHI2_2_95), math.sqrt(lmin * CHI2_2_95), orientation


def inflate_for_scatter(fix: Fix) -> Fix:
    """Scale a fix's covariance by χ²/dof when its residuals scatter more than the stated σ
    allow (Birge ratio > 1), so the ellipse reflects the scatter actually seen; consistent fits
    and fits without redundancy are returned unchanged. Reports whose σ is optimistic (compass
    words, coarse range bands, clocks off) otherwise give ellipses that are too small."""
    if not fix.ok or fix.dof <= 0 or not math.isfinite(fix.chi2):
        return fix
    ratio = fix.chi2 / fix.dof
    if ratio <= 1.0:
        return fix
    cov = np.asarray(fix.cov_enu, float) * ratio
    major, minor, orientation = _ellipse(cov)
    note = f"covariance scaled by chi2/dof = {ratio:.2f} for the scatter of the reports"
    return dataclasses.replace(
        fix, cov_enu=((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]), float(cov[1, 1]))),
        semi_major_m=major, semi_minor_m=minor, orientation_deg=orientation,
        reason=(fix.reason + "; " if fix.reason else "") + note,
    )  # fmt: skip


def _chi2_test(chi2: float, dof: int) -> tuple[float, bool]:
    if dof <= 0:
        return math.nan, True
    p = float(_chi2.sf(chi2, dof))
    return p, bool(p > CONSISTENCY_ALPHA)


def _make_fix(plane: LocalPlane, p: np.ndarray, cov_plane: np.ndarray, *, chi2: float, dof: int, n_used: int, method: str, iterations: int, outliers=(), residuals=(), reason: str = "", **extra) -> Fix:
    lat, lon = plane.to_latlon(p[0], p[1])
    lat, lon = float(lat), float(lon)
    rot = plane.local_rotation(lat, lon)
    cov = rot @ cov_plane @ rot.T
    cov = 0.5 * (cov + cov.T)
    major, minor, orient = _ellipse(cov)
    pval, consistent = _chi2_test(chi2, dof)
    return Fix(
        ok=True,
        reason=reason,
        lat=lat,
        lon=(lon + 180.0) % 360.0 - 180.0,
        cov_enu=((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]), float(cov[1, 1]))),
        semi_major_m=major,
        semi_minor_m=minor,
        orientation_deg=orient,
        chi2=float(chi2),
        dof=int(dof),
        p_value=pval,
        consistent=consistent,
        n_used=int(n_used),
        outliers=tuple(int(i) for i in outliers),
        method=method,
        iterations=int(iterations),
        residuals=tuple(float(r) for r in residuals),
        **extra,
    )


def ellipse_polygon(fix: Fix, n: int = 48) -> list[tuple[float, float]]:
    """The fix's 95 % error ellipse as a closed ring of (lon, lat) pairs (GeoJSON order),
    n distinct vertices plus the closing one. Empty for a no-fix."""
    if not fix.ok or not np.all(np.isfinite(fix.cov_enu)):
        return []
    cov = np.asarray(fix.cov_enu, float)
    vals, vecs = np.linalg.eigh(0.5 * (cov + cov.T))
    t = np.linspace(0.0, _TWO_PI, n, endpoint=False)
    k = math.sqrt(CHI2_2_95)
    circle = np.stack([np.cos(t), np.sin(t)])
    pts = vecs @ (k * np.sqrt(np.maximum(vals, 0.0))[:, None] * circle)
    lat, lon = LocalPlane(fix.lat, fix.lon).to_latlon(pts[0], pts[1])
    lon = (np.asarray(lon) + 180.0) % 360.0 - 180.0
    ring = [(float(a), float(b)) for a, b in zip(lon, lat)]
    ring.append(ring[0])
    return ring


# ---------------------------------------------------------------------------------------------
# Models: residuals and Jacobians (the single implementation shared by every path)
# ---------------------------------------------------------------------------------------------


class _BearingTerms:
    """Bearing terms (and optional soft range-band terms) for m problems of k observations.

    Arrays are (m, k) in plane metres / radians. `isig` = 1/σ (rad⁻¹) and is 0 for padding or
    excluded observations, which makes their residual and Jacobian exactly zero. Range bands:
    `lo`, `hi` (m, hi = inf for none), `iscale` = 1/tail scale (0 where no band) and `info`
    = 12/width² (the information of a uniform band, used for the covariance only).
    `obs_var` (m²) adds observer position error: σ_eff² = σ² + obs_var/r².
    """

    __slots__ = ("ox", "oy", "theta", "isig", "lo", "hi", "iscale", "info", "obs_var", "k")

    def __init__(self, ox, oy, theta, isig, lo=None, hi=None, iscale=None, info=None, obs_var=None):
        # Column-major (m, k) storage: every reduction runs over k, and numpy sums the short
        # axis of a column-major array as k whole-column adds (≈ 10× faster than row-major).
        f = lambda a: None if a is None else np.asfortranarray(a)  # noqa: E731
        ox, oy, theta, isig = f(ox), f(oy), f(theta), f(isig)
        lo, hi, iscale, info, obs_var = f(lo), f(hi), f(iscale), f(info), f(obs_var)
        self.ox, self.oy, self.theta, self.isig = ox, oy, theta, isig
        self.lo, self.hi, self.iscale, self.info = lo, hi, iscale, info
        self.obs_var = obs_var
        self.k = ox.shape[1]

    @property
    def has_bands(self) -> bool:
        return self.iscale is not None

    def take(self, idx) -> "_BearingTerms":
        f = lambda a: None if a is None else np.asfortranarray(a[idx])  # noqa: E731
        return _BearingTerms(f(self.ox), f(self.oy), f(self.theta), f(self.isig), f(self.lo), f(self.hi), f(self.iscale), f(self.info), f(self.obs_var))

    def masked(self, keep: np.ndarray) -> "_BearingTerms":
        """Same problems with observations outside `keep` (k,) switched off."""
        z = lambda a: None if a is None else np.where(keep, a, 0.0)  # noqa: E731
        return _BearingTerms(self.ox, self.oy, self.theta, z(self.isig), self.lo, self.hi, z(self.iscale), z(self.info), self.obs_var)

    def rows(self, p: np.ndarray):
        """Normalised residuals e (m, T) and Jacobian columns (∂e/∂east, ∂e/∂north) at points
        p (m, 2). T = k bearing terms, followed by k range terms when bands are present.

        Bearing: e = wrap(atan2(Δe, Δn) − θ)/σ, ∂/∂east = Δn/(r² σ), ∂/∂north = −Δe/(r² σ).
        Range band [lo, hi]: e = (r − lo)/s below, (r − hi)/s above, 0 inside; ∂ = (Δ/r)/s.
        """
        dx = p[:, 0:1] - self.ox
        dy = p[:, 1:2] - self.oy
        # Guard r = 0 (a solution on top of an observer) against division by zero.
        r2 = np.maximum(dx * dx + dy * dy, 1e-6)
        isig = self.isig
        if self.obs_var is not None:
            isig = isig / np.sqrt(1.0 + isig * isig * self.obs_var / r2)
        e = _wrap(np.arctan2(dx, dy) - self.theta) * isig
        g = isig / r2
        jx = dy * g
        jy = -dx * g
        if self.iscale is None:
            return e, (jx, jy)
        r = np.sqrt(r2)
        below = r < self.lo
        above = r > self.hi
        er = np.where(below, r - self.lo, np.where(above, r - self.hi, 0.0)) * self.iscale
        gr = np.where(below | above, self.iscale / r, 0.0)
        return np.concatenate([e, er], axis=1), (np.concatenate([jx, dx * gr], axis=1), np.concatenate([jy, dy * gr], axis=1))

    def information(self, p: np.ndarray) -> np.ndarray:
        """Fisher information (m, 2, 2), m⁻², at p: bearing terms JᵀJ plus, for each finite range
        band, its uniform-equivalent information 12/width² along the line of sight. (The soft
        interval's own curvature is zero inside the band, which would leave a one-bearing fix
        with an unbounded ellipse; a uniform position inside the band has variance width²/12.)"""
        _, (jx, jy) = self.rows(p)
        k = self.k
        jx, jy = jx[:, :k], jy[:, :k]
        a = np.empty((p.shape[0], 2, 2))
        a[:, 0, 0] = np.sum(jx * jx, axis=1)
        a[:, 0, 1] = a[:, 1, 0] = np.sum(jx * jy, axis=1)
        a[:, 1, 1] = np.sum(jy * jy, axis=1)
        if self.info is not None:
            dx = p[:, 0:1] - self.ox
            dy = p[:, 1:2] - self.oy
            r2 = np.maximum(dx * dx + dy * dy, 1e-6)
            w = self.info / r2
            a[:, 0, 0] += np.sum(w * dx * dx, axis=1)
            a[:, 0, 1] += np.sum(w * dx * dy, axis=1)
            a[:, 1, 0] = a[:, 0, 1]
            a[:, 1, 1] += np.sum(w * dy * dy, axis=1)
        return a


class _TdoaTerms:
    """Arrival-time terms for m problems of k sensors: tᵢ = t₀ + |p − sᵢ|/c.

    Parameters p = (east, north, t₀) with c fixed, or (east, north, t₀, c) when c is estimated.
    Times are relative to a reference (the earliest arrival) for numerical range."""

    __slots__ = ("sx", "sy", "tau", "isig", "c", "k")

    def __init__(self, sx, sy, tau, isig, c=None):
        f = np.asfortranarray
        self.sx, self.sy, self.tau, self.isig, self.c = f(sx), f(sy), f(tau), f(isig), None if c is None else f(c)
        self.k = sx.shape[1]

    def take(self, idx) -> "_TdoaTerms":
        return _TdoaTerms(self.sx[idx], self.sy[idx], self.tau[idx], self.isig[idx], None if self.c is None else self.c[idx])

    def rows(self, p: np.ndarray):
        dx = p[:, 0:1] - self.sx
        dy = p[:, 1:2] - self.sy
        r = np.maximum(np.sqrt(dx * dx + dy * dy), 1e-6)
        c = p[:, 3:4] if self.c is None else self.c
        e = (p[:, 2:3] + r / c - self.tau) * self.isig
        g = self.isig / (r * c)
        cols = [dx * g, dy * g, np.broadcast_to(self.isig, e.shape)]
        if self.c is None:
            cols.append(-r / (c * c) * self.isig)
        return e, tuple(cols)

    def information(self, p: np.ndarray) -> np.ndarray:
        e, cols = self.rows(p)
        return _normal(cols, e, None)[0]


# ---------------------------------------------------------------------------------------------
# Levenberg–Marquardt over m problems at once
# ---------------------------------------------------------------------------------------------


def _normal(cols, e, w):
    """Normal matrix A = JᵀWJ (m, P, P) and gradient g = JᵀWe (m, P)."""
    P = len(cols)
    m = e.shape[0]
    a = np.empty((m, P, P))
    g = np.empty((m, P))
    wcols = cols if w is None else tuple(c * w for c in cols)
    for i in range(P):
        g[:, i] = np.sum(wcols[i] * e, axis=1)
        for j in range(i, P):
            a[:, i, j] = a[:, j, i] = np.sum(wcols[i] * cols[j], axis=1)
    return a, g


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve a x = b for stacks of small SPD systems (closed form for 2×2)."""
    if a.shape[1] == 2:
        det = a[:, 0, 0] * a[:, 1, 1] - a[:, 0, 1] * a[:, 1, 0]
        safe = np.where(det > 0, det, np.inf)
        x0 = (b[:, 0] * a[:, 1, 1] - b[:, 1] * a[:, 0, 1]) / safe
        x1 = (b[:, 1] * a[:, 0, 0] - b[:, 0] * a[:, 1, 0]) / safe
        return np.stack([x0, x1], axis=1)
    try:
        return np.linalg.solve(a, b[..., None])[..., 0]
    except np.linalg.LinAlgError:
        out = np.zeros_like(b)
        for i in range(a.shape[0]):
            out[i] = np.linalg.lstsq(a[i], b[i], rcond=None)[0]
        return out


def _cost(e: np.ndarray, huber: float | None) -> np.ndarray:
    """½ Σ ρ(e) per problem: ρ = e² (least squares) or Huber's loss with threshold `huber`."""
    if huber is None:
        return 0.5 * np.sum(e * e, axis=1)
    a = np.abs(e)
    return np.sum(np.where(a <= huber, 0.5 * e * e, huber * a - 0.5 * huber * huber), axis=1)


class _LMResult(NamedTuple):
    p: np.ndarray  # (m, P)
    converged: np.ndarray  # (m,)
    diverged: np.ndarray  # (m,)
    iterations: np.ndarray  # (m,)
    cost: np.ndarray  # (m,)


def _lm(model, p0: np.ndarray, *, center: np.ndarray, huber: float | None = None, max_iter: int = 50, max_dist: float = MAX_DISTANCE_M, step_tol: float = 1e-5) -> _LMResult:
    """Levenberg–Marquardt with Marquardt's diagonal scaling, for m problems in parallel.

    `model.rows(p)` gives normalised residuals and Jacobian columns. Huber loss is handled by
    iteratively reweighted normal equations with the Huber cost deciding acceptance, so each
    accepted step lowers the robust objective. A problem has converged when a step is below
    `step_tol` standard errors in every parameter (|δᵢ| √Aᵢᵢ), or when damping has grown past
    10¹² (no representable descent). It has diverged when its position (first two parameters)
    is more than `max_dist` metres from `center` (m, 2). Problems drop out of the arrays as
    they finish, so the cost of an iteration follows the number still active.
    """
    m, P = p0.shape
    center_full = center
    out_p = p0.astype(float).copy()
    out_conv = np.zeros(m, bool)
    out_div = np.zeros(m, bool)
    out_it = np.zeros(m, np.int64)
    out_cost = np.full(m, np.inf)

    def normal_at(e, cols):
        w = None
        if huber is not None:
            ae = np.abs(e)
            w = np.where(ae <= huber, 1.0, huber / np.maximum(ae, 1e-300))
        return _normal(cols, e, w)

    idx = np.arange(m)
    p = out_p.copy()
    e, cols = model.rows(p)
    cost = _cost(e, huber)
    # Only the normal equations at the current point are carried between iterations: a
    # rejected step falls back to them without keeping the residual arrays themselves.
    a, g = normal_at(e, cols)
    lam = np.full(m, 1e-3)
    it_count = np.zeros(m, np.int64)
    conv = np.zeros(m, bool)
    div = ~np.all(np.isfinite(p), axis=1) | ~np.isfinite(cost)
    active = ~div
    diag = np.arange(P)
    for _ in range(max_iter):
        if not active.any():
            break
        if active.sum() < 0.5 * active.size:
            # Drop finished problems so the remaining iterations work on short arrays.
            out_p[idx], out_conv[idx], out_div[idx], out_it[idx], out_cost[idx] = p, conv, div, it_count, cost
            keep = np.flatnonzero(active)
            idx, p, cost, lam, a, g = idx[keep], p[keep], cost[keep], lam[keep], a[keep], g[keep]
            it_count, conv, div, active = it_count[keep], conv[keep], div[keep], active[keep]
            model = model.take(keep)
            center = center[keep]
        d = a[:, diag, diag]
        # Marquardt scaling plus a tiny ridge so directions without information take no step.
        ridge = 1e-12 * np.sum(d, axis=1, keepdims=True) + 1e-300
        ad = a.copy()
        ad[:, diag, diag] += lam[:, None] * d + ridge
        delta = _solve(ad, -g)
        delta[~active] = 0.0
        pt = p + delta
        et, colst = model.rows(pt)
        ct = _cost(et, huber)
        acc = active & np.isfinite(ct) & (ct <= cost)
        at, gt = normal_at(et, colst)
        p = np.where(acc[:, None], pt, p)
        a = np.where(acc[:, None, None], at, a)
        g = np.where(acc[:, None], gt, g)
        cost = np.where(acc, ct, cost)
        lam = np.where(acc, np.maximum(lam * 0.2, 1e-9), lam * 10.0)
        it_count += active
        small = np.max(np.abs(delta) * np.sqrt(d), axis=1) <= step_tol
        conv |= active & (small | (lam > 1e12))
        dist = np.hypot(p[:, 0] - center[:, 0], p[:, 1] - center[:, 1])
        div |= active & ~conv & ((dist > max_dist) | ~np.isfinite(dist))
        active = ~(conv | div)
    out_p[idx], out_conv[idx], out_div[idx], out_it[idx], out_cost[idx] = p, conv, div, it_count, cost
    # A converged solution can still sit beyond the limit (e.g. a minimum at infinity reached
    # in one step): that is a divergence too.
    far = np.hypot(out_p[:, 0] - center_full[:, 0], out_p[:, 1] - center_full[:, 1]) > max_dist
    out_div |= far
    out_conv &= ~far
    return _LMResult(out_p, out_conv, out_div, out_it, out_cost)


# ---------------------------------------------------------------------------------------------
# Starting points and geometry tests (shared by scalar and batch paths)
# ---------------------------------------------------------------------------------------------


def _stansfield(ox, oy, theta, isig, passes: int = 2):
    """Stansfield-weighted least squares on the line equations, for m problems.

    A bearing line through o with direction u = (sin θ, cos θ) has normal n = (cos θ, −sin θ):
    n·p = n·o. First pass: equal weights; then `passes` passes with w = 1/(σ² r²), r from the
    previous fix (Stansfield 1947). Returns points (m, 2) and a flag for a solvable system."""
    s, c = np.sin(theta), np.cos(theta)
    rhs = c * ox - s * oy
    cc, cs, ss, cr, sr = c * c, c * s, s * s, c * rhs, s * rhs
    w = np.asfortranarray(isig > 0, dtype=float)
    x = y = None
    ok = None
    for k in range(passes + 1):
        a00 = np.sum(w * cc, axis=1)
        a01 = -np.sum(w * cs, axis=1)
        a11 = np.sum(w * ss, axis=1)
        b0 = np.sum(w * cr, axis=1)
        b1 = -np.sum(w * sr, axis=1)
        det = a00 * a11 - a01 * a01
        tr = a00 + a11
        ok = det > 1e-12 * tr * tr
        safe = np.where(ok, det, np.inf)
        x = (b0 * a11 - b1 * a01) / safe
        y = (a00 * b1 - a01 * b0) / safe
        if k < passes:
            r2 = (x[:, None] - ox) ** 2 + (y[:, None] - oy) ** 2
            w = isig * isig / np.maximum(r2, 1.0)
    return np.stack([x, y], axis=1), ok


def _geometry_reason(ox, oy, theta, isig) -> np.ndarray:
    """Per problem: 0 usable, 1 fewer than 2 bearings, 2 (near-)parallel bearings (every pair
    within 2° of 0° or 180° apart), 3 observers at one point (spread < 1 m)."""
    valid = isig > 0
    n = valid.sum(axis=1)
    # Line directions are defined mod 180°: measure each against the first valid line with the
    # difference wrapped to (−90°, 90°]. When every pair lies within 2° the lines fill an arc
    # narrower than 2° containing the reference, so (max − min) of these differences is exactly
    # the largest pairwise separation; otherwise it is ≥ 2°. O(k) instead of O(k²) pairs.
    ref = np.take_along_axis(theta, np.argmax(valid, axis=1)[:, None], axis=1)
    d = 0.5 * _wrap(2.0 * (theta - ref))
    spread = np.max(np.where(valid, d, -np.inf), axis=1) - np.min(np.where(valid, d, np.inf), axis=1)
    parallel = spread < math.radians(PARALLEL_DEG)
    nn = np.maximum(n, 1)
    mx = np.sum(np.where(valid, ox, 0.0), axis=1) / nn
    my = np.sum(np.where(valid, oy, 0.0), axis=1) / nn
    radius = np.max(np.where(valid, np.hypot(ox - mx[:, None], oy - my[:, None]), 0.0), axis=1)
    reason = np.zeros(ox.shape[0], np.int8)
    reason[parallel] = 2
    reason[radius < 0.5 * COLOCATED_M] = 3
    reason[n < 2] = 1
    return reason


_GEOMETRY_TEXT = {
    1: "fewer than 2 bearings and no usable range",
    2: "bearings parallel or nearly so (within 2° of each other or of 180° apart): the lines do not cross",
    3: "observers at the same point: bearings from one place cannot be intersected",
}


def _centroid(ox, oy, isig):
    valid = isig > 0
    n = np.maximum(valid.sum(axis=1), 1)
    return np.stack([np.sum(np.where(valid, ox, 0.0), axis=1) / n, np.sum(np.where(valid, oy, 0.0), axis=1) / n], axis=1)


def _cov_from_info(a: np.ndarray):
    """Inverse of stacked 2×2 information matrices, with their condition numbers."""
    det = a[:, 0, 0] * a[:, 1, 1] - a[:, 0, 1] * a[:, 1, 0]
    tr = a[:, 0, 0] + a[:, 1, 1]
    disc = np.sqrt(np.maximum(0.25 * (a[:, 0, 0] - a[:, 1, 1]) ** 2 + a[:, 0, 1] ** 2, 0.0))
    lmin = 0.5 * tr - disc
    lmax = 0.5 * tr + disc
    with np.errstate(divide="ignore", invalid="ignore"):
        cond = np.where(lmin > 0, lmax / lmin, np.inf)
        safe = np.where(det > 0, det, np.nan)
        cov = np.empty_like(a)
        cov[:, 0, 0] = a[:, 1, 1] / safe
        cov[:, 1, 1] = a[:, 0, 0] / safe
        cov[:, 0, 1] = cov[:, 1, 0] = -a[:, 0, 1] / safe
    return cov, cond


# ---------------------------------------------------------------------------------------------
# Batch path
# ---------------------------------------------------------------------------------------------


def fix_batch(obs_east, obs_north, bearing_rad, sigma_rad, mask=None, *, max_iter: int = 30) -> BatchFix:
    """Maximum-likelihood fixes for m problems of up to k bearings at once, in one plane.

    Inputs are (m, k) arrays: observer east/north (m), bearings (radians clockwise from the
    plane's north, i.e. already converted with `LocalPlane.grid_bearing`), σ (radians, scalar or
    array); `mask` (m, k) marks real observations (padding False). Stansfield start, then LM on
    wrapped bearing residuals (plain least squares, no range terms, no robust loss: use
    `fix_from_bearings` for those). ok is False for fewer than 2 bearings, (near-)parallel
    bearings, co-located observers, non-finite inputs, divergence beyond 100 km, no convergence
    in `max_iter` iterations, or an information matrix with condition number above 10⁸.
    """
    ox = np.atleast_2d(np.asarray(obs_east, float))
    oy = np.atleast_2d(np.asarray(obs_north, float))
    th = np.atleast_2d(np.asarray(bearing_rad, float))
    sg = np.broadcast_to(np.asarray(sigma_rad, float), ox.shape)
    mk = np.ones(ox.shape, bool) if mask is None else np.broadcast_to(np.asarray(mask, bool), ox.shape)
    with np.errstate(all="ignore"):
        finite = np.isfinite(ox) & np.isfinite(oy) & np.isfinite(th) & np.isfinite(sg) & (sg > 0)
        bad_input = np.any(mk & ~finite, axis=1)
        use = mk & finite
        # Padding sits far away with zero weight, so it can never produce 0/0.
        f = np.asfortranarray
        ox = f(np.where(use, ox, 1e9))
        oy = f(np.where(use, oy, 1e9))
        th = f(np.where(use, np.mod(th, _TWO_PI), 0.0))
        isig = f(np.where(use, 1.0 / np.where(use, sg, 1.0), 0.0))
        model = _BearingTerms(ox, oy, th, isig)
        geom = _geometry_reason(ox, oy, th, isig)
        start, solvable = _stansfield(ox, oy, th, isig)
        center = _centroid(ox, oy, isig)
        run = (geom == 0) & solvable & ~bad_input
        m = ox.shape[0]
        east = np.full(m, np.nan)
        north = np.full(m, np.nan)
        cov = np.full((m, 2, 2), np.nan)
        ok = np.zeros(m, bool)
        chi2 = np.full(m, np.nan)
        iters = np.zeros(m, np.int64)
        dof = use.sum(axis=1) - 2
        sel = np.flatnonzero(run)
        if sel.size:
            sub = model.take(sel)
            res = _lm(sub, start[sel], center=center[sel], max_iter=max_iter)
            info = sub.information(res.p)
            c, cond = _cov_from_info(info)
            good = res.converged & ~res.diverged & (cond <= MAX_CONDITION)
            e, _ = sub.rows(res.p)
            east[sel], north[sel] = res.p[:, 0], res.p[:, 1]
            cov[sel] = c
            chi2[sel] = np.sum(e * e, axis=1)
            iters[sel] = res.iterations
            ok[sel] = good
    return BatchFix(east, north, cov, ok, chi2, dof, iters)


def crlb_trace(obs_east, obs_north, src_east, src_north, sigma_rad) -> np.ndarray | float:
    """tr(J⁻¹) (m²), the Cramér–Rao bound on the mean squared position error of an unbiased
    bearing fix: J = Σ wᵢ nᵢ nᵢᵀ, wᵢ = 1/(σᵢ² rᵢ²), nᵢ ⟂ line of sight (fusion.md). Observers
    (..., k) in plane metres, source (...,) metres, σ radians (broadcast). √ of it is the bound
    on RMSE. Returns inf for a singular geometry."""
    ox = np.atleast_2d(np.asarray(obs_east, float))
    oy = np.atleast_2d(np.asarray(obs_north, float))
    sg = np.broadcast_to(np.asarray(sigma_rad, float), ox.shape)
    p = np.stack([np.broadcast_to(np.asarray(src_east, float), ox.shape[:1]), np.broadcast_to(np.asarray(src_north, float), ox.shape[:1])], axis=1)
    model = _BearingTerms(ox, oy, np.zeros_like(ox), 1.0 / sg)
    cov, cond = _cov_from_info(model.information(p))
    tr = np.where(np.isfinite(cond), cov[:, 0, 0] + cov[:, 1, 1], np.inf)
    return float(tr[0]) if np.ndim(obs_east) == 1 else tr


# ---------------------------------------------------------------------------------------------
# Scalar path: validation, robust estimation, range bands
# ---------------------------------------------------------------------------------------------


def _as_array(x, n: int | None = None, fill: float = math.nan) -> np.ndarray:
    if x is None:
        return np.full(n, fill)
    a = np.atleast_1d(np.asarray(x, dtype=float))
    if n is not None and a.size == 1 and n != 1:
        a = np.full(n, float(a[0]))
    return a


def _pair_candidates(model: _BearingTerms, center: np.ndarray, max_dist: float) -> np.ndarray:
    """Candidate points (c, 2) for one problem (model with m = 1): the intersections of pairs of
    bearing lines that cross (> 2°) in front of both observers — every pair up to 12 bearings,
    else 300 pairs drawn with a fixed seed — and each band midpoint on its bearing; all within
    `max_dist` of `center`."""
    ox, oy, th, isig = model.ox[0], model.oy[0], model.theta[0], model.isig[0]
    b = np.flatnonzero(isig > 0)
    if b.size > 12:
        rng = np.random.default_rng(12345)
        pi = rng.integers(0, b.size, 600)
        pj = rng.integers(0, b.size, 600)
        sel = pi != pj
        pi, pj = b[pi[sel][:300]], b[pj[sel][:300]]
    else:
        pi, pj = np.triu_indices(b.size, 1)
        pi, pj = b[pi], b[pj]
    ui = np.stack([np.sin(th[pi]), np.cos(th[pi])], axis=1)
    uj = np.stack([np.sin(th[pj]), np.cos(th[pj])], axis=1)
    cross = ui[:, 0] * uj[:, 1] - ui[:, 1] * uj[:, 0]
    dox, doy = ox[pj] - ox[pi], oy[pj] - oy[pi]
    with np.errstate(divide="ignore", invalid="ignore"):
        ti = (dox * uj[:, 1] - doy * uj[:, 0]) / cross
        tj = (dox * ui[:, 1] - doy * ui[:, 0]) / cross
    cand = np.stack([ox[pi] + ti * ui[:, 0], oy[pi] + ti * ui[:, 1]], axis=1)
    good = (np.abs(cross) > math.sin(math.radians(PARALLEL_DEG))) & (ti > 0) & (tj > 0)
    cand = cand[good]
    if model.has_bands:
        hb = np.isfinite(model.hi[0]) & (model.iscale[0] > 0) & (isig > 0)
        mid = 0.5 * (model.lo[0][hb] + model.hi[0][hb])
        cand = np.concatenate([cand, np.stack([ox[hb] + mid * np.sin(th[hb]), oy[hb] + mid * np.cos(th[hb])], axis=1)])
    if cand.size:
        cand = cand[np.hypot(cand[:, 0] - center[0], cand[:, 1] - center[1]) <= max_dist]
    return cand.reshape(-1, 2)


def _ransac(model: _BearingTerms, center: np.ndarray, max_dist: float):
    """Pair-RANSAC for one problem (Fischler & Bolles 1981): every `_pair_candidates` point is
    scored by the observations whose bearing (and band) residual is within 3 σ; ties go to the
    lowest truncated cost Σ min(e², 9) (MSAC, Torr & Zisserman 2000). Returns (inlier mask (k,),
    point (2,)) or None when no candidate exists."""
    cand = _pair_candidates(model, center, max_dist)
    if not cand.size:
        return None
    e, _ = model.take(np.zeros(cand.shape[0], np.int64)).rows(cand)
    ae = _obs_residual(e, model.k)
    inl = (ae <= OUTLIER_K) & (model.isig[0] > 0)
    count = inl.sum(axis=1)
    score = np.sum(np.minimum(ae, OUTLIER_K) ** 2, axis=1)
    best = np.lexsort((score, -count))[0]
    return inl[best], cand[best]


def _obs_residual(e: np.ndarray, k: int) -> np.ndarray:
    """Per observation, the larger |normalised residual| of its bearing and its band term."""
    ae = np.abs(e)
    if ae.shape[1] > k:
        return np.maximum(ae[:, :k], ae[:, k:])
    return ae


def _starts(model: _BearingTerms) -> list[np.ndarray]:
    """Starting points for one problem: Stansfield when the lines cross, and the mean of the
    band midpoints on their bearings when there are bands (both are tried; LM keeps the best)."""
    out = []
    nb = int(np.sum(model.isig[0] > 0))
    if nb >= 2:
        p, ok = _stansfield(model.ox, model.oy, model.theta, model.isig)
        if ok[0] and np.all(np.isfinite(p)):
            out.append(p[0])
    if model.has_bands:
        hb = np.isfinite(model.hi[0]) & (model.iscale[0] > 0) & (model.isig[0] > 0)
        if hb.any():
            mid = 0.5 * (model.lo[0][hb] + model.hi[0][hb])
            th = model.theta[0][hb]
            out.append(np.array([np.mean(model.ox[0][hb] + mid * np.sin(th)), np.mean(model.oy[0][hb] + mid * np.cos(th))]))
    return out


def _best_solve(model: _BearingTerms, starts: list[np.ndarray], center: np.ndarray, huber: float | None, max_iter: int):
    """Run LM from every start at once (the batch machinery with m = number of starts) and keep
    the converged run with the lowest cost. Returns (point, iterations, failure text or "")."""
    if not starts:
        return None, 0, "no starting point: the bearings do not cross"
    s = np.array(starts)
    rep = model.take(np.zeros(len(starts), np.int64))
    # Huber's loss has a kink at the threshold, where reweighted Gauss–Newton crawls; its
    # solution only seeds the plain-ML refit, so a looser tolerance (and, after max_iter, the
    # best run so far) is enough there.
    res = _lm(rep, s, center=np.repeat(center[None], len(starts), axis=0), huber=huber, max_iter=max_iter, step_tol=1e-5 if huber is None else 1e-3)
    done = (res.converged if huber is None else np.isfinite(res.cost)) & ~res.diverged
    # A run can also converge onto an observer, where its own bearing fits any point on its
    # line arbitrarily close to it: the likelihood is singular there and the information matrix
    # explodes. Such runs are not fixes.
    _, cond = _cov_from_info(rep.information(res.p))
    good = done & (cond <= MAX_CONDITION)
    if not good.any():
        i = int(np.argmin(res.cost))
        if done.any():
            return None, int(res.iterations[i]), f"ill-conditioned geometry (information condition number {np.min(cond[done]):.3g} > {MAX_CONDITION:.0e})"
        if res.diverged.all():
            return None, int(res.iterations[i]), f"diverged: the solution ran beyond {MAX_DISTANCE_M / 1000:.0f} km from the observers"
        return None, int(res.iterations[i]), f"did not converge in {max_iter} iterations"
    i = int(np.flatnonzero(good)[np.argmin(res.cost[good])])
    return res.p[i], int(res.iterations[i]), ""


def _posterior_moments(model: _BearingTerms, p: np.ndarray, cov0: np.ndarray, n: int = 61, span: float = 6.0, passes: int = 3):
    """Mean and covariance (m, m²) of the normalised likelihood exp(−½ Σ e²) with a flat prior,
    by quadrature on an n × n grid spanning ±`span` standard deviations along the principal
    axes of the current covariance; each pass re-centres and re-scales the grid on the moments
    of the previous one (the first grid comes from ML point and Fisher covariance).

    Used whenever range bands are present: their likelihood is flat inside the band, so the ML
    point is only somewhere in the feasible region (LM stops where it enters it) and the Fisher
    matrix does not describe the spread. The posterior mean is the minimum-mean-square-error
    point, and its covariance is the honest spread of a truncated (non-Gaussian) posterior."""
    u = np.linspace(-span, span, n)
    gu, gv = np.meshgrid(u, u)
    gu, gv = gu.ravel(), gv.ravel()
    rep = model.take(np.zeros(gu.size, np.int64))
    mean, cov = np.asarray(p, float), np.asarray(cov0, float)
    for _ in range(passes):
        vals, vecs = np.linalg.eigh(0.5 * (cov + cov.T))
        sd = np.sqrt(np.maximum(vals, 1e-6 * max(vals[-1], 1e-6)))
        pts = mean[None] + (gu * sd[0])[:, None] * vecs[:, 0][None] + (gv * sd[1])[:, None] * vecs[:, 1][None]
        e, _ = rep.rows(pts)
        logw = -0.5 * np.sum(e * e, axis=1)
        w = np.exp(logw - np.max(logw))
        w /= np.sum(w)
        mean = w @ pts
        d = pts - mean
        cov = (w[:, None] * d).T @ d
    return mean, cov


def fix_from_bearings(
    obs_lat,
    obs_lon,
    bearing_deg,
    sigma_deg,
    range_min_m=None,
    range_max_m=None,
    observer_sigma_m=None,
    *,
    robust: bool = True,
    max_iter: int = 100,
) -> Fix:
    """Locate an origin from bearings (and optional range bands) reported by observers.

    Arrays of equal length (σ, ranges and observer σ may be scalars): observer position
    (degrees), true bearing (degrees clockwise from north, in [0, 360)), bearing σ (degrees; use
    `sigma_for` so compass-sector reports get ≥ 6.5°), range band [range_min_m, range_max_m]
    (metres; NaN or None for none, either end may be missing), observer position σ (metres,
    isotropic; enters as σ_eff² = σ² + (σ_obs/r)²).

    Range bands are soft intervals: no penalty inside, a Gaussian tail outside with scale
    max(10 % of the width, 100 m) (a band with no upper end uses 10 % of its lower end). Such a
    likelihood is flat where the bands overlap, so with bands the reported point and covariance
    are the mean and covariance of the normalised likelihood (flat prior), integrated on a grid
    seeded by the ML point and by a Fisher matrix in which a finite band counts as a uniform
    distribution over its width (information 12/width² along the line of sight). One bearing
    plus one band therefore gives a fix near the band's middle with a finite ellipse.

    Robustness (unless robust=False):
    * ≥ 4 bearings: LM with Huber's loss (threshold 1.5 σ), started from Stansfield and from
      every pair intersection (lowest robust cost wins);
    * ≥ 6 bearings: first pair-RANSAC (consensus within 3 σ, MSAC tie-break) picks the inliers
      and the start; if that fit fails, Huber on all observations as above;
    * then observations beyond 3 σ are reported in `outliers` and the fix is refitted by plain
      ML without them (if fewer than 3 would remain, the 3 best-fitting are kept);
    * if that fit still fails the χ² test and there are ≤ 8 observations, every subset leaving
      out 1 … n − 3 observations is fitted and the largest consistent one (lowest χ² among
      equals) is used.
    The χ² test, covariance and ellipse describe the final fit. Plain ML (< 4 bearings) starts
    from Stansfield, falling back to pair intersections; a run that converges onto an observer
    (singular likelihood, information condition number > 10⁸) is not accepted.

    Never raises: invalid input or geometry gives Fix(ok=False, reason=...).
    Reference: shared/reference/fusion.md; Stansfield 1947; Marquardt 1963; Huber 1964;
    Fischler & Bolles 1981.
    """
    method = "ml"
    try:
        lat = _as_array(obs_lat)
        n = lat.size
        lon = _as_array(obs_lon)
        brg = _as_array(bearing_deg)
        sig = _as_array(sigma_deg, n)
        rmin = _as_array(range_min_m, n)
        rmax = _as_array(range_max_m, n)
        osig = _as_array(observer_sigma_m, n, 0.0)
    except (TypeError, ValueError) as exc:
        return _no_fix(f"invalid input: {exc}", method)
    if n == 0:
        return _no_fix("no observations", method)
    if not all(a.size == n for a in (lon, brg, sig, rmin, rmax, osig)):
        return _no_fix("inputs have different lengths", method)
    if not (np.all(np.isfinite(lat)) and np.all(np.isfinite(lon))):
        return _no_fix("NaN or infinite observer position", method)
    if np.any(np.abs(lat) > 90.0) or np.any(np.abs(lon) > 540.0):
        return _no_fix("observer position out of range", method)
    if not np.all(np.isfinite(brg)):
        return _no_fix("NaN or infinite bearing", method)
    if np.any((brg < 0.0) | (brg >= 360.0)):
        bad = brg[(brg < 0.0) | (brg >= 360.0)][0]
        return _no_fix(f"bearing {bad:g}° outside [0, 360)", method)
    if not np.all(np.isfinite(sig)) or np.any(sig <= 0.0):
        return _no_fix("bearing sigma must be a positive finite number of degrees", method)
    osig = np.where(np.isnan(osig), 0.0, osig)
    if np.any(~np.isfinite(osig)) or np.any(osig < 0.0):
        return _no_fix("observer sigma must be a non-negative finite number of metres", method)
    if np.any(rmin < 0.0) or np.any(rmax < 0.0):
        return _no_fix("negative range in a range band", method)
    if np.any(np.isposinf(rmin)):
        return _no_fix("infinite lower end of a range band", method)
    if np.any(rmax == 0.0):
        return _no_fix("range band with zero upper end", method)
    if np.any(rmin > rmax):
        return _no_fix("inverted range band (range_min_m > range_max_m)", method)

    with np.errstate(all="ignore"):
        return _fix_from_valid(lat, lon, brg, sig, rmin, rmax, osig, robust, max_iter)


def _fix_from_valid(lat, lon, brg, sig, rmin, rmax, osig, robust, max_iter) -> Fix:
    n = lat.size
    plane = LocalPlane.around(lat, lon)
    ox, oy = plane.to_enu(lat, lon)
    th = plane.grid_bearing(lat, lon, brg)
    isig = 1.0 / np.radians(sig)

    has_band = np.isfinite(rmin) | np.isfinite(rmax)
    lo = np.where(np.isfinite(rmin), rmin, 0.0)
    hi = np.where(np.isfinite(rmax), rmax, np.inf)
    width = hi - lo
    finite_band = has_band & np.isfinite(hi)
    tail = np.where(finite_band, np.maximum(BAND_TAIL_FRACTION * width, BAND_TAIL_MIN_M), np.maximum(BAND_TAIL_FRACTION * lo, BAND_TAIL_MIN_M))
    iscale = np.where(has_band, 1.0 / tail, 0.0)
    # A band of zero width (a point range) still has the tail's precision, not infinite.
    info = np.where(finite_band, 12.0 / np.maximum(width, tail) ** 2, 0.0)
    obs_var = (osig * osig)[None] if np.any(osig > 0) else None
    if has_band.any():
        model = _BearingTerms(ox[None], oy[None], th[None], isig[None], lo[None], hi[None], iscale[None], info[None], obs_var)
    else:
        model = _BearingTerms(ox[None], oy[None], th[None], isig[None], obs_var=obs_var)

    center = np.array([ox.mean(), oy.mean()])
    if not finite_band.any():
        g = int(_geometry_reason(ox[None], oy[None], th[None], isig[None])[0])
        if g:
            return _no_fix(_GEOMETRY_TEXT[g], "ml")

    method = "ml"
    if robust and n >= 6:
        method = "ransac+ml"
    elif robust and n >= 4:
        method = "ml-huber"

    # Attempts in order: (inlier mask, starts, loss). Robust attempts end with a plain-ML refit
    # on the observations within 3 σ. The RANSAC consensus can be wrong when half the reports
    # are bad (its fit may then collapse onto an observer); Huber on everything comes next.
    everyone = np.ones(n, bool)
    pairs = [c for c in _pair_candidates(model, center, MAX_DISTANCE_M)]
    attempts = []
    if method == "ransac+ml":
        rs = _ransac(model, center, MAX_DISTANCE_M)
        if rs is not None and int(rs[0].sum()) >= 2:
            attempts.append((rs[0], [rs[1]] + _starts(model.masked(rs[0])), HUBER_K))
        attempts.append((everyone, _starts(model) + pairs, HUBER_K))
    elif method == "ml-huber":
        attempts.append((everyone, _starts(model) + pairs, HUBER_K))
    else:
        # Plain ML starts from Stansfield alone (as the batch path does); the pair
        # intersections are a fallback for the rare start that falls into a bad basin.
        attempts.append((everyone, _starts(model), None))
        if pairs:
            attempts.append((everyone, pairs, None))
    first_failure = None
    for keep, starts, loss in attempts:
        out = _attempt(model, keep, starts, loss, center, max_iter)
        if isinstance(out, str):
            first_failure = first_failure or out
            continue
        p, keep, iters = out
        if method != "ml" and n <= DELETION_MAX_N and not _consistent(model.masked(keep), p, keep, has_band):
            # The robust fit still fails the χ² test: search the subsets directly.
            found = _deletion_search(model, has_band, center, max_iter)
            if found is not None:
                p, keep, iters = found
        final = model.masked(keep)
        cov, cond = _cov_from_info(final.information(p[None]))
        if not np.isfinite(cond[0]) or cond[0] > MAX_CONDITION:
            first_failure = first_failure or f"ill-conditioned geometry (information condition number {cond[0]:.3g} > {MAX_CONDITION:.0e})"
            continue
        return _finish(plane, model, final, p, keep, cov[0], has_band, method, iters)
    return _no_fix(first_failure, method)


def _consistent(final: _BearingTerms, p: np.ndarray, keep: np.ndarray, has_band: np.ndarray) -> bool:
    e, _ = final.rows(p[None])
    dof = int(np.sum(keep) + np.sum(keep & has_band)) - 2
    return _chi2_test(float(np.sum(e * e)), dof)[1]


def _deletion_search(model: _BearingTerms, has_band: np.ndarray, center: np.ndarray, max_iter: int):
    """Outlier search by deletion for one problem of up to DELETION_MAX_N observations: fit
    every subset that leaves out 1 … n − 3 observations (one vectorised LM over all subsets,
    Stansfield starts) and return the largest subset that passes the χ² test, lowest χ² among
    equals, as (point, keep mask, iterations); None when no subset passes. With few bearings a
    single gross error drags a Huber fit enough to put the largest residual on a good bearing
    (notably when two lines are near-collinear); the deleted-residual test does not."""
    n = model.k
    masks = [np.ones(n, bool)]
    for r in range(1, n - 2):
        for drop in combinations(range(n), r):
            mk = np.ones(n, bool)
            mk[list(drop)] = False
            masks.append(mk)
    masks = np.array(masks)
    m = masks.shape[0]
    rep = model.take(np.zeros(m, np.int64))
    rep = _BearingTerms(rep.ox, rep.oy, rep.theta, rep.isig * masks, rep.lo, rep.hi, None if rep.iscale is None else rep.iscale * masks, None if rep.info is None else rep.info * masks, rep.obs_var)
    start, solvable = _stansfield(rep.ox, rep.oy, rep.theta, rep.isig)
    if model.has_bands:
        # Subsets whose bearings do not cross can still be fixed by their bands.
        for i in np.flatnonzero(~solvable):
            st = _starts(rep.take(np.array([i])))
            if st:
                start[i], solvable[i] = st[-1], True
    res = _lm(rep, np.where(solvable[:, None], start, center[None]), center=np.repeat(center[None], m, axis=0), max_iter=max_iter)
    e, _ = rep.rows(res.p)
    chi2 = np.sum(e * e, axis=1)
    dof = masks.sum(axis=1) + (masks & has_band[None]).sum(axis=1) - 2
    _, cond = _cov_from_info(rep.information(res.p))
    pval = _chi2.sf(chi2, np.maximum(dof, 1))
    ok = solvable & res.converged & ~res.diverged & (cond <= MAX_CONDITION) & (dof >= 1) & (pval > CONSISTENCY_ALPHA)
    if not ok.any():
        return None
    size = masks.sum(axis=1)
    cand = np.flatnonzero(ok)
    best = cand[np.lexsort((chi2[cand], -size[cand]))[0]]
    return res.p[best], masks[best], int(res.iterations[best])


def _attempt(model: _BearingTerms, keep: np.ndarray, starts, loss, center, max_iter):
    """One estimation attempt: LM from `starts` on the observations in `keep` with `loss`;
    after a robust (Huber) fit, reject observations beyond 3 σ and refit by plain ML until the
    inlier set is stable (at most three refits, keeping ≥ 3 observations so χ² has dof).
    Returns (point, inlier mask, iterations) or a failure text."""
    n = model.k
    p, iters, why = _best_solve(model.masked(keep), starts, center, loss, max_iter)
    if p is None:
        return why
    if loss is None:
        return p, keep, iters
    refitted = False
    for _ in range(4):
        e, _ = model.rows(p[None])
        ae = _obs_residual(e, n)[0]
        new_keep = ae <= OUTLIER_K
        if new_keep.sum() < 3:
            # Keep the three that fit best rather than readmitting the worst offenders.
            new_keep = np.zeros(n, bool)
            new_keep[np.argsort(ae)[:3]] = True
        if refitted and np.array_equal(new_keep, keep):
            break
        keep = new_keep
        # The robust solution is already close to the inliers' ML point: start there only.
        p, iters, why = _best_solve(model.masked(keep), [p], center, None, max_iter)
        if p is None:
            return why
        refitted = True
    return p, keep, iters


def _finish(plane, model, final, p, keep, cov, has_band, method, iters) -> Fix:
    """Build the Fix: χ² of the terms used, residuals of every observation at the ML point, and
    with range bands the posterior mean/covariance in place of the ML point/Fisher inverse."""
    n = model.k
    e_all, _ = model.rows(p[None])
    e_fin, _ = final.rows(p[None])
    point, cov_out = p, cov
    if np.any(keep & has_band):
        point, cov_out = _posterior_moments(final, p, cov)
        if not (np.all(np.isfinite(point)) and np.all(np.isfinite(cov_out))):
            return _no_fix("range-band posterior could not be integrated", method, iters)
    chi2 = float(np.sum(e_fin * e_fin))
    n_terms = int(np.sum(keep) + np.sum(keep & has_band))
    resid = e_all[0, :n]
    if e_all.shape[1] > n:
        # Report, per observation, whichever of its bearing and band residuals is larger.
        resid = np.where(np.abs(e_all[0, n:]) > np.abs(resid), e_all[0, n:], resid)
    return _make_fix(
        plane,
        point,
        cov_out,
        chi2=chi2,
        dof=n_terms - 2,
        n_used=int(keep.sum()),
        method=method,
        iterations=iters,
        outliers=np.flatnonzero(~keep),
        residuals=resid,
    )


# ---------------------------------------------------------------------------------------------
# Point fusion
# ---------------------------------------------------------------------------------------------


def fuse_points(lat, lon, sigma_m=None, cov_enu=None) -> Fix:
    """Information-weighted fusion of point estimates (e.g. independent fixes).

    lat/lon degrees; either `sigma_m` (isotropic σ in metres, scalar or per point) or `cov_enu`
    ((n, 2, 2) covariances in m² on local east/north axes). x̂ = (Σ Wᵢ)⁻¹ Σ Wᵢ xᵢ with Wᵢ = Σᵢ⁻¹,
    covariance (Σ Wᵢ)⁻¹; χ² = Σ (xᵢ − x̂)ᵀ Wᵢ (xᵢ − x̂) with 2(n − 1) degrees of freedom
    (Bar-Shalom, Li & Kirubarajan 2001, §1.4 "information form"). Never raises.
    """
    method = "points"
    try:
        la = _as_array(lat)
        n = la.size
        lo = _as_array(lon)
        if cov_enu is not None:
            covs = np.asarray(cov_enu, float).reshape(-1, 2, 2)
        else:
            s = _as_array(sigma_m, n)
            covs = None
    except (TypeError, ValueError) as exc:
        return _no_fix(f"invalid input: {exc}", method)
    if n == 0:
        return _no_fix("no points", method)
    if lo.size != n or (covs is not None and covs.shape[0] != n) or (covs is None and s.size != n):
        return _no_fix("inputs have different lengths", method)
    if not (np.all(np.isfinite(la)) and np.all(np.isfinite(lo))) or np.any(np.abs(la) > 90.0):
        return _no_fix("NaN, infinite or out-of-range position", method)
    if covs is None:
        if not np.all(np.isfinite(s)) or np.any(s <= 0.0):
            return _no_fix("sigma must be a positive finite number of metres", method)
        covs = (s * s)[:, None, None] * np.eye(2)[None]
    if not np.all(np.isfinite(covs)):
        return _no_fix("NaN or infinite covariance", method)
    covs = 0.5 * (covs + np.transpose(covs, (0, 2, 1)))
    if np.any(np.linalg.eigvalsh(covs)[:, 0] <= 0.0):
        return _no_fix("covariance not positive definite", method)
    with np.errstate(all="ignore"):
        plane = LocalPlane.around(la, lo)
        x, y = plane.to_enu(la, lo)
        pts = np.stack([x, y], axis=1)
        # Each covariance is given on its own point's local axes: bring it to the plane's.
        rot = np.array([plane.local_rotation(a, b) for a, b in zip(la, lo)])
        covp = np.transpose(rot, (0, 2, 1)) @ covs @ rot
        w = np.linalg.inv(covp)
        info = w.sum(axis=0)
        cov = np.linalg.inv(info)
        est = cov @ np.einsum("nij,nj->i", w, pts)
        d = pts - est
        chi2 = float(np.einsum("ni,nij,nj->", d, w, d))
        resid = np.sqrt(np.einsum("ni,nij,nj->n", d, w, d))
    return _make_fix(plane, est, cov, chi2=chi2, dof=2 * (n - 1), n_used=n, method=method, iterations=0, residuals=resid)


# ---------------------------------------------------------------------------------------------
# Acoustic TDOA
# ---------------------------------------------------------------------------------------------


def _tdoa_linear(sx, sy, tau, c: float | None):
    """Closed-form start from squared ranges: c²(τᵢ − t₀)² = |p − sᵢ|² rearranged to
    2 p·sᵢ − 2 q τᵢ + b τᵢ² + k = |sᵢ|² with q = c² t₀, b = c², k = c² t₀² − |p|² (b known when c
    is). Coordinates in km and times in s keep the system well scaled. Returns (x, y, t₀, c) or
    None."""
    scale = 1000.0
    X, Y = sx / scale, sy / scale
    rhs = X * X + Y * Y
    cols = [2 * X, 2 * Y, -2 * tau]
    if c is None:
        cols.append(tau * tau)
    else:
        rhs = rhs - (c / scale) ** 2 * tau * tau
    cols.append(np.ones_like(tau))
    a = np.stack(cols, axis=1)
    try:
        sol, *_ = np.linalg.lstsq(a, rhs, rcond=None)
    except np.linalg.LinAlgError:
        return None
    if c is None:
        b = sol[3]
        if not np.isfinite(b) or b <= 0:
            return None
        ck = math.sqrt(b)
    else:
        ck = c / scale
    t0 = sol[2] / (ck * ck)
    out = np.array([sol[0] * scale, sol[1] * scale, t0, ck * scale])
    return out if np.all(np.isfinite(out)) else None


def tdoa_fix(sensor_lat, sensor_lon, toa_s, sigma_s, speed_of_sound: float | None = None, *, temperature_c: float | None = None, max_iter: int = 100) -> Fix:
    """Locate a sound source from arrival times at sensors (time difference of arrival).

    sensor positions in degrees, arrival times in seconds (any common epoch), σ in seconds
    (scalar or per sensor). Model tᵢ = t₀ + |p − sᵢ|/c solved by LM for position, emission time
    t₀ and — when `speed_of_sound` is None and there are ≥ 5 sensors — the speed of sound c
    itself, because an unmodelled temperature offset (+10 °C ≈ +6 m/s) moves a fix outside the
    array by many times its bound (fusion.md). With fewer sensors c comes from `temperature_c`
    (default 15 °C, 340.3 m/s) and the reason field says so. Needs ≥ 4 sensors with c known.
    The covariance is the position block of the inverse Fisher information (c and t₀
    marginalised). With c free, sensors on one circle admit an exact twin solution (the
    source's inverse point in the circle, c scaled by R/|p|); only solutions with a physically
    possible c (250–450 m/s) are accepted, which removes it. Returns Fix with method "tdoa", speed_of_sound (m/s) and emission_time_s.
    Never raises.
    """
    method = "tdoa"
    try:
        la = _as_array(sensor_lat)
        n = la.size
        lo = _as_array(sensor_lon)
        toa = _as_array(toa_s)
        sg = _as_array(sigma_s, n)
    except (TypeError, ValueError) as exc:
        return _no_fix(f"invalid input: {exc}", method)
    if not all(a.size == n for a in (lo, toa, sg)):
        return _no_fix("inputs have different lengths", method)
    if not (np.all(np.isfinite(la)) and np.all(np.isfinite(lo)) and np.all(np.isfinite(toa))):
        return _no_fix("NaN or infinite sensor position or arrival time", method)
    if not np.all(np.isfinite(sg)) or np.any(sg <= 0):
        return _no_fix("time sigma must be a positive finite number of seconds", method)
    if speed_of_sound is not None and not (math.isfinite(speed_of_sound) and speed_of_sound > 0):
        return _no_fix("speed of sound must be positive", method)
    note = ""
    estimate_c = speed_of_sound is None and n >= 5
    if speed_of_sound is None and not estimate_c:
        t_c = 15.0 if temperature_c is None else float(temperature_c)
        speed_of_sound = speed_of_sound_for(t_c)
        note = f"speed of sound not estimated (fewer than 5 sensors): assumed {speed_of_sound:.1f} m/s at {t_c:g} °C"
    if n < 4:
        return _no_fix("fewer than 4 sensors: a TDOA fix needs 4 (5 to estimate the speed of sound)", method)
    with np.errstate(all="ignore"):
        plane = LocalPlane.around(la, lo)
        sx, sy = plane.to_enu(la, lo)
        if np.max(np.hypot(sx - sx.mean(), sy - sy.mean())) < 0.5 * COLOCATED_M:
            return _no_fix("sensors at the same point", method)
        t_ref = float(np.min(toa))
        tau = toa - t_ref
        isig = 1.0 / sg
        c_guess = speed_of_sound if speed_of_sound is not None else speed_of_sound_for(15.0)
        starts = []
        lin = _tdoa_linear(sx, sy, tau, None if estimate_c else speed_of_sound)
        if lin is not None and 200.0 < lin[3] < 500.0:
            starts.append(lin)
        lin_c = _tdoa_linear(sx, sy, tau, c_guess)
        if lin_c is not None:
            starts.append(np.array([lin_c[0], lin_c[1], lin_c[2], c_guess]))
        # A start at the array centre with t₀ from the mean arrival keeps a fallback for
        # geometries where the linear system is singular (e.g. sensors on a circle).
        mean_r = float(np.mean(np.hypot(sx - sx.mean(), sy - sy.mean())))
        starts.append(np.array([sx.mean(), sy.mean(), float(np.mean(tau)) - mean_r / c_guess, c_guess]))
        s = np.array(starts)
        if not estimate_c:
            s = s[:, :3]
        m = s.shape[0]
        rep = lambda a: np.repeat(a[None], m, axis=0)  # noqa: E731
        model = _TdoaTerms(rep(sx), rep(sy), rep(tau), rep(isig), None if estimate_c else np.full((m, 1), float(speed_of_sound)))
        center = np.repeat(np.array([[sx.mean(), sy.mean()]]), m, axis=0)
        res = _lm(model, s, center=center, max_iter=max_iter)
        good = res.converged & ~res.diverged
        if not good.any():
            if res.diverged.all():
                return _no_fix(f"diverged: the solution ran beyond {MAX_DISTANCE_M / 1000:.0f} km from the sensors", method, int(res.iterations.max()))
            return _no_fix(f"did not converge in {max_iter} iterations", method, int(res.iterations.max()))
        c_all = res.p[:, 3] if estimate_c else np.full(m, float(speed_of_sound))
        # With c free, sensors on (or near) a circle leave an exact twin: the source's inverse
        # point in that circle with c scaled by R/|p| fits the times equally well. Only a
        # physically possible speed of sound tells them apart.
        plausible = good & (c_all >= C_MIN) & (c_all <= C_MAX)
        if not plausible.any():
            i = int(np.flatnonzero(good)[np.argmin(res.cost[good])])
            return _no_fix(f"implausible speed of sound {c_all[i]:.0f} m/s (sensor geometry or times inconsistent)", method, int(res.iterations[i]))
        i = int(np.flatnonzero(plausible)[np.argmin(res.cost[plausible])])
        p = res.p[i]
        one = model.take(np.array([i]))
        info = one.information(p[None])[0]
        P = p.size
        try:
            full_cov = np.linalg.inv(info)
        except np.linalg.LinAlgError:
            return _no_fix("singular sensor geometry", method, int(res.iterations[i]))
        cov = full_cov[:2, :2]
        c_hat = float(c_all[i])
        _, cond = _cov_from_info(np.linalg.inv(cov)[None])
        if not np.all(np.isfinite(cov)) or cond[0] > MAX_CONDITION:
            return _no_fix("ill-conditioned sensor geometry", method, int(res.iterations[i]))
        e, _ = one.rows(p[None])
        chi2 = float(np.sum(e * e))
    return _make_fix(
        plane,
        p[:2],
        cov,
        chi2=chi2,
        dof=n - P,
        n_used=n,
        method=method,
        iterations=int(res.iterations[i]),
        residuals=e[0],
        reason=note,
        speed_of_sound=c_hat,
        emission_time_s=t_ref + float(p[2]),
    )


def tdoa_crlb_trace(sensor_east, sensor_north, src_east: float, src_north: float, sigma_s, speed_of_sound: float, estimate_speed: bool = False) -> float:
    """tr of the position block of the inverse Fisher information (m²) for a TDOA fix with
    unknown emission time (and unknown c when `estimate_speed`): the Cramér–Rao bound; with c
    known it equals (c² σ²) tr[(Σ (uᵢ − ū)(uᵢ − ū)ᵀ)⁻¹] for equal σ (fusion.md)."""
    sx = np.atleast_2d(np.asarray(sensor_east, float))
    sy = np.atleast_2d(np.asarray(sensor_north, float))
    isig = 1.0 / np.broadcast_to(np.asarray(sigma_s, float), sx.shape)
    c = float(speed_of_sound)
    if estimate_speed:
        model = _TdoaTerms(sx, sy, np.zeros_like(sx), isig)
        p = np.array([[src_east, src_north, 0.0, c]])
    else:
        model = _TdoaTerms(sx, sy, np.zeros_like(sx), isig, np.full((1, 1), c))
        p = np.array([[src_east, src_north, 0.0]])
    cov = np.linalg.inv(model.information(p)[0])
    return float(cov[0, 0] + cov[1, 1])
