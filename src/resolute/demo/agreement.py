"""The demo's agreement: the shipped provisions (agreement/data/provisions.yaml) with zones drawn
from the scenario's geography, so that the demo week is judged against a plausible text."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import shapely
import yaml
from shapely.geometry import mapping

from resolute.agreement.bundle import Bundle, parse
from resolute.core import zones as geo_zones

from . import scenario as world

PROVISIONS = Path(__file__).resolve().parents[1] / "agreement" / "data" / "provisions.yaml"


def bundle_documents(s, in_force_from: dt.datetime) -> tuple[str, dict]:
    """(agreement.yaml text, zones FeatureCollection) for scenario `s`."""
    header = yaml.safe_load(PROVISIONS.read_text(encoding="utf-8"))
    header["in_force_from"] = in_force_from.isoformat()
    line = [list(p) for p in s.contact_line]
    held = world.held_area("RUS")
    features = [
        _feature("contact_line", "Line of contact (demo drawing)", {"type": "LineString", "coordinates": line}),
        _feature("held_area", "Area held by RUS (demo approximation)", held, party="RUS"),
    ]
    frame = geo_zones.LocalFrame.around([shapely.LineString(line)])
    # The security zone: 15 km either side of the line (display; the bands carry the rules).
    security = geo_zones.withdrawal_band(line, geo_zones.other_side_area(line, shapely.geometry.shape(held), 40.0, frame), 15.0, frame).union(
        geo_zones.withdrawal_band(line, shapely.geometry.shape(held), 15.0, frame)
    )
    features.append(_feature("security_zone", "Security zone (15 km either side)", mapping(security)))
    # Declared permanent storage sites: where the scenario's inspections take place, with the
    # inventories the parties declared.
    for k, t in enumerate(x for x in s.truth if x["kind"] == "weapon_missing_from_storage"):
        features.append(
            _feature(
                "storage_site", f"Permanent storage site {k + 1}", {"type": "Point", "coordinates": [t["lon"], t["lat"]]},
                party=t["impact_side"], inventory={t["weapon_class"]: int(t["count"]) + 12}, radius_m=1500.0,
            )
        )  # fmt: skip
    # A disengagement area astride the line, and a no-fly zone over a city far behind it.
    mid = shapely.LineString(line).interpolate(0.5, normalized=True)
    features.append(_feature("disengagement_area", "Disengagement area 1", mapping(_box(mid.x, mid.y, 0.06, 0.04))))
    features.append(_feature("no_fly_zone", "No-fly zone over Zaporizhzhia", mapping(_box(35.14, 47.84, 0.25, 0.15))))
    # A declared live-fire exercise, far behind the line on the Ukrainian side, on the week's
    # third day.
    day3 = s.start + dt.timedelta(days=2)
    features.append(
        _feature(
            "exercise_area", "Declared live-fire exercise (range near Dnipro)", mapping(_box(34.6, 48.25, 0.12, 0.08)), party="UKR",
            weapon_classes=["artillery_100mm_plus", "mortar"], valid_from=(day3 + dt.timedelta(hours=6)).isoformat(),
            valid_to=(day3 + dt.timedelta(hours=14)).isoformat(),
        )
    )  # fmt: skip
    return yaml.safe_dump(header, allow_unicode=True, sort_keys=False), {"type": "FeatureCollection", "features": features}


def demo_bundle(s, in_force_from: dt.datetime) -> Bundle:
    text, collection = bundle_documents(s, in_force_from)
    return parse(text, collection)


def _box(lon: float, lat: float, half_w: float, half_h: float):
    return shapely.box(lon - half_w, lat - half_h, lon + half_w, lat + half_h)


def _feature(kind: str, name: str, geometry: dict, **props) -> dict:
    geometry = {"type": geometry["type"], "coordinates": _lists(geometry["coordinates"])}
    return {"type": "Feature", "geometry": geometry, "properties": {"kind": kind, "name": name, **props}}


def _lists(c):
    return [_lists(x) for x in c] if isinstance(c, (list, tuple)) and c and isinstance(c[0], (list, tuple)) else list(c)
