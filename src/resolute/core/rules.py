"""The rules engine: incident facts x one agreement version -> findings.

Units: lon/lat degrees, metres, epoch seconds UTC, probabilities in [0, 1].

Each provision of a version is applied to each incident; a provision whose condition holds yields
one :class:`Finding` with ``p_violation`` = confidence x P(the rule's condition holds). Who is
responsible is a probability too: ``p_side_a`` = P(side A is responsible | violation), and the
finding names a party only when the likelier side reaches the version's attribution threshold,
otherwise it is "unattributable" (CTSAMVM's "could not be attributed to a specific party").

Responsible side, by event (q = provision param ``impact_implies_opponent``, default 0.9):
- fire: the origin's side (p_origin_a); failing that, the opponent of the impact side with
  probability q: P(A) = (1 - p_impact_a) q + p_impact_a (1 - q); failing that, unknown.
- strikes (armed drone, air): as fire, the "impact side" being p_impact_a or else p_location_a.
- ground assault: the opponent of the side where it happens (p_location_a, else p_impact_a).
- mine laying: the side holding the location (p_location_a, else p_origin_a); movement
  restriction: p_location_a; interference: p_origin_a only (a jamming fix is the victim's).
- a weapon in a withdrawal band, or missing from a declared storage site: the band's or site's
  holder, with p_party = 1 given the violation (the violation is by definition the holder's).

Geometric probabilities (inside a band, zone or exercise area) come from
:func:`resolute.core.zones.p_inside` with the incident's covariance, computed once per zone for
all incidents that need them, with a fixed seed: batched and one-at-a-time calls agree exactly.
An exempt finding (declared live-fire exercise) keeps the p_violation the rule computed, so that
the record shows what was exempted; it is not a violation, and consumers must filter on
``exempt``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely

from resolute.core import zones as zn
from resolute.core.vocabulary import EVENT_TYPES, WEAPON_CLASSES

RULE_TYPES = ("ceasefire_fire", "cross_line_fire", "weapon_in_withdrawal_zone", "weapon_missing_from_storage",
              "mine_laying", "air_strike", "no_fly_zone", "ground_assault", "movement_restriction",
              "interference_with_monitoring", "disengagement_area")
ZONE_KINDS = ("contact_line", "held_area", "security_zone", "withdrawal_band", "disengagement_area",
              "no_fly_zone", "storage_site", "exercise_area")
SEVERITY_WORDS = {1: "technical", 2: "minor", 3: "significant", 4: "serious", 5: "grave"}

FLARE = "illumination_flare"
FIRE_TYPES = ("explosion_impact", "explosion_outgoing", "explosion_airburst", "explosion_undetermined",
              "projectile_in_flight", "muzzle_flash", FLARE, "small_arms_fire", "heavy_machine_gun_fire")
SHOT_TYPES = frozenset(FIRE_TYPES) - {FLARE}  # a flare lights the ground: not a ceasefire violation
STRIKE_TYPES = frozenset({"armed_drone_strike", "air_strike"})
WITHDRAWAL_EVIDENCE = frozenset({"weapon_beyond_withdrawal_line", "explosion_outgoing", "muzzle_flash"})
INTERFERENCE_TYPES = frozenset({"interference_jamming", "interference_fire_at_asset"})
DISENGAGEMENT_TYPES = SHOT_TYPES | STRIKE_TYPES | {"ground_assault"}
EXEMPTIBLE = frozenset({"ceasefire_fire", "weapon_in_withdrawal_zone", "disengagement_area"})
#: Provision params: name -> default. All are probabilities.
PARAMS = {"min_p": 0.5, "impact_implies_opponent": 0.9, "exercise_min_p": 0.9}
#: A storage site matches a fix within its radius plus this many of the fix's largest std.
STORAGE_SIGMAS = 3.0
_SIDED_KINDS = ("held_area", "withdrawal_band", "storage_site", "exercise_area")  # party must be a side


@dataclass(frozen=True)
class Provision:
    id: str                 # e.g. "2.1"
    rule_type: str          # one of RULE_TYPES
    severity: int           # 1..5
    params: Mapping[str, float] = field(default_factory=dict)   # keys of PARAMS


@dataclass(frozen=True)
class Zone:
    kind: str               # one of ZONE_KINDS
    name: str
    geometry: object        # shapely geometry, lon/lat degrees
    party: str = ""         # party code the zone concerns: holder of a band/site/area, party of an exercise
    weapon_classes: tuple[str, ...] = ()   # withdrawal_band: classes it applies to; exercise_area: classes declared
    valid_from: float | None = None        # epoch seconds UTC (exercise windows); None = always
    valid_to: float | None = None
    inventory: Mapping[str, int] = field(default_factory=dict)   # storage_site: declared count per weapon class
    radius_m: float = 0.0   # storage_site given as a Point: its radius


@dataclass(frozen=True)
class AgreementVersion:
    number: int
    side_a: str             # party code of side A (holder of the held_area zone)
    side_b: str
    provisions: tuple[Provision, ...]
    zones: tuple[Zone, ...]
    attribution_threshold: float = 0.8   # below this P(party | violation), the finding is "unattributable"


@dataclass(frozen=True)
class IncidentFacts:
    id: int
    event_type: str         # one of vocabulary.EVENT_TYPES
    weapon_class: str       # one of vocabulary.WEAPON_CLASSES ("unknown" if none)
    t0: float               # epoch seconds UTC
    t1: float
    lat: float | None       # the fix (None = not located)
    lon: float | None
    cov_enu: tuple[tuple[float, float], tuple[float, float]] | None   # m², east/north
    confidence: float       # P(the incident is real), 0..1
    p_origin_a: float | None   # P(fire originated on side A) from fusion; None if unknown
    p_impact_a: float | None   # P(fire landed on side A); None if unknown
    p_location_a: float | None  # P(the incident's location is on side A) (for non-fire events)
    count: int = 1             # e.g. weapons seen, or weapons reported missing


@dataclass(frozen=True)
class Finding:
    provision_id: str
    rule_type: str
    severity: int
    party: str | None       # responsible party code, or None = unattributable
    p_party: float | None   # P(that party is responsible | violation); None when unattributable
    p_side_a: float | None  # P(side A is responsible | violation), always reported when computable
    p_violation: float      # P(this is a violation of the provision) = confidence × P(rule's condition holds)
    zone: str = ""          # name of the zone involved, if any
    exempt: bool = False    # covered by a declared live-fire exercise: recorded for transparency, NOT a violation
    explanation: str = ""   # one English sentence with the numbers


@dataclass(frozen=True, eq=False)
class PreparedAgreement:
    """A validated version with its zones projected once. frame: the local metric frame;
    zones: kind -> ((Zone, geometry in the frame's metres, shapely-prepared), ...)."""

    version: AgreementVersion
    frame: zn.LocalFrame
    zones: Mapping[str, tuple[tuple[Zone, shapely.Geometry], ...]]


def _finite(x) -> bool:
    return isinstance(x, (int, float, np.floating, np.integer)) and not isinstance(x, bool) and math.isfinite(x)


def _is_p(x) -> bool:
    return _finite(x) and 0.0 <= x <= 1.0


def _check_zone(z: Zone, v: AgreementVersion) -> None:
    what = f"zone {z.name!r}"
    if z.kind not in ZONE_KINDS:
        raise ValueError(f"{what}: unknown zone kind {z.kind!r}")
    if not z.name:
        raise ValueError(f"a {z.kind} zone has no name")
    g = z.geometry
    if not isinstance(g, shapely.Geometry) or g.is_empty or not g.is_valid:
        raise ValueError(f"{what}: geometry must be a valid, non-empty shapely geometry in lon/lat")
    polygonal = g.geom_type in ("Polygon", "MultiPolygon")
    if z.kind == "contact_line" and g.geom_type != "LineString":
        raise ValueError(f"{what}: a contact line must be a LineString")
    if z.kind == "storage_site" and not (polygonal or (g.geom_type == "Point" and z.radius_m > 0)):
        raise ValueError(f"{what}: a storage site is a polygon, or a Point with radius_m > 0")
    if z.kind not in ("contact_line", "storage_site") and not polygonal:
        raise ValueError(f"{what}: a {z.kind} must be a Polygon or MultiPolygon")
    if not (_finite(z.radius_m) and z.radius_m >= 0):
        raise ValueError(f"{what}: radius_m must be finite metres >= 0")
    if z.kind in _SIDED_KINDS and z.party not in (v.side_a, v.side_b):
        raise ValueError(f"{what}: party {z.party!r} is neither side ({v.side_a!r}, {v.side_b!r})")
    if z.kind == "held_area" and z.party != v.side_a:
        raise ValueError(f"{what}: the held area must be side A's ({v.side_a!r}), not {z.party!r}")
    if z.party not in ("", v.side_a, v.side_b):
        raise ValueError(f"{what}: party {z.party!r} is neither side")
    for wc in (*z.weapon_classes, *z.inventory):
        if wc not in WEAPON_CLASSES:
            raise ValueError(f"{what}: unknown weapon class {wc!r}")
    if any(not isinstance(c, (int, np.integer)) or c < 0 for c in z.inventory.values()):
        raise ValueError(f"{what}: inventory counts must be integers >= 0")
    if any(t is not None and not _finite(t) for t in (z.valid_from, z.valid_to)):
        raise ValueError(f"{what}: valid_from / valid_to must be epoch seconds or None")
    if z.valid_from is not None and z.valid_to is not None and z.valid_from > z.valid_to:
        raise ValueError(f"{what}: valid_from is after valid_to")


def _check_provision(p: Provision) -> None:
    what = f"provision {p.id!r}"
    if p.rule_type not in RULE_TYPES:
        raise ValueError(f"{what}: unknown rule type {p.rule_type!r}")
    if not isinstance(p.severity, (int, np.integer)) or isinstance(p.severity, bool) or p.severity not in SEVERITY_WORDS:
        raise ValueError(f"{what}: severity must be an integer 1..5, got {p.severity!r}")
    for key, value in p.params.items():
        if key not in PARAMS:
            raise ValueError(f"{what}: unknown param {key!r} (known: {', '.join(PARAMS)})")
        if not _is_p(value):
            raise ValueError(f"{what}: param {key} must be a probability in [0, 1], got {value!r}")


def prepare(version: AgreementVersion) -> PreparedAgreement:
    """Validate a version and project its zones into one local frame (centred on all zones).

    Raises ValueError naming the offending item: unknown rule types, zone kinds or weapon
    classes, severities outside 1..5, unknown or out-of-range params, duplicate provision ids,
    malformed geometries, not exactly one contact_line and one held_area of side A, a threshold
    outside (0.5, 1] (at 0.5 or below a coin toss would be attributed)."""
    v = version
    if not (v.side_a and v.side_b and v.side_a != v.side_b):
        raise ValueError("side_a and side_b must be two different, non-empty party codes")
    if not (_is_p(v.attribution_threshold) and v.attribution_threshold > 0.5):
        raise ValueError(f"attribution_threshold must be in (0.5, 1], got {v.attribution_threshold!r}")
    ids = [p.id for p in v.provisions]
    for p in v.provisions:
        _check_provision(p)
        if ids.count(p.id) > 1:
            raise ValueError(f"provision {p.id!r} appears more than once")
    for z in v.zones:
        _check_zone(z, v)
    for kind in ("contact_line", "held_area"):
        n = sum(z.kind == kind for z in v.zones)
        if n != 1:
            raise ValueError(f"agreement version {v.number} needs exactly one {kind} zone, has {n}")
    frame = zn.LocalFrame.around([z.geometry for z in v.zones])
    by_kind: dict[str, list] = {k: [] for k in ZONE_KINDS}
    for z in v.zones:
        geom_m = frame.to_metres(z.geometry)
        shapely.prepare(geom_m)
        by_kind[z.kind].append((z, geom_m))
    return PreparedAgreement(v, frame, {k: tuple(zs) for k, zs in by_kind.items()})


def _check_incident(f: IncidentFacts) -> None:
    what = f"incident {f.id}"
    if f.event_type not in EVENT_TYPES:
        raise ValueError(f"{what}: unknown event type {f.event_type!r}")
    if f.weapon_class not in WEAPON_CLASSES:
        raise ValueError(f"{what}: unknown weapon class {f.weapon_class!r}")
    if not (_finite(f.t0) and _finite(f.t1) and f.t0 <= f.t1):
        raise ValueError(f"{what}: needs finite t0 <= t1 (epoch seconds)")
    if not _is_p(f.confidence):
        raise ValueError(f"{what}: confidence must be a probability, got {f.confidence!r}")
    for name in ("p_origin_a", "p_impact_a", "p_location_a"):
        value = getattr(f, name)
        if value is not None and not _is_p(value):
            raise ValueError(f"{what}: {name} must be None or a probability, got {value!r}")
    if (f.lat is None) != (f.lon is None):
        raise ValueError(f"{what}: give both lat and lon, or neither")
    if f.lat is not None and not (_finite(f.lat) and _finite(f.lon) and abs(f.lat) <= 90 and abs(f.lon) <= 180):
        raise ValueError(f"{what}: lat/lon must be finite degrees")
    if f.cov_enu is not None and not zn.covariance_ok(f.cov_enu)[0]:
        raise ValueError(f"{what}: cov_enu must be a finite symmetric positive semi-definite 2x2 matrix (m²)")
    if not isinstance(f.count, (int, np.integer)) or f.count < 0:
        raise ValueError(f"{what}: count must be an integer >= 0")


# --- responsible side -------------------------------------------------------------------------


def _opponent_of(p_where_a: float, q: float) -> float:
    """P(A responsible) when the side where it happened is presumed the victim with probability q."""
    return (1.0 - p_where_a) * q + p_where_a * (1.0 - q)


def _fire_side(f: IncidentFacts, q: float, where: float | None = None):
    """(P(A responsible) or None, basis). ``where``: the impact side to use (default p_impact_a)."""
    where = f.p_impact_a if where is None else where
    if f.p_origin_a is not None:
        return f.p_origin_a, "from the origin's side"
    if where is not None:
        return _opponent_of(where, q), f"presumed the opponent of the side hit, q = {q:.2f}"
    return None, "neither origin nor impact side is known"


def _strike_side(f: IncidentFacts, q: float):
    return _fire_side(f, q, f.p_impact_a if f.p_impact_a is not None else f.p_location_a)


def _assault_side(f: IncidentFacts, q: float):
    where = f.p_location_a if f.p_location_a is not None else f.p_impact_a
    if where is None:
        return None, "the side where it happened is not known"
    return _opponent_of(where, q), f"presumed the opponent of the side where it happened, q = {q:.2f}"


def _holder_side(f: IncidentFacts, fallback_to_origin: bool):
    if f.p_location_a is not None:
        return f.p_location_a, "the side holding the location"
    if fallback_to_origin and f.p_origin_a is not None:
        return f.p_origin_a, "from the origin's side"
    return None, "the side holding the location is not known"


def _event_side(f: IncidentFacts, q: float):
    if f.event_type in STRIKE_TYPES:
        return _strike_side(f, q)
    if f.event_type == "ground_assault":
        return _assault_side(f, q)
    return _fire_side(f, q)


# --- wording ----------------------------------------------------------------------------------


def _p(p: float) -> str:
    # Floor to two decimals, so that a value shown below a threshold is below it; never "1.00".
    return "p > 0.99" if p > 0.995 else f"p = {math.floor(p * 100 + 1e-9) / 100:.2f}"


def _who(p_side_a: float | None, basis: str, v: AgreementVersion):
    """(party, p_party, clause)."""
    if p_side_a is None:
        return None, None, f"could not be attributed to a specific party ({basis})"
    party, p = (v.side_a, p_side_a) if p_side_a >= 0.5 else (v.side_b, 1.0 - p_side_a)
    if p < v.attribution_threshold:
        return None, None, (f"could not be attributed to a specific party: the likelier, {party}, has {_p(p)} ({basis}), "
                            f"below the {v.attribution_threshold:.2f} threshold")
    return party, p, f"attributed to {party} with {_p(p)} ({basis})"


def _what(f: IncidentFacts) -> str:
    wc = "" if f.weapon_class == "unknown" else f", {f.weapon_class}"
    n = f", count {f.count}" if f.count != 1 else ""
    return f"Incident {f.id} ({f.event_type}{wc}{n})"


@dataclass
class _Context:
    prepared: PreparedAgreement
    located: np.ndarray           # (N,) bool
    p_zone: dict                  # kind -> (n_zones, N) P(inside), NaN where not computed
    site_gap_m: np.ndarray        # (n_sites, N) metres from the fix to each site's edge, NaN if not computed
    site_reach_m: np.ndarray      # (N,) STORAGE_SIGMAS x the fix's largest std, metres


def _finding(f, prov, ctx, p_violation, p_side_a, basis, zone="", where="", i=None) -> Finding:
    """Build one finding; checks the exercise exemption for the exemptible rule types."""
    v = ctx.prepared.version
    party, p_party, who = _who(p_side_a, basis, v)
    head = f"{_what(f)}{where}"
    rule = f"provision {prov.id} ({prov.rule_type}, {SEVERITY_WORDS[prov.severity]})"
    exercise = _exercise(f, i, prov, party, ctx) if prov.rule_type in EXEMPTIBLE else None
    if exercise is not None:
        ex, p_in = exercise
        text = (f"{head} falls in declared live-fire exercise {ex.name!r} of {ex.party} (inside with {_p(p_in)}, "
                f"within its time window), so it is recorded under {rule} with {_p(p_violation)} but is not a violation; {who}.")
    else:
        text = f"{head} breaches {rule} with {_p(p_violation)}; {who}."
    return Finding(prov.id, prov.rule_type, int(prov.severity), party, p_party, p_side_a, float(p_violation),
                   zone, exercise is not None, text)


def _exercise(f, i, prov, party, ctx):
    """(exercise zone, P(inside)) if the finding is covered by a declared exercise, else None."""
    if party is None or not ctx.located[i]:
        return None
    min_p = prov.params.get("exercise_min_p", PARAMS["exercise_min_p"])
    for k, (z, _) in enumerate(ctx.prepared.zones["exercise_area"]):
        p_in = ctx.p_zone["exercise_area"][k, i]
        if z.party == party and _declares(z, f) and p_in >= min_p:
            return z, float(p_in)
    return None


def _declares(z: Zone, f: IncidentFacts) -> bool:
    """The exercise's window contains [t0, t1] and it declares the weapon class (or none)."""
    in_time = (z.valid_from is None or f.t0 >= z.valid_from) and (z.valid_to is None or f.t1 <= z.valid_to)
    return in_time and (not z.weapon_classes or f.weapon_class in z.weapon_classes)


def _best_zone(ctx, kind, i, usable=lambda z: True):
    """(zone, P(inside)) with the largest P among the zones of a kind that apply, or None."""
    best = None
    for k, (z, _) in enumerate(ctx.prepared.zones[kind]):
        p_in = ctx.p_zone[kind][k, i]
        if usable(z) and np.isfinite(p_in) and (best is None or p_in > best[1]):
            best = (z, float(p_in))
    return best


# --- rules: each returns a Finding or None -------------------------------------------------------


def _q(prov):
    return prov.params.get("impact_implies_opponent", PARAMS["impact_implies_opponent"])


def _min_p(prov):
    return prov.params.get("min_p", PARAMS["min_p"])


def _ceasefire_fire(f, i, prov, ctx):
    if f.event_type in SHOT_TYPES:
        return _finding(f, prov, ctx, f.confidence, *_fire_side(f, _q(prov)), i=i)


def _cross_line_fire(f, i, prov, ctx):
    if f.event_type not in SHOT_TYPES or f.p_origin_a is None or f.p_impact_a is None:
        return None
    a_to_b = f.p_origin_a * (1.0 - f.p_impact_a)
    p_cross = a_to_b + (1.0 - f.p_origin_a) * f.p_impact_a
    if p_cross == 0.0 or f.confidence * p_cross < _min_p(prov):
        return None
    return _finding(f, prov, ctx, f.confidence * p_cross, a_to_b / p_cross, "origin side given fire across the line",
                    where=f" crossed the contact line with {_p(p_cross)} and", i=i)


def _weapon_in_withdrawal_zone(f, i, prov, ctx):
    """The band's holder is responsible: p_party = 1 given a violation, since the violation is
    by definition the holder's weapon of a listed class inside the holder's own band."""
    if f.event_type not in WITHDRAWAL_EVIDENCE or not ctx.located[i]:
        return None
    best = _best_zone(ctx, "withdrawal_band", i, lambda z: f.weapon_class in z.weapon_classes)
    if best is None or f.confidence * best[1] < _min_p(prov):
        return None
    band, p_in = best
    p_side_a = 1.0 if band.party == ctx.prepared.version.side_a else 0.0
    return _finding(f, prov, ctx, f.confidence * p_in, p_side_a, "the band's holder", band.name,
                    f" was inside withdrawal band {band.name!r} with {_p(p_in)} and", i)


def _weapon_missing_from_storage(f, i, prov, ctx):
    if f.event_type != "weapon_missing_from_storage":
        return None
    v, sites = ctx.prepared.version, ctx.prepared.zones["storage_site"]
    if not sites:
        where = f", with no declared storage site in agreement version {v.number},"
    elif not ctx.located[i]:
        where = ", not located and so not matched to a declared storage site,"
    else:
        gaps = ctx.site_gap_m[:, i]
        k = int(np.argmin(gaps))
        site = sites[k][0]
        if gaps[k] <= ctx.site_reach_m[i]:
            declared = site.inventory.get(f.weapon_class)
            stock = "no declared inventory" if declared is None else f"declared inventory {declared}"
            where = f" concerns storage site {site.name!r} ({stock} of {f.weapon_class}, {f.count} reported missing) and"
            p_side_a = 1.0 if site.party == v.side_a else 0.0
            return _finding(f, prov, ctx, f.confidence, p_side_a, "the site's holder", site.name, where, i)
        # Floored, so that "none within N km" stays true.
        where = f", with no declared storage site within {math.floor(gaps[k] / 100) / 10:.1f} km of its fix (nearest: {site.name!r}),"
    return _finding(f, prov, ctx, f.confidence, *_holder_side(f, False), where=where, i=i)


def _mine_laying(f, i, prov, ctx):
    if f.event_type == "mine_laying":
        return _finding(f, prov, ctx, f.confidence, *_holder_side(f, True), i=i)


def _air_strike(f, i, prov, ctx):
    if f.event_type in STRIKE_TYPES:
        return _finding(f, prov, ctx, f.confidence, *_strike_side(f, _q(prov)), i=i)


_LABELS = {"no_fly_zone": "no-fly zone", "disengagement_area": "disengagement area"}


def _zone_rule(kind, types, side):
    def rule(f, i, prov, ctx):
        if f.event_type not in types or not ctx.located[i]:
            return None
        best = _best_zone(ctx, kind, i)
        if best is None or f.confidence * best[1] < _min_p(prov):
            return None
        zone, p_in = best
        return _finding(f, prov, ctx, f.confidence * p_in, *side(f, _q(prov)), zone.name,
                        f" was inside {_LABELS[kind]} {zone.name!r} with {_p(p_in)} and", i)
    return rule


def _ground_assault(f, i, prov, ctx):
    if f.event_type == "ground_assault":
        return _finding(f, prov, ctx, f.confidence, *_assault_side(f, _q(prov)), i=i)


def _movement_restriction(f, i, prov, ctx):
    if f.event_type == "movement_restriction":
        return _finding(f, prov, ctx, f.confidence, *_holder_side(f, False), i=i)


def _interference(f, i, prov, ctx):
    if f.event_type in INTERFERENCE_TYPES:
        basis = "from the origin's side" if f.p_origin_a is not None else "origin unknown; the fix is the victim's position"
        return _finding(f, prov, ctx, f.confidence, f.p_origin_a, basis, i=i)


_RULES = {
    "ceasefire_fire": _ceasefire_fire,
    "cross_line_fire": _cross_line_fire,
    "weapon_in_withdrawal_zone": _weapon_in_withdrawal_zone,
    "weapon_missing_from_storage": _weapon_missing_from_storage,
    "mine_laying": _mine_laying,
    "air_strike": _air_strike,
    "no_fly_zone": _zone_rule("no_fly_zone", STRIKE_TYPES, _strike_side),
    "ground_assault": _ground_assault,
    "movement_restriction": _movement_restriction,
    "interference_with_monitoring": _interference,
    "disengagement_area": _zone_rule("disengagement_area", DISENGAGEMENT_TYPES, _event_side),
}
assert set(_RULES) == set(RULE_TYPES)


# --- geometry, vectorised over incidents --------------------------------------------------------


def _geometry(incidents, prepared) -> _Context:
    """Project the fixes once and compute, per zone, P(inside) only for incidents that a rule
    of this version could ask about (most incidents need no sampling at all)."""
    n = len(incidents)
    rules = {p.rule_type for p in prepared.version.provisions}
    located = np.array([f.lat is not None for f in incidents], dtype=bool)
    # Unlocated incidents sit at the frame's centre so that the projection stays finite; masked out.
    lon = np.array([f.lon if f.lat is not None else prepared.frame.lon0 for f in incidents], dtype=float)
    lat = np.array([f.lat if f.lat is not None else prepared.frame.lat0 for f in incidents], dtype=float)
    cov = np.array([f.cov_enu if f.cov_enu is not None else ((0.0, 0.0), (0.0, 0.0)) for f in incidents], dtype=float).reshape(n, 2, 2)
    east, north = prepared.frame.project(lon, lat)
    types = np.array([f.event_type for f in incidents], dtype=object)
    weapons = np.array([f.weapon_class for f in incidents], dtype=object)

    def of_types(type_set, rule_types):
        wanted = bool(rules & set(rule_types))
        return located & np.array([t in type_set for t in types], dtype=bool) & wanted

    exemptible = (of_types(SHOT_TYPES, ["ceasefire_fire"]) | of_types(WITHDRAWAL_EVIDENCE, ["weapon_in_withdrawal_zone"])
                  | of_types(DISENGAGEMENT_TYPES, ["disengagement_area"]))
    wanted = {
        "withdrawal_band": lambda z: of_types(WITHDRAWAL_EVIDENCE, ["weapon_in_withdrawal_zone"]) & np.isin(weapons, list(z.weapon_classes)),
        "no_fly_zone": lambda z: of_types(STRIKE_TYPES, ["no_fly_zone"]),
        "disengagement_area": lambda z: of_types(DISENGAGEMENT_TYPES, ["disengagement_area"]),
        "exercise_area": lambda z: exemptible & np.array([_declares(z, f) for f in incidents], dtype=bool),
    }
    p_zone = {}
    for kind, mask_of in wanted.items():
        p = np.full((len(prepared.zones[kind]), n), np.nan)
        for k, (z, geom_m) in enumerate(prepared.zones[kind]):
            m = mask_of(z)
            if m.any():
                p[k, m] = zn.p_inside(prepared.frame, geom_m, east[m], north[m], cov[m])[0]
        p_zone[kind] = p
    sites = prepared.zones["storage_site"]
    gap = np.full((len(sites), n), np.nan)
    m = of_types({"weapon_missing_from_storage"}, ["weapon_missing_from_storage"])
    for k, (z, geom_m) in enumerate(sites):
        if m.any():
            gap[k, m] = np.maximum(zn.distance_m(prepared.frame, geom_m, east[m], north[m]) - z.radius_m, 0.0)
    # Largest std of each fix: square root of the covariance's largest eigenvalue (true metres).
    a, b, c = cov[:, 0, 0], cov[:, 0, 1], cov[:, 1, 1]
    sigma_max = np.sqrt(np.maximum(0.5 * (a + c) + np.sqrt(0.25 * (a - c) ** 2 + b * b), 0.0))
    return _Context(prepared, located, p_zone, gap, STORAGE_SIGMAS * sigma_max)


def judge(incidents: Sequence[IncidentFacts], prepared: PreparedAgreement) -> list[list[Finding]]:
    """Findings for each incident, in input order, each list in the version's provision order.

    Raises ValueError naming the first malformed incident. Geometric probabilities are
    computed zone by zone for all incidents at once (see :func:`_geometry`)."""
    for f in incidents:
        _check_incident(f)
    if not incidents:
        return []
    ctx = _geometry(incidents, prepared)
    out = []
    for i, f in enumerate(incidents):
        found = (_RULES[prov.rule_type](f, i, prov, ctx) for prov in prepared.version.provisions)
        out.append([x for x in found if x is not None])
    return out
