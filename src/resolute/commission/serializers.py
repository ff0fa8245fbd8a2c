"""JSON shapes of verification and Commission records, with deadlines as clocks."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from resolute.audit.models import AuditEntry
from resolute.core.markings import decode_releasability

from .models import ActivationEvent, Case, Decision, ReliabilityDay, Verification


def _iso(t: dt.datetime | None) -> str | None:
    return t.isoformat() if t else None


def clock(due: dt.datetime | None, now: dt.datetime | None = None) -> dict | None:
    """A deadline as the people who work to it need it: UTC for the record, local time of the
    mission for display, and what is left."""
    if due is None:
        return None
    now = now or timezone.now()
    zone = ZoneInfo(settings.DISPLAY_TIME_ZONE)
    left = int((due - now).total_seconds())
    return {"due": _iso(due), "due_local": due.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"), "time_zone": settings.DISPLAY_TIME_ZONE, "seconds_left": left, "overdue": left < 0}


def marking(r) -> dict:
    return {"classification": ["PUBLIC", "RESTRICTED", "CONFIDENTIAL", "SECRET"][r.classification], "tlp": r.tlp, "releasable_to": list(decode_releasability(r.releasable_to)), "originator": r.originator}


def history(target_type: str, target_id) -> list[dict]:
    """The record's steps, from the audit log (the one record of who did what, when)."""
    rows = AuditEntry.objects.filter(target_type=target_type, target_id=str(target_id)).order_by("seq")
    return [{"at": _iso(e.at), "actor": e.actor, "action": e.action, "after": e.after} for e in rows]


def verification_out(v: Verification, now=None, detail: bool = False) -> dict:
    now = now or timezone.now()
    waiting_review = v.state == "received"
    lock = {"held_by": v.locked_by.username, "until": _iso(v.lock_expires)} if v.locked_by_id and v.lock_expires and v.lock_expires > now else None
    out = {
        "id": v.pk, "state": v.state, "incident": v.incident_id, "allegation": v.allegation, "allegation_source": v.allegation_source,
        "alleged_by": v.alleged_by.username if v.alleged_by_id else None, "received_at": _iso(v.received_at),
        "age_hours": round((now - v.received_at).total_seconds() / 3600.0, 1),
        "review_clock": clock(v.review_due, now) if waiting_review else None,
        "team": v.team or None, "team_lead": v.team_lead.username if v.team_lead_id else None,
        "report_clock": clock(v.deadline, now) if v.state == "tasked" else None,
        "overdue": (waiting_review and v.review_due < now) or (v.state == "tasked" and v.deadline is not None and v.deadline < now),
        "reviewed_by": v.reviewed_by.username if v.reviewed_by_id else None,
        "concluded_by": v.concluded_by.username if v.concluded_by_id else None, "concluded_at": _iso(v.concluded_at),
        "conclusion": v.conclusion, "lock": lock, "marking": marking(v),
    }  # fmt: skip
    if detail:
        out["reports"] = [
            {"id": r.pk, "author": r.author.username, "submitted_at": _iso(r.submitted_at), "findings": r.findings, "evidence": r.evidence, "photos": r.photos, "recommendation": r.recommendation}
            for r in v.reports.select_related("author").order_by("pk")
        ]
        out["access_denials"] = [
            {"id": d.pk, "at": _iso(d.at), "lat": d.lat, "lon": d.lon, "denied_by": d.denied_by or None, "note": d.note, "observation": d.observation_id, "reported_by": d.reported_by.username}
            for d in v.denials.select_related("reported_by").order_by("pk")
        ]
        out["history"] = history("verification", v.pk)
    return out


def case_out(c: Case, now=None, detail: bool = False, reader=None) -> dict:
    now = now or timezone.now()
    out = {
        "id": c.pk, "number": c.number, "title": c.title, "origin": c.origin, "state": c.state, "severity": c.severity,
        "verification": c.verification_id, "referred_by": c.referred_by or None, "opened_by": c.opened_by, "opened_at": _iso(c.opened_at),
        "response_clock": clock(c.response_deadline, now) if c.state == "awaiting_responses" else None,
        "rule": c.rule, "marking": marking(c),
    }  # fmt: skip
    if detail:
        out["evidence"] = [
            {"id": e.pk, "incident": e.incident_id, "finding": e.finding_id, "verification": e.verification_id, "report": e.report_id, "added_by": e.added_by, "added_at": _iso(e.added_at), "note": e.note}
            for e in c.evidence.order_by("pk")
        ]
        out["responses"] = [
            {"party": r.party.code, "text": r.text, "received_at": _iso(r.received_at), "late": r.late, "recorded_by": r.recorded_by}
            for r in c.responses.select_related("party").order_by("pk")
        ]
        out["deliberation"] = [{"at": _iso(n.at), "author": n.author, "member": n.member, "text": n.text} for n in c.notes.order_by("pk")]
        out["proposals"] = [
            {
                "number": p.number, "status": p.status, "attribution": p.attribution or "unattributable", "breach_class": p.breach_class,
                "measures": p.measures, "rationale": p.rationale, "proposed_by": p.proposed_by, "proposed_at": _iso(p.proposed_at),
                "votes": [{"member": v.seat.member.code, "choice": v.choice, "opinion": v.opinion, "at": _iso(v.at)} for v in p.votes.select_related("seat__member").order_by("pk")],
                "outcome": p.outcome,
            }
            for p in c.proposals.order_by("number")
        ]  # fmt: skip
        d = Decision.objects.filter(case=c).first()
        out["decision"] = d.pk if d else None
        out["history"] = history("case", c.number)
    return out


def decision_out(d: Decision) -> dict:
    return {
        "id": d.pk, "case": d.case.number, "attribution": d.attribution or "unattributable", "breach_class": d.breach_class,
        "measures": d.measures, "rationale": d.rationale, "tally": d.tally, "dissenting": d.dissenting,
        "decided_by": d.decided_by, "decided_at": _iso(d.decided_at), "published_at": _iso(d.published_at), "marking": marking(d),
    }  # fmt: skip


def activation_out(a: ActivationEvent) -> dict:
    return {
        "id": a.pk, "kind": a.kind, "status": a.status, "attribution": a.attribution, "decision": a.decision_id,
        "determined_at": _iso(a.determined_at), "payload": a.payload, "consumed_at": _iso(a.consumed_at), "consumed_by": a.consumed_by or None,
    }  # fmt: skip


def day_out(r: ReliabilityDay) -> dict:
    return {"id": r.pk, "day": r.day.isoformat(), "index": r.index, "count": r.count, "serious": r.serious, "calm": r.calm, "computed_at": _iso(r.computed_at)}
