"""What the verification and Commission pages share: reading form fields, showing errors and
refusals, the audit history."""

from __future__ import annotations

import datetime as dt
import math
import re

from django.contrib import messages
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from resolute.accounts import roles
from resolute.core import workflow
from resolute.errors import InvalidInput, ServiceError
from resolute.words import label

from ..serializers import history


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


def take_step(request, steps: dict, step: str, record, resource: str, rerender, after):
    """Run one workflow step of `record` from its form. `steps` maps a step to (the role action
    it needs, its handler); the handler calls the service and returns what to tell the person.
    Unparseable input re-renders the page (`rerender(failed_form_context)`, 422) with what was
    typed; a service's refusal is shown as a message; `after()` is where to go next."""
    if step not in steps:
        raise Http404
    action, handler = steps[step]
    if not roles.allows(request.user, action, resource):
        return _refused(request, _("Your role does not take this step."))
    try:
        done = handler(request, record)
    except InvalidInput as exc:
        return rerender(_failed_form(request, step, exc))
    except ServiceError as exc:
        messages.error(request, _refusal(exc))
    else:
        messages.success(request, done)
    return after()
