"""The review queue and one verification, with the forms of each step of field verification."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from resolute.accounts import roles
from resolute.accounts.restrict import reader_of
from resolute.core import workflow
from resolute.core.markings import may_read
from resolute.errors import InvalidInput, ServiceError
from resolute.monitoring.models import Incident, Party
from resolute.web.dashboard import display_clock
from resolute.words import label

from .. import services
from ..models import ALLEGATION_SOURCES, Case, Verification
from .common import Form, OUTCOMES, SHA256, VERIFICATION_FINAL, _field_errors, _history, _refusal, _refused, _visible_ids, take_step


# -- the review queue -------------------------------------------------------------------------


def _queue_filter(value: str) -> str:
    return value if value in ("open", "closed") or value in workflow.VERIFICATION.states() else "open"


def _queue_row(v: Verification, now, incidents: set[int]) -> dict:
    clock = None
    if v.state == "received":
        clock = display_clock(v.review_due, now)
    elif v.state == "tasked":
        clock = display_clock(v.deadline, now)
    locked = v.locked_by_id and v.lock_expires and v.lock_expires > now
    return {"v": v, "clock": clock, "lock": v if locked else None, "incident_visible": v.incident_id in incidents}


@login_required
@require_safe
def review_queue(request):
    user = request.user
    if not roles.allows(user, roles.VIEW, "verification"):
        return _refused(request, _("Your role does not work with field verification."))
    return render(request, "commission/review_queue.html", _queue_context(request))


def _queue_context(request, **extra) -> dict:
    user = request.user
    now = dt.datetime.now(dt.timezone.utc)
    chosen = _queue_filter(request.GET.get("state", "open"))
    base = Verification.objects.restrict(user).select_related("incident", "locked_by", "team_lead")
    if chosen == "open":
        items = base.exclude(state__in=VERIFICATION_FINAL).order_by("received_at", "pk")
    elif chosen == "closed":
        items = base.filter(state__in=VERIFICATION_FINAL).order_by("-updated_at", "-pk")
    else:
        items = base.filter(state=chosen).order_by("received_at", "pk")
    limit = 500
    items = list(items[: limit + 1])
    # Concluded items stay reachable from the default view, newest first, without crowding it.
    closed = list(base.filter(state__in=VERIFICATION_FINAL).order_by("-updated_at", "-pk")[:20]) if chosen == "open" else []
    incidents = _visible_ids(Incident, user, {v.incident_id for v in items + closed})
    return {
        "rows": [_queue_row(v, now, incidents) for v in items[:limit]],
        "truncated": len(items) > limit,
        "closed": [_queue_row(v, now, incidents) for v in closed],
        "state": chosen,
        "states": [(s, label(s)) for s in sorted(workflow.VERIFICATION.states())],
        "now": now,
        "can_open": roles.allows(user, roles.ADD, "verification"),
        "sources": [(s, _(s)) for s in ALLEGATION_SOURCES],
        **extra,
    }


@login_required
@require_POST
def verification_open(request):
    """Record an allegation, usually from an incident's page. An incident the reader may not see
    is a 404 here (the API names it as an invalid field instead): the form is only ever reached
    from a page that showed the incident, so anything else is a guessed number."""
    user = request.user
    if not roles.allows(user, roles.ADD, "verification"):
        return _refused(request, _("Your role does not record allegations."))
    f = Form(request.POST)
    pk = f.integer("incident", required=False)
    incident = get_object_or_404(Incident.objects.restrict(user), pk=pk) if pk is not None else None
    allegation = f.text("allegation", required=True)
    source = f.choice("source", ALLEGATION_SOURCES, default="mission")
    back = redirect("incident", pk=incident.pk) if incident else redirect("review-queue")
    try:
        f.check()
        v = services.open_verification(user, allegation, source, incident)
    except InvalidInput as exc:
        # The form is two fields long: a message on the page it came from is enough.
        messages.error(request, _("The allegation was not recorded. %(errors)s") % {"errors": " ".join(_field_errors(exc)[1])})
        return back
    except ServiceError as exc:
        messages.error(request, _refusal(exc))
        return back
    messages.success(request, _("Verification #%(pk)s opened; it must be reviewed within its review clock.") % {"pk": v.pk})
    if Verification.objects.restrict(user).filter(pk=v.pk).exists():
        return redirect("verification", pk=v.pk)
    return back


# -- one verification -------------------------------------------------------------------------


def _verification(request, pk: int) -> Verification:
    return get_object_or_404(Verification.objects.restrict(request.user).select_related("incident", "locked_by", "alleged_by", "reviewed_by", "team_lead", "tasked_by", "concluded_by"), pk=pk)


def _team_leads(v: Verification) -> list:
    """Those who may investigate and may read the item: a lead who cannot open the task could
    not report on it."""
    investigators = [r for r, perms in roles.PERMISSIONS.items() if (roles.INVESTIGATE, "verification") in perms]
    marking = services.marking_of(v)
    people = get_user_model().objects.filter(role__in=investigators, is_active=True).order_by("username")
    return [u for u in people if may_read(reader_of(u), marking)]


def _verification_context(request, v: Verification, **extra) -> dict:
    user = request.user
    now = dt.datetime.now(dt.timezone.utc)
    allowed = set(workflow.VERIFICATION.allowed(v.state))
    may_review = roles.allows(user, roles.REVIEW, "verification")
    may_investigate = roles.allows(user, roles.INVESTIGATE, "verification")
    live_lock = bool(v.locked_by_id and v.lock_expires and v.lock_expires > now)
    mine = live_lock and v.locked_by_id == user.pk
    forms = {
        # The lock only matters while an analyst still has something to do with the item.
        "lock": may_review and v.state not in VERIFICATION_FINAL and not live_lock,
        "unlock": may_review and mine,
        "review": may_review and "review_admit" in allowed,
        "task": may_review and "task" in allowed,
        "report": may_investigate and "report" in allowed,
        "deny": may_investigate and "deny_access" in allowed,
        "conclude": may_review and any(a.startswith("conclude_") for a in allowed),
    }
    clock = display_clock(v.review_due, now) if v.state == "received" else display_clock(v.deadline, now) if v.state == "tasked" else None
    incident_visible = bool(v.incident_id) and Incident.objects.restrict(user).filter(pk=v.incident_id).exists()
    return {
        "v": v,
        "now": now,
        "clock": clock,
        "live_lock": live_lock,
        "lock_is_mine": mine,
        "incident_visible": incident_visible,
        "reports": list(v.reports.select_related("author").order_by("pk")),
        "denials": list(v.denials.select_related("reported_by").order_by("pk")),
        "history": _history(("verification", v.pk)),
        "cases": list(Case.objects.restrict(user).filter(verification=v).order_by("pk")),
        "forms": forms,
        "any_form": any(forms.values()),
        "team_leads": _team_leads(v) if forms["task"] else [],
        "parties": list(Party.objects.order_by("code")),
        "outcomes": [(o, label(o)) for o in OUTCOMES],
        "marking": services.marking_of(v),
        "errors": {},
        "values": {},
        **extra,
    }


@login_required
@require_safe
def verification_page(request, pk: int):
    v = _verification(request, pk)
    return render(request, "commission/verification.html", _verification_context(request, v))


def _lock(request, v):
    v = services.take_lock(request.user, v)
    return _("You are reviewing this item; the lock holds until %(t)s UTC.") % {"t": f"{v.lock_expires:%Y-%m-%d %H:%M}"}


def _unlock(request, v):
    services.release_lock(request.user, v)
    return _("Lock released.")


def _review(request, v):
    f = Form(request.POST)
    decision = f.choice("admissible", ("admit", "dismiss"))
    note = f.text("note")
    f.check()
    v = services.review(request.user, v, decision == "admit", note)
    return _("Admitted: the item can be tasked.") if v.state == "reviewed" else _("Dismissed.")


def _task(request, v):
    f = Form(request.POST)
    team = f.text("team", required=True, max_length=100)
    username = f.text("team_lead", required=True, max_length=150)
    deadline = f.time("deadline")
    lead = None
    if username:
        lead = get_user_model().objects.filter(username=username, is_active=True).first()
        if lead is None:
            f.error("team_lead", _("No active user “%(name)s”.") % {"name": username[:150]})
    f.check()
    v = services.task(request.user, v, team, lead, deadline)
    return _("%(team)s is tasked; the report is due %(t)s UTC.") % {"team": v.team, "t": f"{v.deadline:%Y-%m-%d %H:%M}"}


def _hashes(f: Form, name: str, key: str) -> list[dict]:
    """One item a line: a SHA-256 in hexadecimal, then an optional description."""
    out = []
    for n, line in enumerate(f.text(name, max_length=200 * 1100).splitlines(), 1):
        digest, _sep, words = line.strip().partition(" ")
        if not digest:
            continue
        if not SHA256.match(digest.lower()):
            f.error(name, _("Line %(n)s: a SHA-256 is 64 hexadecimal characters.") % {"n": n})
            break
        out.append({"sha256": digest.lower(), key: words.strip()[:1000]})
    if len(out) > 200:
        f.error(name, _("At most %(n)s lines.") % {"n": 200})
    return out


def _report(request, v):
    f = Form(request.POST)
    findings = f.text("findings", required=True)
    recommendation = f.choice("recommendation", ("", *OUTCOMES))
    evidence = _hashes(f, "evidence", "description")
    photos = _hashes(f, "photos", "caption")
    f.check()
    services.report(request.user, v, findings, evidence, photos, recommendation)
    return _("Report submitted.")


def _deny(request, v):
    f = Form(request.POST)
    lat = f.number("lat", -90, 90)
    lon = f.number("lon", -180, 180)
    denied_by = f.choice("denied_by", ("", *Party.objects.values_list("code", flat=True)))
    note = f.text("note")
    at = f.time("at", required=False)
    if at is not None and at > dt.datetime.now(dt.timezone.utc):
        f.error("at", _("Must not lie in the future."))
    f.check()
    services.deny_access(request.user, v, lat, lon, denied_by, note, at)
    return _("The denial of access is recorded, and filed as a movement-restriction observation.")


def _conclude(request, v):
    f = Form(request.POST)
    outcome = f.choice("outcome", OUTCOMES)
    note = f.text("note")
    f.check()
    v = services.conclude(request.user, v, outcome, note)
    done = _("Concluded: %(outcome)s.") % {"outcome": label(outcome)}
    case = Case.objects.restrict(request.user).filter(verification=v).order_by("-pk").first()
    if case is not None:
        done += " " + _("Commission case %(number)s is opened.") % {"number": case.number}
    return done


# step -> (role action it needs, handler)
VERIFICATION_STEPS = {
    "lock": (roles.REVIEW, _lock),
    "unlock": (roles.REVIEW, _unlock),
    "review": (roles.REVIEW, _review),
    "task": (roles.REVIEW, _task),
    "report": (roles.INVESTIGATE, _report),
    "deny": (roles.INVESTIGATE, _deny),
    "conclude": (roles.REVIEW, _conclude),
}


@login_required
@require_POST
def verification_step(request, pk: int, step: str):
    v = _verification(request, pk)  # first: a record the reader may not see is a 404 for everyone

    def rerender(failed):
        context = _verification_context(request, _verification(request, pk), **failed)
        return render(request, "commission/verification.html", context, status=422)

    return take_step(request, VERIFICATION_STEPS, step, v, "verification", rerender, lambda: redirect("verification", pk=pk))
