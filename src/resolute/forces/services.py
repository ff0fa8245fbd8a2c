"""Use cases of force generation: requirements, national offers and their status, readiness,
Ukraine's request and the deployment gate (core/forcegen.py does the arithmetic)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from resolute.accounts import roles
from resolute.accounts.restrict import copy_marking
from resolute.audit import services as audit
from resolute.core import forcegen
from resolute.core import workflow
from resolute.errors import Conflict, Forbidden, InvalidInput
from resolute.monitoring.models import CoalitionMember

from .models import Offer, Requirement, UkraineRequest


def _allowed(actor, action: str, what: str) -> None:
    # Strings are system actors (the CLI's account, the demo): trusted like the shell running them.
    if isinstance(actor, str):
        return
    if actor is None or not roles.allows(actor, action, "force"):
        raise Forbidden(f"your role may not {what}")


def _for_member(actor, member: CoalitionMember, what: str) -> None:
    """A national delegation acts for its own nation only; force-generation staff for any."""
    if isinstance(actor, str) or roles.allows(actor, roles.CHANGE, "force"):
        return
    _allowed(actor, roles.OFFER, what)
    if actor.nation != member.code:
        raise Forbidden(f"you act for {actor.nation or 'no nation'}, not {member.code}", [{"field": "member", "message": "not your nation"}])


def add_requirement(actor, code: str, capability: str, quantity: int, unit: str, tier: str, location: str, lead_nation: str, enabler: bool = False, **marking) -> Requirement:
    _allowed(actor, roles.CHANGE, "write the statement of requirements")
    if tier not in forcegen.TIERS:
        raise InvalidInput("bad tier", [{"field": "tier", "message": f"one of {', '.join(forcegen.TIERS)}"}])
    if quantity < 1:
        raise InvalidInput("bad quantity", [{"field": "quantity", "message": "at least 1"}])
    with transaction.atomic():
        if Requirement.objects.filter(code=code).exists():
            raise Conflict(f"requirement {code} exists", [{"field": "code", "message": "already used"}])
        r = Requirement.objects.create(code=code, capability=capability, quantity=quantity, unit=unit, tier=tier, location=location, lead_nation=lead_nation, enabler=enabler, **marking)
        audit.record(actor, "force.requirement", "requirement", code, after={"capability": capability, "quantity": quantity, "tier": tier})
    return r


def make_offer(actor, requirement: Requirement, member: CoalitionMember, unit: str, size: int, readiness_days: int, caveats: str = "") -> Offer:
    _for_member(actor, member, "offer contributions")
    if size < 1 or readiness_days < 0:
        raise InvalidInput("bad offer", [{"field": "size" if size < 1 else "readiness_days", "message": "size ≥ 1, readiness ≥ 0 days"}])
    with transaction.atomic():
        o = Offer(requirement=requirement, member=member, unit=unit, size=size, readiness_days=readiness_days, caveats=caveats, offered_by=audit.actor_name(actor), offered_at=timezone.now())
        copy_marking(requirement, o)
        o.save()
        audit.record(actor, "force.offer", "offer", o.pk, after={"requirement": requirement.code, "member": member.code, "size": size, "readiness_days": readiness_days, "caveats": caveats})
    return o


def move_offer(actor, offer: Offer, action: str) -> Offer:
    """Offered → accepted → certified → deployed → transfer of authority (force-generation
    staff); a nation may withdraw its own offer. Deployment needs the gate open."""
    if action == "withdraw":
        _for_member(actor, offer.member, "withdraw offers")
    else:
        _allowed(actor, roles.CHANGE, "accept, certify or deploy contributions")
    with transaction.atomic():
        offer = Offer.objects.select_for_update().get(pk=offer.pk)
        try:
            new = forcegen.OFFER.next(offer.status, action)
        except workflow.IllegalTransition as exc:
            raise Conflict(str(exc), [{"field": "status", "message": f"current status is '{offer.status}'"}]) from None
        if action == "deploy":
            g = gate()
            if not g.open:
                raise Conflict("the deployment gate is closed: " + "; ".join(g.reasons), [{"field": "gate", "message": r} for r in g.reasons])
        before = offer.status
        offer.status = new
        offer.save()
        audit.record(actor, f"force.offer.{action}", "offer", offer.pk, before={"status": before}, after={"status": new})
    return offer


def update_readiness(actor, offer: Offer, readiness_days: int) -> Offer:
    _for_member(actor, offer.member, "report readiness")
    if readiness_days < 0:
        raise InvalidInput("bad readiness", [{"field": "readiness_days", "message": "≥ 0 days"}])
    with transaction.atomic():
        before = offer.readiness_days
        Offer.objects.filter(pk=offer.pk).update(readiness_days=readiness_days)
        offer.readiness_days = readiness_days
        audit.record(actor, "force.offer.readiness", "offer", offer.pk, before={"readiness_days": before}, after={"readiness_days": readiness_days})
    return offer


def record_ukraine_request(actor, received: dt.date, reference: str, text: str) -> UkraineRequest:
    _allowed(actor, roles.CHANGE, "record Ukraine's request")
    if not reference.strip() or not text.strip():
        raise InvalidInput("incomplete request", [{"field": "reference" if not reference.strip() else "text", "message": "required"}])
    with transaction.atomic():
        r = UkraineRequest.objects.create(received=received, reference=reference, text=text, recorded_by=audit.actor_name(actor), recorded_at=timezone.now())
        audit.record(actor, "force.ukraine_request", "ukraine_request", r.pk, after={"received": received.isoformat(), "reference": reference})
    return r


def withdraw_ukraine_request(actor, request: UkraineRequest) -> None:
    _allowed(actor, roles.CHANGE, "record Ukraine's request")
    with transaction.atomic():
        UkraineRequest.objects.filter(pk=request.pk).update(withdrawn_at=timezone.now())
        audit.record(actor, "force.ukraine_request.withdrawn", "ukraine_request", request.pk)


def gate() -> forcegen.Gate:
    """Deploy only at Ukraine's request after a reliable cessation of hostilities (element 1's
    reliability index)."""
    from resolute.commission.services import reliability_condition

    request = UkraineRequest.objects.filter(withdrawn_at__isnull=True).order_by("-received").first()
    c = reliability_condition()
    text = f"request {request.reference} of {request.received:%Y-%m-%d}" if request else None
    return forcegen.deployment_gate(request is not None, text, c.met, c.reason)


def core_view(requirements, offers):
    reqs = [forcegen.Requirement(r.pk, r.code, r.capability, r.quantity, r.tier, r.location, r.lead_nation, r.enabler) for r in requirements]
    offs = [forcegen.Offer(o.pk, o.requirement_id, o.member.code, o.unit, o.size, o.readiness_days, o.status, o.caveats) for o in offers]
    return reqs, offs
