"""OGC API – Features – Part 1: Core, GeoJSON encoding, over incidents and observations.

GIS clients (QGIS, GDAL's OAPIF driver, OWSLib, ArcGIS) read this standard without a plug-in, so
the map layers of a monitoring mission can point at the system directly instead of at exported
files that go stale. Plain Django views, JSON only.

Who is asking is decided exactly as the REST API decides it (`resolute.web.auth.AUTH`, in its
order: bearer token, session, else the public), and every record is read through
`Model.objects.restrict(user)`: a GIS layer holds what its reader may see and nothing more. The
feature bodies are the REST API's (`observation_feature`, `incident_feature`), so a layer and an
API call show the same record the same way.

Mounted by web/urls.py under a prefix ("ogc/"); links are built with `reverse`, so they follow
wherever the patterns are mounted.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Max, Min, Q
from django.http import HttpResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views.decorators.csrf import csrf_exempt
from ninja.errors import AuthenticationError, HttpError

from resolute.accounts import roles
from resolute.monitoring.api import LIVE
from resolute.monitoring.models import Incident, Observation
from resolute.monitoring.serializers import incident_feature, observation_feature
from resolute.web.auth import AUTH
from resolute.web.problems import problem_body

app_name = "ogcapi"

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    # Not oas30: its class wants the definition in HTML too and a complete description of every
    # status code; what /api serves is an accurate, compact definition, not that.
    # Not html: JSON only.
]
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# Shown as the extent of a collection the reader sees nothing of: Ukraine and its waters, so a
# client zooms to the theatre rather than to 0,0 or the whole globe.
UKRAINE_BBOX = [22.13, 44.38, 40.23, 52.38]

# Parameters each resource accepts. The standard makes an unknown parameter a 400
# (/req/core/query-param-unknown): a client that misspells `datetime` must not silently get
# everything. `f` is accepted because many clients add f=json out of habit.
_COMMON_PARAMS = frozenset({"f"})
_ITEMS_PARAMS = _COMMON_PARAMS | {"bbox", "datetime", "limit", "cursor"}
_F_VALUES = {"json", "geojson", JSON, GEOJSON}


@dataclass(frozen=True)
class Collection:
    id: str
    resource: str  # the name in roles.PERMISSIONS
    title: str
    description: str
    t0: str  # fields bounding each record's time window
    t1: str
    records: Callable  # user -> restricted queryset of the records that are features here
    feature: Callable


def _incidents(user):
    # The REST API's list: live incidents with a position. Merged and dissolved incidents live on
    # as redirects in /api/v1, not as map features; an incident without a fix has no geometry.
    return Incident.objects.restrict(user).filter(lat__isnull=False, lon__isnull=False, status__in=LIVE)


def _observations(user):
    return Observation.objects.restrict(user).select_related("source")


COLLECTIONS = {
    c.id: c
    for c in (
        Collection(
            "incidents", "incident", "Incidents",
            "Fused ceasefire incidents (open, verified, not verified, refuted) with a position: the fix, "
            "confidence and attribution. Only the incidents the reader may see.",
            "first_seen", "last_seen", _incidents, incident_feature,
        ),
        Collection(
            "observations", "observation", "Observations",
            "Single reports from observers and sensors, at the observed event's indicative position. "
            "Only the observations the reader may see.",
            "observed_from", "observed_to", _observations, observation_feature,
        ),
    )
}  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Responses
# ---------------------------------------------------------------------------------------------


def _json(body, media: str = JSON, status: int = 200) -> HttpResponse:
    resp = HttpResponse(json.dumps(body, ensure_ascii=False), status=status, content_type=media)
    # What a URL returns depends on who asks (a token holder sees more than the public), so no
    # shared cache may hand one reader's answer to another.
    patch_vary_headers(resp, ("Authorization", "Cookie"))
    patch_cache_control(resp, private=True)
    return resp


def _error(status: int, code: str, title: str, detail: str, errors: list[dict] | None = None) -> HttpResponse:
    # One body for two readers: the OGC exception schema wants `code` and `description`; the rest
    # of this system speaks RFC 9457 problem documents (web/problems.py). Extra members are
    # allowed by both, so the body carries both. Sent as application/json, the media type the
    # OGC API definition gives its exceptions.
    body = problem_body(status, title, detail, errors)
    body.update(code=code, description=detail)
    return _json(body, status=status)


class BadParameter(Exception):
    """An invalid or unknown query parameter: 400 naming it (/req/core/query-param-invalid)."""

    def __init__(self, name: str, message: str):
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


def _bad(exc: BadParameter) -> HttpResponse:
    return _error(400, "InvalidParameterValue", "Bad request", f"{exc.name}: {exc.message}", [{"field": exc.name, "message": exc.message}])


def _not_found(what: str = "no such record, or not visible to you") -> HttpResponse:
    # The same answer for "missing" and "not yours": a 404 must not reveal that a record exists.
    return _error(404, "NotFound", "Not found", what)


def _url(request, name: str, query: str = "", **kwargs) -> str:
    # The patterns may be mounted with or without a namespace; reverse within the one this
    # request came through.
    ns = request.resolver_match.namespace if request.resolver_match else ""
    url = request.build_absolute_uri(reverse(f"{ns}:{name}" if ns else name, kwargs=kwargs or None))
    return f"{url}?{query}" if query else url


def _link(href: str, rel: str, media: str, title: str | None = None) -> dict:
    # /req/core/fc-rel-type: every link carries rel and type.
    link = {"href": href, "rel": rel, "type": media}
    if title:
        link["title"] = title
    return link


def _utc(t: dt.datetime | None) -> str | None:
    return t.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z") if t else None


# ---------------------------------------------------------------------------------------------
# Who is asking
# ---------------------------------------------------------------------------------------------


def _reader(request):
    """The caller, decided by the REST API's own authentication callbacks in their order (the
    first that answers wins, as in Ninja): a bearer token, a signed-in session, or the public.
    Returns a user, or an error response."""
    try:
        for check in AUTH:
            user = check(request)
            if user:
                return user
    except AuthenticationError:
        # A presented but bad token is refused, never downgraded to public access (web/auth.py).
        resp = _error(401, "Unauthorized", "Unauthorized", "authenticate with a bearer token or a session")
        resp["WWW-Authenticate"] = 'Bearer realm="resolute"'
        return resp
    except HttpError as exc:
        return _error(exc.status_code, "Forbidden" if exc.status_code == 403 else "Error", "Error", str(exc))
    return _error(401, "Unauthorized", "Unauthorized", "authenticate with a bearer token or a session")


def _view(allowed_params: frozenset):
    """Wrap a view: GET/HEAD only, the caller resolved, the query parameters checked."""

    def wrap(fn):
        def view(request, **kwargs):
            if request.method not in ("GET", "HEAD"):
                resp = _error(405, "MethodNotAllowed", "Method not allowed", "this API is read-only: use GET")
                resp["Allow"] = "GET, HEAD"
                return resp
            user = _reader(request)
            if isinstance(user, HttpResponse):
                return user
            try:
                _check_params(request, allowed_params)
                return fn(request, user, **kwargs)
            except BadParameter as exc:
                return _bad(exc)

        view.__name__ = fn.__name__
        view.__doc__ = fn.__doc__
        # The views never change anything and refuse every method but GET/HEAD themselves;
        # without the exemption a POST would get Django's HTML CSRF page instead of a JSON 405.
        return csrf_exempt(view)

    return wrap


def _check_params(request, allowed: frozenset) -> None:
    for name in request.GET:
        if name not in allowed:
            raise BadParameter(name[:50], f"unknown parameter; this resource accepts {', '.join(sorted(allowed))}")
        if len(request.GET.getlist(name)) > 1:
            # Which of two bboxes would the client mean? Refuse rather than pick one.
            raise BadParameter(name, "give this parameter once")
    f = request.GET.get("f")
    if f is not None and f.lower() not in _F_VALUES:
        raise BadParameter("f", "only JSON is served (f=json)")


def _collection(user, collection_id: str) -> Collection | None:
    c = COLLECTIONS.get(collection_id)
    # A collection the reader's role does not work with at all is not listed, and answers 404.
    return c if c and roles.allows(user, roles.VIEW, c.resource) else None


# ---------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------

# ASCII only: \d would also accept other scripts' digits.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
# RFC 3339 section 5.6 date-time: full date, time, seconds, optional fraction, and a zone. A
# date-time without a zone is ambiguous (whose midnight?) and refused. 'T'/'Z' may be lower
# case, and a space may stand for 'T' (RFC 3339 section 5.6 note).
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})", re.ASCII)


def parse_bbox(raw: str | None):
    """(west, south, east, north) in CRS84 degrees, or None. Four numbers, or six (CRS84h, whose
    heights are ignored: no record here has one, and a feature without a height matches any)."""
    if raw is None:
        return None
    parts = raw.split(",")
    if len(raw) > 200 or len(parts) not in (4, 6) or not all(_NUMBER.fullmatch(p.strip()) for p in parts):
        raise BadParameter("bbox", "four numbers: minLon,minLat,maxLon,maxLat (CRS84 degrees)")
    nums = [float(p) for p in parts]
    if len(nums) == 6:
        w, s, _, e, n, _ = nums
    else:
        w, s, e, n = nums
    if not all(-180 <= x <= 180 for x in (w, e)) or not (-90 <= s <= n <= 90):
        raise BadParameter("bbox", "needs -180 <= longitudes <= 180 and -90 <= minLat <= maxLat <= 90")
    # w > e is not an error: the standard reads it as a box crossing the antimeridian.
    return w, s, e, n


def _instant(raw: str, name: str = "datetime") -> dt.datetime:
    if not _DATE_TIME.fullmatch(raw):
        raise BadParameter(name, "an RFC 3339 date-time with a time zone, e.g. 2026-11-01T00:00:00Z")
    try:
        t = dt.datetime.fromisoformat(raw.upper().replace(" ", "T"))
        # Compare in UTC. Converting 0001-01-01T00:00+01:00 to UTC leaves the representable range.
        return t.astimezone(dt.timezone.utc)
    except (ValueError, OverflowError):
        raise BadParameter(name, "not a valid date-time (check the day, hour and zone)") from None


def parse_datetime(raw: str | None):
    """(start, end) in UTC, either None for an open end; None when absent. An instant is the
    interval [t, t]. Open ends are '..' or empty (/req/core/fc-time-response)."""
    if raw is None:
        return None
    if len(raw) > 100:
        raise BadParameter("datetime", "too long")
    if "/" not in raw:
        t = _instant(raw.strip())
        return t, t
    ends = raw.split("/")
    if len(ends) != 2:
        raise BadParameter("datetime", "an instant, or an interval start/end with '..' for an open end")
    start, end = (None if e.strip() in ("", "..") else _instant(e.strip()) for e in ends)
    if start and end and start > end:
        raise BadParameter("datetime", "the interval ends before it starts")
    return start, end


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()):
        raise BadParameter("limit", f"a whole number from 1 to {MAX_LIMIT}")
    # Above the maximum is not an error: the standard's own example asks for 50000 and gets the
    # server's maximum, with a next link for the rest. (Length check first: int() of a thousand
    # digits is wasted work.)
    limit = MAX_LIMIT if len(raw) > 9 else min(int(raw), MAX_LIMIT)
    if limit < 1:
        raise BadParameter("limit", f"a whole number from 1 to {MAX_LIMIT}")
    return limit


def encode_cursor(pk: int) -> str:
    # Opaque on purpose: clients follow `next` links and must not build cursors, so the keyset
    # (the last id returned) can change without breaking them.
    return base64.urlsafe_b64encode(f"k{pk}".encode()).decode().rstrip("=")


def parse_cursor(raw: str | None) -> int:
    if raw is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii") if len(raw) <= 40 else ""
    except (binascii.Error, ValueError):
        text = ""
    digits = text[1:]
    if not (text.startswith("k") and digits.isascii() and digits.isdigit() and len(digits) <= 18):
        raise BadParameter("cursor", "use the cursor of a `next` link")
    return int(digits)


def parse_feature_id(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


def _select(c: Collection, qs, box, window):
    if box:
        w, s, e, n = box
        lon = Q(lon__gte=w, lon__lte=e) if w <= e else (Q(lon__gte=w) | Q(lon__lte=e))
        qs = qs.filter(lon, lat__gte=s, lat__lte=n)
    if window:
        start, end = window
        # A record is its time window [t0, t1]; it matches when the window and the requested
        # interval (or instant) intersect.
        if start:
            qs = qs.filter(**{f"{c.t1}__gte": start})
        if end:
            qs = qs.filter(**{f"{c.t0}__lte": end})
    return qs


# ---------------------------------------------------------------------------------------------
# Resources
# ---------------------------------------------------------------------------------------------


@_view(_COMMON_PARAMS)
def landing(request, user):
    return _json(
        {
            "title": "Resolute – ceasefire monitoring",
            "description": "Incidents and observations of the ceasefire monitoring mission as OGC API – Features. "
            "What you see depends on who you are: anonymous callers see public records only; send a bearer token for more.",
            "links": [
                _link(_url(request, "ogcapi-landing"), "self", JSON, "This document"),
                _link(_url(request, "ogcapi-api"), "service-desc", OPENAPI, "The API definition"),
                _link(_url(request, "ogcapi-conformance"), "conformance", JSON, "Conformance classes implemented"),
                _link(_url(request, "ogcapi-collections"), "data", JSON, "The feature collections"),
            ],
        }
    )


@_view(_COMMON_PARAMS)
def conformance(request, user):
    return _json({"conformsTo": CONFORMANCE})


def _collection_doc(request, user, c: Collection) -> dict:
    # The extent is computed over what this reader may see: an extent over every record would
    # reveal where and when invisible records are (docs/markings.md, "Aggregates").
    agg = c.records(user).aggregate(w=Min("lon"), s=Min("lat"), e=Max("lon"), n=Max("lat"), t0=Min(c.t0), t1=Max(c.t1))
    bbox = [agg["w"], agg["s"], agg["e"], agg["n"]] if agg["w"] is not None else UKRAINE_BBOX
    items = _url(request, "ogcapi-items", collection_id=c.id)
    return {
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "itemType": "feature",
        "crs": [CRS84],
        "extent": {
            "spatial": {"bbox": [bbox], "crs": CRS84},
            "temporal": {"interval": [[_utc(agg["t0"]), _utc(agg["t1"])]], "trs": GREGORIAN},
        },
        "links": [
            _link(_url(request, "ogcapi-collection", collection_id=c.id), "self", JSON, c.title),
            _link(items, "items", GEOJSON, f"{c.title} as GeoJSON"),
        ],
    }


@_view(_COMMON_PARAMS)
def collections(request, user):
    visible = [c for c in COLLECTIONS.values() if _collection(user, c.id)]
    return _json(
        {
            "links": [_link(_url(request, "ogcapi-collections"), "self", JSON, "The feature collections")],
            "collections": [_collection_doc(request, user, c) for c in visible],
        }
    )


@_view(_COMMON_PARAMS)
def collection(request, user, collection_id: str):
    c = _collection(user, collection_id)
    if c is None:
        return _not_found("no such collection")
    return _json(_collection_doc(request, user, c))


@_view(_ITEMS_PARAMS)
def items(request, user, collection_id: str):
    c = _collection(user, collection_id)
    if c is None:
        return _not_found("no such collection")
    q = request.GET
    box, window = parse_bbox(q.get("bbox")), parse_datetime(q.get("datetime"))
    limit, after = parse_limit(q.get("limit")), parse_cursor(q.get("cursor"))
    stamp = timezone.now()
    selected = _select(c, c.records(user), box, window)
    # Keyset paging on the id: stable while records are added (an offset would skip or repeat
    # features when new ones arrive between pages), and cheap at any depth.
    rows = list(selected.filter(pk__gt=after).order_by("pk")[: limit + 1])
    more, rows = len(rows) > limit, rows[:limit]
    links = [
        _link(request.build_absolute_uri(), "self", GEOJSON, "This page"),
        _link(_url(request, "ogcapi-collection", collection_id=c.id), "collection", JSON, c.title),
    ]
    if more:
        nq = q.copy()
        nq["cursor"] = encode_cursor(rows[-1].pk)
        links.append(_link(_url(request, "ogcapi-items", nq.urlencode(), collection_id=c.id), "next", GEOJSON, "Next page"))
    return _json(
        {
            "type": "FeatureCollection",
            "features": [c.feature(r) for r in rows],
            "links": links,
            # Counted after restriction, with the selection (bbox, datetime) but not the cursor:
            # the total of this query for this reader (/req/core/fc-numberMatched).
            "numberMatched": selected.count(),
            "numberReturned": len(rows),
            "timeStamp": _utc(stamp),
        },
        media=GEOJSON,
    )


@_view(_COMMON_PARAMS)
def item(request, user, collection_id: str, feature_id: str):
    c = _collection(user, collection_id)
    if c is None:
        return _not_found("no such collection")
    pk = parse_feature_id(feature_id)
    obj = c.records(user).filter(pk=pk).first() if pk is not None else None
    if obj is None:
        return _not_found()
    feature = c.feature(obj)
    feature["links"] = [
        _link(_url(request, "ogcapi-item", collection_id=c.id, feature_id=obj.pk), "self", GEOJSON, "This feature"),
        _link(_url(request, "ogcapi-collection", collection_id=c.id), "collection", JSON, c.title),
    ]
    return _json(feature, media=GEOJSON)


@_view(_COMMON_PARAMS)
def api_definition(request, user):
    return _json(_openapi(request), media=OPENAPI)


def _openapi(request) -> dict:
    """A compact OpenAPI 3.0 definition of these resources, so the landing page's service-desc
    describes this API (GDAL reads the `limit` maximum from it) rather than the REST API's."""
    base = _url(request, "ogcapi-landing").rstrip("/")

    def ref(name):
        return {"$ref": f"#/components/{name}"}

    err = {"description": "Error", "content": {JSON: {"schema": ref("schemas/exception")}}}
    common = {"400": {**err, "description": "Invalid or unknown query parameter"}, "401": {**err, "description": "Bad bearer token"}}
    f_param = ref("parameters/f")

    def op(op_id, summary, media, params=(), not_found=False):
        responses = {"200": {"description": "OK", "content": {media: {"schema": {"type": "object"}}}}, **common}
        if not_found:
            responses["404"] = {**err, "description": "No such collection or feature, or not visible to you"}
        return {"get": {"operationId": op_id, "summary": summary, "parameters": [*params, f_param], "responses": responses}}

    cid = ref("parameters/collectionId")
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Resolute OGC API – Features",
            "version": "1.0",
            "description": "OGC API – Features – Part 1: Core, GeoJSON. Anonymous callers see public records; a bearer token shows what its owner may see.",
        },
        "servers": [{"url": base}],
        "security": [{}, {"bearer": []}],
        "paths": {
            "/": op("getLandingPage", "Landing page", JSON),
            "/api": op("getApiDefinition", "This API definition", OPENAPI),
            "/conformance": op("getConformanceDeclaration", "Conformance classes", JSON),
            "/collections": op("getCollections", "The feature collections", JSON),
            "/collections/{collectionId}": op("describeCollection", "One feature collection", JSON, [cid], True),
            "/collections/{collectionId}/items": op(
                "getFeatures", "Features of a collection, one page at a time", GEOJSON,
                [cid, ref("parameters/bbox"), ref("parameters/datetime"), ref("parameters/limit"), ref("parameters/cursor")], True,
            ),
            "/collections/{collectionId}/items/{featureId}": op(
                "getFeature", "One feature", GEOJSON,
                [cid, {"name": "featureId", "in": "path", "required": True, "schema": {"type": "string"}}], True,
            ),
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "parameters": {
                "collectionId": {"name": "collectionId", "in": "path", "required": True, "schema": {"type": "string", "enum": list(COLLECTIONS)}},
                "bbox": {
                    "name": "bbox", "in": "query", "required": False, "style": "form", "explode": False,
                    "description": "minLon,minLat,maxLon,maxLat in CRS84 (six numbers: heights ignored). minLon > maxLon crosses the antimeridian.",
                    "schema": {"type": "array", "oneOf": [{"minItems": 4, "maxItems": 4}, {"minItems": 6, "maxItems": 6}], "items": {"type": "number"}},
                },
                "datetime": {
                    "name": "datetime", "in": "query", "required": False, "style": "form", "explode": False, "schema": {"type": "string"},
                    "description": "An RFC 3339 date-time with zone, or an interval start/end where '..' or empty is an open end. "
                    "Selects records whose time window intersects it.",
                },
                "limit": {
                    "name": "limit", "in": "query", "required": False, "style": "form", "explode": False,
                    "description": f"Page size. Values above {MAX_LIMIT} are treated as {MAX_LIMIT}.",
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                },
                "cursor": {"name": "cursor", "in": "query", "required": False, "description": "Opaque: taken from a `next` link.", "schema": {"type": "string"}},
                "f": {"name": "f", "in": "query", "required": False, "schema": {"type": "string", "enum": ["json", "geojson"]}},
            },
            "schemas": {
                "exception": {
                    "type": "object", "required": ["code"],
                    "properties": {"code": {"type": "string"}, "description": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                                   "detail": {"type": "string"}, "errors": {"type": "array", "items": {"type": "object"}}},
                },
            },
        },
    }  # fmt: skip


urlpatterns = [
    path("", landing, name="ogcapi-landing"),
    path("api", api_definition, name="ogcapi-api"),
    path("conformance", conformance, name="ogcapi-conformance"),
    path("collections", collections, name="ogcapi-collections"),
    path("collections/<str:collection_id>", collection, name="ogcapi-collection"),
    path("collections/<str:collection_id>/items", items, name="ogcapi-items"),
    path("collections/<str:collection_id>/items/<str:feature_id>", item, name="ogcapi-item"),
]
