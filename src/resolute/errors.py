"""Errors that services raise and every adapter (API, pages, CLI) reports the same way.

Each carries an HTTP status and a list of {field, message} so the API can answer with an
RFC 9457 problem document naming the field, and the CLI can print the same lines.
"""

from __future__ import annotations


class ServiceError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, errors: list[dict] | None = None):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class InvalidInput(ServiceError):
    status = 422
    title = "Invalid input"


class Conflict(ServiceError):
    status = 409
    title = "Conflict"


class Forbidden(ServiceError):
    status = 403
    title = "Forbidden"


class NotFound(ServiceError):
    status = 404
    title = "Not found"


def field_path(loc) -> str:
    """('observations', 3, 'observer', 'lat') -> 'observations[3].observer.lat'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def pydantic_errors(exc, prefix: tuple = ()) -> list[dict]:
    """Flatten a pydantic ValidationError into {field, message, type} items."""
    return [
        {"field": field_path(prefix + tuple(e["loc"])) or "(body)", "message": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
