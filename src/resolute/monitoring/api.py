"""/api/v1 routes of element 1: observations (intake and reads), incidents, sources, parties."""

from __future__ import annotations

import datetime as dt
import json
from typing import Literal

from django.conf import settings
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from pydantic import Field, TypeAdapter, ValidationError

from resolute.core import vocabulary as v
from resolute.errors import InvalidInput, ServiceError, pydantic_errors

from . import services
from .models import CoalitionMember, Incident, Observation, Party, Source
from .schemas import OBSERVATION_BODY_SCHEMA_NOTE, ObservationIn, UtcTime
from . import fusion
from .fusion import current_line
from .serializers import incident_detail, incident_feature, observation_feature

router = Router(tags=["monitoring"])


class Geometry(Schema):
    type: Literal["Point"]
    coordinates: list[float]


class Feature(Schema):
    type: Literal["Feature"]
    id: int
    geometry: Geometry
    properties: dict


class FeatureCollection(Schema):
    type: Literal["FeatureCollection"]
    features: list[Feature]
    numberReturned: int
    next: str | None = Field(None, description="URL of the next page, or null on the last page")


class BulkResult(Schema):
    created: int
    existing: int
    ids: list[int] = Field(description="stored id of each submitted item, in submission order")


class Problem(Schema):
    type: str
    title: str
    status: int
    detail: str
    errors: list[dict] | None = None


class ListFilters(Schema):
    bbox: str | None = Field(None, description="minLon,minLat,maxLon,maxLat (WGS 84 degrees)", max_length=200)
    start: UtcTime | None = Field(None, description="only records whose time window ends at or after this (UTC)")
    end: UtcTime | None = Field(None, description="only records whose time window starts at or before this (UTC)")
    event_type: str | None = Field(None, description="comma-separated event types", max_length=2000)
    cursor: str | None = Field(None, description="the `next` link's cursor", max_length=40)
    limit: int = Field(100, ge=1, le=1000)


ERRORS = {400: Problem, 401: Problem, 403: Problem, 409: Problem, 413: Problem, 415: Problem, 422: Problem}


def _parse_bbox(raw: str | None):
    if raw is None:
        return None
    try:
        parts = [float(x) for x in raw.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 4 or any(x != x or abs(x) == float("inf") for x in parts):
        raise InvalidInput("bad bbox", [{"field": "bbox", "message": "four numbers: minLon,minLat,maxLon,maxLat"}])
    w, s, e, n = parts
    if not (-180 <= w <= e <= 180 and -90 <= s <= n <= 90):
        raise InvalidInput("bad bbox", [{"field": "bbox", "message": "needs -180 <= minLon <= maxLon <= 180 and -90 <= minLat <= maxLat <= 90"}])
    return w, s, e, n


def _parse_types(raw: str | None):
    if raw is None:
        return None
    types = [t.strip() for t in raw.split(",") if t.strip()]
    bad = [t for t in types if t not in v.EVENT_TYPES]
    if bad or not types:
        raise InvalidInput("unknown event type", [{"field": "event_type", "message": f"unknown: {', '.join(bad) or '(empty)'}"}])
    return types


def _parse_cursor(raw: str | None) -> int:
    if raw is None:
        return 0
    # isascii: str.isdigit() is also true for '²' and other Unicode digits that int() refuses.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise InvalidInput("bad cursor", [{"field": "cursor", "message": "use the cursor from a `next` link"}])
    return int(raw)


def _page(request, qs, f: ListFilters, lat="lat", lon="lon", t0="observed_from", t1="observed_to"):
    box = _parse_bbox(f.bbox)
    if box:
        w, s, e, n = box
        qs = qs.filter(**{f"{lon}__gte": w, f"{lon}__lte": e, f"{lat}__gte": s, f"{lat}__lte": n})
    if f.start:
        qs = qs.filter(**{f"{t1}__gte": f.start})
    if f.end:
        qs = qs.filter(**{f"{t0}__lte": f.end})
    types = _parse_types(f.event_type)
    if types:
        qs = qs.filter(event_type__in=types)
    after = _parse_cursor(f.cursor)
    rows = list(qs.filter(pk__gt=after).order_by("pk")[: f.limit + 1])
    more = len(rows) > f.limit
    rows = rows[: f.limit]
    nxt = None
    if more:
        q = request.GET.copy()
        q["cursor"] = str(rows[-1].pk)
        nxt = request.build_absolute_uri(request.path + "?" + q.urlencode())
    return rows, nxt


@router.get("/observations", response={200: FeatureCollection, **ERRORS}, summary="List observations (GeoJSON)")
def list_observations(request, filters: Query[ListFilters]):
    qs = Observation.objects.restrict(request.auth).select_related("source")
    rows, nxt = _page(request, qs, filters)
    return {"type": "FeatureCollection", "features": [observation_feature(o) for o in rows], "numberReturned": len(rows), "next": nxt}


@router.get("/observations/{obs_id}", response={200: Feature, **ERRORS, 404: Problem}, summary="One observation (GeoJSON Feature)")
def get_observation(request, obs_id: int):
    obs = get_object_or_404(Observation.objects.restrict(request.auth).select_related("source"), pk=obs_id)
    return observation_feature(obs)


def _inline_defs(schema: dict) -> dict:
    """ObservationIn's JSON schema with its nested models written in place.

    Ninja only adds models it sees in a signature to #/components/schemas, and this view reads
    its body itself, so a `$ref` to ObservationIn pointed at nothing: clients and schema-driven
    tools could not see the request format. The nested models are not recursive, so inlining
    them gives a self-contained schema."""
    defs = schema.pop("$defs", {})

    def walk(node):
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(x) for k, x in node.items()}
        if isinstance(node, list):
            return [walk(x) for x in node]
        return node

    return walk(schema)


