"""From observations to incident drafts: correlate, associate, reconcile, locate, score, attribute.

Pure: the monitoring service reads rows into an `ObservationTable`, calls `assemble`, and
writes the drafts. Units: degrees (WGS 84), metres, seconds since the epoch (UTC).

Steps
1. Observations that can be placed by themselves (an estimated point, or a bearing with a range
   band) are correlated with spatio-temporal DBSCAN per event family (`params.FAMILIES`); DBSCAN
   noise becomes single-observation incidents (one credible report is still a reported event).
2. Bearing-only reports without range join the incident they point at (`associate`), or stand
   alone without a fix.
3. `correlate.reconcile` keeps incident identities stable against the previous assignment.
4. Each incident is located: bearings (and bands) by `locate.fix_from_bearings`, points by
   inverse-covariance fusion, both combined by `locate.fuse_points` when both exist; otherwise an
   explicit "no fix" and the mean indicative point for the map.
5. Confidence by `confidence.score` with one term per relay chain.
6. Attribution by `attribute.p_side_a` on the located point with its covariance plus the line's
   drawing error; an impact takes its origin from the outgoing-fire incident that fits it in time
   (± ORIGIN_PAIR_S) and range (≤ ORIGIN_PAIR_M), when there is one.
Markings: an incident carries the most restrictive markings of its members.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from resolute.core.geo import sector_bearing
from resolute.core.markings import ALL, TLP_LEVELS

from . import attribute, confidence, locate
from .associate import associate_bearings, associate_points
from .correlate import Params, correlate, reconcile
from .params import FAMILY_NAMES, GROUP_OF

# Where the located point is the origin of fire, and where it is the impact.
ORIGIN_FAMILIES = {"shelling_outgoing", "small_arms", "flare", "ground_assault", "weapons", "mine_laying"}
IMPACT_FAMILIES = {"shelling_impact", "strike"}
ORIGIN_PAIR_S = 180.0
ORIGIN_PAIR_M = 40_000.0
MIN_POINT_SIGMA_M = 10.0
# Least σ (metres) of an incident's candidate point for bearing association.
CANDIDATE_SIGMA_FLOOR_M = 100.0
# A placed report is "coarse in time" when its interval is longer than this many windows.
COARSE_WINDOWS = 2.0


@dataclass
class ObservationTable:
    """Column arrays, one entry per observation. NaN marks an absent number."""

    id: np.ndarray
    lat: np.ndarray  # indicative point
    lon: np.ndarray
    t0: np.ndarray
    t1: np.ndarray
    event_type: list[str]
    observer_lat: np.ndarray
    observer_lon: np.ndarray
    observer_accuracy_m: np.ndarray
    event_lat: np.ndarray
    event_lon: np.ndarray
    event_error_m: np.ndarray
    bearing_deg: np.ndarray
    bearing_sigma_deg: np.ndarray
    compass_sector: list[str | None]
    range_min_m: np.ndarray
    range_max_m: np.ndarray
    count: np.ndarray
    source: list[str]
    chain_key: list[str]
    classification: np.ndarray
    tlp: list[str]
    releasable_to: list[tuple[str, ...]]
    originator: list[str]
    previous_incident: np.ndarray  # existing incident id, or -1

    def __len__(self) -> int:
        return int(self.id.size)


@dataclass
class IncidentDraft:
    incident_id: int  # existing id, or a placeholder <= -2 for a new incident
    members: np.ndarray  # row indices into the table
    family: str
    event_type: str
    t0: float
    t1: float
    count: int
    fix: locate.Fix
    lat: float  # the fix, or the mean indicative point when there is none
    lon: float
    confidence: confidence.Confidence
    classification: int
    tlp: str
    releasable_to: tuple[str, ...]
    originator: str
    outlier_ids: list[int] = field(default_factory=list)
    p_origin_a: float | None = None
    p_impact_a: float | None = None
    attribution: attribute.Attribution | None = None
    origin_draft: int | None = None  # index of the paired outgoing-fire draft


@dataclass
class FusionResult:
    drafts: list[IncidentDraft]
    reconciliation: object
    incident_of_row: np.ndarray


def _labels(table: ObservationTable, params: dict[int, Params], timings: dict[str, float] | None = None) -> np.ndarray:
    """Incident label per row (see the module docstring, steps 1 and 2)."""
    n = len(table)
    clock = time.perf_counter()
    group = np.array([GROUP_OF[e] for e in table.event_type], dtype=np.int64)
    t = 0.5 * (table.t0 + table.t1)
    window = np.array([params[g].window_s for g in range(len(FAMILY_NAMES))])
    placeable = ~np.isnan(table.event_lat) | ~np.isnan(table.range_max_m)
    # A report whose time is known only to within much more than the window (an hour, a quarter
    # of an hour) has a mid-time that says little: clustered on it, it either misses its event or
    # chains unrelated ones. It is associated by interval overlap instead (step 1b).
    coarse = placeable & ((table.t1 - table.t0) > COARSE_WINDOWS * window[group])
    labels = np.full(n, -1, dtype=np.int64)
    next_label = 0
    precise = np.flatnonzero(placeable & ~coarse)
    if precise.size:
        res = correlate(table.lat[precise], table.lon[precise], t[precise], group[precise], params)
        labels[precise] = res.labels
        next_label = res.n_clusters
    _tick(timings, "correlate", clock)
    clock = time.perf_counter()
    sigma = np.full(n, np.nan)
    sigma[placeable] = _placement_sigma(table, np.flatnonzero(placeable))
    # 1b. Placed reports outside every cluster (DBSCAN noise, coarse times) join the cluster that
    # fits them given both uncertainties; the rest cluster among themselves or stand alone.
    pending = np.flatnonzero(placeable & (labels < 0))
    if pending.size and next_label:
        c = _candidates(table, labels, next_label, t, group, sigma)
        joined = associate_points(
            table.lat[pending], table.lon[pending], sigma[pending], table.t0[pending], table.t1[pending], group[pending],
            c["lat"], c["lon"], c["sigma"], c["t0"], c["t1"], c["group"], window[c["group"]],
        )  # fmt: skip
        labels[pending] = np.where(joined >= 0, c["label"][joined], -1)
        pending = pending[joined < 0]
    if pending.size:
        res = correlate(table.lat[pending], table.lon[pending], t[pending], group[pending], params)
        labels[pending] = np.where(res.labels >= 0, res.labels + next_label, -1)
        next_label += res.n_clusters
        noise = pending[res.labels < 0]
        labels[noise] = np.arange(next_label, next_label + noise.size)
        next_label += noise.size
    # 2. Bearings without range join the incident they point at.
    loose = np.flatnonzero(~placeable)
    if loose.size:
        if next_label:
            c = _candidates(table, labels, next_label, t, group, sigma)
            brg, sig = _bearings(table, loose)
            joined = associate_bearings(
                table.observer_lat[loose], table.observer_lon[loose], brg, sig, t[loose], group[loose],
                c["lat"], c["lon"], c["t"], c["group"], window[c["group"]], inc_sigma_m=c["sigma"],
            )  # fmt: skip
            joined = np.where(joined >= 0, c["label"][joined], -1)
        else:
            joined = np.full(loose.size, -1)
        labels[loose] = joined
        alone = loose[joined < 0]
        labels[alone] = np.arange(next_label, next_label + alone.size)
    _tick(timings, "associate", clock)
    return labels


def _candidates(table, labels, k, t, group, sigma) -> dict[str, np.ndarray]:
    """One candidate point per label 0..k-1 from its placed members: their indicative points
    weighted by precision (a radar fix counts more than a sector and a range band), the σ of that
    mean (floored: members of one cluster need not describe one point), the members' mean, least
    and greatest mid-time, and the group."""
    rows = np.flatnonzero((labels >= 0) & np.isfinite(sigma))
    cl = labels[rows]
    wgt = 1.0 / sigma[rows] ** 2
    wsum = np.bincount(cl, wgt, minlength=k)
    has = wsum > 0
    safe = np.where(has, wsum, 1.0)
    t0 = np.full(k, np.inf)
    t1 = np.full(k, -np.inf)
    np.minimum.at(t0, cl, t[rows])
    np.maximum.at(t1, cl, t[rows])
    g = np.zeros(k, dtype=np.int64)
    g[cl] = group[rows]
    cnt = np.bincount(cl, minlength=k).astype(float)
    return {
        "lat": np.where(has, np.bincount(cl, wgt * table.lat[rows], minlength=k) / safe, np.nan)[has],
        "lon": np.where(has, np.bincount(cl, wgt * table.lon[rows], minlength=k) / safe, np.nan)[has],
        "sigma": np.maximum(1.0 / np.sqrt(safe), CANDIDATE_SIGMA_FLOOR_M)[has],
        "t": (np.bincount(cl, t[rows], minlength=k) / np.where(cnt > 0, cnt, 1.0))[has],
        "t0": t0[has],
        "t1": t1[has],
        "group": g[has],
        "label": np.flatnonzero(has),
    }


def _tick(timings: dict[str, float] | None, stage: str, since: float) -> None:
    """Add the seconds since `since` to `timings[stage]` (benchmarks pass a dict; None skips)."""
    if timings is not None:
        timings[stage] = timings.get(stage, 0.0) + (time.perf_counter() - since)


def _placement_sigma(table: ObservationTable, rows: np.ndarray) -> np.ndarray:
    """σ per axis (metres) of each placeable row's indicative point: the reported error of an
    event point; for a bearing with a range band, the band as a uniform interval along the line of
    sight (width/√12) and the bearing σ across it, averaged over the two axes."""
    out = np.maximum(np.nan_to_num(table.event_error_m[rows], nan=np.inf), MIN_POINT_SIGMA_M)
    band = np.isnan(table.event_lat[rows])
    if band.any():
        b = rows[band]
        _, sig = _bearings(table, b)
        lo = np.nan_to_num(table.range_min_m[b])
        hi = table.range_max_m[b]
        radial = (hi - lo) / math.sqrt(12.0)
        lateral = 0.5 * (lo + hi) * np.radians(sig)
        out[band] = np.maximum(np.sqrt(0.5 * (radial**2 + lateral**2)), MIN_POINT_SIGMA_M)
    return out


def _bearings(table: ObservationTable, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True bearing (degrees) and σ (degrees) of the given rows; NaN where none."""
    brg = table.bearing_deg[rows].copy()
    sig = np.empty(rows.size)
    for j, r in enumerate(rows):
        sector = table.compass_sector[r]
        if math.isnan(brg[j]) and sector:
            brg[j] = sector_bearing(sector)[0]
        s = table.bearing_sigma_deg[r]
        sig[j] = locate.sigma_for(None if math.isnan(s) else s, sector or None)
    return brg, sig


