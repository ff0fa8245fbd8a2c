"""Pages of field verification and the Special Commission: the review queue, a verification, the
Commission's cases and a case, with the forms of each workflow step.

Every read goes through `restrict()`: a record the reader may not see answers 404, exactly as if
it did not exist (docs/markings.md). Every write calls the same service as the API
(commission/api.py), so the state machine, the rules of the step and the audit entry are the
service's; the page only turns form fields into the service's arguments.

Errors: input the page cannot parse and the services' InvalidInput re-render the page (422) with
the message next to the field and what was typed kept, because a long report lost to a typo in a
deadline is work lost; refusals (a step the state does not allow, someone else's lock, the
two-person rule, no quorum) are shown as a message after a redirect back to the page.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from resolute.accounts import roles
from resolute.accounts.restrict import reader_of
from resolute.agreement.models import Finding
from resolute.core import workflow
from resolute.core.markings import may_read
from resolute.words import label
from resolute.errors import Conflict, InvalidInput, ServiceError
from resolute.monitoring.models import Incident, Party
from resolute.web.dashboard import display_clock

from . import services
from .models import ALLEGATION_SOURCES, BREACH_CLASSES, MEASURES, ActivationEvent, Case, Decision, Verification, Vote
from .serializers import history

TEXT_MAX = 10_000  # as the API's text fields
OUTCOMES = ("verified", "not_verified", "refuted")
VERIFICATION_FINAL = workflow.VERIFICATION.final
SHA256 = re.compile(r"^[0-9a-f]{64}$")

# The words a person sees for the services' field names, in error summaries.
FIELD_LABELS = {
    "admissible": gettext_lazy("Decision"),
    "allegation": gettext_lazy("Allegation"),
    "at": gettext_lazy("When (UTC)"),
    "attribution": gettext_lazy("Attribution"),
    "breach_class": gettext_lazy("Breach class"),
    "choice": gettext_lazy("Choice"),
    "deadline": gettext_lazy("Deadline (UTC)"),
    "denied_by": gettext_lazy("Denied by"),
    "evidence": gettext_lazy("Evidence"),
    "finding_id": gettext_lazy("Finding number"),
    "findings": gettext_lazy("Findings"),
    "incident": gettext_lazy("Incident number"),
    "incident_id": gettext_lazy("Incident number"),
    "incident_ids": gettext_lazy("Incident numbers"),
    "lat": gettext_lazy("Latitude"),
    "lon": gettext_lazy("Longitude"),
    "measures": gettext_lazy("Measures"),
    "note": gettext_lazy("Note"),
    "opinion": gettext_lazy("Opinion"),
    "outcome": gettext_lazy("Outcome"),
    "party": gettext_lazy("Party"),
    "photos": gettext_lazy("Photos"),
    "rationale": gettext_lazy("Rationale"),
    "recommendation": gettext_lazy("Recommendation"),
    "source": gettext_lazy("Source of the allegation"),
    "team": gettext_lazy("Team"),
    "team_lead": gettext_lazy("Team lead"),
    "text": gettext_lazy("Text"),
    "title": gettext_lazy("Title"),
    "verification_id": gettext_lazy("Verification number"),
}

# History lines in words; an action not listed is shown by its audit name.
ACTION_LABELS = {
    "verification.open": gettext_lazy("Allegation recorded"),
    "verification.lock": gettext_lazy("Lock taken"),
    "verification.unlock": gettext_lazy("Lock released"),
    "verification.review": gettext_lazy("Preliminary review"),
    "verification.task": gettext_lazy("Team tasked"),
    "verification.report": gettext_lazy("Investigation report"),
    "verification.access_denied": gettext_lazy("Access denied"),
    "verification.conclude": gettext_lazy("Concluded"),
    "case.open": gettext_lazy("Case opened"),
    "case.evidence": gettext_lazy("Evidence added"),
    "case.invite_parties": gettext_lazy("Parties invited"),
    "case.response": gettext_lazy("Party response"),
    "case.note": gettext_lazy("Note added"),
    "case.deliberation": gettext_lazy("Deliberation opened"),
    "case.propose": gettext_lazy("Proposal put to the vote"),
    "case.vote": gettext_lazy("Vote cast"),
    "case.close_vote": gettext_lazy("Vote closed"),
    "decision.adopt": gettext_lazy("Decision adopted"),
    "decision.publish": gettext_lazy("Decision published"),
}


# -- reading form fields ----------------------------------------------------------------------


class Form:
    """Reads one posted form into the services' arguments, collecting every error under the
    field name the services use, so the page can put each message next to its input."""

    def __init__(self, data):
        self.data = data
        self.errors: list[dict] = []

    def error(self, field: str, message: str) -> None:
        self.errors.append({"field": field, "message": message})

    def _raw(self, name: str) -> str:
        return (self.data.get(name) or "").strip()

    def text(self, name: str, required: bool = False, max_length: int = TEXT_MAX) -> str:
        value = self._raw(name)
        if required and not value:
            self.error(name, _("This field is required."))
        elif len(value) > max_length:
            self.error(name, _("At most %(n)s characters.") % {"n": max_length})
        elif "\x00" in value:
            # PostgreSQL text cannot hold NUL: refuse it here rather than fail in the database.
            self.error(name, _("Must not contain NUL characters."))
        return value

    def choice(self, name: str, options, default: str | None = None) -> str:
        value = self._raw(name) or default or ""
        if value not in options:
            self.error(name, _("Choose one of: %(options)s.") % {"options": ", ".join(o or "–" for o in options)})
        return value

    def integer(self, name: str, required: bool = True) -> int | None:
        return self._id(name, self._raw(name), required)

    def _id(self, name: str, raw: str, required: bool = True) -> int | None:
        if not raw:
            if required:
                self.error(name, _("This field is required."))
            return None
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 2**62:
            self.error(name, _("“%(value)s” is not a record number.") % {"value": raw[:40]})
            return None
        return int(raw)

    def ids(self, name: str, limit: int = 200) -> list[int]:
        """Numbers separated by commas or spaces, each once."""
        out: list[int] = []
        for raw in re.split(r"[\s,;]+", self._raw(name)):
            if raw:
                pk = self._id(name, raw)
                if pk is not None and pk not in out:
                    out.append(pk)
        if len(out) > limit:
            self.error(name, _("At most %(n)s numbers.") % {"n": limit})
        return out

    def number(self, name: str, low: float, high: float) -> float | None:
        raw = self._raw(name).replace(",", ".")
        if not raw:
            self.error(name, _("This field is required."))
            return None
        try:
            x = float(raw)
        except ValueError:
            x = math.nan
        if not math.isfinite(x) or not low <= x <= high:
            self.error(name, _("Enter a number from %(low)s to %(high)s.") % {"low": low, "high": high})
            return None
        return x

    def time(self, name: str, required: bool = True) -> dt.datetime | None:
        """A datetime-local value; the forms' clock is UTC (labelled so), so a time without an
        offset is UTC."""
        raw = self._raw(name)
        if not raw:
            if required:
                self.error(name, _("This field is required."))
            return None
        try:
            t = dt.datetime.fromisoformat(raw)
            # 0001-01-01T00:00+01:00 has no UTC equivalent: bad input, not a 500.
            return (t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc)
        except (ValueError, OverflowError):
            self.error(name, _("Enter a date and time in UTC, e.g. 2026-11-02T14:00."))
            return None

    def check(self) -> None:
        if self.errors:
            raise InvalidInput("; ".join(f"{e['field']}: {e['message']}" for e in self.errors), self.errors)


def _field_errors(exc: InvalidInput) -> tuple[dict, list[str]]:
    """The errors by field (the first message of each) and a summary naming every field."""
    by_field: dict[str, str] = {}
    summary = []
    for e in exc.errors:
        field = str(e.get("field", "")).split("[")[0]
        by_field.setdefault(field, e["message"])
        summary.append(f"{FIELD_LABELS.get(field, field)}: {e['message']}")
    return by_field, summary or [exc.detail]


def _refusal(exc: ServiceError) -> str:
    # The services' reasons (state, lock holder, two-person rule, quorum) are the message.
    return _("Not done: %(reason)s") % {"reason": exc.detail}


def _refused(request, reason: str):
    return render(request, "commission/refused.html", {"reason": reason}, status=403)


def _failed_form(request, failed: str, exc: InvalidInput) -> dict:
    errors, summary = _field_errors(exc)
    return {"failed": failed, "errors": {failed: errors}, "summary": summary, "values": {failed: request.POST}}


ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _value(val) -> str:
    """An audit or rule value as a person reads it."""
    if isinstance(val, bool):
        return _("yes") if val else _("no")
    if isinstance(val, float):
        return f"{val:.2f}"
    if isinstance(val, list):
        return ", ".join(_value(x) for x in val) or "–"
    if val is None or val == "":
        return "–"
    if isinstance(val, str) and ISO_TIME.match(val):
        try:
            return f"{dt.datetime.fromisoformat(val).astimezone(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"
        except ValueError:
            return val
    return str(val)


def _history(*targets) -> list[dict]:
    rows = []
    for target_type, target_id in targets:
        for h in history(target_type, target_id):
            after = h["after"] or {}
            details = [(label(k), _value(val)) for k, val in after.items()]
            rows.append({"at": dt.datetime.fromisoformat(h["at"]), "actor": h["actor"], "action": ACTION_LABELS.get(h["action"], h["action"]), "details": details})
    return sorted(rows, key=lambda r: r["at"])


def _visible_ids(model, user, ids) -> set[int]:
    ids = [i for i in ids if i]
    return set(model.objects.restrict(user).filter(pk__in=ids).values_list("pk", flat=True)) if ids else set()


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
    if step not in VERIFICATION_STEPS:
        raise Http404
    action, handler = VERIFICATION_STEPS[step]
    if not roles.allows(request.user, action, "verification"):
        return _refused(request, _("Your role does not take this step."))
    try:
        done = handler(request, v)
    except InvalidInput as exc:
        context = _verification_context(request, _verification(request, pk), **_failed_form(request, step, exc))
        return render(request, "commission/verification.html", context, status=422)
    except ServiceError as exc:
        messages.error(request, _refusal(exc))
    else:
        messages.success(request, done)
    return redirect("verification", pk=pk)


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
    for key, label, n in (
        ("yes", _("Yes"), t.get("yes", 0)),
        ("no", _("No"), t.get("no", 0)),
        ("abstain", _("Abstain"), t.get("abstain", 0)),
        ("none", _("Not voted"), max(0, seats - t.get("cast", 0))),
    ):
        rows.append({"key": key, "label": label, "n": n, "pct": round(100 * n / seats) if seats else 0})
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
    try:
        decision = services.close_vote(request.user, case)
    except ValueError as exc:  # the decision rule cannot count (no seats): a refusal, not a 500
        raise Conflict(str(exc)) from None
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
    if step not in CASE_STEPS:
        raise Http404
    action, handler = CASE_STEPS[step]
    if not roles.allows(request.user, action, "case"):
        return _refused(request, _("Your role does not take this step."))
    try:
        done = handler(request, case)
    except InvalidInput as exc:
        context = _case_context(request, _case(request, pk), **_failed_form(request, step, exc))
        return render(request, "commission/case.html", context, status=422)
    except ServiceError as exc:
        messages.error(request, _refusal(exc))
        return redirect("case", pk=pk)
    messages.success(request, done)
    return _to_case(request, pk)

