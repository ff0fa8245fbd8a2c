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
# Workflow actions (field verification and the Commission); each is a write.
REVIEW, INVESTIGATE, REFER, VOTE, CHAIR = "review", "investigate", "refer", "vote", "chair"
# Guarantee actions: a nation's offer to the force; a member's execution of its response tasks.
OFFER, EXECUTE = "offer", "execute"

_READ_MONITORING = {(VIEW, "observation"), (VIEW, "incident"), (VIEW, "source"), (VIEW, "party"), (VIEW, "member")}
_READ_AGREEMENT = {(VIEW, "agreement"), (VIEW, "finding")}
# What the guarantee side reads of element 1: decisions, the armed-attack activation and the
# reliability index that gates deployment.
_READ_OUTCOMES = {(VIEW, "decision"), (VIEW, "activation"), (VIEW, "reliability")}
_READ_COMMISSION = {(VIEW, "verification"), (VIEW, "case")} | _READ_OUTCOMES
_READ_GUARANTEES = {(VIEW, "pledge"), (VIEW, "force"), (VIEW, "playbook")}
# Reports: every role, including the public; which edition a reader sees is the markings' call.
_READ_REPORTS = {(VIEW, "report")}

PERMISSIONS: dict[str, frozenset[tuple[str, str]]] = {
    Role.ADMINISTRATOR: frozenset(_READ_REPORTS |
        _READ_MONITORING | _READ_AGREEMENT | _READ_COMMISSION
        | _READ_GUARANTEES
        | {(ADD, "observation"), (CHANGE, "incident"), (ADD, "source"), (VIEW, "audit"), (CHANGE, "user"), (ADD, "token"), (CHANGE, "agreement")}
        | {(ADD, "pledge"), (CHANGE, "force"), (CHANGE, "playbook"), (EXECUTE, "playbook")}
    ),
    Role.MONITOR: frozenset(_READ_REPORTS |
        _READ_MONITORING | _READ_AGREEMENT | {(VIEW, "verification"), (ADD, "observation"), (ADD, "token"), (ADD, "verification"), (INVESTIGATE, "verification")}
    ),
    Role.ANALYST: frozenset(_READ_REPORTS |
        _READ_MONITORING | _READ_AGREEMENT | _READ_COMMISSION
        | {(ADD, "observation"), (CHANGE, "incident"), (ADD, "source"), (ADD, "token"), (ADD, "verification"), (REVIEW, "verification")}
    ),
    Role.COMMISSIONER: frozenset(_READ_REPORTS | _READ_MONITORING | _READ_AGREEMENT | _READ_COMMISSION | _READ_GUARANTEES | {(REFER, "case"), (VOTE, "case"), (ADD, "token")}),
    Role.CHAIR: frozenset(_READ_REPORTS | _READ_MONITORING | _READ_AGREEMENT | _READ_COMMISSION | _READ_GUARANTEES | {(REFER, "case"), (VOTE, "case"), (CHAIR, "case"), (ADD, "token")}),
    # A national delegation makes its nation's force offers and reports its nation's response tasks.
    Role.DELEGATE: frozenset(_READ_REPORTS | _READ_MONITORING | _READ_AGREEMENT | _READ_COMMISSION | _READ_GUARANTEES | {(REFER, "case"), (OFFER, "force"), (EXECUTE, "playbook")}),
    # A ledger officer writes their own member's ledger entries (services check the member).
    Role.LEDGER_OFFICER: frozenset(_READ_REPORTS |
        {(VIEW, "incident"), (VIEW, "party"), (VIEW, "member"), (VIEW, "agreement")} | _READ_OUTCOMES | _READ_GUARANTEES
        | {(ADD, "pledge"), (EXECUTE, "playbook"), (ADD, "token")}
    ),
    # The public reads what is marked PUBLIC/CLEAR/REL ALL and nothing else (see markings):
    # of the Commission, only published decisions are so marked.
    # Pledges marked public (most members announce theirs) are readable by the public too.
    Role.PUBLIC: frozenset({(VIEW, "observation"), (VIEW, "incident"), (VIEW, "party"), (VIEW, "member"), (VIEW, "agreement"), (VIEW, "decision"), (VIEW, "pledge"), (VIEW, "report")}),
}

# Token scopes narrow what a token may do whatever the owner's role allows.
SCOPES = {"read": {VIEW}, "write": {ADD, CHANGE, REVIEW, INVESTIGATE, REFER, VOTE, CHAIR, OFFER, EXECUTE}}


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
