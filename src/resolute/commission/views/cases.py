"""The Special Commission's cases and one case, with the forms of each step up to the published
decision."""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from resolute.accounts import roles
from resolute.agreement.models import Finding
from resolute.core import workflow
from resolute.errors import Conflict, InvalidInput, ServiceError
from resolute.monitoring.models import Incident, Party
from resolute.web.dashboard import display_clock
from resolute.words import label

from .. import services
from ..models import BREACH_CLASSES, MEASURES, ActivationEvent, Case, Decision, Verification, Vote
from .common import Form, _failed_form, _history, _refusal, _refused, _value, _visible_ids, take_step


# -- the Commission ---------------------------------------------------------------------------

CASE_FILTERS = ("current", "all", *sorted(workflow.CASE.states()))


@login_required
@require_safe
def commission(request):
    if not roles.allows(request.user, roles.VIEW, "case"):
        return _refused(request, _("Your role does not work with the Commission's cases."))
    return render(request, "commission/commission.html", _commission_context(request))


def _commission_context(request, **extra) -> dict:
    user = request.user
    now = dt.datetime.now(dt.timezone.utc)
    chosen = request.GET.get("state", "current")
    chosen = chosen if chosen in CASE_FILTERS else "current"
    cases = Case.objects.restrict(user)
    if chosen == "current":
        cases = cases.exclude(state__in=workflow.CASE.final)
    elif chosen != "all":
        cases = cases.filter(state=chosen)
    limit = 500
    cases = list(cases.order_by("-opened_at", "-pk")[: limit + 1])
    return {
        "rows": [{"c": c, "clock": display_clock(c.response_deadline, now) if c.state == "awaiting_responses" else None} for c in cases[:limit]],
        "truncated": len(cases) > limit,
        "state": chosen,
        "states": [(s, label(s)) for s in sorted(workflow.CASE.states())],
        "can_refer": roles.allows(user, roles.REFER, "case"),
        "errors": {},
        "values": {},
        **extra,
    }


def _resolve(user, model, pk, field: str, f: Form):
    """The API's rule: a referenced record the reader may not see is named as not found."""
    if pk is None:
        return None
    obj = model.objects.restrict(user).filter(pk=pk).first()
    if obj is None:
        f.error(field, _("%(pk)s does not exist or is not visible to you.") % {"pk": pk})
    return obj


@login_required
@require_POST
def case_refer(request):
    user = request.user
    if not roles.allows(user, roles.REFER, "case"):
        return _refused(request, _("Your role does not refer matters to the Commission."))
    f = Form(request.POST)
    title = f.text("title", required=True, max_length=300)
    incidents = [_resolve(user, Incident, pk, "incident_ids", f) for pk in f.ids("incident_ids")]
    note = f.text("note")
    try:
        f.check()
        case = services.refer(user, title, incidents, note)
    except InvalidInput as exc:
        return render(request, "commission/commission.html", _commission_context(request, **_failed_form(request, "refer", exc)), status=422)
    except ServiceError as exc:
        messages.error(request, _refusal(exc))
        return redirect("commission")
    messages.success(request, _("Case %(number)s is opened.") % {"number": case.number})
    return _to_case(request, case.pk)


def _to_case(request, pk: int):
    # A case is marked like its evidence: after a step its marking may no longer let this
    # reader see it, and its page would then be a 404.
    if Case.objects.restrict(request.user).filter(pk=pk).exists():
        return redirect("case", pk=pk)
    messages.info(request, _("The case now carries the markings of its evidence, which do not let you see it."))
    return redirect("commission")


# -- one case ---------------------------------------------------------------------------------


def _case(request, pk: int) -> Case:
    return get_object_or_404(Case.objects.restrict(request.user), pk=pk)


def _bars(t: dict | None) -> dict | None:
    """The tally as rows of bars, in per cent of the seats."""
    if not t:
        return None
    seats = t.get("seats") or 0
    rows = []
    for key, name, n in (
        ("yes", _("Yes"), t.get("yes", 0)),
        ("no", _("No"), t.get("no", 0)),
        ("abstain", _("Abstain"), t.get("abstain", 0)),
        ("none", _("Not voted"), max(0, seats - t.get("cast", 0))),
    ):
        rows.append({"key": key, "label": name, "n": n, "pct": round(100 * n / seats) if seats else 0})
    return {**t, "rows": rows, "summary": ", ".join(f"{r['label']} {r['n']}" for r in rows)}


