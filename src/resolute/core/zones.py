"""Agreement geometry: a local metric frame, withdrawal bands, and P(a located point is inside a zone).

Units: WGS 84 degrees (lon, lat) for stored geometry; metres and square metres in a
:class:`LocalFrame` (a transverse Mercator centred on the agreement's area, as in
:mod:`resolute.core.fusion.attribute`); probabilities in [0, 1].

An edge between two lon/lat vertices is taken as straight in lon/lat, as a map draws it (so a
box from lat 47 to 49 keeps its northern edge on the parallel 49). Parallels are curved in a
transverse Mercator (by ~0.5 km over 150 km at 48N), so geometries are densified to 0.01 degree
before projection; likewise metric geometries are densified to 1 km before going back to lon/lat.

:func:`p_inside` follows :func:`resolute.core.fusion.attribute.p_side_a`: the fix's covariance,
given in true east/north metres, is turned into grid axes with the projection's local Jacobian;
a distance gate settles points far from the zone's boundary; the rest are sampled with
randomised quasi-Monte Carlo (scrambled Sobol' points mapped to normals, shared by all points).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import shapely
from pyproj import Transformer
from scipy.special import ndtri
from scipy.stats import qmc

from resolute.core.fusion.attribute import _inside_counts, _sqrtm_2x2
from resolute.core.geo import WGS84

DENSIFY_DEG = 0.01  # lon/lat edge length before projecting (~1.1 km of latitude)
DENSIFY_M = 1000.0  # metric edge length before unprojecting
MAX_SPAN_DEG = 10.0  # beyond this the frame's scale error passes ~0.1 %: use several frames
REPLICATES = 16  # independent scrambles: the standard error is measured from their spread
_EARTH_RADIUS_M = 6_371_000.0
_JACOBIAN_STEP_M = 10.0
_POINTS_PER_CHUNK = 1024  # bounds the (points x samples) arrays to ~16 MB


class LocalFrame:
    """A transverse Mercator (WGS 84 ellipsoid, scale 1 on the central meridian) centred at
    (lon0, lat0) degrees. Grid distances are true to 0.1 % within 280 km of the centre."""

    def __init__(self, lon0: float, lat0: float):
        if not (math.isfinite(lon0) and math.isfinite(lat0) and abs(lon0) <= 180 and abs(lat0) < 90):
            raise ValueError(f"frame centre must be (lon, lat) degrees, got ({lon0!r}, {lat0!r})")
        self.lon0, self.lat0 = float(lon0), float(lat0)
        self.proj = f"+proj=tmerc +lat_0={lat0:.9f} +lon_0={lon0:.9f} +k=1 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
        self._fwd = Transformer.from_crs("EPSG:4326", self.proj, always_xy=True)
        self._inv = Transformer.from_crs(self.proj, "EPSG:4326", always_xy=True)

    def __repr__(self) -> str:
        return f"LocalFrame(lon0={self.lon0:.6f}, lat0={self.lat0:.6f})"

    @classmethod
    def around(cls, geoms: Iterable) -> LocalFrame:
        """The frame centred on the bounding box of shapely geometries (or (lon, lat) vertex
        sequences) in degrees. Raises ValueError if the box spans more than 10 degrees."""
        parts = [g if isinstance(g, shapely.Geometry) else shapely.multipoints(np.asarray(g, dtype=float)) for g in geoms]
        xmin, ymin, xmax, ymax = shapely.total_bounds(parts)
        if not np.all(np.isfinite([xmin, ymin, xmax, ymax])):
            raise ValueError("no coordinates to centre a frame on")
        if xmax - xmin > MAX_SPAN_DEG or ymax - ymin > MAX_SPAN_DEG:
            raise ValueError(f"area spans {xmax - xmin:.1f} x {ymax - ymin:.1f} degrees: too large for one local frame")
        return cls(0.5 * (xmin + xmax), 0.5 * (ymin + ymax))

    def project(self, lon, lat) -> tuple[np.ndarray, np.ndarray]:
        """Degrees (lon, lat) -> grid (east, north) metres, vectorised."""
        e, n = self._fwd.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        return np.asarray(e), np.asarray(n)

    def unproject(self, east, north) -> tuple[np.ndarray, np.ndarray]:
        """Grid (east, north) metres -> degrees (lon, lat), vectorised."""
        lon, lat = self._inv.transform(np.asarray(east, dtype=float), np.asarray(north, dtype=float))
        return np.asarray(lon), np.asarray(lat)

    def to_metres(self, geom: shapely.Geometry) -> shapely.Geometry:
        """A lon/lat geometry in grid metres (densified first, see the module docstring)."""
        dense = shapely.segmentize(geom, DENSIFY_DEG) if geom.geom_type not in ("Point", "MultiPoint") else geom
        return shapely.transform(dense, lambda xy: np.column_stack(self.project(xy[:, 0], xy[:, 1])))

    def to_lonlat(self, geom_m: shapely.Geometry) -> shapely.Geometry:
        """A grid-metre geometry in lon/lat degrees (densified first)."""
        dense = shapely.segmentize(geom_m, DENSIFY_M) if geom_m.geom_type not in ("Point", "MultiPoint") else geom_m
        return shapely.transform(dense, lambda xy: np.column_stack(self.unproject(xy[:, 0], xy[:, 1])))

    def jacobian(self, east, north) -> np.ndarray:
        """(k, 2, 2) derivative of grid (east, north) with respect to true (east, north) metres at
        grid points: the local scale and meridian convergence (finite differences of 10 m)."""
        e, n = np.atleast_1d(np.asarray(east, dtype=float)), np.atleast_1d(np.asarray(north, dtype=float))
        lon, lat = self.unproject(e, n)
        step = np.full(e.size, _JACOBIAN_STEP_M)
        lon_e, lat_e, _ = WGS84.fwd(lon, lat, np.full(e.size, 90.0), step)
        lon_n, lat_n, _ = WGS84.fwd(lon, lat, np.zeros(e.size), step)
        e0, n0 = self.project(lon, lat)  # not e, n: the round trip's own rounding cancels
        ee, ne = self.project(lon_e, lat_e)
        en, nn = self.project(lon_n, lat_n)
        J = np.empty((e.size, 2, 2))
        J[:, 0, 0], J[:, 1, 0] = (ee - e0) / _JACOBIAN_STEP_M, (ne - n0) / _JACOBIAN_STEP_M
        J[:, 0, 1], J[:, 1, 1] = (en - e0) / _JACOBIAN_STEP_M, (nn - n0) / _JACOBIAN_STEP_M
        return J

    def grid_covariance(self, east, north, cov_enu) -> np.ndarray:
        """Covariances in true east/north m² ((k, 2, 2)) at grid points -> grid axes, J C J^T."""
        J = self.jacobian(east, north)
        G = J @ np.asarray(cov_enu, dtype=float) @ J.transpose(0, 2, 1)
        return 0.5 * (G + G.transpose(0, 2, 1))  # symmetric to rounding

    def scale(self, east) -> np.ndarray:
        """Point scale factor (grid metres per true metre) at grid easting ``east`` metres:
        1 + E²/2R² for a transverse Mercator with unit central scale (error < 1e-6 here)."""
        return 1.0 + np.asarray(east, dtype=float) ** 2 / (2.0 * _EARTH_RADIUS_M**2)


def _line(contact_line_lonlat) -> shapely.LineString:
    if isinstance(contact_line_lonlat, shapely.LineString):
        return contact_line_lonlat
    coords = np.asarray(contact_line_lonlat, dtype=float)
    if coords.ndim != 2 or coords.shape[1] != 2 or len(coords) < 2 or not np.isfinite(coords).all():
        raise ValueError("contact line must be at least two finite (lon, lat) pairs")
    return shapely.LineString(coords)


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygons of an overlay's result: where two areas only touch, GEOS adds the shared
    lines or points, which are no area and would make the zone invalid as a (Multi)Polygon."""
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def _frame_for(frame, *geoms) -> LocalFrame:
    return frame if frame is not None else LocalFrame.around(geoms)


