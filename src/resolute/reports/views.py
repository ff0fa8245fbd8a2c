"""Report pages: the list of stored daily reports a reader may see, each edition as stored
(HTML or PDF), and the weekly report computed for the reader on request.

Reads go through `restrict()`; a report the reader may not see answers 404, like a report that
does not exist (docs/markings.md: existence is not revealed). Callers are identified as in the
API: a bearer token, else the session, else the public.
"""

from __future__ import annotations

import datetime as dt

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from resolute.accounts import roles
from resolute.accounts.services import authenticate_token

from . import services
from .models import EDITIONS, PUBLIC, DailyReport

# The stored HTML is our own rendering, but it quotes free text from the record; the page may
# show its embedded data: images and inline styles and nothing else.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


class _BadToken(Exception):
    pass


def _reader(request):
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header[:7].lower() == "bearer ":
        user = authenticate_token(header[7:].strip())
        if user is None:
            # A presented but bad token must not fall back to the public view.
            raise _BadToken
        return user
    return request.user


def _unauthorized() -> HttpResponse:
    r = HttpResponse("invalid or expired token\n", status=401, content_type="text/plain; charset=utf-8")
    r["WWW-Authenticate"] = "Bearer"
    return r


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise Http404("no such report") from None


def _private(response: HttpResponse, public: bool) -> HttpResponse:
    # A restricted edition must not sit in a shared cache.
    response["Cache-Control"] = "public, max-age=300" if public else "private, no-store"
    return response


@require_safe
def report_list(request):
    try:
        user = _reader(request)
    except _BadToken:
        return _unauthorized()
    rows = DailyReport.objects.restrict(user).defer("html", "pdf").order_by("-day", "edition")[:400]
    reports = [
        {
            "day": r.day, "edition": r.edition, "generated_at": r.generated_at, "marking": services.stored_marking(r),
            "html_url": reverse("reports:html", args=[r.day.isoformat(), r.edition]), "pdf_url": reverse("reports:pdf", args=[r.day.isoformat(), r.edition]),
        }
        for r in rows
    ]  # fmt: skip
    return _private(render(request, "reports/list.html", {"reports": reports}), public=False)


def _stored(request, day: str, edition: str, field: str):
    user = _reader(request)
    if edition not in EDITIONS:
        raise Http404("no such report")
    row = DailyReport.objects.restrict(user).filter(day=_day(day), edition=edition).only("pk", "day", "edition", field).first()
    if row is None:
        raise Http404("no such report, or not visible to you")
    return row


@require_safe
def report_html(request, day: str, edition: str):
    try:
        row = _stored(request, day, edition, "html")
    except _BadToken:
        return _unauthorized()
    response = HttpResponse(row.html, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = CSP
    return _private(response, row.edition == PUBLIC)


@require_safe
def report_pdf(request, day: str, edition: str):
    try:
        row = _stored(request, day, edition, "pdf")
    except _BadToken:
        return _unauthorized()
    response = HttpResponse(bytes(row.pdf), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="daily-report-{row.day.isoformat()}-{row.edition}.pdf"'
    return _private(response, row.edition == PUBLIC)


@require_safe
def weekly_html(request, day: str):
    """The week ending reporting day `day`, computed now from what the caller may see."""
    try:
        user = _reader(request)
    except _BadToken:
        return _unauthorized()
    if not roles.allows(user, roles.VIEW, "report"):
        raise Http404("no such report")
    content = services.weekly(user, _day(day))
    response = HttpResponse(services.render_html(content), content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = CSP
    return _private(response, content["edition"] == PUBLIC)
