"""A small agreement for tests: a straight contact line at lon 36.0 from lat 47 to 49, side A
(RUS) east of it, side B (UKR) west, the Package of Measures bands, one storage site."""

from __future__ import annotations

import pytest
import yaml

SIDE_A = [[36.0, 47.0], [38.0, 47.0], [38.0, 49.0], [36.0, 49.0], [36.0, 47.0]]


def provision(ident, rule_type, severity):
    words = {"en": f"Article {ident}", "fr": f"Article {ident}", "uk": f"Стаття {ident}"}
    return {"id": ident, "rule_type": rule_type, "severity": severity, "title": dict(words), "text": dict(words)}


def agreement_yaml(in_force_from="2020-01-01T00:00:00Z", label="Signed text", extra=()):
    doc = {
        "agreement": "Test ceasefire", "version_label": label, "in_force_from": in_force_from, "sides": {"a": "RUS", "b": "UKR"},
        "withdrawal_bands_km": {"artillery_100mm_plus": 50, "tank": 15},
        "provisions": [
            provision("1.1", "ceasefire_fire", 2), provision("1.2", "cross_line_fire", 3), provision("1.3", "ground_assault", 5),
            provision("2.1", "weapon_in_withdrawal_zone", 4), provision("3.1", "movement_restriction", 2), *extra,
        ],
    }  # fmt: skip
    return yaml.safe_dump(doc)


def zones():
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[36.0, 47.0], [36.0, 49.0]]}, "properties": {"kind": "contact_line", "name": "line"}},
            {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [SIDE_A]}, "properties": {"kind": "held_area", "name": "RUS-held", "party": "RUS"}},
        ],
    }


@pytest.fixture
def agreement_v1(db):
    from resolute.agreement import bundle, services
    from resolute.monitoring import services as monitoring

    monitoring.load_reference_data("test")
    version, _ = services.load_bundle("test", bundle.parse(agreement_yaml(), zones()), origin="test")
    return version
