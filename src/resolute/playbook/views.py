"""The attack-response playbook (element 4): instruments and members' response packages, each
activation with the Commission decision that triggered it, and its response tasks with running
clocks; members report their own tasks here, and anyone who reads the playbook can ask what
remains if some members decline.

Everything is read through restrict(), as GET /api/v1/playbook/* reads it; a task report goes
through services.update_task, which decides whose task it is."""

from __future__ import annotations

import re
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from resolute.accounts import roles
from resolute.commission.models import ActivationEvent, Decision
from resolute.errors import ServiceError
from resolute.support.models import Pledge
from resolute.web.dashboard import display_clock

from . import services
from .models import Activation, Instrument, ResponsePackage, ResponseTask

# What a member may report; "open" is where every task starts, not a report.
REPORTS = ("done", "declined", "blocked")
STATUS_LABELS = {"open": gettext_lazy("open"), "done": gettext_lazy("done"), "declined": gettext_lazy("declined"), "blocked": gettext_lazy("blocked")}
KIND_LABELS = {
    "consultations": gettext_lazy("consultations"), "senior_meeting": gettext_lazy("senior meeting"),
    "national_step": gettext_lazy("national step"), "deliver_package": gettext_lazy("package delivery"),
}  # fmt: skip
DOMAIN_LABELS = {
    "military_capabilities": gettext_lazy("military capabilities"), "intelligence": gettext_lazy("intelligence"), "logistics": gettext_lazy("logistics"),
    "diplomatic": gettext_lazy("diplomatic initiatives"), "sanctions": gettext_lazy("additional sanctions"),
}  # fmt: skip
BINDING_LABELS = {"draft": gettext_lazy("draft"), "political": gettext_lazy("political"), "legally_binding": gettext_lazy("legally binding")}
TRIGGER_LABELS = {"armed_attack": gettext_lazy("the Commission's armed-attack determination"), "serious": gettext_lazy("a serious breach or worse")}
MEMBER_CODE = re.compile(r"^[A-Z]{3}$")


def _refused():
    return HttpResponseForbidden(_("Your role does not see the playbook."))


def _may_report(user, t: ResponseTask) -> bool:
    """Whether the API would take this reader's report of this task (the service decides again):
    EXECUTE, and the task is the reader's nation's unless they run the playbook (CHANGE)."""
    if t.status != "open" or not roles.allows(user, roles.EXECUTE, "playbook"):
        return False
    return roles.allows(user, roles.CHANGE, "playbook") or (bool(t.member) and t.member == user.nation)


def _percent(rate: float) -> str:
    # number_format cuts decimals off; rounding first makes 2/3 read 67 %, not 66 %.
    return formats.number_format(round(rate * 100), decimal_pos=0, use_l10n=True) + " %"


def _money(value) -> str:
    return formats.number_format(value, decimal_pos=2, use_l10n=True, force_grouping=True)


def instruments_context(user) -> list[dict]:
    packages: dict[int, list] = {}
    rows = list(ResponsePackage.objects.restrict(user).select_related("member").order_by("instrument_id", "member__code", "pk"))
    # A package names its pledge; the link is offered only where the reader may open it.
    readable = set(Pledge.objects.restrict(user).filter(pk__in=[p.pledge_id for p in rows if p.pledge_id]).values_list("pk", flat=True))
    for p in rows:
        packages.setdefault(p.instrument_id, []).append({
            "p": p, "domain": DOMAIN_LABELS.get(p.domain, p.domain), "value": None if p.value_eur is None else _money(p.value_eur),
            "pledge_link": p.pledge_id in readable,
        })  # fmt: skip
    return [
        {"i": i, "binding": BINDING_LABELS.get(i.binding, i.binding), "trigger": TRIGGER_LABELS.get(i.trigger, i.trigger), "packages": packages.get(i.pk, [])}
        for i in Instrument.objects.restrict(user).order_by("pk")
    ]


