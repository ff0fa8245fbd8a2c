"""/api/v1/exports: incidents and observations as GeoJSON, KML, CSV and STIX 2.1 files, read
through the same restriction as every other route (an export holds exactly what its reader may
see)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.http import HttpResponse
from ninja import Query, Router, Schema
from pydantic import Field

from resolute.monitoring.schemas import UtcTime
from resolute.errors import InvalidInput
from resolute.monitoring.api import LIVE, Problem
from resolute.monitoring.models import Incident, Observation
from resolute.monitoring.serializers import incident_feature, observation_feature

from . import exports

router = Router(tags=["exports"])
ERRORS = {400: Problem, 401: Problem, 403: Problem, 422: Problem}
MEDIA = {"geojson": "application/geo+json", "kml": "application/vnd.google-earth.kml+xml", "csv": "text/csv; charset=utf-8", "stix": "application/stix+json;version=2.1"}
CSV_COLUMNS = {
    "incidents": ("event_type", "status", "first_seen", "last_seen", "confidence", "confidence_word", "attribution", "origin_side", "impact_side", "error_m", "observation_count", "marking.classification", "marking.tlp"),
    "observations": ("event_type", "channel", "perception", "observed_from", "observed_to", "count", "weapon_class", "source", "grade", "narrative", "marking.classification", "marking.tlp"),
}  # fmt: skip
MAX_EXPORT = 50_000


class Window(Schema):
    start: UtcTime | None = Field(None, description="records whose window ends at or after this (UTC)")
    end: UtcTime | None = Field(None, description="records whose window starts at or before this (UTC)")


def _features(request, collection: str, w: Window) -> list[dict]:
    if collection == "incidents":
        qs = Incident.objects.restrict(request.auth).filter(lat__isnull=False, status__in=LIVE)
        t0, t1, out = "first_seen", "last_seen", incident_feature
    else:
        qs = Observation.objects.restrict(request.auth).select_related("source")
        t0, t1, out = "observed_from", "observed_to", observation_feature
    if w.start:
        qs = qs.filter(**{f"{t1}__gte": w.start})
    if w.end:
        qs = qs.filter(**{f"{t0}__lte": w.end})
    return [out(r) for r in qs.order_by("pk")[:MAX_EXPORT]]


def _file(body: bytes, media: str, filename: str) -> HttpResponse:
    r = HttpResponse(body, content_type=media)
    r["Content-Disposition"] = f'attachment; filename="{filename}"'
    return r


@router.get("/exports/{collection}.{fmt}", response={200: None, **ERRORS}, summary="Incidents or observations as GeoJSON, KML or CSV (what you may see)")
def export(request, collection: Literal["incidents", "observations"], fmt: Literal["geojson", "kml", "csv", "stix"], w: Query[Window]):
    if fmt == "stix":
        if collection != "incidents":
            raise InvalidInput("STIX exports incidents", [{"field": "collection", "message": "use incidents.stix (observations are its sightings)"}])
        return _file(_stix(request, w), MEDIA["stix"], f"incidents-{dt.date.today():%Y%m%d}.stix.json")
    features = _features(request, collection, w)
    name = f"Resolute {collection}"
    if fmt == "geojson":
        body = exports.to_geojson(features, name=name)
    elif fmt == "kml":
        body = exports.to_kml(features, name=name)
    else:
        body = exports.to_csv(features, columns=CSV_COLUMNS[collection])
    return _file(body, MEDIA[fmt], f"{collection}-{dt.date.today():%Y%m%d}.{fmt}")


def _stix(request, w: Window) -> bytes:
    """Incidents with, as sightings, the member observations this reader may see."""
    features = _features(request, "incidents", w)
    ids = [f["id"] for f in features]
    members: dict[int, list] = {}
    visible = Observation.objects.restrict(request.auth).select_related("source")
    for k in range(0, len(ids), 900):
        for o in visible.filter(incident_id__in=ids[k : k + 900]).order_by("pk"):
            members.setdefault(o.incident_id, []).append(observation_feature(o))
    # Stable for the same records: the newest change among them, not the time of the request.
    newest = Incident.objects.filter(pk__in=ids[:900]).order_by("-updated_at").values_list("updated_at", flat=True).first()
    return exports.to_stix(features, members, identity_name="Resolute ceasefire monitoring mission", created=newest or dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
