"""The rules engine on a synthetic agreement: every rule, attribution, thresholds, exemptions."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import shapely
from scipy.stats import norm

from resolute.core import geo
from resolute.core import rules as r
from resolute.core import zones as zn

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z: the exercise window opens
HOUR = 3600.0
LINE = ((36.0, 47.0), (36.0, 49.0))  # north-south; side A ("A") east of it, side B ("B") west
SIDE_A = shapely.box(36.0, 47.0, 38.0, 49.0)
FRAME = zn.LocalFrame.around([shapely.LineString(LINE), SIDE_A])
SIDE_B = zn.other_side_area(LINE, SIDE_A, 100.0, FRAME)
SHORT = ("tank", "mortar", "artillery_under_100mm")  # 15 km classes

ZONES = (
    r.Zone("contact_line", "Line 2015", shapely.LineString(LINE)),
    r.Zone("held_area", "A-held", SIDE_A, party="A"),
    r.Zone("withdrawal_band", "A 15 km", zn.withdrawal_band(LINE, SIDE_A, 15.0, FRAME), "A", SHORT),
    r.Zone("withdrawal_band", "A 50 km", zn.withdrawal_band(LINE, SIDE_A, 50.0, FRAME), "A", ("artillery_100mm_plus",)),
    r.Zone("withdrawal_band", "B 15 km", zn.withdrawal_band(LINE, SIDE_B, 15.0, FRAME), "B", SHORT),
    r.Zone("storage_site", "Depot 7", shapely.Point(37.5, 48.5), "A", inventory={"artillery_100mm_plus": 12}, radius_m=500.0),
    r.Zone("no_fly_zone", "NFZ South", shapely.box(37.0, 47.5, 37.3, 47.8)),
    r.Zone("disengagement_area", "DA Zolote", shapely.box(35.95, 48.4, 36.05, 48.5)),
    r.Zone("exercise_area", "Range North", shapely.box(36.05, 47.9, 36.15, 48.0), "A", ("mortar",), T0, T0 + 3 * HOUR),
)
PROVISIONS = (
    r.Provision("2.1", "ceasefire_fire", 3),
    r.Provision("2.2", "cross_line_fire", 4),
    r.Provision("3.1", "weapon_in_withdrawal_zone", 4),
    r.Provision("3.2", "weapon_missing_from_storage", 4),
    r.Provision("4.1", "mine_laying", 3),
    r.Provision("4.2", "air_strike", 5),
    r.Provision("4.3", "no_fly_zone", 4),
    r.Provision("4.4", "ground_assault", 5),
    r.Provision("5.1", "movement_restriction", 2),
    r.Provision("5.2", "interference_with_monitoring", 3),
    r.Provision("6.1", "disengagement_area", 4),
)
VERSION = r.AgreementVersion(1, "A", "B", PROVISIONS, ZONES)
PREPARED = r.prepare(VERSION)

RANGE_CENTRE = (36.1, 47.95)
DA_CENTRE = (36.0, 48.45)  # on the line, in the middle of the disengagement area
NFZ_CENTRE = (37.15, 47.65)
DEPOT = (37.5, 48.5)


def east_of_line(km, lat=48.0):
    """(lon, lat) ``km`` kilometres due east of the line (negative: west)."""
    lat2, lon2 = geo.forward(lat, 36.0, 90.0 if km >= 0 else 270.0, abs(km) * 1000.0)
    return float(lon2), float(lat2)


def away(lonlat, bearing, metres):
    lat2, lon2 = geo.forward(lonlat[1], lonlat[0], bearing, metres)
    return float(lon2), float(lat2)


def iso(sigma):
    return ((sigma**2, 0.0), (0.0, sigma**2))


def inc(event_type="explosion_impact", at=None, sigma=None, **kw):
    """An incident in the exercise window by default; ``at`` = (lon, lat) or None (unlocated)."""
    fields = dict(id=1, event_type=event_type, weapon_class="unknown", t0=T0 + HOUR, t1=T0 + HOUR + 60.0,
                  lat=None if at is None else at[1], lon=None if at is None else at[0],
                  cov_enu=None if sigma is None else iso(sigma), confidence=1.0,
                  p_origin_a=None, p_impact_a=None, p_location_a=None)
    fields.update(kw)
    return r.IncidentFacts(**fields)


def findings(incident, prepared=PREPARED):
    return r.judge([incident], prepared)[0]


def by_rule(incident, prepared=PREPARED):
    out = {}
    for f in findings(incident, prepared):
        assert f.rule_type not in out  # one provision per type in VERSION
        out[f.rule_type] = f
    return out


def version(*provisions, zones=ZONES, **kw):
    return r.AgreementVersion(2, "A", "B", tuple(provisions), zones, **kw)


# --- fire and attribution ------------------------------------------------------------------------


def test_ceasefire_fire_is_attributed_to_the_origin_side():
    f = by_rule(inc(confidence=0.9, p_origin_a=0.95, p_impact_a=0.2))["ceasefire_fire"]
    assert (f.provision_id, f.severity, f.party) == ("2.1", 3, "A")
    assert f.p_party == pytest.approx(0.95) and f.p_side_a == pytest.approx(0.95)
    assert f.p_violation == pytest.approx(0.9) and not f.exempt
    assert "attributed to A with p = 0.95" in f.explanation and "significant" in f.explanation


def test_impact_side_alone_presumes_the_opponent_with_q():
    f = by_rule(inc(p_impact_a=1.0))["ceasefire_fire"]
    assert f.party == "B" and f.p_side_a == pytest.approx(0.1) and f.p_party == pytest.approx(0.9)
    f = by_rule(inc(p_impact_a=0.1))["ceasefire_fire"]  # 0.9*0.9 + 0.1*0.1 = 0.82
    assert f.party == "A" and f.p_side_a == pytest.approx(0.82)
    strict = r.prepare(version(r.Provision("9", "ceasefire_fire", 3, {"impact_implies_opponent": 0.7})))
    f = findings(inc(p_impact_a=1.0), strict)[0]
    assert f.party is None and f.p_side_a == pytest.approx(0.3)  # 0.7 < 0.8 threshold


def test_unknown_sides_are_unattributable():
    f = by_rule(inc())["ceasefire_fire"]
    assert (f.party, f.p_party, f.p_side_a) == (None, None, None)
    assert "could not be attributed" in f.explanation and "neither origin nor impact" in f.explanation
    f = by_rule(inc(p_origin_a=0.6))["ceasefire_fire"]
    assert (f.party, f.p_party, f.p_side_a) == (None, None, 0.6)
    assert "below the 0.80 threshold" in f.explanation


@pytest.mark.parametrize("p_origin_a, party", [(0.8, "A"), (0.7999, None), (0.2, "B"), (0.2001, None), (0.5, None)])
def test_attribution_threshold_edges(p_origin_a, party):
    f = by_rule(inc(p_origin_a=p_origin_a))["ceasefire_fire"]
    assert f.party == party and f.p_side_a == p_origin_a
    assert (f.p_party is None) == (party is None)


def test_attribution_threshold_is_the_versions():
    lenient = r.prepare(version(r.Provision("2.1", "ceasefire_fire", 3), attribution_threshold=0.6))
    assert findings(inc(p_origin_a=0.65), lenient)[0].party == "A"
    assert by_rule(inc(p_origin_a=0.65))["ceasefire_fire"].party is None


def test_flares_are_not_fire_violations():
    assert findings(inc("illumination_flare", at=DA_CENTRE, sigma=50.0, p_origin_a=0.99, p_impact_a=0.0)) == []


def test_cross_line_fire_probability_and_direction():
    f = by_rule(inc(p_origin_a=0.9, p_impact_a=0.1))["cross_line_fire"]
    assert f.p_violation == pytest.approx(0.82)  # 0.9*0.9 + 0.1*0.1
    assert f.p_side_a == pytest.approx(0.81 / 0.82) and f.party == "A"
    assert "crossed the contact line with p = 0.82" in f.explanation
    f = by_rule(inc(p_origin_a=0.1, p_impact_a=0.95))["cross_line_fire"]
    assert f.party == "B" and f.p_side_a == pytest.approx(0.1 * 0.05 / (0.1 * 0.05 + 0.9 * 0.95))


def test_cross_line_fire_needs_both_ends_and_min_p():
    assert "cross_line_fire" not in by_rule(inc(p_origin_a=0.9))
    assert "cross_line_fire" not in by_rule(inc(p_origin_a=0.9, p_impact_a=0.9))  # same side
    assert by_rule(inc(p_origin_a=1.0, p_impact_a=0.5))["cross_line_fire"].p_violation == 0.5  # edge: kept
    assert "cross_line_fire" not in by_rule(inc(p_origin_a=1.0, p_impact_a=0.5, confidence=0.99))
    strict = r.prepare(version(r.Provision("2.2", "cross_line_fire", 4, {"min_p": 0.9})))
    assert findings(inc(p_origin_a=0.9, p_impact_a=0.1), strict) == []
    assert len(findings(inc(p_origin_a=0.99, p_impact_a=0.0), strict)) == 1


# --- withdrawal, storage ---------------------------------------------------------------------------


def test_weapon_inside_its_holders_band():
    f = by_rule(inc("weapon_beyond_withdrawal_line", east_of_line(10.0), 200.0, weapon_class="tank", count=3,
                    confidence=0.9, p_location_a=0.99))["weapon_in_withdrawal_zone"]
    assert (f.zone, f.party, f.p_party, f.p_side_a) == ("A 15 km", "A", 1.0, 1.0)
    assert f.p_violation == pytest.approx(0.9) and "count 3" in f.explanation
    f = by_rule(inc("explosion_outgoing", east_of_line(-10.0), 200.0, weapon_class="mortar"))["weapon_in_withdrawal_zone"]
    assert (f.zone, f.party, f.p_side_a) == ("B 15 km", "B", 0.0)


def test_each_weapon_class_has_its_own_band():
    far = east_of_line(20.0)
    assert "weapon_in_withdrawal_zone" not in by_rule(inc("weapon_beyond_withdrawal_line", far, 200.0, weapon_class="tank"))
    f = by_rule(inc("weapon_beyond_withdrawal_line", far, 200.0, weapon_class="artillery_100mm_plus"))["weapon_in_withdrawal_zone"]
    assert f.zone == "A 50 km"
    near = east_of_line(5.0)
    assert "weapon_in_withdrawal_zone" not in by_rule(inc("weapon_beyond_withdrawal_line", near, 200.0, weapon_class="small_arms"))
    # An impact says nothing about where the weapon stood.
    assert "weapon_in_withdrawal_zone" not in by_rule(inc("explosion_impact", near, 200.0, weapon_class="tank"))


def test_withdrawal_band_edge_probability_and_min_p():
    # A fix on the 15 km edge with 1 km error: half in, half out (the edge is straight here).
    half = r.prepare(version(r.Provision("3.1", "weapon_in_withdrawal_zone", 4, {"min_p": 0.3})))
    f = findings(inc("weapon_beyond_withdrawal_line", east_of_line(15.0), 1000.0, weapon_class="tank"), half)[0]
    assert f.p_violation == pytest.approx(0.5, abs=0.02)
    ten = east_of_line(10.0)  # exact fix inside: P(inside) = 1, so p_violation = confidence
    assert by_rule(inc("muzzle_flash", ten, weapon_class="tank", confidence=0.5))["weapon_in_withdrawal_zone"].p_violation == 0.5
    assert "weapon_in_withdrawal_zone" not in by_rule(inc("muzzle_flash", ten, weapon_class="tank", confidence=0.49))


def test_missing_weapons_near_a_declared_site():
    at = away(DEPOT, 45.0, 1000.0)  # 500 m outside the site's radius, within 3 sigma (sigma 300 m)
    f = by_rule(inc("weapon_missing_from_storage", at, 300.0, weapon_class="artillery_100mm_plus", count=2,
                    confidence=0.8, p_location_a=0.0))["weapon_missing_from_storage"]
    assert (f.zone, f.party, f.p_party, f.p_side_a, f.p_violation) == ("Depot 7", "A", 1.0, 1.0, 0.8)
    assert "declared inventory 12 of artillery_100mm_plus, 2 reported missing" in f.explanation
    f = by_rule(inc("weapon_missing_from_storage", at, 300.0, weapon_class="tank"))["weapon_missing_from_storage"]
    assert "no declared inventory of tank" in f.explanation


def test_site_matching_uses_radius_plus_three_sigma():
    inside_radius = away(DEPOT, 180.0, 400.0)
    assert by_rule(inc("weapon_missing_from_storage", inside_radius))["weapon_missing_from_storage"].zone == "Depot 7"
    outside = away(DEPOT, 180.0, 600.0)  # exact fix 100 m beyond the radius
    f = by_rule(inc("weapon_missing_from_storage", outside, p_location_a=1.0))["weapon_missing_from_storage"]
    assert f.zone == "" and f.party == "A"
    assert by_rule(inc("weapon_missing_from_storage", outside, 40.0))["weapon_missing_from_storage"].zone == "Depot 7"
    assert by_rule(inc("weapon_missing_from_storage", outside, 30.0))["weapon_missing_from_storage"].zone == ""


def test_missing_weapons_far_from_any_site_use_the_location_side():
    f = by_rule(inc("weapon_missing_from_storage", away(DEPOT, 270.0, 5050.0), 300.0, p_location_a=0.1))["weapon_missing_from_storage"]
    assert (f.zone, f.party, f.p_side_a) == ("", "B", 0.1) and f.p_party == pytest.approx(0.9)
    assert "no declared storage site within 4.5 km" in f.explanation  # 4.55 km from the site's edge, floored
    f = by_rule(inc("weapon_missing_from_storage", p_location_a=0.5))["weapon_missing_from_storage"]  # unlocated
    assert f.party is None and f.p_side_a == 0.5 and "not located" in f.explanation


# --- event-type rules ----------------------------------------------------------------------------


def test_mine_laying_is_the_location_holders():
    assert by_rule(inc("mine_laying", p_location_a=0.9, p_origin_a=0.0))["mine_laying"].party == "A"
    f = by_rule(inc("mine_laying", p_origin_a=0.05))["mine_laying"]  # falls back to the origin
    assert f.party == "B" and f.p_side_a == 0.05
    assert by_rule(inc("mine_laying"))["mine_laying"].party is None


def test_air_strike_origin_then_opponent_of_the_side_hit():
    assert by_rule(inc("air_strike", p_origin_a=0.02, p_impact_a=0.0))["air_strike"].party == "B"
    f = by_rule(inc("armed_drone_strike", p_impact_a=0.95))["air_strike"]
    assert f.p_side_a == pytest.approx(0.05 * 0.9 + 0.95 * 0.1) and f.party == "B"
    f = by_rule(inc("armed_drone_strike", p_location_a=0.0))["air_strike"]  # no impact side: the location's
    assert f.p_side_a == pytest.approx(0.9) and f.party == "A" and f.severity == 5


def test_no_fly_zone_names_the_zone():
    f = by_rule(inc("air_strike", NFZ_CENTRE, 300.0, confidence=0.7, p_impact_a=1.0))["no_fly_zone"]
    assert (f.zone, f.party) == ("NFZ South", "B") and f.p_violation == pytest.approx(0.7)
    assert "NFZ South" in f.explanation
    got = by_rule(inc("air_strike", away(NFZ_CENTRE, 90.0, 30_000.0), 300.0, p_impact_a=1.0))
    assert "no_fly_zone" not in got and "air_strike" in got


def test_ground_assault_attacker_is_the_opponent_of_the_ground():
    f = by_rule(inc("ground_assault", p_location_a=0.0))["ground_assault"]
    assert f.party == "A" and f.p_side_a == pytest.approx(0.9)
    assert by_rule(inc("ground_assault", p_origin_a=0.99))["ground_assault"].party is None  # origin is not used


def test_movement_restriction_and_interference():
    assert by_rule(inc("movement_restriction", p_location_a=0.97))["movement_restriction"].party == "A"
    assert by_rule(inc("movement_restriction", p_origin_a=0.97))["movement_restriction"].p_side_a is None
    f = by_rule(inc("interference_jamming", p_location_a=1.0))["interference_with_monitoring"]
    assert (f.party, f.p_side_a) == (None, None) and "victim" in f.explanation
    f = by_rule(inc("interference_fire_at_asset", p_origin_a=0.02))["interference_with_monitoring"]
    assert f.party == "B" and f.p_party == pytest.approx(0.98)


# --- disengagement areas ---------------------------------------------------------------------------


def test_fire_in_a_disengagement_area():
    f = by_rule(inc("small_arms_fire", DA_CENTRE, 100.0, confidence=0.6, p_origin_a=0.03))["disengagement_area"]
    assert (f.zone, f.party, f.severity) == ("DA Zolote", "B", 4) and f.p_violation == pytest.approx(0.6)
    assert "disengagement_area" not in by_rule(inc("small_arms_fire", DA_CENTRE, 100.0, confidence=0.49))
    assert "disengagement_area" not in by_rule(inc("small_arms_fire", away(DA_CENTRE, 0.0, 20_000.0), 100.0))


def test_disengagement_party_follows_the_events_own_rule():
    got = by_rule(inc("ground_assault", DA_CENTRE, 100.0, p_location_a=1.0))
    assert got["disengagement_area"].party == got["ground_assault"].party == "B"
    got = by_rule(inc("armed_drone_strike", DA_CENTRE, 100.0, p_location_a=1.0))
    assert got["disengagement_area"].p_side_a == got["air_strike"].p_side_a == pytest.approx(0.1)


def test_disengagement_probability_on_its_edge():
    # The area's northern edge is the parallel 48.5; a fix on it with 500 m error is half inside.
    edge = (36.0, 48.5)
    half = r.prepare(version(r.Provision("6.1", "disengagement_area", 4, {"min_p": 0.2})))
    assert findings(inc("small_arms_fire", edge, 500.0), half)[0].p_violation == pytest.approx(0.5, abs=0.02)
    inside_north = away(edge, 180.0, 500.0)  # 1 sigma in: Phi(1)
    assert findings(inc("small_arms_fire", inside_north, 500.0), half)[0].p_violation == pytest.approx(norm.cdf(1.0), abs=0.02)


# --- declared live-fire exercises ------------------------------------------------------------------


EXERCISE = dict(event_type="explosion_outgoing", at=RANGE_CENTRE, sigma=100.0, weapon_class="mortar", p_origin_a=0.99)


def test_fire_in_a_declared_exercise_is_exempt():
    got = by_rule(inc(**EXERCISE))
    for rule in ("ceasefire_fire", "weapon_in_withdrawal_zone"):  # the range lies in A's 15 km band
        f = got[rule]
        assert f.exempt and f.party == "A" and "Range North" in f.explanation and "not a violation" in f.explanation
    assert got["weapon_in_withdrawal_zone"].zone == "A 15 km"


@pytest.mark.parametrize(
    "change",
    [
        dict(t0=T0 - 60.0, t1=T0 + 60.0),  # starts a minute before the window
        dict(t0=T0 + 3 * HOUR - 60.0, t1=T0 + 3 * HOUR + 60.0),  # ends a minute after it
        dict(at=(36.3, 47.95)),  # outside the area (still in A's band)
        dict(weapon_class="artillery_under_100mm"),  # not declared for the exercise
        dict(sigma=5000.0),  # cannot be placed inside with p >= 0.9
        dict(at=None),  # unlocated
    ],
)
def test_outside_the_declared_exercise_is_a_violation(change):
    got = by_rule(inc(**{**EXERCISE, **change}))
    assert "ceasefire_fire" in got and all(not f.exempt for f in got.values())


@pytest.mark.parametrize("p_origin_a", [0.01, 0.6])  # B firing; unattributable (not shown to be A)
def test_fire_by_another_than_the_exercises_party_is_a_violation(p_origin_a):
    f = by_rule(inc(**{**EXERCISE, "p_origin_a": p_origin_a}))["ceasefire_fire"]
    assert not f.exempt and f.party != "A"


def test_exercise_window_bounds_are_inclusive_and_min_p_is_a_provision_param():
    assert by_rule(inc(**EXERCISE, t0=T0, t1=T0 + 3 * HOUR))["ceasefire_fire"].exempt
    picky = r.prepare(version(r.Provision("2.1", "ceasefire_fire", 3, {"exercise_min_p": 0.9})))
    edge = (36.05, 47.95)  # on the range's western edge: about half inside
    assert not findings(inc(**{**EXERCISE, "at": edge}), picky)[0].exempt
    lax = r.prepare(version(r.Provision("2.1", "ceasefire_fire", 3, {"exercise_min_p": 0.4})))
    assert findings(inc(**{**EXERCISE, "at": edge}), lax)[0].exempt


def test_exercise_exempts_disengagement_findings_too():
    zones = ZONES + (r.Zone("exercise_area", "DA drill", shapely.box(35.95, 48.4, 36.05, 48.5), "B"),)
    prepared = r.prepare(version(r.Provision("6.1", "disengagement_area", 4), zones=zones))
    f = findings(inc("small_arms_fire", DA_CENTRE, 100.0, p_origin_a=0.0, t0=0.0, t1=1.0), prepared)[0]
    assert f.exempt and f.zone == "DA Zolote" and "DA drill" in f.explanation  # no window, no classes: always
    assert not findings(inc("small_arms_fire", DA_CENTRE, 100.0, p_origin_a=1.0), prepared)[0].exempt


# --- unlocated incidents, provisions, order ------------------------------------------------------


def test_unlocated_incidents_get_only_event_type_findings():
    got = by_rule(inc("explosion_outgoing", weapon_class="tank", p_origin_a=0.99, p_impact_a=0.0))
    assert set(got) == {"ceasefire_fire", "cross_line_fire"}
    assert set(by_rule(inc("air_strike", p_impact_a=1.0))) == {"air_strike"}  # no no-fly-zone finding
    assert set(by_rule(inc("ground_assault", p_location_a=1.0))) == {"ground_assault"}


def test_every_provision_of_a_type_applies_and_absent_types_yield_nothing():
    prepared = r.prepare(version(r.Provision("1", "ceasefire_fire", 2), r.Provision("1-bis", "ceasefire_fire", 5)))
    got = findings(inc("small_arms_fire", DA_CENTRE, 100.0, p_origin_a=0.0, p_impact_a=1.0), prepared)
    assert [(f.provision_id, f.severity) for f in got] == [("1", 2), ("1-bis", 5)]
    assert findings(inc("mine_laying", p_location_a=1.0), prepared) == []


def test_findings_follow_the_provision_order_and_judge_keeps_input_order():
    got = findings(inc("small_arms_fire", DA_CENTRE, 100.0, p_origin_a=0.0, p_impact_a=1.0))
    assert [f.provision_id for f in got] == ["2.1", "2.2", "6.1"]
    batch = r.judge([inc("mine_laying", id=7, p_location_a=1.0), inc("illumination_flare", id=8), inc("movement_restriction", id=9)], PREPARED)
    assert [[f.rule_type for f in fs] for fs in batch] == [["mine_laying"], [], ["movement_restriction"]]
    assert "Incident 7 " in batch[0][0].explanation and r.judge([], PREPARED) == []


# --- validation ------------------------------------------------------------------------------------


def _replace_zone(i, **kw):
    zones = list(ZONES)
    zones[i] = dataclasses.replace(zones[i], **kw)
    return tuple(zones)


@pytest.mark.parametrize(
    "bad, message",
    [
        (version(r.Provision("7", "curfew", 3)), "provision '7': unknown rule type 'curfew'"),
        (version(r.Provision("7", "mine_laying", 0)), "provision '7': severity"),
        (version(r.Provision("7", "mine_laying", 6)), "provision '7': severity"),
        (version(r.Provision("7", "mine_laying", 3, {"min_P": 0.5})), "unknown param 'min_P'"),
        (version(r.Provision("7", "mine_laying", 3, {"min_p": 1.5})), "min_p must be a probability"),
        (version(r.Provision("7", "mine_laying", 3), r.Provision("7", "air_strike", 3)), "'7' appears more than once"),
        (version(zones=ZONES + (r.Zone("buffer", "X", SIDE_A),)), "zone 'X': unknown zone kind 'buffer'"),
        (version(zones=ZONES + (ZONES[0],)), "exactly one contact_line zone, has 2"),
        (version(zones=ZONES[:1] + ZONES[2:]), "exactly one held_area zone, has 0"),
        (version(zones=_replace_zone(1, party="B")), "held area must be side A's"),
        (version(zones=_replace_zone(2, weapon_classes=("howitzer",))), "zone 'A 15 km': unknown weapon class 'howitzer'"),
        (version(zones=_replace_zone(2, party="")), "zone 'A 15 km': party '' is neither side"),
        (version(zones=_replace_zone(5, radius_m=0.0)), "zone 'Depot 7': a storage site"),
        (version(zones=_replace_zone(8, valid_to=T0 - 1.0)), "zone 'Range North': valid_from is after valid_to"),
        (version(attribution_threshold=0.5), "attribution_threshold"),
    ],
)
def test_prepare_rejects_a_malformed_version_naming_the_item(bad, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        r.prepare(bad)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(event_type="riot"), "incident 1: unknown event type"),
        (dict(weapon_class="howitzer"), "incident 1: unknown weapon class"),
        (dict(p_origin_a=1.2), "incident 1: p_origin_a"),
        (dict(confidence=-0.1), "incident 1: confidence"),
        (dict(lat=48.0, lon=None), "incident 1: give both lat and lon"),
        (dict(t0=T0 + 10.0, t1=T0), "incident 1: needs finite t0 <= t1"),
        (dict(t1=None), "incident 1: needs finite t0 <= t1"),
        (dict(lat=48.0, lon=36.5, cov_enu=((1.0, 0.0), (0.0, -1.0))), "incident 1: cov_enu"),
    ],
)
def test_judge_rejects_a_malformed_incident_naming_it(change, message):
    with pytest.raises(ValueError, match=message):
        r.judge([inc(**change)], PREPARED)


# --- the vectorised path -------------------------------------------------------------------------


def _random_incidents(n, seed):
    """Incidents of every type scattered over the zones' edges, with and without fixes."""
    rng = np.random.default_rng(seed)
    centres = [RANGE_CENTRE, DA_CENTRE, NFZ_CENTRE, DEPOT, east_of_line(15.0, 47.5), east_of_line(-15.0, 48.6), east_of_line(50.0)]
    weapons = ["tank", "mortar", "artillery_100mm_plus", "small_arms", "unknown"]
    types = [*r.FIRE_TYPES, *sorted(r.STRIKE_TYPES), "ground_assault", "weapon_beyond_withdrawal_line",
             "weapon_missing_from_storage", "mine_laying", "movement_restriction", "interference_jamming"]

    def maybe():
        return None if rng.random() < 0.3 else float(rng.random())

    out = []
    for i in range(n):
        centre = centres[rng.integers(len(centres))]
        at = away(centre, rng.uniform(0, 360), rng.exponential(3000.0)) if rng.random() > 0.1 else None
        sigma = float(rng.uniform(30.0, 3000.0)) if rng.random() > 0.1 else None
        t0 = T0 + rng.uniform(-HOUR, 3 * HOUR)
        out.append(inc(str(rng.choice(types)), at, sigma, id=i, weapon_class=str(rng.choice(weapons)), t0=t0, t1=t0 + 60.0,
                       confidence=float(rng.uniform(0.3, 1.0)), p_origin_a=maybe(), p_impact_a=maybe(), p_location_a=maybe()))
    return out