def withdrawal_band(
    contact_line_lonlat: Sequence[tuple[float, float]] | shapely.LineString,
    side_area_lonlat: shapely.Polygon | shapely.MultiPolygon,
    km: float,
    frame: LocalFrame | None = None,
) -> shapely.Geometry:
    """The part of one side's area (lon/lat polygon) within ``km`` kilometres of the contact line
    (lon/lat vertices), in lon/lat degrees: the line is buffered in the frame's metres (round
    ends: "within km" of any point of the line) and the buffer is clipped by the side's area in
    lon/lat, so two sides' bands share the line exactly and never overlap. frame: None = one
    centred on the line and the area."""
    if not (isinstance(km, (int, float)) and math.isfinite(km) and km > 0):
        raise ValueError(f"band width must be a positive number of km, got {km!r}")
    line = _line(contact_line_lonlat)
    frame = _frame_for(frame, line, side_area_lonlat)
    buffer = frame.to_lonlat(shapely.buffer(frame.to_metres(line), km * 1000.0, quad_segs=16))
    return _polygonal(shapely.intersection(shapely.make_valid(buffer), side_area_lonlat))


def other_side_area(
    contact_line_lonlat: Sequence[tuple[float, float]] | shapely.LineString,
    side_a_area_lonlat: shapely.Polygon | shapely.MultiPolygon,
    margin_km: float,
    frame: LocalFrame | None = None,
) -> shapely.Geometry:
    """Side B's area in lon/lat: the contact line buffered by ``margin_km`` minus side A. Flat
    ends (square to the line's end segments in the frame), so that side B does not wrap round
    the ends of the line onto ground beyond side A's edge; where the buffer reaches past side
    A's far edge, that strip counts as side B too, so keep margin_km below side A's depth.
    frame: None = one centred on the line and side A."""
    if not (isinstance(margin_km, (int, float)) and math.isfinite(margin_km) and margin_km > 0):
        raise ValueError(f"margin must be a positive number of km, got {margin_km!r}")
    line = _line(contact_line_lonlat)
    frame = _frame_for(frame, line, side_a_area_lonlat)
    buffer = frame.to_lonlat(shapely.buffer(frame.to_metres(line), margin_km * 1000.0, cap_style="flat"))
    return _polygonal(shapely.difference(shapely.make_valid(buffer), side_a_area_lonlat))