def _locate(table: ObservationTable, rows: np.ndarray) -> tuple[locate.Fix, list[int]]:
    has_dir = ~np.isnan(table.bearing_deg[rows]) | np.array([bool(table.compass_sector[r]) for r in rows])
    has_pt = ~np.isnan(table.event_lat[rows])
    fixes, outliers = [], []
    notes = []
    if has_dir.any():
        b = rows[has_dir]
        brg, sig = _bearings(table, b)
        fb = locate.fix_from_bearings(
            table.observer_lat[b], table.observer_lon[b], brg, sig, table.range_min_m[b], table.range_max_m[b], table.observer_accuracy_m[b]
        )
        if fb.ok:
            fixes.append(fb)
            outliers = [int(table.id[b[i]]) for i in fb.outliers]
        else:
            notes.append(f"bearings: {fb.reason}")
    if has_pt.any():
        p = rows[has_pt]
        fp = locate.fuse_points(table.event_lat[p], table.event_lon[p], sigma_m=np.maximum(table.event_error_m[p], MIN_POINT_SIGMA_M))
        if fp.ok:
            fixes.append(fp)
        else:
            notes.append(f"points: {fp.reason}")
    if len(fixes) == 2:
        both = locate.fuse_points([f.lat for f in fixes], [f.lon for f in fixes], cov_enu=[np.asarray(f.cov_enu) for f in fixes])
        return (both if both.ok else fixes[0]), outliers
    if fixes:
        return fixes[0], outliers
    return locate.Fix(ok=False, reason="; ".join(notes) or "nothing to locate from"), outliers


