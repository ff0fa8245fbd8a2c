"""From observations to incident drafts: correlate, associate, reconcile, locate, score, attribute.

Pure: the monitoring service reads rows into an `ObservationTable`, calls `assemble`, and
writes the drafts. Units: degrees (WGS 84), metres, seconds since the epoch (UTC).

Steps
1. Observations that can be placed by themselves (an estimated point, or a bearing with a range
   band) and whose time is known to within a few windows are correlated with spatio-temporal
   DBSCAN per event family (`params.FAMILIES`).
   1b. Placed reports left outside every cluster (DBSCAN noise; reports whose time is known only
   coarsely, like an open source's hour) join the cluster that fits them given both position
   uncertainties and their time interval (`associate_points`); the rest cluster among
   themselves or stand alone (one credible report is still a reported event).
2. Bearing-only reports without range join the incident they point at (`associate_bearings`,
   gated on the bearing's σ combined with the incident's own position uncertainty); those left
   over that cross each other are triangulated into new incidents (`triangulate`); the rest
   stand alone without a fix.
3. `correlate.reconcile` keeps incident identities stable against the previous assignment.
4. Each incident is located from its distinct measurements (a relay repeating its origin's
   bearing or point counts once): bearings (and bands) by `locate.fix_from_bearings`, refusing a
   solution collapsed onto an observer, points by inverse-covariance fusion, both combined by
   `locate.fuse_points` when both exist; otherwise an explicit "no fix" and the mean indicative
   point for the map.
5. Confidence by `confidence.score` with one term per relay chain, from a prior that is the base
   rate of real incidents estimated from the incidents themselves (`estimate_prior`) unless the
   caller gives one.
6. Attribution by `attribute.p_side_a` on the located point with its covariance plus the line's
   drawing error; an impact takes its origin from the outgoing-fire incidents that fit it in time
   (± ORIGIN_PAIR_S) and range (≤ ORIGIN_PAIR_M), when there are any (the nearest in time is
   recorded as its origin; P(origin on side A) is their average, see `_pair_impacts_with_origins`).
Markings: an incident carries the most restrictive markings of its members.
Accuracy against the demo world's ground truth: `resolute bench fusion` (bench/fusion.md).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from resolute.core.geo import sector_bearing
from resolute.core.grading import yardstick
from resolute.core.markings import ALL, Classification, Marking
from resolute.core.markings import combine as combine_markings

from . import attribute, confidence, locate
from .associate import associate_bearings, associate_points, triangulate
from .correlate import Params, correlate, reconcile
from .params import FAMILY_NAMES, GROUP_OF

# Where the located point is the origin of fire, and where it is the impact. A ground assault
# is seen where the fighting is, at the positions attacked: its located point is the impact end
# (as an origin it named the defender as the attacker).
ORIGIN_FAMILIES = {"shelling_outgoing", "small_arms", "flare", "weapons", "mine_laying"}
IMPACT_FAMILIES = {"shelling_impact", "strike", "ground_assault"}
ORIGIN_PAIR_S = 180.0
ORIGIN_PAIR_M = 40_000.0
MIN_POINT_SIGMA_M = 10.0
# Least σ (metres) of an incident's candidate point for bearing association.
CANDIDATE_SIGMA_FLOOR_M = 100.0
# A placed report is "coarse in time" when its interval is longer than this many windows.
COARSE_WINDOWS = 2.0
# A bearing fix this close to one of its own observers is a degenerate solution (see _fix_bearings).
ON_OBSERVER_M = 25.0
# Weight, in incidents, of the even prior when the base rate of real incidents is estimated.
PRIOR_STRENGTH = 20.0
# Time tolerance of bearing association, in windows: the bearing gate already tests the place,
# so the time test only has to absorb clock errors (a monitor's or camera's clock minutes off),
# which at one window left such bearings alone although they pointed at their incident.
BEARING_WINDOWS = 2.0


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
                c["lat"], c["lon"], c["t"], c["group"], window[c["group"]] * BEARING_WINDOWS, inc_sigma_m=c["sigma"],
            )  # fmt: skip
            joined = np.where(joined >= 0, c["label"][joined], -1)
        else:
            joined = np.full(loose.size, -1)
        labels[loose] = joined
        alone = loose[joined < 0]
        # 3. Bearings still alone that cross each other are triangulated into new incidents.
        if alone.size >= 2:
            brg, sig = _bearings(table, alone)
            tri = triangulate(
                table.observer_lat[alone], table.observer_lon[alone], brg, sig, t[alone], group[alone],
                window[group[alone]], np.array([params[g].radius_m for g in group[alone]]),
            )  # fmt: skip
            found = tri >= 0
            labels[alone[found]] = next_label + tri[found]
            next_label += int(tri.max()) + 1 if found.any() else 0
            alone = alone[~found]
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


def _distinct_measurements(table: ObservationTable, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows that carry distinct measurements (sorted), and for each of `rows` the index of
    its measurement among them.

    A relay (a national summary of a patrol's report, a wire story citing the mission) repeats
    its origin's bearing, range band or point word for word. Counted again it is no new
    measurement: the fix would shrink its ellipse by √(copies) around the same error, and copies
    of one bearing from one spot look like a crossing at zero angle. Confidence already counts a
    chain once; location keeps one row per (chain, measurement)."""
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size <= 1:
        return rows, np.zeros(rows.size, dtype=np.int64)
    words = np.array([f"{table.chain_key[r]}\x1f{table.compass_sector[r] or ''}" for r in rows])
    _, code = np.unique(words, return_inverse=True)
    nums = np.column_stack([
        code.astype(float), table.observer_lat[rows], table.observer_lon[rows], table.bearing_deg[rows], table.range_min_m[rows],
        table.range_max_m[rows], table.event_lat[rows], table.event_lon[rows], table.event_error_m[rows],
    ])  # fmt: skip
    # NaN (an absent number) must compare equal to NaN here.
    nums = np.where(np.isnan(nums), -np.inf, nums)
    _, first, inverse = np.unique(nums, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)  # keep the input order of the first copies
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rows[first[order]], rank[inverse.ravel()]