def distance_m(frame: LocalFrame, geom_m: shapely.Geometry, east, north) -> np.ndarray | float:
    """True distance in metres from grid points (east, north, metres in ``frame``) to a geometry
    in the same frame's metres (0 inside a polygon), vectorised; a float for scalar input. The
    grid length of the shortest segment is divided by the projection's scale averaged along it
    (the point's own scale alone is wrong by ~1e-4 of the distance 200 km from the centre)."""
    e, n = np.broadcast_arrays(np.asarray(east, dtype=float), np.asarray(north, dtype=float))
    shortest = shapely.shortest_line(geom_m, shapely.points(e.ravel(), n.ravel()))
    ends = shapely.get_coordinates(shortest).reshape(-1, 2, 2)
    e1, e2 = ends[:, 0, 0], ends[:, 1, 0]
    # Mean of 1 + E²/2R² over E from e1 to e2 (linear along the segment).
    mean_scale = 1.0 + (e1 * e1 + e1 * e2 + e2 * e2) / (6.0 * _EARTH_RADIUS_M**2)
    d = (shapely.length(shortest) / mean_scale).reshape(e.shape)
    return float(d) if d.ndim == 0 else d


def covariance_ok(cov) -> np.ndarray:
    """Per (2, 2) matrix of a (k, 2, 2) array (m²): finite, symmetric and positive semi-definite
    to rounding."""
    cov = np.asarray(cov, dtype=float).reshape(-1, 2, 2)
    a, b, b2, c = cov[:, 0, 0], cov[:, 0, 1], cov[:, 1, 0], cov[:, 1, 1]
    with np.errstate(invalid="ignore"):
        tol = 1e-9 * (np.abs(a) + np.abs(c)) + 1e-12
        bad = (np.abs(b - b2) > tol) | (a < 0) | (c < 0) | (a * c - b * b < -tol * tol)
    return np.isfinite(cov).all(axis=(1, 2)) & ~bad


def _covariances(cov_enu, k: int) -> np.ndarray:
    """None / (2, 2) / (k, 2, 2) -> (k, 2, 2), checked by :func:`covariance_ok`."""
    if cov_enu is None:
        return np.zeros((k, 2, 2))
    cov = np.asarray(cov_enu, dtype=float)
    if cov.shape == (2, 2):
        cov = np.broadcast_to(cov, (k, 2, 2))
    elif cov.shape != (k, 2, 2):
        raise ValueError(f"cov_enu must have shape (2, 2) or ({k}, 2, 2), got {cov.shape}")
    bad = ~covariance_ok(cov)
    if bad.any():
        raise ValueError(f"covariance {int(np.flatnonzero(bad)[0])} is not a finite symmetric positive semi-definite matrix")
    return cov


