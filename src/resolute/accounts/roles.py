"""Roles and what each may do, in one table (docs/roles.md explains it to people).

A permission is (action, resource). Reading is further narrowed, record by record, by the
markings (core/markings.py) through `restrict()`; this table only says which kinds of record a
role works with at all. API tokens narrow a user's permissions further by scope.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ADMINISTRATOR = "administrator", _("Administrator")
    MONITOR = "monitor", _("Monitor")
    ANALYST = "analyst", _("Analyst")
    COMMISSIONER = "commissioner", _("Commissioner")
    CHAIR = "chair", _("Commission chair")
    DELEGATE = "delegate", _("National delegate")
    LEDGER_OFFICER = "ledger_officer", _("Ledger officer")
    PUBLIC = "public", _("Public")


VIEW, ADD, CHANGE = "view", "add", "change"

_READ_MONITORING = {(VIEW, "observation"), (VIEW, "incident"), (VIEW, "source"), (VIEW, "party"), (VIEW, "member")}

PERMISSIONS: dict[str, frozenset[tuple[str, str]]] = {
    Role.ADMINISTRATOR: frozenset(
        _READ_MONITORING
        | {(ADD, "observation"), (CHANGE, "incident"), (ADD, "source"), (VIEW, "audit"), (CHANGE, "user"), (ADD, "token")}
    ),
    Role.MONITOR: frozenset(_READ_MONITORING | {(ADD, "observation"), (ADD, "token")}),
    Role.ANALYST: frozenset(_READ_MONITORING | {(ADD, "observation"), (CHANGE, "incident"), (ADD, "source"), (ADD, "token")}),
    Role.COMMISSIONER: frozenset(_READ_MONITORING),
    Role.CHAIR: frozenset(_READ_MONITORING),
    Role.DELEGATE: frozenset(_READ_MONITORING),
    Role.LEDGER_OFFICER: frozenset({(VIEW, "incident"), (VIEW, "party"), (VIEW, "member")}),
    # The public reads what is marked PUBLIC/CLEAR/REL ALL and nothing else (see markings).
    Role.PUBLIC: frozenset({(VIEW, "observation"), (VIEW, "incident"), (VIEW, "party"), (VIEW, "member")}),
}

# Token scopes narrow what a token may do whatever the owner's role allows.
SCOPES = {"read": {VIEW}, "write": {ADD, CHANGE}}


def allows(user, action: str, resource: str) -> bool:
    """Whether `user` (a User, or an anonymous user = the public) may do `action` on `resource`."""
    role = getattr(user, "role", None) if getattr(user, "is_authenticated", False) else Role.PUBLIC
    if not getattr(user, "is_active", True) and getattr(user, "is_authenticated", False):
        return False
    if (action, resource) not in PERMISSIONS.get(role, frozenset()):
        return False
    scopes = getattr(user, "token_scopes", None)
    if scopes is not None and not any(action in SCOPES.get(s, ()) for s in scopes):
        return False
    return True
