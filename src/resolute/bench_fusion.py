"""`resolute bench fusion`: accuracy and speed of the fusion pipeline against the demo world's
ground truth, printed, never asserted.

The pure pipeline (`core.fusion.pipeline.assemble`) runs on an `ObservationTable` built directly
from the scenario's intake payloads (no database), with the source models seeded from the
scenario's source grades and the demo contact line (side A = RUS, drawing σ 250 m), as
`resolute demo` loads them. Ground truth: every payload carries `truth_id` (None for a false
report); `scenario.truth` gives each true event's position, origin and sides.

Figures
* Clustering: pairwise precision and recall (pairs of observations in one incident against pairs
  with one truth_id; false reports form no true pair), also with true pairs restricted to one
  correlation family: the pipeline correlates each family apart by design (an outgoing shot and
  its impacts are different true events anyway; a true event reported under two families, e.g.
  an outgoing shot heard as "undetermined explosion", cannot form one incident).
* Location, per geometry class (bearings in the incident: 1 + range band, 2, 3, 4–6, ≥ 7;
  points only; bearings and points): RMSE, √tr(CRLB) and their ratio, median and p90 error, 95 %
  ellipse coverage (Mahalanobis² ≤ 5.991 with the fix covariance) and the no-fix rate.
* Confidence: calibration error (ECE, 10 bins; real = a member comes from a true event) and the
  share of "> 0.95" incidents that are real.
* Attribution: origin and impact side against the truth among determinate calls, and the
  indeterminate share.
* Throughput of each stage, and correlation of 1,000,000 synthetic points.

What "the true position" is: the scenario generates every observation of an event around the
truth's lat/lon (for an origin family's true event - outgoing fire, small arms, flares, weapons,
mines - origin_lat/lon is the same point; for impacts, strikes and ground assaults lat/lon is
where the effect lands and the origin is never observed), except national-intelligence air-strike
reports, which locate the aircraft's release point (origin_lat/lon). The target of an incident is
the point its members describe: the dominant (truth, described point) among them.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from resolute.core.fusion import attribute, confidence, locate
from resolute.core.fusion import params as fparams
from resolute.core.fusion.correlate import NO_INCIDENT, Params, correlate
from resolute.core.fusion.pipeline import ObservationTable, assemble
from resolute.core.geo import forward, sector_bearing
from resolute.core.markings import Classification, decode_releasability, encode_releasability

DEFAULT_SEEDS = (7, 11, 23, 42)
LARGE_SEEDS = tuple(range(101, 111))  # ten demo weeks back to back: 10x the demo
SIDE_NAMES = ("RUS", "UKR")  # the demo's contact line: side A = RUS (demo.services)
LINE_SIGMA_M = 250.0
CHI2_95 = locate.CHI2_2_95
CLASSES = ("1 + band", "2", "3", "4-6", ">=7", "points only", "bearings + points")


# ---------------------------------------------------------------------------------- input


def _epoch(text: str) -> float:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc).timestamp()


def table_from_payloads(payloads: list[dict], first_id: int = 1) -> ObservationTable:
    """ObservationTable of intake payload dicts (the API's ObservationIn shape), as
    monitoring.fusion._table reads them from the database. The indicative point is computed as
    monitoring.services._rows stores it: the event point when given; else the observer's bearing
    (or sector centre) carried to the middle of the range band; else the observer's position."""
    n = len(payloads)
    lat = np.empty(n)
    lon = np.empty(n)

    def num(v):
        return np.nan if v is None else float(v)

    olat = np.array([p["observer"]["lat"] for p in payloads], dtype=float)
    olon = np.array([p["observer"]["lon"] for p in payloads], dtype=float)
    loc = [p.get("location") for p in payloads]
    dirs = [p.get("direction") or {} for p in payloads]
    brg = np.array([num(d.get("bearing_deg")) for d in dirs])
    sig = np.array([num(d.get("bearing_sigma_deg")) for d in dirs])
    sector = [d.get("compass_sector") for d in dirs]
    rmin = np.array([num(d.get("range_min_m")) for d in dirs])
    rmax = np.array([num(d.get("range_max_m")) for d in dirs])
    ev_lat = np.array([num(x["lat"]) if x else np.nan for x in loc])
    ev_lon = np.array([num(x["lon"]) if x else np.nan for x in loc])
    ev_err = np.array([num(x["error_m"]) if x else np.nan for x in loc])
    has_loc = ~np.isnan(ev_lat)
    lat[has_loc], lon[has_loc] = ev_lat[has_loc], ev_lon[has_loc]
    need = np.flatnonzero(~has_loc)
    if need.size:
        b = np.array([brg[k] if not math.isnan(brg[k]) else sector_bearing(sector[k])[0] for k in need])
        ranged = ~np.isnan(rmax[need])
        mid = np.where(ranged, 0.5 * (np.nan_to_num(rmin[need]) + np.nan_to_num(rmax[need])), 0.0)
        plat, plon = forward(olat[need], olon[need], b, mid)
        lat[need] = np.where(ranged, plat, olat[need])
        lon[need] = np.where(ranged, plon, olon[need])
    ids = np.arange(first_id, first_id + n, dtype=np.int64)
    marks = [p.get("marking") or {} for p in payloads]
    return ObservationTable(
        id=ids, lat=lat, lon=lon,
        t0=np.array([_epoch(p["observed_from"]) for p in payloads]), t1=np.array([_epoch(p["observed_to"]) for p in payloads]),
        event_type=[p["event_type"] for p in payloads],
        observer_lat=olat, observer_lon=olon,
        observer_accuracy_m=np.array([num(p["observer"].get("accuracy_m")) for p in payloads]),
        event_lat=ev_lat, event_lon=ev_lon, event_error_m=ev_err,
        bearing_deg=brg, bearing_sigma_deg=sig, compass_sector=sector, range_min_m=rmin, range_max_m=rmax,
        count=np.array([int(p.get("count", 1)) for p in payloads]),
        source=[p["source"] for p in payloads],
        # As monitoring.fusion: relays of one report share the first link of the chain.
        chain_key=[(p["chain"][0] if p.get("chain") else f"obs:{i}") for p, i in zip(payloads, ids)],
        classification=np.array([int(Classification[m.get("classification", "RESTRICTED")]) for m in marks]),
        tlp=[m.get("tlp", "AMBER") for m in marks],
        releasable_to=[decode_releasability(encode_releasability(m.get("releasable_to", ["ALL"]))) for m in marks],
        originator=[m.get("originator", "") for m in marks],
        previous_incident=np.full(n, NO_INCIDENT, dtype=np.int64),
    )  # fmt: skip


def source_models(sources: list[dict]) -> dict[str, confidence.SourceModel]:
    """Grade-seeded models, as monitoring.fusion.source_models gives before any re-estimation."""
    return {s["code"]: confidence.prior_for_grade(s["reliability"], int(s["credibility"])) for s in sources}


def demo_line(contact_line) -> attribute.PreparedLine:
    import shapely.geometry

    from resolute.demo import scenario as world

    return attribute.prepare([list(p) for p in contact_line], shapely.geometry.shape(world.held_area("RUS")), LINE_SIGMA_M)


# ---------------------------------------------------------------------------------- world


@dataclass
class World:
    """Observations of one or more scenarios with their truth, row-aligned with `table`."""

    name: str
    table: ObservationTable
    truth_row: np.ndarray  # index into `truth` per observation, -1 for a false report
    describes_origin: np.ndarray  # bool: the observation describes the truth's origin point
    truth: list[dict]
    sources: dict[str, confidence.SourceModel]
    line: attribute.PreparedLine
    channel: list[str]
    n_scenarios: int = 1


def build_world(seeds, days: int = 7, name: str | None = None) -> World:
    """Scenarios for `seeds` laid back to back in time (seed k starts k x days after the first),
    so a list of seeds is a longer world over the same front."""
    from resolute.demo import scenario as world

    payloads, truth, truth_row, origin_flags, channels = [], [], [], [], []
    sources = {}
    line = None
    for k, seed in enumerate(seeds):
        sc = world.generate(seed=seed, days=days, start=world.DEFAULT_START + dt.timedelta(days=k * days))
        base = len(truth)
        index = {t["truth_id"]: base + i for i, t in enumerate(sc.truth)}
        truth.extend(sc.truth)
        sources.update(source_models(sc.sources))
        for o in sc.observations:
            payloads.append(o)
            tr = index.get(o["truth_id"], -1) if o["truth_id"] else -1
            truth_row.append(tr)
            channels.append(o["channel"])
            origin_flags.append(tr >= 0 and o["channel"] == "national_intelligence" and truth[tr]["kind"] == "air_strike")
        if line is None:
            line = demo_line(sc.contact_line)
    return World(
        name=name or f"seeds {', '.join(map(str, seeds))}",
        table=table_from_payloads(payloads), truth_row=np.array(truth_row, dtype=np.int64),
        describes_origin=np.array(origin_flags, dtype=bool), truth=truth, sources=sources, line=line,
        channel=channels, n_scenarios=len(seeds),
    )  # fmt: skip


def run(w: World, params: dict[int, Params] | None = None, prior: float | None = None):
    """assemble() on the world; returns (FusionResult, stage timings, total seconds)."""
    timings: dict[str, float] = {}
    kw = {} if prior is None else {"prior": prior}
    t0 = time.perf_counter()
    res = assemble(w.table, params or fparams.params_by_group(), w.sources, w.line, SIDE_NAMES, timings=timings, **kw)
    return res, timings, time.perf_counter() - t0


# ---------------------------------------------------------------------------------- metrics


def _pairs(counts: np.ndarray) -> float:
    c = counts.astype(float)
    return float(np.sum(c * (c - 1) / 2))


def _pair_counts(pred: np.ndarray, true: np.ndarray) -> tuple[float, float, float]:
    """(pairs predicted, pairs true, pairs in both) for two labelings (ints; every label value
    is a class, so give false reports unique labels)."""
    _, p_inv = np.unique(pred, return_inverse=True)
    _, t_inv = np.unique(true, return_inverse=True)
    joint = p_inv.astype(np.int64) * (t_inv.max() + 1) + t_inv
    return _pairs(np.bincount(p_inv)), _pairs(np.bincount(t_inv)), _pairs(np.unique(joint, return_counts=True)[1])


def clustering(w: World, res) -> dict:
    """Pairwise precision/recall of incidents against truth (all pairs, and true pairs restricted
    to one correlation family)."""
    n = len(w.table)
    pred = np.empty(n, dtype=np.int64)
    for k, d in enumerate(res.drafts):
        pred[d.members] = k
    fam = np.array([fparams.GROUP_OF[e] for e in w.table.event_type], dtype=np.int64)
    false = w.truth_row < 0
    true = np.where(false, -1 - np.arange(n), w.truth_row)
    true_fam = np.where(false, -1 - np.arange(n), w.truth_row * 64 + fam)
    pp, tp_all, both = _pair_counts(pred, true)
    _, tp_fam, both_fam = _pair_counts(pred, true_fam)
    sizes = np.array([d.members.size for d in res.drafts])
    # How many incidents each observed (truth, family) is spread over.
    spread = Counter()
    for k, d in enumerate(res.drafts):
        for key in set(zip(w.truth_row[d.members].tolist(), fam[d.members].tolist())):
            if key[0] >= 0:
                spread[key] += 1
    return {
        "observations": n,
        "incidents": len(res.drafts),
        "singletons": int(np.sum(sizes == 1)),
        "precision": both / pp if pp else math.nan,
        "recall": both / tp_all if tp_all else math.nan,
        "precision_fam": both_fam / pp if pp else math.nan,
        "recall_fam": both_fam / tp_fam if tp_fam else math.nan,
        "cross_family_pairs": 1.0 - tp_fam / tp_all if tp_all else math.nan,
        "split_truths": sum(1 for v in spread.values() if v > 1) / max(len(spread), 1),
    }


@dataclass
class LocRow:
    errors: list = field(default_factory=list)
    crlb: list = field(default_factory=list)  # tr(CRLB) per located incident (NaN: not defined)
    maha: list = field(default_factory=list)
    expected: int = 0  # incidents of the class (a fix is possible in principle)
    no_fix: int = 0
    diverged: int = 0


def _geometry_class(t: ObservationTable, rows: np.ndarray) -> tuple[str | None, np.ndarray, np.ndarray]:
    has_dir = ~np.isnan(t.bearing_deg[rows]) | np.array([bool(t.compass_sector[r]) for r in rows])
    has_pt = ~np.isnan(t.event_lat[rows])
    b, p = rows[has_dir], rows[has_pt]
    if b.size and p.size:
        return "bearings + points", b, p
    if p.size:
        return "points only", b, p
    if b.size == 1:
        return ("1 + band" if not math.isnan(t.range_max_m[b[0]]) else None), b, p
    if b.size == 2:
        return "2", b, p
    if b.size == 3:
        return "3", b, p
    if b.size <= 6:
        return "4-6", b, p
    return ">=7", b, p


def _sigmas(t: ObservationTable, rows: np.ndarray) -> np.ndarray:
    out = np.empty(rows.size)
    for j, r in enumerate(rows):
        s = t.bearing_sigma_deg[r]
        out[j] = locate.sigma_for(None if math.isnan(s) else s, t.compass_sector[r] or None)
    return out


def _bound(t: ObservationTable, b: np.ndarray, p: np.ndarray, plane: locate.LocalPlane) -> float:
    """tr(CRLB) at the true position (plane origin): locate.crlb_trace for bearings alone; with
    points, the information of both (bearings' J plus Σ 1/σ² I of the points); one bearing with a
    band: the band counted as uniform over its width (12/width² along the line of sight, as
    locate's Fisher seed does). NaN when no bound is defined."""
    info = np.zeros((2, 2))
    if b.size:
        ox, oy = plane.to_enu(t.observer_lat[b], t.observer_lon[b])
        sig = np.radians(_sigmas(t, b))
        if not p.size and b.size >= 2:
            return float(locate.crlb_trace(np.atleast_1d(ox), np.atleast_1d(oy), 0.0, 0.0, sig))
        r2 = ox * ox + oy * oy
        nx, ny = -oy / np.sqrt(r2), ox / np.sqrt(r2)  # normal to the line of sight
        w = 1.0 / (sig * sig * r2)
        info += np.array([[np.sum(w * nx * nx), np.sum(w * nx * ny)], [np.sum(w * nx * ny), np.sum(w * ny * ny)]])
        if not p.size:
            width = t.range_max_m[b[0]] - np.nan_to_num(t.range_min_m[b[0]])
            ux, uy = ox[0] / math.sqrt(r2[0]), oy[0] / math.sqrt(r2[0])
            info += (12.0 / max(width, 1.0) ** 2) * np.array([[ux * ux, ux * uy], [ux * uy, uy * uy]])
    if p.size:
        s = np.maximum(t.event_error_m[p], 10.0)
        info += np.sum(1.0 / (s * s)) * np.eye(2)
    try:
        return float(np.trace(np.linalg.inv(info)))
    except np.linalg.LinAlgError:
        return math.nan


def location(w: World, res) -> dict[str, LocRow]:
    t = w.table
    rows_out = {c: LocRow() for c in CLASSES}
    rows_out["sigma<=5, >=3 brg"] = LocRow()
    for d in res.drafts:
        tr = w.truth_row[d.members]
        real = tr >= 0
        if not real.any():
            continue  # a false report has no true position
        keys = list(zip(tr[real].tolist(), w.describes_origin[d.members][real].tolist()))
        (ti, at_origin), _ = Counter(keys).most_common(1)[0]
        truth = w.truth[ti]
        lat0, lon0 = (truth["origin_lat"], truth["origin_lon"]) if at_origin else (truth["lat"], truth["lon"])
        cls, b, p = _geometry_class(t, d.members)
        if cls is None:
            continue
        targets = [cls]
        if cls in ("3", "4-6", ">=7") and np.all(_sigmas(t, b) <= 5.0):
            targets.append("sigma<=5, >=3 brg")
        for c in targets:
            rows_out[c].expected += 1
        if not d.fix.ok:
            for c in targets:
                rows_out[c].no_fix += 1
                rows_out[c].diverged += "diverged" in (d.fix.reason or "")
            continue
        plane = locate.LocalPlane(lat0, lon0)
        e, n = plane.to_enu(d.fix.lat, d.fix.lon)
        # The fix covariance is on local axes at the fix; at ≤ 100 km from the truth the plane's
        # axes differ by well under a degree, so the error vector can be read on either.
        err = np.array([float(e), float(n)])
        cov = np.asarray(d.fix.cov_enu, dtype=float)
        try:
            m2 = float(err @ np.linalg.solve(cov, err))
        except np.linalg.LinAlgError:
            m2 = math.inf
        bound = _bound(t, b, p, plane)
        for c in targets:
            r = rows_out[c]
            r.errors.append(float(np.hypot(*err)))
            r.crlb.append(bound)
            r.maha.append(m2)
    return rows_out


def calibration(w: World, res) -> dict:
    p = np.array([d.confidence.probability for d in res.drafts])
    real = np.array([bool(np.any(w.truth_row[d.members] >= 0)) for d in res.drafts])
    hi = p > 0.95
    return {
        "incidents": p.size,
        "real_share": float(real.mean()) if p.size else math.nan,
        "mean_p": float(p.mean()) if p.size else math.nan,
        "ece": confidence.expected_calibration_error(p.tolist(), real.tolist(), bins=10) if p.size else math.nan,
        "n_high": int(hi.sum()),
        "high_real": float(real[hi].mean()) if hi.any() else math.nan,
        "p": p,
        "real": real,
    }


def attribution(w: World, res) -> dict:
    out = {"origin": [0, 0, 0], "impact": [0, 0, 0]}  # right, wrong, indeterminate
    for d in res.drafts:
        a = d.attribution
        if a is None:
            continue
        tr = w.truth_row[d.members]
        tr = tr[tr >= 0]
        if not tr.size:
            continue
        truth = w.truth[Counter(tr.tolist()).most_common(1)[0][0]]
        for end, p_a, called, true_side in (
            ("origin", a.p_origin_a, a.origin, truth["origin_side"]),
            ("impact", a.p_impact_a, a.impact, truth["impact_side"]),
        ):
            if p_a is None:
                continue
            if called is None:
                out[end][2] += 1
            else:
                out[end][0 if called == true_side else 1] += 1
    return out


def evaluate(w: World, params=None, prior=None) -> dict:
    res, timings, seconds = run(w, params, prior)
    return {
        "world": w,
        "result": res,
        "timings": timings,
        "seconds": seconds,
        "clustering": clustering(w, res),
        "location": location(w, res),
        "calibration": calibration(w, res),
        "attribution": attribution(w, res),
    }
