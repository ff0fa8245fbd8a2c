from __future__ import annotations

import tempfile
from urllib.parse import urlsplit

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.utils import translation

from .problems import problem_response


class BodySizeLimitMiddleware:
    """Refuse an oversized request body before anything reads it (413 problem document).
    The limit is RESOLUTE_MAX_BODY_BYTES.

    A chunked body (Transfer-Encoding, no Content-Length): waitress, the server `resolute serve`
    runs, de-chunks it and sets Content-Length, so the check above applies. A server that hands
    on an end-terminated stream instead (wsgi.input_terminated, e.g. gunicorn) gets it read here
    up to the limit and refused at the first byte over; one that does neither would let Django
    read the body as empty, so the request is refused with 411 rather than half understood."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.META.get("CONTENT_LENGTH") and request.META.get("HTTP_TRANSFER_ENCODING"):
            return self._unsized(request)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return problem_response(400, "Bad request", "Content-Length is not a number", [{"field": "Content-Length", "message": "not a number"}])
        if length > settings.MAX_BODY_BYTES:
            return _too_large(f"the body is {length} bytes")
        return self.get_response(request)

    def _unsized(self, request):
        if not request.META.get("wsgi.input_terminated"):
            return problem_response(
                411, "Length required", "this server cannot read a body without Content-Length; send one",
                [{"field": "Content-Length", "message": "required"}],
            )  # fmt: skip
        limit = settings.MAX_BODY_BYTES
        source = request.META["wsgi.input"]
        with tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE) as body:
            size = 0
            while chunk := source.read(min(64 * 1024, limit + 1 - size)):
                size += len(chunk)
                if size > limit:
                    return _too_large("the chunked body is larger")
                body.write(chunk)
            body.seek(0)
            # From here on the request reads like one that came with Content-Length.
            request.META["CONTENT_LENGTH"] = str(size)
            request._stream = LimitedStream(body, size)
            return self.get_response(request)


def _too_large(what: str):
    return problem_response(
        413, "Request body too large", f"{what}; the limit is {settings.MAX_BODY_BYTES} bytes (RESOLUTE_MAX_BODY_BYTES)",
        [{"field": "(body)", "message": "too large"}],
    )  # fmt: skip


class UserLanguageMiddleware:
    """A signed-in person's interface language is their own setting (User.language), on every
    device; the public's comes from the language cookie or the browser (LocaleMiddleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.language:
            translation.activate(user.language)
            request.LANGUAGE_CODE = user.language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", translation.get_language())
        return response


def _page_policy() -> str:
    tiles = ""
    if settings.MAP_TILE_URL:
        parts = urlsplit(settings.MAP_TILE_URL.replace("{s}", "a"))
        tiles = f" {parts.scheme}://{parts.netloc}" if parts.netloc else ""
    # Leaflet positions its panes with inline styles, hence 'unsafe-inline' for styles only;
    # no inline script anywhere (page data travels in <script type="application/json">).
    return (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: blob:{tiles}; connect-src 'self'; font-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


class ContentSecurityPolicyMiddleware:
    """Pages load nothing from outside the server (closed networks; a script injected through a
    record's free text has nowhere to run). Responses that set their own policy keep it."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = _page_policy()

    def __call__(self, request):
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html"):
            response.headers.setdefault("Content-Security-Policy", self.policy)
        return response


class HeadWithoutBodyMiddleware:
    """A response to HEAD carries no body (RFC 9110 §9.3.2). Django leaves that to the server
    and waitress sends whatever the view returned, which a keep-alive client (ODK Collect's HEAD
    before each submission) then reads as the start of the next response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.method == "HEAD" and not response.streaming:
            response.content = b""
            del response["Content-Length"]
        return response
