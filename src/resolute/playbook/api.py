"""/api/v1 routes of the attack-response playbook: instruments, packages, activations with their
task clocks, task reports, and the "what if"."""

from __future__ import annotations

from typing import Annotated, Literal

from django.shortcuts import get_object_or_404
from ninja import Router, Schema
from pydantic import Field

from resolute.accounts import roles
from resolute.commission.serializers import clock
from resolute.monitoring.schemas import Text as Storable
from resolute.errors import Forbidden
from resolute.monitoring.api import Problem

from . import services
from .models import Activation, Instrument, ResponsePackage, ResponseTask

router = Router(tags=["playbook"])
ERRORS = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}


@router.get("/playbook/instruments", response={200: list[dict], **ERRORS}, summary="Instruments and their response packages")
def instruments(request):
    packages: dict[int, list] = {}
    for p in ResponsePackage.objects.restrict(request.auth).select_related("member"):
        packages.setdefault(p.instrument_id, []).append(
            {"id": p.pk, "member": p.member.code, "domain": p.domain, "description": p.description, "value_eur": str(p.value_eur) if p.value_eur is not None else None,
             "pledge": p.pledge_id, "national_step": p.national_step or None, "national_step_hours": p.national_step_hours}  # fmt: skip
        )
    return [
        {"id": i.pk, "name": i.name, "kind": i.kind, "binding": i.binding, "members": i.members, "valid_from": i.valid_from.isoformat(),
         "valid_to": i.valid_to.isoformat() if i.valid_to else None, "trigger": i.trigger, "consultations_hours": i.consultations_hours,
         "senior_meeting_hours": i.senior_meeting_hours, "packages": packages.get(i.pk, [])}  # fmt: skip
        for i in Instrument.objects.restrict(request.auth).order_by("pk")
    ]


def task_out(t: ResponseTask) -> dict:
    return {
        "id": t.pk, "key": t.key, "kind": t.kind, "title": t.title, "member": t.member or None, "package": t.package_id, "status": t.status,
        "clock": clock(t.due_at) if t.status == "open" else None, "due": t.due_at.isoformat(), "done_at": t.done_at.isoformat() if t.done_at else None,
        "note": t.note, "escalated": t.escalated_at is not None,
    }  # fmt: skip


@router.get("/playbook/activations", response={200: list[dict], **ERRORS}, summary="Activations with their response tasks and running clocks")
def activations(request):
    out = []
    for a in Activation.objects.restrict(request.auth).order_by("-started_at"):
        tasks = list(ResponseTask.objects.restrict(request.auth).filter(activation=a))
        open_tasks = [t for t in tasks if t.status == "open"]
        out.append({
            "id": a.pk, "event": a.event_id, "started_at": a.started_at.isoformat(), "breach_class": a.breach_class, "attribution": a.attribution,
            "tasks": [task_out(t) for t in tasks], "open": len(open_tasks), "overdue": sum(1 for t in open_tasks if clock(t.due_at)["overdue"]),
        })  # fmt: skip
    return out


class TaskIn(Schema):
    status: Literal["done", "declined", "blocked"]
    note: Storable = Field("", max_length=10_000)


@router.post("/playbook/tasks/{tid}", response={200: dict, **ERRORS}, summary="Report a response task: done, declined or blocked")
def report_task(request, tid: int, body: TaskIn):
    return task_out(services.update_task(request.auth, get_object_or_404(ResponseTask.objects.restrict(request.auth), pk=tid), body.status, body.note))


class WhatIfIn(Schema):
    unavailable: list[Annotated[str, Field(pattern=r"^[A-Z]{3}$")]] = Field(max_length=60, description="member codes that decline or are blocked")


@router.post("/playbook/what-if", response={200: dict, **ERRORS}, summary="What remains of each package domain and force requirement without these members")
def what_if(request, body: WhatIfIn):
    if not roles.allows(request.auth, roles.VIEW, "playbook"):
        raise Forbidden("your role may not see the playbook")
    return services.what_if(request.auth, set(body.unavailable))