_OBSERVATION_SCHEMA = _inline_defs(ObservationIn.model_json_schema())
_ITEMS = TypeAdapter(list[ObservationIn])
_ONE = TypeAdapter(ObservationIn)
_BODY_MEDIA_TYPES = ("application/json", "application/geo+json")


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


class UnsupportedMediaType(ServiceError):
    # A ServiceError so the API's handler answers with a problem document like every other
    # error (a plain 415 body would be application/json, not what the schema documents).
    status = 415
    title = "Unsupported media type"


def _read_body(request):
    ctype = request.content_type or ""
    if ctype not in _BODY_MEDIA_TYPES:
        raise UnsupportedMediaType("send application/json", [{"field": "Content-Type", "message": f"unsupported: {ctype[:80] or '(none)'}"}])
    try:
        return json.loads(request.body, parse_constant=_reject_constant)
    # RecursionError: a body of a few thousand nested brackets exhausts the parser's stack; it
    # is malformed input, not a server error.
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidInput(f"malformed JSON: {exc}", [{"field": "(body)", "message": "malformed JSON"}]) from None


@router.post(
    "/observations",
    response={200: Feature | BulkResult, 201: Feature | BulkResult, **ERRORS},
    summary="Submit one observation or a list (all-or-nothing)",
    description=OBSERVATION_BODY_SCHEMA_NOTE,
    openapi_extra={
        "requestBody": {
            "required": True,
            # _read_body accepts both media types with the same body.
            "content": {
                media_type: {
                    "schema": {
                        "oneOf": [
                            _OBSERVATION_SCHEMA,
                            {"type": "array", "items": _OBSERVATION_SCHEMA, "minItems": 1, "maxItems": settings.MAX_BULK_OBSERVATIONS},
                        ]
                    }
                }
                for media_type in _BODY_MEDIA_TYPES
            },
        }
    },
)
def submit_observations(request):
    body = _read_body(request)
    single = not isinstance(body, list)
    try:
        items = [_ONE.validate_python(body)] if single else _ITEMS.validate_python(body)
    except ValidationError as exc:
        errors = pydantic_errors(exc)
        raise InvalidInput("; ".join(f"{e['field']}: {e['message']}" for e in errors[:5]), errors) from None
    if not single and not 1 <= len(items) <= settings.MAX_BULK_OBSERVATIONS:
        raise InvalidInput("bad list size", [{"field": "(body)", "message": f"send 1 to {settings.MAX_BULK_OBSERVATIONS} observations"}])
    result = services.submit_observations(items, request.auth, intake="api")
    fusion.after_intake(result.created)
    status = 201 if result.created else 200
    if single:
        obs = result.observation or Observation.objects.select_related("source").get(pk=result.ids[0])
        return Status(status, observation_feature(obs))
    return Status(status, {"created": len(result.created), "existing": len(result.existing), "ids": result.ids})


ATTRIBUTIONS = ("cross_line", "same_side", "indeterminate", "none")
LIVE = ("open", "verified", "not_verified", "refuted")


@router.get("/incidents", response={200: FeatureCollection, **ERRORS}, summary="List incidents (GeoJSON)")
def list_incidents(
    request,
    filters: Query[ListFilters],
    min_confidence: float | None = Query(None, ge=0, le=1),
    attribution: Literal[ATTRIBUTIONS] | None = Query(None, description="cross_line, same_side, indeterminate, or none (not attributable)"),
    origin_side: str | None = Query(None, pattern=r"^[A-Z]{3}$", description="party code of the origin side"),
):
    # Merged and dissolved incidents live on as redirects (GET one shows merged_into), not in lists.
    qs = Incident.objects.restrict(request.auth).filter(lat__isnull=False, status__in=LIVE)
    if min_confidence is not None:
        qs = qs.filter(confidence__gte=min_confidence)
    if attribution is not None:
        qs = qs.filter(attribution_kind="" if attribution == "none" else attribution)
    if origin_side is not None:
        qs = qs.filter(origin_side=origin_side)
    rows, nxt = _page(request, qs, filters, t0="first_seen", t1="last_seen")
    return {"type": "FeatureCollection", "features": [incident_feature(i) for i in rows], "numberReturned": len(rows), "next": nxt}


@router.get("/incidents/{incident_id}", response={200: Feature, **ERRORS, 404: Problem}, summary="One incident with its observations")
def get_incident(request, incident_id: int):
    inc = get_object_or_404(Incident.objects.restrict(request.auth).filter(lat__isnull=False), pk=incident_id)
    members = Observation.objects.restrict(request.auth).filter(incident=inc).select_related("source").order_by("pk")
    line = current_line(inc.first_seen)
    return incident_detail(inc, [observation_feature(o) for o in members], line)


class SourceOut(Schema):
    code: str
    name: str
    channel: str
    grade: str


class Reference(Schema):
    code: str
    name: str


@router.get("/sources", response={200: list[SourceOut], **ERRORS}, summary="Registered sources visible to you")
def list_sources(request):
    return [
        {"code": s.code, "name": s.name, "channel": s.channel, "grade": f"{s.reliability}{s.credibility}"}
        for s in Source.objects.restrict(request.auth).order_by("code")
    ]


@router.get("/parties", response={200: list[Reference], **ERRORS}, summary="Parties to the ceasefire")
def list_parties(request):
    return list(Party.objects.restrict(request.auth).order_by("code").values("code", "name"))


@router.get("/members", response={200: list[Reference], **ERRORS}, summary="Coalition members")
def list_members(request):
    return list(CoalitionMember.objects.restrict(request.auth).order_by("name").values("code", "name"))


