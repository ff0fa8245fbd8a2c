"""Use cases of the attack-response playbook: instruments and packages, activation on the
Commission's armed-attack determination, response tasks with clocks, escalation, and the
"what if" of members that decline or are blocked (core/playbook.py plans; this module writes)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from resolute.accounts import roles
from resolute.accounts.restrict import copy_marking
from resolute.audit import services as audit
from resolute.commission import services as commission
from resolute.commission.models import ActivationEvent, Decision
from resolute.core import playbook as plan
from resolute.errors import Conflict, Forbidden, InvalidInput
from resolute.monitoring.models import CoalitionMember

from .models import Activation, Instrument, ResponsePackage, ResponseTask

TASK_STATES = ("open", "done", "declined", "blocked")


def _allowed(actor, action: str, what: str) -> None:
    if isinstance(actor, str):
        return  # system actors (CLI account, demo, listeners)
    if actor is None or not roles.allows(actor, action, "playbook"):
        raise Forbidden(f"your role may not {what}")


def add_instrument(actor, name: str, kind: str, members: list[str], binding: str, valid_from: dt.date, valid_to: dt.date | None = None,
                   trigger: str = "armed_attack", consultations_hours: int = 24, senior_meeting_hours: int = 72, **marking) -> Instrument:  # fmt: skip
    _allowed(actor, roles.CHANGE, "write instruments")
    errors = []
    if binding not in plan.BINDING:
        errors.append({"field": "binding", "message": f"one of {', '.join(plan.BINDING)}"})
    unknown = sorted(set(members) - set(CoalitionMember.objects.filter(code__in=members).values_list("code", flat=True)))
    if unknown:
        errors.append({"field": "members", "message": f"not coalition members: {', '.join(unknown)}"})
    if valid_to and valid_to < valid_from:
        errors.append({"field": "valid_to", "message": "before valid_from"})
    if errors:
        raise InvalidInput("; ".join(e["message"] for e in errors), errors)
    with transaction.atomic():
        i = Instrument.objects.create(name=name, kind=kind, members=sorted(members), binding=binding, valid_from=valid_from, valid_to=valid_to, trigger=trigger,
                                      consultations_hours=consultations_hours, senior_meeting_hours=senior_meeting_hours, **marking)  # fmt: skip
        audit.record(actor, "playbook.instrument", "instrument", i.pk, after={"name": name, "binding": binding, "members": len(members)})
    return i


def add_package(actor, instrument: Instrument, member: CoalitionMember, domain: str, description: str, value_eur: Decimal | None = None,
                pledge=None, national_step: str = "", national_step_hours: int = 0) -> ResponsePackage:  # fmt: skip
    _allowed(actor, roles.CHANGE, "write response packages")
    if domain not in plan.DOMAINS:
        raise InvalidInput("bad domain", [{"field": "domain", "message": f"one of {', '.join(plan.DOMAINS)}"}])
    if member.code not in instrument.members:
        raise InvalidInput("not bound", [{"field": "member", "message": f"{member.code} is not bound by {instrument.name}"}])
    with transaction.atomic():
        p = ResponsePackage(instrument=instrument, member=member, domain=domain, description=description, value_eur=value_eur, pledge=pledge,
                            national_step=national_step, national_step_hours=national_step_hours)  # fmt: skip
        copy_marking(instrument, p)
        p.save()
        audit.record(actor, "playbook.package", "package", p.pk, after={"member": member.code, "domain": domain, "value_eur": str(value_eur)})
    return p


def _core_package(p: ResponsePackage) -> plan.Package:
    return plan.Package(p.pk, p.member.code, p.domain, p.description, p.value_eur, p.national_step, p.national_step_hours, p.instrument.binding)


def run_pending(actor) -> list[Activation]:
    """Take every pending armed-attack activation (the listener and `resolute playbook run`)."""
    return [activate(actor, e) for e in ActivationEvent.objects.filter(status="pending").order_by("pk")]


def activate(actor, event: ActivationEvent) -> Activation:
    """Create the response tasks with their clocks for one determination. The event is consumed
    in the same transaction: an activation can never run twice for one determination."""
    _allowed(actor, roles.CHANGE, "activate the playbook")
    with transaction.atomic():
        commission.consume_activation(actor, event, "playbook")
        decision = Decision.objects.get(pk=event.decision_id)
        day = event.determined_at.date()
        instruments = [
            i for i in Instrument.objects.exclude(binding="draft").filter(valid_from__lte=day)
            if (i.valid_to is None or i.valid_to >= day) and plan.triggered(plan.Rule(i.trigger, i.consultations_hours, i.senior_meeting_hours), decision.breach_class)
        ]  # fmt: skip
        rules = [plan.Rule(i.trigger, i.consultations_hours, i.senior_meeting_hours) for i in instruments]
        packages = list(ResponsePackage.objects.filter(instrument__in=instruments).select_related("member", "instrument"))
        members = sorted({m for i in instruments for m in i.members})
        run = Activation(event=event, started_at=timezone.now(), breach_class=decision.breach_class, attribution=event.attribution)
        copy_marking(event, run)
        run.save()
        tasks = plan.plan(run.started_at, rules, [_core_package(p) for p in packages], members) if rules else []
        rows = [
            ResponseTask(activation=run, key=t.key, kind=t.kind, title=t.title[:300], member=t.member or "", package_id=t.package_id, due_at=t.due,
                         classification=run.classification, tlp=run.tlp, releasable_to=run.releasable_to, originator=run.originator)  # fmt: skip
            for t in tasks
        ]
        ResponseTask.objects.bulk_create(rows)
        audit.record(actor, "playbook.activate", "activation", run.pk, after={"event": event.pk, "instruments": [i.name for i in instruments], "tasks": len(rows)},
                     batch_item_hashes=[f"{t.key}@{t.due.isoformat()}" for t in tasks])  # fmt: skip
    return run


def update_task(actor, task: ResponseTask, status: str, note: str = "") -> ResponseTask:
    """A member reports its step: done, declined or blocked. A delegation or ledger officer acts
    for its own nation's tasks only; coalition-wide tasks (consultations) are the secretariat's."""
    _allowed(actor, roles.EXECUTE, "report response tasks")
    if status not in TASK_STATES:
        raise InvalidInput("bad status", [{"field": "status", "message": f"one of {', '.join(TASK_STATES)}"}])
    if not isinstance(actor, str) and not roles.allows(actor, roles.CHANGE, "playbook") and task.member != actor.nation:
        raise Forbidden(f"this task is {task.member or 'the coalition'}'s, not {actor.nation}'s", [{"field": "member", "message": "not your nation"}])
    with transaction.atomic():
        task = ResponseTask.objects.select_for_update().get(pk=task.pk)
        if task.status != "open":
            raise Conflict(f"task '{task.key}' is already '{task.status}'", [{"field": "status", "message": f"current status is '{task.status}'"}])
        task.status, task.note = status, note
        task.done_at = timezone.now()
        task.save()
        audit.record(actor, "playbook.task", "task", task.pk, before={"status": "open"}, after={"status": status, "note": note})
    return task


def escalate_overdue(actor, now: dt.datetime | None = None) -> list[ResponseTask]:
    """Flag open tasks past their due time (run every few minutes during an activation); each
    escalation is audited once."""
    now = now or timezone.now()
    with transaction.atomic():
        late = list(ResponseTask.objects.select_for_update().filter(status="open", due_at__lt=now, escalated_at__isnull=True))
        keys = set(plan.overdue([(t.key, t.due_at, t.status) for t in late], now))
        late = [t for t in late if t.key in keys]
        ResponseTask.objects.filter(pk__in=[t.pk for t in late]).update(escalated_at=now)
        if late:
            audit.record(actor, "playbook.escalate", "task", "batch", after={"tasks": [t.pk for t in late]})
    return late


def what_if(user, unavailable: set[str]) -> dict:
    """What remains of each response domain and each force requirement if these members decline
    or are blocked."""
    from resolute.core import forcegen
    from resolute.forces.models import Offer, Requirement
    from resolute.forces.services import core_view

    packages = [_core_package(p) for p in ResponsePackage.objects.restrict(user).select_related("member", "instrument")]
    remaining = plan.what_if(packages, unavailable)
    reqs, offers = core_view(Requirement.objects.restrict(user), Offer.objects.restrict(user).select_related("member"))
    forces = forcegen.what_if(reqs, offers, unavailable)
    codes = {r.id: r.code for r in reqs}
    return {
        "unavailable": sorted(unavailable),
        "packages": {d: {"packages": r.packages, "value_eur": str(r.value_eur), "lost_packages": r.lost_packages, "lost_value_eur": str(r.lost_value_eur), "members": list(r.members)} for d, r in remaining.items()},
        "requirements": {codes[k]: {"fill_now": a.rate, "fill_without": b.rate, "gap_without": b.gap} for k, (a, b) in forces.items()},
    }