def _markings(table: ObservationTable, rows: np.ndarray) -> tuple[int, str, tuple[str, ...], str]:
    cls = int(table.classification[rows].max())
    tlp = max((table.tlp[r] for r in rows), key=TLP_LEVELS.index)
    rel: set[str] | None = None
    for r in rows:
        codes = set(table.releasable_to[r])
        if ALL not in codes:
            rel = codes if rel is None else rel & codes
    origins = {table.originator[r] for r in rows}
    # The most restrictive member decides the originator when members disagree: it is the one
    # whose TLP:RED or originator-only terms must keep holding.
    strict = max(rows, key=lambda r: (int(table.classification[r]), TLP_LEVELS.index(table.tlp[r])))
    originator = origins.pop() if len(origins) == 1 else table.originator[strict]
    if rel is None:
        releasable = (ALL,)
    elif rel:
        releasable = tuple(sorted(rel))
    else:
        releasable = (originator,) if originator else (table.originator[strict] or "ZZZ",)
    return cls, tlp, releasable, originator


def assemble(
    table: ObservationTable,
    params: dict[int, Params],
    source_models: dict[str, confidence.SourceModel],
    line: attribute.PreparedLine | None = None,
    side_names: tuple[str, str] = ("A", "B"),
    prior: float = 0.5,
    progress=None,
    timings: dict[str, float] | None = None,
) -> FusionResult:
    """Fuse the table into incident drafts (see the module docstring). `timings`, when given,
    accumulates wall seconds per stage (correlate, associate, locate, score, attribute)."""
    n = len(table)
    labels = _labels(table, params, timings) if n else np.zeros(0, dtype=np.int64)
    rec = reconcile(table.previous_incident, labels)
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    groups = np.split(order, bounds) if n else []
    drafts: list[IncidentDraft] = []
    for k, rows in enumerate(groups):
        fam = FAMILY_NAMES[GROUP_OF[table.event_type[rows[0]]]]
        clock = time.perf_counter()
        fix, outliers = _locate(table, rows)
        _tick(timings, "locate", clock)
        lat, lon = (fix.lat, fix.lon) if fix.ok else (float(np.mean(table.lat[rows])), float(np.mean(table.lon[rows])))
        clock = time.perf_counter()
        conf = confidence.score([(table.source[r], table.chain_key[r]) for r in rows], source_models, prior=prior)
        _tick(timings, "score", clock)
        cls, tlp, rel, orig = _markings(table, rows)
        drafts.append(
            IncidentDraft(
                incident_id=int(rec.incident[rows[0]]), members=rows, family=fam,
                event_type=Counter(table.event_type[r] for r in rows).most_common(1)[0][0],
                t0=float(table.t0[rows].min()), t1=float(table.t1[rows].max()), count=int(table.count[rows].max()),
                fix=fix, lat=lat, lon=lon, confidence=conf, classification=cls, tlp=tlp, releasable_to=rel,
                originator=orig, outlier_ids=outliers,
            )
        )  # fmt: skip
        if progress and k % 200 == 0:
            progress(k)
    if line is not None:
        clock = time.perf_counter()
        _attribute(drafts, line, side_names)
        _tick(timings, "attribute", clock)
    return FusionResult(drafts=drafts, reconciliation=rec, incident_of_row=rec.incident)