def test_batch_agrees_exactly_with_one_at_a_time():
    exercise_edge = dict(EXERCISE, at=(36.05, 47.95), sigma=300.0)  # sampled exercise probabilities too
    incidents = [*_random_incidents(300, seed=4), inc(**EXERCISE, id=300), inc(**exercise_edge, id=301)]
    batch = r.judge(incidents, PREPARED)
    single = [r.judge([f], PREPARED)[0] for f in incidents]
    assert batch == single
    kinds = {f.rule_type for fs in batch for f in fs}
    assert kinds == set(r.RULE_TYPES)  # the sample exercises every rule
    assert any(f.exempt for fs in batch for f in fs) and any(f.party is None for fs in batch for f in fs)


def test_thousands_of_incidents_are_judged_one_list_each():
    # (Speed is a benchmark figure, not a test: see the issue note.)
    incidents = _random_incidents(3000, seed=9)
    result = r.judge(incidents, PREPARED)
    assert len(result) == 3000 and all(isinstance(fs, list) for fs in result)


def test_zone_probability_is_the_direct_p_inside():
    edge = (37.3, 47.65)  # on the zone's eastern edge (the meridian 37.3)
    at = away(edge, 270.0, 1000.0)  # half a sigma inside
    f = by_rule(inc("air_strike", at, 2000.0, confidence=0.9, p_impact_a=1.0))["no_fly_zone"]
    ((_, geom_m),) = PREPARED.zones["no_fly_zone"]
    p, se = zn.p_inside(PREPARED.frame, geom_m, *PREPARED.frame.project(*at), np.array(iso(2000.0)))
    assert se > 0 and p == pytest.approx(norm.cdf(0.5), abs=0.02)
    assert f.p_violation == pytest.approx(0.9 * p, abs=1e-12)
