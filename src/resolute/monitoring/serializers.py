"""GeoJSON (RFC 7946: lon, lat order, WGS 84) forms of monitoring records."""

from __future__ import annotations

from resolute.core.markings import Classification


def _utc(t):
    return t.isoformat().replace("+00:00", "Z") if t else None


def marking(rec) -> dict:
    return {
        "classification": Classification(rec.classification).name,
        "tlp": rec.tlp,
        "releasable_to": [c for c in rec.releasable_to.split("|") if c],
        "originator": rec.originator,
    }


def observation_feature(o) -> dict:
    direction = None
    if o.bearing_deg is not None or o.compass_sector is not None:
        direction = {
            "bearing_deg": o.bearing_deg,
            "bearing_sigma_deg": o.bearing_sigma_deg,
            "compass_sector": o.compass_sector,
            "range_min_m": o.range_min_m,
            "range_max_m": o.range_max_m,
        }
    location = {"lat": o.event_lat, "lon": o.event_lon, "error_m": o.event_error_m} if o.event_lat is not None else None
    return {
        "type": "Feature",
        "id": o.pk,
        "geometry": {"type": "Point", "coordinates": [round(o.lon, 7), round(o.lat, 7)]},
        "properties": {
            "client_id": str(o.client_id),
            "channel": o.channel,
            "observer": {"lat": o.observer_lat, "lon": o.observer_lon, "accuracy_m": o.observer_accuracy_m},
            "observed_from": _utc(o.observed_from),
            "observed_to": _utc(o.observed_to),
            "event_type": o.event_type,
            "perception": o.perception,
            "count": o.count,
            "weapon_class": o.weapon_class,
            "location": location,
            "direction": direction,
            "indicative_radius_m": o.radius_m,
            "narrative": o.narrative,
            "attachments": o.attachments,
            "source": o.source.code,
            "grade": f"{o.reliability}{o.credibility}",
            "chain": o.chain,
            "marking": marking(o),
            "incident_id": o.incident_id,
            "received_at": _utc(o.received_at),
        },
    }


def incident_feature(i) -> dict:
    return {
        "type": "Feature",
        "id": i.pk,
        "geometry": {"type": "Point", "coordinates": [round(i.lon, 7), round(i.lat, 7)]},
        "properties": {
            "event_type": i.event_type,
            "status": i.status,
            "first_seen": _utc(i.first_seen),
            "last_seen": _utc(i.last_seen),
            "error_m": i.error_m,
            "confidence": i.confidence,
            "observation_count": i.observation_count,
            "marking": marking(i),
        },
    }
