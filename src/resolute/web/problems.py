"""RFC 9457 problem documents for every API error."""

from __future__ import annotations

import json

from django.http import HttpResponse

PROBLEM_TYPE = "about:blank"


def problem_body(status: int, title: str, detail: str, errors: list[dict] | None = None) -> dict:
    body = {"type": PROBLEM_TYPE, "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    return body


def problem_response(status: int, title: str, detail: str, errors: list[dict] | None = None) -> HttpResponse:
    return HttpResponse(
        json.dumps(problem_body(status, title, detail, errors), ensure_ascii=False),
        status=status,
        content_type="application/problem+json",
    )
