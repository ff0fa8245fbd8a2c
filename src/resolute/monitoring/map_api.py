"""/api/v1/map: what the situation map draws, sized for a browser.

With a hundred thousand incidents in view the browser must not receive a hundred thousand
features: above `MAP_MAX_FEATURES` the server answers with grid cells (counts per cell of a
zoom-dependent square grid, with the attribution mix), computed by the database in one GROUP BY.
Below it, the incidents themselves, with their 95 % error ellipse and the highest severity of
their current findings. Both read through `restrict()`: a cell counts only what the reader may
see, so a count never reveals a record the reader may not read.
"""

from __future__ import annotations

import datetime as dt

from typing import Literal

from django.conf import settings
from django.db.models import Avg, Count, F, IntegerField, Max, Min, OuterRef, Q, Subquery
from django.db.models.functions import Floor
from ninja import Query, Router, Schema
from pydantic import Field

from resolute.accounts import roles
from resolute.agreement.models import AgreementVersion, Finding
from resolute.agreement.services import version_in_force
from resolute.core import vocabulary as v
from resolute.errors import InvalidInput

from .api import ERRORS, LIVE, _parse_bbox
from .fusion import current_line
from .models import Incident, Observation
from .schemas import UtcTime

router = Router(tags=["map"])

#: Grid cells per 256-pixel tile width: cells of about 64 pixels on screen.
CELLS_PER_TILE = 4


class MapFilters(Schema):
    bbox: str | None = Field(None, description="minLon,minLat,maxLon,maxLat (WGS 84 degrees); default the whole world", max_length=200)
    zoom: int = Field(6, ge=0, le=20, description="the map's zoom level (sets the grid cell size)")
    start: UtcTime | None = Field(None, description="incidents whose last observation is at or after this (UTC)")
    end: UtcTime | None = Field(None, description="incidents whose first observation is at or before this (UTC)")
    event_type: str | None = Field(None, description="comma-separated event types", max_length=2000)
    status: str | None = Field(None, description="comma-separated statuses (open, verified, not_verified, refuted)", max_length=200)
    min_confidence: float = Field(0.0, ge=0, le=1, description="probability the incident is real, at least")
    mode: Literal["auto", "grid"] = Field("auto", description="auto: incidents when few enough, else grid cells")


def cell_degrees(zoom: int) -> float:
    """Grid cell edge in degrees of longitude (and latitude) at a Web Mercator zoom level."""
    return 360.0 / (2**zoom) / CELLS_PER_TILE


def _split(raw: str | None, allowed: tuple[str, ...], field: str) -> list[str] | None:
    if not raw:
        return None
    values = [x.strip() for x in raw.split(",") if x.strip()]
    bad = [x for x in values if x not in allowed]
    if bad:
        raise InvalidInput(f"unknown {field}", [{"field": field, "message": f"unknown: {', '.join(bad[:5])}"}])
    return values


def filtered(user, f: MapFilters):
    qs = Incident.objects.restrict(user).filter(lat__isnull=False)
    qs = qs.filter(status__in=_split(f.status, LIVE, "status") or LIVE)
    types = _split(f.event_type, tuple(v.EVENT_TYPES), "event_type")
    if types:
        qs = qs.filter(event_type__in=types)
    if f.min_confidence > 0:
        qs = qs.filter(confidence__gte=f.min_confidence)
    if f.start:
        qs = qs.filter(last_seen__gte=f.start)
    if f.end:
        qs = qs.filter(first_seen__lte=f.end)
    box = _parse_bbox(f.bbox)
    if box:
        w, s, e, n = box
        qs = qs.filter(lon__gte=w, lon__lte=e, lat__gte=s, lat__lte=n)
    return qs


def _severity(user):
    """Highest severity of the incident's current, non-exempt findings the reader may see."""
    if not roles.allows(user, roles.VIEW, "finding"):
        return None
    findings = Finding.objects.restrict(user).filter(incident=OuterRef("pk"), current=True, exempt=False)
    return Subquery(findings.values("incident").annotate(m=Max("severity")).values("m")[:1], output_field=IntegerField())


def _ellipse(i: Incident) -> dict | None:
    if not (i.fix_ok and i.semi_major_m):
        return None
    return {"semi_major_m": round(i.semi_major_m, 1), "semi_minor_m": round(i.semi_minor_m or i.semi_major_m, 1), "orientation_deg": round(i.orientation_deg or 0.0, 1)}