def _evidence(user, case: Case) -> list[dict]:
    rows = list(case.evidence.select_related("incident", "finding__provision", "verification", "report__author").order_by("pk"))
    incidents = _visible_ids(Incident, user, {e.incident_id for e in rows})
    findings = _visible_ids(Finding, user, {e.finding_id for e in rows})
    verifications = _visible_ids(Verification, user, {e.verification_id for e in rows} | {e.report.verification_id for e in rows if e.report_id})
    # A report is read with its verification: it has no markings of its own.
    return [
        {
            "e": e,
            "incident_visible": e.incident_id in incidents,
            "finding_visible": e.finding_id in findings,
            "verification_visible": e.verification_id in verifications,
            "report_visible": bool(e.report_id) and e.report.verification_id in verifications,
        }
        for e in rows
    ]


def _case_context(request, case: Case, **extra) -> dict:
    user = request.user
    now = dt.datetime.now(dt.timezone.utc)
    allowed = set(workflow.CASE.allowed(case.state))
    chair = roles.allows(user, roles.CHAIR, "case")
    member = roles.allows(user, roles.VOTE, "case")
    seat = services.seat_of(user) if member else None
    proposals = []
    open_proposal = None
    for p in case.proposals.order_by("number"):
        votes = list(p.votes.select_related("seat__member").order_by("pk"))
        if p.status == "open":
            open_proposal = p
            try:
                tally, tally_error = dataclasses.asdict(services.tally(case)), None
            except ValueError as exc:  # e.g. the Commission has no seats: say so, not a 500
                tally, tally_error = None, str(exc)
        else:
            tally, tally_error = p.outcome, None
        proposals.append({"p": p, "votes": votes, "tally": _bars(tally), "tally_error": tally_error, "measures": [label(m) for m in p.measures]})
    my_vote = Vote.objects.filter(proposal=open_proposal, seat=seat).first() if open_proposal and seat else None
    decision = Decision.objects.restrict(user).filter(case=case).first()
    activation = ActivationEvent.objects.restrict(user).filter(decision=decision).first() if decision else None
    forms = {
        "evidence": chair and "add_evidence" in allowed,
        "invite": chair and "invite_parties" in allowed,
        "response": chair and "record_response" in allowed,
        "note": member and "note" in allowed,
        "deliberation": chair and "open_deliberation" in allowed,
        "propose": chair and "propose" in allowed,
        "vote": bool(member and seat and "vote" in allowed and my_vote is None),
        "close": chair and "close_adopted" in allowed,
        "publish": chair and "publish" in allowed and decision is not None,
    }
    targets = [("case", case.number)] + ([("decision", decision.pk)] if decision else [])
    values = extra.get("values", {})
    return {
        "case": case,
        "now": now,
        "clock": display_clock(case.response_deadline, now) if case.state == "awaiting_responses" else None,
        "marking": services.marking_of(case),
        "rule": [(label(k), label(_value(val))) for k, val in case.rule.items()],
        "evidence": _evidence(user, case),
        "responses": list(case.responses.select_related("party").order_by("pk")),
        "notes": list(case.notes.order_by("pk")),
        "proposals": proposals,
        "decision": decision,
        "decision_measures": [label(m) for m in decision.measures] if decision else [],
        "activation": activation,
        "history": _history(*targets),
        "forms": forms,
        "any_form": any(forms.values()),
        "seat": seat,
        "member_without_seat": member and seat is None and "vote" in allowed,
        "my_vote": my_vote,
        "parties": list(Party.objects.order_by("code")),
        "breach_classes": [(b, label(b)) for b in BREACH_CLASSES],
        "measures": [(m, label(m)) for m in MEASURES],
        "checked_measures": values["propose"].getlist("measures") if "propose" in values else [],
        "choices": [("yes", _("Yes")), ("no", _("No")), ("abstain", _("Abstain"))],
        "errors": {},
        "values": {},
        **extra,
    }


