"""Which observations may belong to one incident: parameter groups per event type.

A burst of small-arms fire is not an artillery duel: each family of event types is correlated
with its own radius (metres), time window (seconds) and minimum points (DBSCAN min_samples,
counting the point itself). These defaults are judgement, after the OSCE SMM's reporting
practice (bursts within minutes, shelling heard across several kilometres); a deployment
overrides them with RESOLUTE_FUSION_PARAMS (a JSON file, docs/operations.md).
"""

from __future__ import annotations

import json
from pathlib import Path

from resolute.core import vocabulary as v

from .correlate import Params

# family -> (event types, radius_m, window_s, min_points)
# Shelling: 2 km / 5 min. Monitors' reports of one volley agree in time to a minute or two (clocks
# to ~1 min, reports rounded to the minute, sound ≤ 30 s late), while a duel's volleys follow each
# other every 2-15 minutes a few kilometres apart: the former 10-minute window chained them into
# one incident. A sector + range band places a report to ~0.8 km (median; p90 2 km), so two
# reports of one volley mostly lie within 2 km; those further out join by their own uncertainty
# (pipeline step 1b) instead of widening the radius for everyone (3 km chained neighbouring
# volleys). Measured against the demo world's truth, four seeds: pairwise precision 0.21-0.60 →
# 0.56-0.84, recall 0.49-0.58 → 0.55-0.67 with the pipeline's association changes
# (bench/fusion.md).
FAMILIES: dict[str, tuple[tuple[str, ...], float, float, int]] = {
    "shelling_impact": (("explosion_impact", "explosion_undetermined", "explosion_airburst", "projectile_in_flight"), 2000.0, 300.0, 2),
    "shelling_outgoing": (("explosion_outgoing", "muzzle_flash"), 2000.0, 300.0, 2),
    "small_arms": (("small_arms_fire", "heavy_machine_gun_fire"), 1000.0, 300.0, 2),
    "flare": (("illumination_flare",), 2000.0, 600.0, 2),
    "strike": (("armed_drone_strike", "air_strike"), 2000.0, 900.0, 2),
    "ground_assault": (("ground_assault",), 5000.0, 3600.0, 2),
    "mine_laying": (("mine_laying",), 1000.0, 6 * 3600.0, 2),
    "weapons": (("weapon_beyond_withdrawal_line", "weapon_missing_from_storage"), 1000.0, 24 * 3600.0, 2),
    "movement_restriction": (("movement_restriction",), 500.0, 2 * 3600.0, 2),
    "interference": (("interference_jamming", "interference_fire_at_asset"), 5000.0, 3600.0, 2),
}

GROUP_OF: dict[str, int] = {}
for _g, (_types, *_rest) in enumerate(FAMILIES.values()):
    for _t in _types:
        GROUP_OF[_t] = _g
assert set(GROUP_OF) == set(v.EVENT_TYPES), "every event type needs a fusion family"
FAMILY_NAMES = tuple(FAMILIES)


def params_by_group(overrides: dict | None = None) -> dict[int, Params]:
    """Params per group index; `overrides` maps family name -> {radius_m, window_s, min_points}."""
    out = {}
    for g, (name, (_types, radius, window, min_points)) in enumerate(FAMILIES.items()):
        o = (overrides or {}).get(name, {})
        out[g] = Params(
            radius_m=float(o.get("radius_m", radius)), window_s=float(o.get("window_s", window)), min_points=int(o.get("min_points", min_points))
        )
    return out


def load_overrides(path: str | Path | None) -> dict:
    """Read a JSON overrides file; unknown families or keys are errors naming them."""
    if not path:
        return {}
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    for name, values in doc.items():
        if name not in FAMILIES:
            raise ValueError(f"unknown fusion family {name!r}; known: {', '.join(FAMILIES)}")
        bad = set(values) - {"radius_m", "window_s", "min_points"}
        if bad:
            raise ValueError(f"{name}: unknown key(s) {', '.join(sorted(bad))}")
    return doc