def activations_context(user, now) -> list[dict]:
    runs = list(Activation.objects.restrict(user).order_by("-started_at"))
    events = {e.pk: e for e in ActivationEvent.objects.restrict(user).filter(pk__in=[a.event_id for a in runs])}
    decisions = {d.pk: d for d in Decision.objects.restrict(user).filter(pk__in=[e.decision_id for e in events.values()]).select_related("case")}
    tasks: dict[int, list] = {}
    for t in ResponseTask.objects.restrict(user).filter(activation__in=runs):
        c = display_clock(t.due_at, now) if t.status == "open" else None
        tasks.setdefault(t.activation_id, []).append({
            "t": t, "clock": c, "overdue": bool(c and c["overdue"]), "status_label": STATUS_LABELS.get(t.status, t.status),
            "kind_label": KIND_LABELS.get(t.kind, t.kind), "may_report": _may_report(user, t),
        })  # fmt: skip
    out = []
    for a in runs:
        event = events.get(a.event_id)
        rows = tasks.get(a.pk, [])
        out.append({
            "a": a, "event": event, "decision": decisions.get(event.decision_id) if event else None, "tasks": rows,
            "open": sum(1 for r in rows if r["t"].status == "open"), "overdue": sum(1 for r in rows if r["overdue"]),
        })  # fmt: skip
    return out


def _what_if(user, raw: str, errors: dict) -> dict | None:
    if not raw.strip():
        return None
    codes = [c for c in re.split(r"[\s,;]+", raw.strip().upper()) if c]
    bad = [c for c in codes if not MEMBER_CODE.match(c)]
    if bad or len(codes) > 60:
        errors["unavailable"] = _("Enter up to 60 member codes of three letters (ISO 3166 alpha-3), e.g. HUN SVK.")
        return None
    result = services.what_if(user, set(codes))
    return {
        "unavailable": result["unavailable"],
        "packages": [
            {**r, "domain": DOMAIN_LABELS.get(d, d), "value": _money(Decimal(r["value_eur"])), "lost_value": _money(Decimal(r["lost_value_eur"]))}
            for d, r in result["packages"].items()
        ],
        "requirements": [
            {"code": code, "now": _percent(r["fill_now"]), "without": _percent(r["fill_without"]), "gap": r["gap_without"]}
            for code, r in sorted(result["requirements"].items())
        ],
    }


@login_required
@require_safe
def playbook(request):
    user = request.user
    if not roles.allows(user, roles.VIEW, "playbook"):
        return _refused()
    now = timezone.now()
    errors: dict = {}
    unavailable = request.GET.get("unavailable", "")
    what_if = _what_if(user, unavailable, errors)
    return render(
        request,
        "playbook/playbook.html",
        {
            "instruments": instruments_context(user),
            "activations": activations_context(user, now),
            "reports": [(s, STATUS_LABELS[s]) for s in REPORTS],
            "unavailable": unavailable,
            "what_if": what_if,
            "errors": errors,
        },
        status=400 if errors else 200,
    )


@login_required
@require_POST
def task_update(request, pk: int):
    user = request.user
    if not roles.allows(user, roles.VIEW, "playbook"):
        return _refused()
    # A task the reader may not see does not exist for them (404, like the API).
    t = get_object_or_404(ResponseTask.objects.restrict(user), pk=pk)
    status = request.POST.get("status") or ""
    note = (request.POST.get("note") or "").strip()
    if status not in REPORTS:
        messages.error(request, _("Task %(id)s was not updated: choose a status (done, declined or blocked).") % {"id": t.pk})
    elif len(note) > 10_000:
        messages.error(request, _("Task %(id)s was not updated: the note has more than 10,000 characters.") % {"id": t.pk})
    else:
        try:
            t = services.update_task(user, t, status, note)
        except ServiceError as exc:
            messages.error(request, _("Task %(id)s was not updated: %(reason)s") % {"id": t.pk, "reason": exc.detail})
        else:
            messages.success(request, _("Task %(id)s is now %(status)s.") % {"id": t.pk, "status": STATUS_LABELS[t.status]})
    return redirect(f"{reverse('playbook')}#task-{t.pk}")