@login_required
@require_safe
def case_page(request, pk: int):
    case = _case(request, pk)
    return render(request, "commission/case.html", _case_context(request, case))


def _add_evidence(request, case):
    user = request.user
    f = Form(request.POST)
    incident = _resolve(user, Incident, f.integer("incident_id", required=False), "incident_id", f)
    finding = _resolve(user, Finding, f.integer("finding_id", required=False), "finding_id", f)
    verification = _resolve(user, Verification, f.integer("verification_id", required=False), "verification_id", f)
    note = f.text("note")
    f.check()
    services.add_evidence(user, case, incident=incident, finding=finding, verification=verification, note=note)
    return _("Evidence added.")


def _invite(request, case):
    f = Form(request.POST)
    deadline = f.time("deadline")
    f.check()
    case = services.invite_parties(request.user, case, deadline)
    return _("The parties are invited to respond by %(t)s UTC.") % {"t": f"{case.response_deadline:%Y-%m-%d %H:%M}"}


def _response(request, case):
    f = Form(request.POST)
    party = f.choice("party", tuple(Party.objects.values_list("code", flat=True)))
    text = f.text("text", required=True)
    f.check()
    r = services.record_response(request.user, case, party, text)
    return (_("Late response of %(party)s recorded.") if r.late else _("Response of %(party)s recorded.")) % {"party": party}


def _note(request, case):
    f = Form(request.POST)
    text = f.text("text", required=True)
    f.check()
    services.note(request.user, case, text)
    return _("Note added to the deliberation record.")


def _deliberation(request, case):
    services.open_deliberation(request.user, case)
    return _("Deliberation is open.")


def _propose(request, case):
    # The service checks the party, the class, the catalogue and the rationale all at once, so
    # the chair sees every mistake in one go; the page only bounds what it passes on.
    f = Form(request.POST)
    attribution = f.text("attribution", max_length=3)
    breach_class = f.text("breach_class", max_length=20)
    measures = [m[:40] for m in request.POST.getlist("measures")[: len(MEASURES) + 1]]
    rationale = f.text("rationale")
    f.check()
    p = services.propose(request.user, case, attribution, breach_class, measures, rationale)
    return _("Proposal %(n)s is put to the vote.") % {"n": p.number}


def _vote(request, case):
    f = Form(request.POST)
    choice = f.choice("choice", ("yes", "no", "abstain"))
    opinion = f.text("opinion")
    f.check()
    vt = services.vote(request.user, case, choice, opinion)
    return _("The vote of %(member)s is recorded: %(choice)s.") % {"member": vt.seat.member.code, "choice": _(choice)}


def _close(request, case):
    decision = services.close_vote(request.user, case)
    if decision is None:
        return _("The proposal is rejected; the case returns to deliberation.")
    return _("The proposal is adopted: the decision is recorded.")


def _publish(request, case):
    decision = Decision.objects.restrict(request.user).filter(case=case).first()
    if decision is None:
        raise Conflict(f"case is '{case.state}': no decision to publish")
    services.publish(request.user, decision)
    return _("The decision is published.")


CASE_STEPS = {
    "evidence": (roles.CHAIR, _add_evidence),
    "invite": (roles.CHAIR, _invite),
    "response": (roles.CHAIR, _response),
    "note": (roles.VOTE, _note),
    "deliberation": (roles.CHAIR, _deliberation),
    "propose": (roles.CHAIR, _propose),
    "vote": (roles.VOTE, _vote),
    "close": (roles.CHAIR, _close),
    "publish": (roles.CHAIR, _publish),
}


@login_required
@require_POST
def case_step(request, pk: int, step: str):
    case = _case(request, pk)

    def rerender(failed):
        context = _case_context(request, _case(request, pk), **failed)
        return render(request, "commission/case.html", context, status=422)

    return take_step(request, CASE_STEPS, step, case, "case", rerender, lambda: _to_case(request, pk))
