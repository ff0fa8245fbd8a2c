"""The monitoring vocabulary, after the OSCE SMM's practice (reference/monitoring.md).

Pure data so that the core, the demo generator, the API schemas and the models share one list.
"""

from __future__ import annotations

CHANNELS = (
    "patrol",
    "observation_post",
    "fixed_camera",
    "uav",
    "acoustic_sensor",
    "radar",
    "national_intelligence",
    "open_source",
    "party_complaint",
)

EVENT_TYPES = (
    "explosion_impact",
    "explosion_outgoing",
    "explosion_airburst",
    "explosion_undetermined",
    "projectile_in_flight",
    "muzzle_flash",
    "illumination_flare",
    "small_arms_fire",
    "heavy_machine_gun_fire",
    "armed_drone_strike",
    "air_strike",
    "ground_assault",
    "weapon_beyond_withdrawal_line",
    "weapon_missing_from_storage",
    "mine_laying",
    "movement_restriction",
    "interference_jamming",
    "interference_fire_at_asset",
)

PERCEPTIONS = ("heard", "seen", "heard_and_seen", "instrument")

WEAPON_CLASSES = (
    "small_arms",
    "heavy_machine_gun",
    "mortar",
    "artillery_under_100mm",
    "artillery_100mm_plus",
    "tank",
    "mlrs",
    "heavy_mlrs",
    "tactical_missile",
    "drone",
    "aircraft",
    "mine",
    "unknown",
)

# Withdrawal distance from the contact line (km) per weapon class: Package of Measures,
# 12 February 2015, and its addendum of 29 September 2015.
WITHDRAWAL_KM = {
    "tank": 15,
    "artillery_under_100mm": 15,
    "mortar": 15,
    "artillery_100mm_plus": 50,
    "mlrs": 70,
    "heavy_mlrs": 140,
    "tactical_missile": 140,
}