def _incidents(user, qs) -> list[dict]:
    severity = _severity(user)
    if severity is not None:
        qs = qs.annotate(severity=severity)
    fields = ("pk", "lat", "lon", "event_type", "status", "confidence", "confidence_word", "origin_side", "impact_side", "attribution_kind", "first_seen", "fix_ok", "semi_major_m", "semi_minor_m", "orientation_deg", "observation_count")
    out = []
    for i in qs.only(*fields).order_by("pk"):
        out.append(
            {
                "id": i.pk, "lat": round(i.lat, 6), "lon": round(i.lon, 6), "event_type": i.event_type, "status": i.status,
                "confidence": None if i.confidence is None else round(i.confidence, 3), "confidence_word": i.confidence_word,
                "origin_side": i.origin_side or None, "impact_side": i.impact_side or None, "attribution": i.attribution_kind or None,
                "first_seen": i.first_seen.isoformat().replace("+00:00", "Z"), "observations": i.observation_count,
                "severity": getattr(i, "severity", None), "ellipse": _ellipse(i),
            }
        )  # fmt: skip
    return out


def _grid(qs, zoom: int, side_a: str | None, side_b: str | None) -> list[dict]:
    cell = cell_degrees(zoom)
    rows = (
        qs.annotate(gx=Floor(F("lon") / cell), gy=Floor(F("lat") / cell))
        .values("gx", "gy")
        .annotate(
            n=Count("id"),
            lat=Avg("lat"),
            lon=Avg("lon"),
            a=Count("id", filter=Q(origin_side=side_a or "-")),
            b=Count("id", filter=Q(origin_side=side_b or "-")),
        )
        .order_by()
    )
    return [
        {"lat": round(r["lat"], 5), "lon": round(r["lon"], 5), "count": r["n"], "origin_a": r["a"], "origin_b": r["b"], "cell": [int(r["gx"]), int(r["gy"])]}
        for r in rows
    ]


@router.get("/map/incidents", response={200: dict, **ERRORS}, summary="Incidents in view, or grid cells when there are too many")
def map_incidents(request, f: Query[MapFilters]):
    qs = filtered(request.auth, f)
    total = qs.count()
    line = current_line()
    sides = {"side_a": line.side_a if line else None, "side_b": line.side_b if line else None}
    if f.mode == "grid" or total > settings.MAP_MAX_FEATURES:
        cells = _grid(qs, f.zoom, sides["side_a"], sides["side_b"])
        return {"mode": "grid", "total": total, "cell_deg": cell_degrees(f.zoom), **sides, "cells": cells}
    return {"mode": "incidents", "total": total, **sides, "incidents": _incidents(request.auth, qs)}


def _geojson(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


@router.get("/map/layers", response={200: dict, **ERRORS}, summary="Contact line, agreement zones and observation posts for the map")
def map_layers(request, at: UtcTime | None = Query(None, description="UTC time; default now")):
    user = request.auth
    line = current_line(at)
    contact = []
    if line is not None and roles.allows(user, roles.VIEW, "incident"):
        contact = [
            {"type": "Feature", "geometry": line.line, "properties": {"kind": "contact_line", "name": line.name}},
            {"type": "Feature", "geometry": line.side_a_area, "properties": {"kind": "held_area", "party": line.side_a, "name": line.side_a}},
        ]
    zones = []
    version = version_in_force(at or dt.datetime.now(dt.timezone.utc))
    if version is not None and AgreementVersion.objects.restrict(user).filter(pk=version.pk).exists():
        for z in version.zones.exclude(kind="contact_line").order_by("kind", "name"):
            zones.append({"type": "Feature", "geometry": z.geometry, "properties": {"kind": z.kind, "name": z.name, "party": z.party or None, "derived": z.derived}})
    posts = []
    if roles.allows(user, roles.VIEW, "observation"):
        # A post is where its observers stand; rounded to about 100 m so nearby reports are one post.
        rows = (
            Observation.objects.restrict(user)
            .filter(channel="observation_post")
            .values("source__code", "observer_lat", "observer_lon")
            .annotate(n=Count("id"))
            .order_by()
        )
        seen: dict[tuple, dict] = {}
        for r in rows:
            key = (round(r["observer_lat"], 3), round(r["observer_lon"], 3))
            post = seen.setdefault(key, {"type": "Feature", "geometry": {"type": "Point", "coordinates": [key[1], key[0]]}, "properties": {"kind": "observation_post", "reports": 0}})
            post["properties"]["reports"] += r["n"]
        posts = list(seen.values())
    return {"contact": _geojson(contact), "zones": _geojson(zones), "posts": _geojson(posts), "agreement": version.label if version else None}


def time_range(user) -> tuple | None:
    """First and last time of the incidents the reader may see (the map's time slider)."""
    r = Incident.objects.restrict(user).filter(lat__isnull=False, status__in=LIVE).aggregate(a=Min("first_seen"), b=Max("last_seen"))
    return (r["a"], r["b"]) if r["a"] else None