def _fix_bearings(table: ObservationTable, b: np.ndarray) -> tuple[locate.Fix, np.ndarray]:
    """locate.fix_from_bearings on rows `b`, refusing a solution on top of one of the observers;
    returns the fix and the rows it used (its `outliers` index these).

    At an observer's own position that observer's bearing residual is undefined and its
    information (1/r²) unbounded, so the likelihood has a spurious peak there: the solver can
    settle on the observer with an ellipse of a metre or two (seen with a wrongly associated
    acoustic bearing). A bearing taken within a few tens of metres of its source is no bearing
    anyway: such observers are dropped and the rest refitted (at most twice)."""
    fb = locate.Fix(ok=False, reason="no bearings")
    for _ in range(3):
        brg, sig = _bearings(table, b)
        fb = locate.fix_from_bearings(
            table.observer_lat[b], table.observer_lon[b], brg, sig, table.range_min_m[b], table.range_max_m[b], table.observer_accuracy_m[b]
        )
        if not fb.ok:
            return fb, b
        plane = locate.LocalPlane(fb.lat, fb.lon)
        e, n = plane.to_enu(table.observer_lat[b], table.observer_lon[b])
        on = np.hypot(e, n) <= ON_OBSERVER_M
        if not on.any():
            return fb, b
        if on.all():
            break
        b = b[~on]
    return locate.Fix(ok=False, reason="the fit collapsed onto an observer's position", method=fb.method), b


def _locate(table: ObservationTable, rows: np.ndarray) -> tuple[locate.Fix, list[int]]:
    all_rows = rows
    rows, measurement = _distinct_measurements(table, rows)
    has_dir = ~np.isnan(table.bearing_deg[rows]) | np.array([bool(table.compass_sector[r]) for r in rows])
    has_pt = ~np.isnan(table.event_lat[rows])
    fixes, outliers = [], []
    notes = []
    if has_dir.any():
        fb, b = _fix_bearings(table, rows[has_dir])
        if fb.ok:
            fixes.append(fb)
            # An outlier's relays are outliers too.
            bad = np.isin(rows[measurement], b[list(fb.outliers)])
            outliers = sorted(int(i) for i in table.id[all_rows[bad]])
        else:
            notes.append(f"bearings: {fb.reason}")
    if has_pt.any():
        fp = _fuse_points(table, rows[has_pt])
        if fp.ok:
            fixes.append(fp)
        else:
            notes.append(f"points: {fp.reason}")
    fixes = [locate.inflate_for_scatter(f) for f in fixes]
    if len(fixes) == 2:
        both = locate.fuse_points([f.lat for f in fixes], [f.lon for f in fixes], cov_enu=[np.asarray(f.cov_enu) for f in fixes])
        return (both if both.ok else fixes[0]), outliers
    if fixes:
        return fixes[0], outliers
    return locate.Fix(ok=False, reason="; ".join(notes) or "nothing to locate from"), outliers