def _attribute(drafts: list[IncidentDraft], line: attribute.PreparedLine, names: tuple[str, str]) -> None:
    located = [d for d in drafts if d.fix.ok]
    if located:
        e, nn = line.project(np.array([d.lon for d in located]), np.array([d.lat for d in located]))
        cov = np.array([np.asarray(d.fix.cov_enu, dtype=float) for d in located])
        p, _se = attribute.p_side_a(line, e, nn, cov, invalid="nan")
        for d, pk in zip(located, np.atleast_1d(p)):
            if not np.isfinite(pk):
                continue
            if d.family in ORIGIN_FAMILIES:
                d.p_origin_a = float(pk)
            elif d.family in IMPACT_FAMILIES:
                d.p_impact_a = float(pk)
    _pair_impacts_with_origins(drafts)
    for d in drafts:
        if d.p_origin_a is not None or d.p_impact_a is not None:
            d.attribution = attribute.classify(d.p_origin_a, d.p_impact_a, names=names)


def _pair_impacts_with_origins(drafts: list[IncidentDraft]) -> None:
    """An impact's origin is the outgoing-fire incident closest in time within the pairing
    window and range (both located)."""
    outs = [i for i, d in enumerate(drafts) if d.family == "shelling_outgoing" and d.fix.ok and d.p_origin_a is not None]
    if not outs:
        return
    t_out = np.array([0.5 * (drafts[i].t0 + drafts[i].t1) for i in outs])
    order = np.argsort(t_out)
    t_sorted = t_out[order]
    lat_o = np.radians([drafts[outs[i]].lat for i in order])
    lon_o = np.radians([drafts[outs[i]].lon for i in order])
    for d in drafts:
        if d.family != "shelling_impact" or not d.fix.ok:
            continue
        t = 0.5 * (d.t0 + d.t1)
        lo, hi = np.searchsorted(t_sorted, [t - ORIGIN_PAIR_S, t + ORIGIN_PAIR_S])
        if lo >= hi:
            continue
        la, lo_ = math.radians(d.lat), math.radians(d.lon)
        dist = 6_371_008.8 * np.hypot((lon_o[lo:hi] - lo_) * math.cos(la), lat_o[lo:hi] - la)
        ok = dist <= ORIGIN_PAIR_M
        if not ok.any():
            continue
        dt = np.where(ok, np.abs(t_sorted[lo:hi] - t), np.inf)
        j = outs[order[lo + int(np.argmin(dt))]]
        d.origin_draft = j
        d.p_origin_a = drafts[j].p_origin_a