def _normals(rng, n_samples: int) -> np.ndarray:
    """(REPLICATES, m, 2) standard normals from independently scrambled Sobol' sequences; m is
    n_samples / REPLICATES rounded down to a power of two (Sobol' nets balance there), >= 2."""
    m = 1 << (max(n_samples // REPLICATES, 2).bit_length() - 1)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    try:
        engines = [qmc.Sobol(2, scramble=True, rng=gen) for _ in range(REPLICATES)]
    except TypeError:  # scipy < 1.15 calls it seed
        engines = [qmc.Sobol(2, scramble=True, seed=gen) for _ in range(REPLICATES)]
    u = np.stack([eng.random(m) for eng in engines])
    return ndtri(np.clip(u, 1e-15, 1.0 - 1e-15))


def p_inside(
    frame: LocalFrame,
    prepared_polygon_m: shapely.Geometry,
    east,
    north,
    cov_enu,
    *,
    rng=0,
    n_samples: int = 2048,
    gate_sigmas: float = 5.0,
):
    """P(a point with Gaussian error lies inside a polygon), and the standard error of that.

    frame: the frame of the polygon and points. prepared_polygon_m: (Multi)Polygon in grid metres
    (prepared in place if not already). east, north: grid metres, scalars or arrays of one shape.
    cov_enu: error covariance in true east/north m², (2, 2) for all points or (k, 2, 2) for k
    points; None or zeros = exact points (p is 0 or 1). rng: seed (default 0) or numpy
    Generator; with a seed the result is deterministic, and a point's p does not depend on which
    other points share the call (the samples depend only on the seed). n_samples: samples per
    point (16 scrambled replicates x a power of two). gate_sigmas: a point farther than this many
    of its largest standard deviations from the boundary gets p exactly 0 or 1 (a 2-D Gaussian
    leaves that disc with probability exp(-k²/2): < 4e-6 at 5).

    Returns (p, se): floats for scalar input, else arrays of the input's shape. se = 0 for exact
    and gated points, else the spread of the replicate estimates / 4, at least 1 / (samples used).
    """
    if not (isinstance(n_samples, (int, np.integer)) and n_samples >= 2 * REPLICATES):
        raise ValueError(f"n_samples must be an integer >= {2 * REPLICATES}")
    if not gate_sigmas > 0:
        raise ValueError("gate_sigmas must be positive")
    e, n = np.broadcast_arrays(np.asarray(east, dtype=float), np.asarray(north, dtype=float))
    shape = e.shape
    e, n = e.ravel(), n.ravel()
    if not (np.isfinite(e) & np.isfinite(n)).all():
        raise ValueError("positions must be finite grid metres")
    cov = _covariances(cov_enu, e.size)
    shapely.prepare(prepared_polygon_m)
    p = shapely.contains_xy(prepared_polygon_m, e, n).astype(float)
    se = np.zeros(e.size)
    if e.size and not prepared_polygon_m.is_empty:
        G = frame.grid_covariance(e, n, cov)
        a, b, c = G[:, 0, 0], G[:, 0, 1], G[:, 1, 1]
        sigma_max = np.sqrt(np.maximum(0.5 * (a + c) + np.sqrt(0.25 * (a - c) ** 2 + b * b), 0.0))
        spread = np.flatnonzero(sigma_max > 0)
        gap = shapely.distance(prepared_polygon_m.boundary, shapely.points(e[spread], n[spread]))
        near = spread[gap <= gate_sigmas * sigma_max[spread]]
        if near.size:
            z = _normals(rng, n_samples)
            S = _sqrtm_2x2(G[near])
            rep = np.empty((near.size, REPLICATES))
            for start in range(0, near.size, _POINTS_PER_CHUNK):
                k = slice(start, start + _POINTS_PER_CHUNK)
                rep[k] = _inside_counts(prepared_polygon_m, e[near][k], n[near][k], S[k], z).mean(axis=-1)
            p[near] = rep.mean(axis=1)
            se[near] = np.maximum(rep.std(axis=1, ddof=1) / math.sqrt(REPLICATES), 1.0 / (REPLICATES * z.shape[1]))
    if shape == ():
        return float(p[0]), float(se[0])
    return p.reshape(shape), se.reshape(shape)
