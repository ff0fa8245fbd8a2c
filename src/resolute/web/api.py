"""The REST API (/api/v1): one NinjaAPI, one router per app, problem documents for errors."""

from __future__ import annotations

import logging

from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from resolute.errors import ServiceError, field_path

from .auth import AUTH
from .problems import problem_response

log = logging.getLogger(__name__)

# The media type problems.problem_response sends (RFC 9457 section 3).
PROBLEM_MEDIA_TYPE = "application/problem+json"


class ResoluteAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        # Ninja documents every response as application/json, but every error here is sent as
        # an RFC 9457 problem document (problems.py); clients and validators must be told the
        # media type they will actually receive.
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content", {})
                    if int(status) >= 400 and "application/json" in content:
                        content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
        return schema


api = ResoluteAPI(
    title="Resolute API",
    version="1",
    description="Ceasefire monitoring and guarantee information system. Errors are RFC 9457 problem documents.",
    urls_namespace="api-v1",
    auth=AUTH,
    openapi_url="/openapi.json",
    docs_url="/docs",
)


def _ninja_field(loc) -> str:
    # Ninja prefixes locations with the parameter source and name ('body', 'payload', …);
    # users know their fields, not our parameter names.
    loc = list(loc)
    if loc and loc[0] in ("body", "query", "path", "header", "cookie", "form"):
        source = loc.pop(0)
        if source == "body" and loc:
            loc.pop(0)
    return field_path(loc) or "(body)"


@api.exception_handler(ValidationError)
def _validation(request, exc):
    errors = [{"field": _ninja_field(e.get("loc", ())), "message": e.get("msg", "invalid")} for e in exc.errors]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem_response(422, "Invalid input", detail, errors)


@api.exception_handler(ServiceError)
def _service(request, exc):
    return problem_response(exc.status, exc.title, exc.detail, exc.errors)


@api.exception_handler(AuthenticationError)
def _auth(request, exc):
    resp = problem_response(401, "Unauthorized", "authenticate with a bearer token or a session")
    resp["WWW-Authenticate"] = 'Bearer realm="resolute"'
    return resp


@api.exception_handler(HttpError)
def _http(request, exc):
    return problem_response(exc.status_code, "Error", str(exc))


@api.exception_handler(Http404)
def _404(request, exc):
    return problem_response(404, "Not found", "no such record, or not visible to you")


@api.exception_handler(Exception)
def _unexpected(request, exc):
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem_response(500, "Internal error", "the error was logged; nothing was written")


def _register_routers() -> None:
    from resolute.agreement.api import router as agreement
    from resolute.commission.api import router as commission
    from resolute.monitoring.api import router as monitoring

    api.add_router("/", monitoring)
    api.add_router("/", agreement)
    api.add_router("/", commission)
    from resolute.forces.api import router as forces
    from resolute.playbook.api import router as playbook
    from resolute.support.api import router as support

    api.add_router("/", support)
    api.add_router("/", forces)
    api.add_router("/", playbook)
    from resolute.interop.api import router as interop

    api.add_router("/", interop)
    from resolute.monitoring.map_api import router as situation_map

    api.add_router("/", situation_map)


_register_routers()
