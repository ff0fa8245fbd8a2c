"""/api/v1 routes of the Multinational Force: the force board, offers, the deployment gate."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from pydantic import Field

from resolute.accounts import roles
from resolute.core import forcegen
from resolute.monitoring.schemas import Text as Storable
from resolute.errors import Forbidden, InvalidInput
from resolute.monitoring.api import Problem
from resolute.monitoring.models import CoalitionMember

from . import services
from .models import Offer, Requirement

router = Router(tags=["Multinational Force"])
ERRORS = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}


def _require_view(request) -> None:
    # The board mixes records (restricted row by row) with the gate, which is not a record.
    if not roles.allows(request.auth, roles.VIEW, "force"):
        raise Forbidden("your role may not see the force")


def gate_out() -> dict:
    g = services.gate()
    return {"open": g.open, "reasons": list(g.reasons)}


@router.get("/force/board", response={200: dict, **ERRORS}, summary="Requirements with fill rates, offers, readiness alerts, the gate")
def board(request):
    _require_view(request)
    requirements = list(Requirement.objects.restrict(request.auth))
    offers = list(Offer.objects.restrict(request.auth).select_related("member").filter(requirement__in=requirements))
    reqs, offs = services.core_view(requirements, offers)
    fills = forcegen.fill_rates(reqs, offs)
    by_req: dict[int, list] = {}
    for o in offers:
        by_req.setdefault(o.requirement_id, []).append(
            {"id": o.pk, "member": o.member.code, "unit": o.unit, "size": o.size, "readiness_days": o.readiness_days, "tier": forcegen.tier_of(o.readiness_days), "status": o.status, "caveats": o.caveats}
        )
    return {
        "requirements": [
            {
                "id": r.pk, "code": r.code, "capability": r.capability, "quantity": r.quantity, "unit": r.unit, "tier": r.tier, "location": r.location,
                "lead_nation": r.lead_nation, "enabler": r.enabler, "filled": fills[r.pk].filled, "offered": fills[r.pk].offered,
                "fill_rate": fills[r.pk].rate, "gap": fills[r.pk].gap, "offers": by_req.get(r.pk, []),
            }
            for r in requirements
        ],
        "overall_fill_rate": forcegen.overall_fill(list(fills.values())) if fills else None,
        "alerts": [{"offer": a.offer_id, "requirement": a.requirement_id, "member": a.member, "kind": a.kind, "message": a.message} for a in forcegen.alerts(reqs, offs)],
        "gate": gate_out(),
    }  # fmt: skip


@router.get("/force/gate", response={200: dict, **ERRORS}, summary="The deployment gate: open or closed, and why")
def gate(request):
    _require_view(request)
    return gate_out()


class OfferIn(Schema):
    requirement: Storable = Field(min_length=1, max_length=20, description="requirement code")
    member: str = Field(pattern=r"^[A-Z]{3}$")
    unit: Storable = Field(min_length=1, max_length=200)
    size: int = Field(ge=1, le=100_000)
    readiness_days: int = Field(ge=0, le=3650)
    caveats: Storable = Field("", max_length=10_000)


@router.post("/force/offers", response={201: dict, **ERRORS}, summary="A national offer against a requirement (delegations)")
def offer(request, body: OfferIn):
    if not (roles.allows(request.auth, roles.OFFER, "force") or roles.allows(request.auth, roles.CHANGE, "force")):
        raise Forbidden("your role may not offer contributions")
    req = Requirement.objects.restrict(request.auth).filter(code=body.requirement).first()
    member = CoalitionMember.objects.filter(code=body.member).first()
    if req is None or member is None:
        raise InvalidInput("unknown reference", [{"field": "requirement" if req is None else "member", "message": "not found"}])
    o = services.make_offer(request.auth, req, member, body.unit, body.size, body.readiness_days, body.caveats)
    return Status(201, {"id": o.pk, "status": o.status})


class MoveIn(Schema):
    action: Literal["accept", "decline", "certify", "deploy", "transfer_authority", "withdraw"]


@router.post("/force/offers/{oid}/status", response={200: dict, **ERRORS}, summary="Move an offer: accept, certify, deploy (gate), transfer of authority, decline, withdraw")
def move(request, oid: int, body: MoveIn):
    o = services.move_offer(request.auth, get_object_or_404(Offer.objects.restrict(request.auth), pk=oid), body.action)
    return {"id": o.pk, "status": o.status}


class ReadinessIn(Schema):
    readiness_days: int = Field(ge=0, le=3650)


@router.post("/force/offers/{oid}/readiness", response={200: dict, **ERRORS}, summary="Report an offer's current readiness (days)")
def readiness(request, oid: int, body: ReadinessIn):
    o = services.update_readiness(request.auth, get_object_or_404(Offer.objects.restrict(request.auth).select_related("member"), pk=oid), body.readiness_days)
    return {"id": o.pk, "readiness_days": o.readiness_days, "tier": forcegen.tier_of(o.readiness_days)}


class RequestIn(Schema):
    received: dt.date
    reference: Storable = Field(min_length=1, max_length=200)
    text: Storable = Field(min_length=1, max_length=10_000)


@router.post("/force/ukraine-request", response={201: dict, **ERRORS}, summary="Record Ukraine's request for deployment")
def ukraine_request(request, body: RequestIn):
    services.record_ukraine_request(request.auth, body.received, body.reference, body.text)
    return Status(201, gate_out())