def _fuse_points(table: ObservationTable, p: np.ndarray) -> locate.Fix:
    """locate.fuse_points on rows `p`, with reports of the very same point and σ (from different
    chains: independent) merged first into one of σ/√k. The estimate and covariance are the same;
    it keeps the cost bounded by the distinct points (a flood of identical reports)."""
    sig = np.maximum(table.event_error_m[p], MIN_POINT_SIGMA_M)
    pts, k = np.unique(np.column_stack([table.event_lat[p], table.event_lon[p], sig]), axis=0, return_counts=True)
    return locate.fuse_points(pts[:, 0], pts[:, 1], sigma_m=pts[:, 2] / np.sqrt(k))


def _markings(table: ObservationTable, rows: np.ndarray) -> tuple[int, str, tuple[str, ...], str]:
    m = combine_markings(
        Marking(Classification(int(table.classification[r])), table.tlp[r], tuple(table.releasable_to[r]) or (ALL,), table.originator[r])
        for r in rows
    )
    return int(m.classification), m.tlp, m.releasable_to, m.originator


def assemble(
    table: ObservationTable,
    params: dict[int, Params],
    source_models: dict[str, confidence.SourceModel],
    line: attribute.PreparedLine | None = None,
    side_names: tuple[str, str] = ("A", "B"),
    prior: float | None = None,
    progress=None,
    timings: dict[str, float] | None = None,
) -> FusionResult:
    """Fuse the table into incident drafts (see the module docstring). `prior`: P(real) before
    the reports; None estimates it from the incidents themselves (`estimate_prior`). `timings`,
    when given, accumulates wall seconds per stage (correlate, associate, locate, score,
    attribute)."""
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
        conf = confidence.score([(table.source[r], table.chain_key[r]) for r in rows], source_models, prior=prior or 0.5)
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
    if prior is None and drafts:
        clock = time.perf_counter()
        base = estimate_prior([d.confidence.log_odds for d in drafts])  # scored at prior 0.5: log-odds = evidence
        # confidence.score adds the chains' terms to logit(prior); the terms do not depend on the
        # prior, so moving the prior moves every log-odds by the same amount.
        for d in drafts:
            lo = d.confidence.log_odds + _logit(base)
            p = 1.0 / (1.0 + math.exp(-lo)) if lo >= 0 else math.exp(lo) / (1.0 + math.exp(lo))
            d.confidence = dataclasses.replace(d.confidence, probability=p, log_odds=lo, word=yardstick(p), prior=base)
        _tick(timings, "score", clock)
    if line is not None:
        clock = time.perf_counter()
        _attribute(drafts, line, side_names)
        _tick(timings, "attribute", clock)
    return FusionResult(drafts=drafts, reconciliation=rec, incident_of_row=rec.incident)


def _logit(p: float) -> float:
    return math.log(p) - math.log1p(-p)


def estimate_prior(evidence, strength: float = PRIOR_STRENGTH, start: float = 0.5) -> float:
    """P(real) of an incident before its reports, estimated from the incidents themselves.

    `evidence` is each incident's summed log-likelihood ratio (the log-odds its reports add).
    Treating the incidents as a mixture of real ones and false ones whose report likelihoods
    differ by those ratios, the base rate π is the mixture weight; EM gives it as the fixed point
    π = mean posterior(π) (Dempster, Laird & Rubin 1977). A Beta prior worth `strength` incidents
    centred on `start` keeps it away from 0 and 1 (with only supporting reports the maximum
    likelihood is π = 1) and near 0.5 for a handful of incidents.

    Why: P(real) = 0.5 says "a raised incident is as likely false as real". Where most raised
    incidents are real (the demo world: 99 %) every posterior was far too low (a lone mission
    report p = 0.93 where 99 % of them are real; calibration error 0.06); where most are false it
    would be too high. The base rate is a property of the deployment, so it is estimated, not set."""
    s = np.asarray(list(evidence), dtype=float)
    if s.size == 0:
        return start
    pi = start
    for _ in range(500):
        z = np.clip(_logit(pi) + s, -700.0, 700.0)
        post = 1.0 / (1.0 + np.exp(-z))
        new = (float(post.sum()) + strength * start) / (s.size + strength)
        new = min(max(new, 1e-3), 1.0 - 1e-3)
        if abs(new - pi) < 1e-7:
            return new
        pi = new
    return pi


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
    window and range (both located); P(origin on side A) averages every one that fits."""
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
        # In a duel both sides fire within minutes: when several outgoing incidents fit, the pairing
        # is a guess, so P(origin on side A) is their average rather than the nearest one's.
        # Fitting candidates that agree change nothing; disagreeing ones leave the side
        # indeterminate instead of confidently wrong.
        fits = [drafts[outs[order[lo + i]]].p_origin_a for i in np.flatnonzero(ok)]
        d.p_origin_a = float(np.mean(fits))
