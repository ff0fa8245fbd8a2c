"""Pages that belong to no single element: the language switch and the dashboard."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from resolute.accounts import services as accounts
from resolute.errors import InvalidInput

from . import dashboard as board


@require_POST
def set_language(request):
    """Signed-in people keep their language on their account; the public in a cookie."""
    language = request.POST.get("language", "")
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        target = "/"
    response = HttpResponseRedirect(target)
    if language not in dict(settings.LANGUAGES):
        return response
    if request.user.is_authenticated:
        try:
            accounts.set_language(request.user, request.user, language)
        except InvalidInput:
            return response
    translation.activate(language)
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, max_age=365 * 24 * 3600, samesite="Lax", secure=request.is_secure())
    return response


@login_required
@require_safe
def dashboard(request):
    now = dt.datetime.now(dt.timezone.utc)
    return render(request, "web/dashboard.html", board.context(request.user, now))
