"""GeoJSON (RFC 7946: lon, lat order, WGS 84) forms of monitoring records."""

from __future__ import annotations

from resolute.core.fusion import locate
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
    """Summary form for lists and maps."""
    return {
        "type": "Feature",
        "id": i.pk,
        "geometry": {"type": "Point", "coordinates": [round(i.lon, 7), round(i.lat, 7)]},
        "properties": {
            "event_type": i.event_type,
            "family": i.family,
            "status": i.status,
            "first_seen": _utc(i.first_seen),
            "last_seen": _utc(i.last_seen),
            "located": i.fix_ok,
            "error_m": i.error_m,
            "confidence": i.confidence,
            "confidence_word": i.confidence_word,
            "attribution": i.attribution_kind or None,
            "origin_side": i.origin_side or None,
            "impact_side": i.impact_side or None,
            "observation_count": i.observation_count,
            "marking": marking(i),
        },
    }


def incident_detail(i, member_features: list[dict], line=None) -> dict:
    """The full incident: fix and 95% ellipse (also as a GeoJSON Polygon), each relay chain's
    contribution to the confidence, the attribution with its probabilities, and the member
    observations the reader may see."""
    feature = incident_feature(i)
    ellipse = None
    if i.fix_ok and i.cov_ee is not None:
        fix = locate.Fix(ok=True, lat=i.lat, lon=i.lon, cov_enu=((i.cov_ee, i.cov_en), (i.cov_en, i.cov_nn)))
        ring = locate.ellipse_polygon(fix)
        ellipse = {"type": "Polygon", "coordinates": [[[round(x, 7), round(y, 7)] for x, y in ring]]} if ring else None
    feature["properties"].update(
        {
            "fix": {
                "ok": i.fix_ok,
                "method": i.fix_method or None,
                "note": i.fix_note or None,
                "semi_major_m": i.semi_major_m,
                "semi_minor_m": i.semi_minor_m,
                "orientation_deg": i.orientation_deg,
                "cov_enu_m2": [[i.cov_ee, i.cov_en], [i.cov_en, i.cov_nn]] if i.fix_ok else None,
                "chi2": i.chi2,
                "dof": i.dof,
                "consistent": i.consistent,
                "outlier_observation_ids": i.outlier_ids,
                "ellipse_95": ellipse,
            },
            "confidence_breakdown": i.confidence_terms,
            "attribution_detail": {
                "text": i.attribution or None,
                "kind": i.attribution_kind or None,
                "side_a": line.side_a if line else None,
                "side_b": line.side_b if line else None,
                "p_origin_side_a": i.p_origin_a,
                "p_impact_side_a": i.p_impact_a,
                "origin_side": i.origin_side or None,
                "impact_side": i.impact_side or None,
                "origin_incident_id": i.origin_incident_id,
            },
            "merged_into": i.merged_into_id,
            "observation_ids": [f["id"] for f in member_features],
            "observations": member_features,
        }
    )
    return feature
