"""/api/v1 routes of the support ledger: pledges and their entries, totals on a chosen valuation
basis, delivery ratios, and the IATI export."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from django.http import HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from resolute.agreement.api import page
from resolute.core import valuation
from resolute.monitoring.schemas import Text as Storable
from resolute.errors import InvalidInput
from resolute.monitoring.api import Problem
from resolute.monitoring.models import CoalitionMember

from . import services
from .models import CATEGORIES, LedgerEntry, Pledge

router = Router(tags=["support ledger"])
ERRORS = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}
Basis = Literal[valuation.BASES]
Stage = Literal[valuation.STAGES]
Amount = Field(None, max_digits=18, decimal_places=2)


def entry_out(e: LedgerEntry, cleared: bool) -> dict:
    values = {b: str(getattr(e, f"value_{b}")) for b in valuation.BASES if getattr(e, f"value_{b}") is not None}
    return {
        "id": e.pk, "stage": e.stage, "iati_transaction_type": valuation.IATI_TRANSACTION_TYPE[e.stage], "value_date": e.value_date.isoformat(),
        "currency": e.currency, "values": values if cleared else "withheld", "quantity": e.quantity, "reversal_of": e.reversal_of_id,
        "funded_by": [f.pk for f in e.funded_by.all()], "note": e.note, "recorded_by": e.recorded_by, "recorded_at": e.recorded_at.isoformat(),
    }  # fmt: skip


def pledge_out(p: Pledge, user, detail: bool = False) -> dict:
    cleared = services.may_see_values(user, p.member.code, p.confidential)
    out = {
        "id": p.pk, "member": p.member.code, "pillar": p.pillar, "category": p.category, "title": p.title, "kind": p.kind, "item": p.item,
        "currency": p.currency, "announced": p.announced.isoformat(), "confidential": p.confidential, "external_ref": p.external_ref,
    }  # fmt: skip
    if detail:
        out["entries"] = [entry_out(e, cleared) for e in LedgerEntry.objects.restrict(user).filter(pledge=p).prefetch_related("funded_by")]
    return out


class PledgeFilters(Schema):
    member: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    category: Literal[tuple(CATEGORIES)] | None = None
    cursor: Storable | None = Field(None, max_length=40)
    limit: int = Field(100, ge=1, le=1000)


@router.get("/pledges", response={200: dict, **ERRORS}, summary="Pledges")
def list_pledges(request, f: Query[PledgeFilters]):
    qs = Pledge.objects.restrict(request.auth).select_related("member")
    if f.member:
        qs = qs.filter(member__code=f.member)
    if f.category:
        qs = qs.filter(category=f.category)
    return page(request, qs, f.cursor, f.limit, lambda p: pledge_out(p, request.auth))


class Values(Schema):
    reported: Decimal | None = Amount
    price_list: Decimal | None = Amount
    replacement: Decimal | None = Amount
    net_book_value: Decimal | None = Amount


class EntryIn(Schema):
    stage: Stage
    value_date: dt.date
    values: Values
    quantity: int | None = Field(None, ge=0, le=10_000_000)
    reversal_of: int | None = Field(None, ge=1, le=2**62)
    funded_by: list[int] = Field(default_factory=list, max_length=50)
    note: Storable = Field("", max_length=10_000)


class PledgeIn(Schema):
    member: str = Field(pattern=r"^[A-Z]{3}$")
    category: Literal[tuple(CATEGORIES)]
    title: Storable = Field(min_length=1, max_length=300)
    kind: Literal["financial", "in_kind"]
    item: Storable = Field("", max_length=200)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    announced: dt.date
    confidential: bool = False
    first: EntryIn = Field(description="the first ledger entry (stage pledge, commitment or allocation)")


def _entry(request, pledge, body: EntryIn) -> LedgerEntry:
    visible = LedgerEntry.objects.restrict(request.auth)
    reversal = None
    if body.reversal_of is not None:
        reversal = visible.filter(pk=body.reversal_of).first()
        if reversal is None:
            raise InvalidInput("unknown entry", [{"field": "reversal_of", "message": "no such entry visible to you"}])
    funders = list(visible.filter(pk__in=body.funded_by))
    if len(funders) != len(set(body.funded_by)):
        raise InvalidInput("unknown entry", [{"field": "funded_by", "message": "no such entry visible to you"}])
    values = {k: v for k, v in body.values.dict().items() if v is not None}
    return services.record_entry(request.auth, pledge, body.stage, body.value_date, values, body.quantity, reversal, funders, body.note)


@router.post("/pledges", response={201: dict, **ERRORS}, summary="A new pledge with its first entry (the member's ledger officer)")
def create_pledge(request, body: PledgeIn):
    from django.db import transaction

    member = CoalitionMember.objects.filter(code=body.member).first()
    if member is None:
        raise InvalidInput("unknown member", [{"field": "member", "message": "not a coalition member"}])
    with transaction.atomic():  # the pledge and its first entry, or neither
        p = services.create_pledge(request.auth, member, body.category, body.title, body.kind, body.currency, body.announced, body.item, body.confidential)
        _entry(request, p, body.first)
    return Status(201, pledge_out(p, request.auth, detail=True))


@router.get("/pledges/{pid}", response={200: dict, **ERRORS}, summary="One pledge with its ledger entries")
def get_pledge(request, pid: int):
    return pledge_out(services.get_pledge(request.auth, pid), request.auth, detail=True)


@router.post("/pledges/{pid}/entries", response={201: dict, **ERRORS}, summary="Append a stage entry (corrections are reversals)")
def add_entry(request, pid: int, body: EntryIn):
    p = services.get_pledge(request.auth, pid)
    _entry(request, p, body)
    return Status(201, pledge_out(p, request.auth, detail=True))


@router.get("/support/totals", response={200: list[dict], **ERRORS}, summary="EUR totals by member, pillar, category or stage, on a valuation basis")
def totals(
    request,
    by: str = Query("member", pattern=r"^(member|pillar|category|stage)(,(member|pillar|category|stage))*$", description="comma-separated"),
    basis: Basis = "reported",
    stage: Stage | None = None,
):
    return services.totals(request.auth, tuple(by.split(",")), basis, stage)


@router.get("/support/delivery", response={200: list[dict], **ERRORS}, summary="Delivered / pledged per member")
def delivery(request, basis: Basis = "reported"):
    return services.delivery(request.auth, basis)


@router.get("/support/iati.xml", response={200: None, **ERRORS}, summary="The ledger as IATI 2.03 activity XML (with a military extension)")
def iati(request):
    return HttpResponse(services.export_iati(request.auth), content_type="application/xml")
