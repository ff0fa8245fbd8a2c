"""What every page needs: the navigation a person's role opens to them, and the map settings."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from resolute.accounts import roles

# (url name, label, (action, resource) that opens it, or None for everyone)
NAVIGATION = (
    ("situation-map", _("Situation map"), None),
    ("dashboard", _("Dashboard"), (roles.VIEW, "incident")),
    ("observation-new", _("Report an observation"), (roles.ADD, "observation")),
    ("review-queue", _("Review queue"), (roles.VIEW, "verification")),
    ("commission", _("Commission"), (roles.VIEW, "case")),
    ("ledger", _("Ledger"), (roles.VIEW, "pledge")),
    ("force-board", _("Force board"), (roles.VIEW, "force")),
    ("playbook", _("Playbook"), (roles.VIEW, "playbook")),
    ("reports:list", _("Reports"), None),
)


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    items = [
        {"url": reverse(name), "label": label, "current": request.path == reverse(name)}
        for name, label, need in NAVIGATION
        if need is None or roles.allows(user, *need)
    ]
    return {"navigation": items, "map_tile_url": settings.MAP_TILE_URL, "map_tile_attribution": settings.MAP_TILE_ATTRIBUTION}
