from __future__ import annotations

from django.conf import settings

from .problems import problem_response


class BodySizeLimitMiddleware:
    """Refuse an oversized request body before anything reads it (413 problem document).
    The limit is RESOLUTE_MAX_BODY_BYTES; Django's own limit covers chunked bodies."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return problem_response(400, "Bad request", "Content-Length is not a number", [{"field": "Content-Length", "message": "not a number"}])
        if length > settings.MAX_BODY_BYTES:
            return problem_response(
                413,
                "Request body too large",
                f"the body is {length} bytes; the limit is {settings.MAX_BODY_BYTES} (RESOLUTE_MAX_BODY_BYTES)",
                [{"field": "(body)", "message": "too large"}],
            )
        return self.get_response(request)
