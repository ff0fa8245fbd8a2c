"""/api/v1 routes of field verification, the Special Commission, the reliability index and
pending activations. Every record is read through restrict(); a step on a record the caller
may not see is a 404, as if it did not exist."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema, Status
from pydantic import Field

from resolute.accounts import roles
from resolute.accounts.models import User
from resolute.agreement.api import page
from resolute.agreement.models import Finding
from resolute.monitoring.schemas import UtcTime
from resolute.monitoring.schemas import Text as Storable
from resolute.errors import InvalidInput
from resolute.monitoring.api import Problem
from resolute.monitoring.models import Incident

from . import serializers as out
from . import services
from .models import ALLEGATION_SOURCES, BREACH_CLASSES, MEASURES, ActivationEvent, Case, CommissionSeat, Decision, ReliabilityDay, Verification

router = Router(tags=["verification and Commission"])
ERRORS = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}
Text = Field(min_length=1, max_length=10_000)


def _verification(request, pk: int) -> Verification:
    return get_object_or_404(Verification.objects.restrict(request.auth).select_related("locked_by", "alleged_by", "reviewed_by", "team_lead", "concluded_by"), pk=pk)


def _case(request, pk: int) -> Case:
    return get_object_or_404(Case.objects.restrict(request.auth), pk=pk)


def _visible(request, model, pk, field: str):
    obj = model.objects.restrict(request.auth).filter(pk=pk).first()
    if obj is None:
        raise InvalidInput(f"{field} {pk} does not exist or is not visible to you", [{"field": field, "message": "not found"}])
    return obj


# -- verification -----------------------------------------------------------------------------


class QueueFilters(Schema):
    state: Storable | None = Field(None, max_length=200, description="comma-separated states; default: everything not concluded")
    overdue: bool | None = None
    cursor: Storable | None = Field(None, max_length=40)
    limit: int = Field(100, ge=1, le=1000)


OPEN_STATES = ("received", "reviewed", "tasked", "reported")


@router.get("/verifications", response={200: dict, **ERRORS}, summary="The verification queue, with ages, clocks and locks")
def list_verifications(request, f: Query[QueueFilters]):
    qs = Verification.objects.restrict(request.auth).select_related("locked_by", "alleged_by", "reviewed_by", "team_lead", "concluded_by")
    states = [s.strip() for s in f.state.split(",")] if f.state else list(OPEN_STATES)
    unknown = [s for s in states if s not in services.workflow.VERIFICATION.states()]
    if unknown:
        raise InvalidInput("unknown state", [{"field": "state", "message": f"unknown: {', '.join(unknown)}"}])
    qs = qs.filter(state__in=states)
    result = page(request, qs, f.cursor, f.limit, out.verification_out)
    if f.overdue is not None:
        result["items"] = [v for v in result["items"] if v["overdue"] == f.overdue]
    return result


class AllegationIn(Schema):
    allegation: Storable = Text
    source: Literal[ALLEGATION_SOURCES] = "mission"
    incident_id: int | None = Field(None, ge=1, le=2**62)


@router.post("/verifications", response={201: dict, **ERRORS}, summary="Record an allegation for verification")
def open_verification(request, body: AllegationIn):
    incident = _visible(request, Incident, body.incident_id, "incident_id") if body.incident_id else None
    v = services.open_verification(request.auth, body.allegation, body.source, incident)
    return Status(201, out.verification_out(v, detail=True))


@router.get("/verifications/{vid}", response={200: dict, **ERRORS}, summary="One verification with reports, denials and history")
def get_verification(request, vid: int):
    return out.verification_out(_verification(request, vid), detail=True)


@router.post("/verifications/{vid}/lock", response={200: dict, **ERRORS}, summary="Take the 'being reviewed by' lock")
def lock(request, vid: int):
    return out.verification_out(services.take_lock(request.auth, _verification(request, vid)))


@router.delete("/verifications/{vid}/lock", response={200: dict, **ERRORS}, summary="Release your lock")
def unlock(request, vid: int):
    return out.verification_out(services.release_lock(request.auth, _verification(request, vid)))


class ReviewIn(Schema):
    admissible: bool
    note: Storable = Field("", max_length=10_000)


@router.post("/verifications/{vid}/review", response={200: dict, **ERRORS}, summary="Preliminary review (analyst)")
def review(request, vid: int, body: ReviewIn):
    return out.verification_out(services.review(request.auth, _verification(request, vid), body.admissible, body.note))


class TaskIn(Schema):
    team: Storable = Field(min_length=1, max_length=100)
    team_lead: Storable = Field(min_length=1, max_length=150, description="username of the team's lead (a monitor)")
    deadline: UtcTime = Field(description="when the report is due (UTC)")


@router.post("/verifications/{vid}/task", response={200: dict, **ERRORS}, summary="Task a monitoring team with a deadline (analyst)")
def task(request, vid: int, body: TaskIn):
    lead = User.objects.filter(username=body.team_lead, is_active=True).first()
    if lead is None:
        raise InvalidInput("unknown team lead", [{"field": "team_lead", "message": "no such active user"}])
    return out.verification_out(services.task(request.auth, _verification(request, vid), body.team, lead, body.deadline))


class Evidence(Schema):
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    description: Storable = Field("", max_length=1000)


class Photo(Schema):
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    caption: Storable = Field("", max_length=1000)


class ReportIn(Schema):
    findings: Storable = Text
    evidence: list[Evidence] = Field(default_factory=list, max_length=200)
    photos: list[Photo] = Field(default_factory=list, max_length=200)
    recommendation: Literal["verified", "not_verified", "refuted", ""] = ""


@router.post("/verifications/{vid}/report", response={201: dict, **ERRORS}, summary="The team's investigation report (monitor)")
def report(request, vid: int, body: ReportIn):
    services.report(request.auth, _verification(request, vid), body.findings, [e.dict() for e in body.evidence], [p.dict() for p in body.photos], body.recommendation)
    return Status(201, out.verification_out(_verification(request, vid), detail=True))


class DenialIn(Schema):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    denied_by: str = Field("", pattern=r"^([A-Z]{3})?$")
    note: Storable = Field("", max_length=10_000)
    at: UtcTime | None = Field(None, description="when access was denied (UTC); default now")


@router.post("/verifications/{vid}/access-denied", response={201: dict, **ERRORS}, summary="Record that the team was denied access (monitor)")
def access_denied(request, vid: int, body: DenialIn):
    services.deny_access(request.auth, _verification(request, vid), body.lat, body.lon, body.denied_by, body.note, body.at)
    return Status(201, out.verification_out(_verification(request, vid), detail=True))


class ConcludeIn(Schema):
    outcome: Literal["verified", "not_verified", "refuted"]
    note: Storable = Field("", max_length=10_000)


@router.post("/verifications/{vid}/conclude", response={200: dict, **ERRORS}, summary="Verified / not verified / refuted (a second analyst)")
def conclude(request, vid: int, body: ConcludeIn):
    return out.verification_out(services.conclude(request.auth, _verification(request, vid), body.outcome, body.note), detail=True)


# -- the Special Commission -------------------------------------------------------------------


@router.get("/commission/seats", response={200: list[dict], **ERRORS}, summary="Members of the Special Commission")
def seats(request):
    return [{"member": s.member.code, "name": s.member.name, "chair": s.chair} for s in CommissionSeat.objects.restrict(request.auth).select_related("member").order_by("member__code")]


class CaseFilters(Schema):
    state: Storable | None = Field(None, max_length=40)
    cursor: Storable | None = Field(None, max_length=40)
    limit: int = Field(100, ge=1, le=1000)


@router.get("/cases", response={200: dict, **ERRORS}, summary="Commission cases")
def list_cases(request, f: Query[CaseFilters]):
    qs = Case.objects.restrict(request.auth)
    if f.state:
        qs = qs.filter(state=f.state)
    return page(request, qs, f.cursor, f.limit, out.case_out)


class ReferralIn(Schema):
    title: Storable = Field(min_length=1, max_length=300)
    incident_ids: list[int] = Field(default_factory=list, max_length=200)
    note: Storable = Field("", max_length=10_000)


@router.post("/cases", response={201: dict, **ERRORS}, summary="A member's referral to the Commission")
def refer(request, body: ReferralIn):
    incidents = [_visible(request, Incident, pk, f"incident_ids[{k}]") for k, pk in enumerate(body.incident_ids)]
    return Status(201, out.case_out(services.refer(request.auth, body.title, incidents, body.note), detail=True))


@router.get("/cases/{cid}", response={200: dict, **ERRORS}, summary="One case: evidence, responses, deliberation, votes, history")
def get_case(request, cid: int):
    return out.case_out(_case(request, cid), detail=True)


class EvidenceIn(Schema):
    incident_id: int | None = Field(None, ge=1, le=2**62)
    finding_id: int | None = Field(None, ge=1, le=2**62)
    verification_id: int | None = Field(None, ge=1, le=2**62)
    note: Storable = Field("", max_length=10_000)


@router.post("/cases/{cid}/evidence", response={201: dict, **ERRORS}, summary="Add evidence (chair)")
def add_evidence(request, cid: int, body: EvidenceIn):
    case = _case(request, cid)
    services.add_evidence(
        request.auth, case,
        incident=_visible(request, Incident, body.incident_id, "incident_id") if body.incident_id else None,
        finding=_visible(request, Finding, body.finding_id, "finding_id") if body.finding_id else None,
        verification=_visible(request, Verification, body.verification_id, "verification_id") if body.verification_id else None,
        note=body.note,
    )  # fmt: skip
    return Status(201, out.case_out(_case(request, cid), detail=True))


class InviteIn(Schema):
    deadline: UtcTime


@router.post("/cases/{cid}/invite", response={200: dict, **ERRORS}, summary="Invite the parties to respond by a deadline (chair)")
def invite(request, cid: int, body: InviteIn):
    return out.case_out(services.invite_parties(request.auth, _case(request, cid), body.deadline), detail=True)


class ResponseIn(Schema):
    party: str = Field(pattern=r"^[A-Z]{3}$")
    text: Storable = Text


@router.post("/cases/{cid}/responses", response={201: dict, **ERRORS}, summary="Record a party's response (chair)")
def respond(request, cid: int, body: ResponseIn):
    services.record_response(request.auth, _case(request, cid), body.party, body.text)
    return Status(201, out.case_out(_case(request, cid), detail=True))


class NoteIn(Schema):
    text: Storable = Text


@router.post("/cases/{cid}/notes", response={201: dict, **ERRORS}, summary="Add to the deliberation record (members)")
def add_note(request, cid: int, body: NoteIn):
    services.note(request.auth, _case(request, cid), body.text)
    return Status(201, out.case_out(_case(request, cid), detail=True))


@router.post("/cases/{cid}/deliberation", response={200: dict, **ERRORS}, summary="Open deliberation (chair)")
def deliberate(request, cid: int):
    return out.case_out(services.open_deliberation(request.auth, _case(request, cid)), detail=True)


class ProposalIn(Schema):
    attribution: str = Field("", pattern=r"^([A-Z]{3})?$", description="responsible party; empty = unattributable")
    breach_class: Literal[BREACH_CLASSES]
    measures: list[Literal[MEASURES]] = Field(default_factory=list, max_length=len(MEASURES))
    rationale: Storable = Text


@router.post("/cases/{cid}/proposals", response={201: dict, **ERRORS}, summary="Put a draft decision to the vote (chair)")
def propose(request, cid: int, body: ProposalIn):
    services.propose(request.auth, _case(request, cid), body.attribution, body.breach_class, list(body.measures), body.rationale)
    return Status(201, out.case_out(_case(request, cid), detail=True))


class VoteIn(Schema):
    choice: Literal["yes", "no", "abstain"]
    opinion: Storable = Field("", max_length=10_000, description="explanation of vote; with 'no', a dissenting opinion")


@router.post("/cases/{cid}/votes", response={201: dict, **ERRORS}, summary="Vote on the open proposal (one per member)")
def cast_vote(request, cid: int, body: VoteIn):
    services.vote(request.auth, _case(request, cid), body.choice, body.opinion)
    return Status(201, out.case_out(_case(request, cid), detail=True))


@router.post("/cases/{cid}/close", response={200: dict, **ERRORS}, summary="Close the vote under the decision rule (chair)")
def close(request, cid: int):
    decision = services.close_vote(request.auth, _case(request, cid))
    return {"adopted": decision is not None, "decision": out.decision_out(decision) if decision else None, "case": out.case_out(_case(request, cid), detail=True)}


@router.post("/cases/{cid}/publish", response={200: dict, **ERRORS}, summary="Publish the decision (chair)")
def publish(request, cid: int):
    case = _case(request, cid)
    decision = Decision.objects.filter(case=case).first()
    if decision is None:
        raise InvalidInput("no decision", [{"field": "state", "message": f"case is '{case.state}': no decision to publish"}])
    return out.decision_out(services.publish(request.auth, decision))


@router.get("/decisions", response={200: dict, **ERRORS}, summary="Decisions (the public sees published ones)")
def list_decisions(request, cursor: str | None = Query(None, max_length=40), limit: int = Query(100, ge=1, le=1000)):
    return page(request, Decision.objects.restrict(request.auth).select_related("case"), cursor, limit, out.decision_out)


@router.get("/decisions/{did}", response={200: dict, **ERRORS}, summary="One decision")
def get_decision(request, did: int):
    return out.decision_out(get_object_or_404(Decision.objects.restrict(request.auth).select_related("case"), pk=did))


@router.get("/activations", response={200: dict, **ERRORS}, summary="Armed-attack activations (pending until the playbook takes them)")
def list_activations(request, status: Literal["pending", "consumed"] | None = None, cursor: str | None = Query(None, max_length=40), limit: int = Query(100, ge=1, le=1000)):
    qs = ActivationEvent.objects.restrict(request.auth)
    if status:
        qs = qs.filter(status=status)
    return page(request, qs, cursor, limit, out.activation_out)


@router.get("/reliability", response={200: dict, **ERRORS}, summary="The reliability index: daily series and the condition")
def reliability(
    request,
    start: dt.date | None = Query(None, description="first reporting day (default: 90 days back)"),
    end: dt.date | None = Query(None, description="last reporting day (default: today)"),
    cursor: str | None = Query(None, max_length=40),
    limit: int = Query(1000, ge=1, le=1000),
):
    end = end or dt.date.today()
    # (end may be 0001-01-01: the 90-day default must not step below the calendar)
    start = start or max(dt.date.min + dt.timedelta(days=90), end) - dt.timedelta(days=90)
    rows = ReliabilityDay.objects.restrict(request.auth).filter(day__gte=start, day__lte=end)
    result = page(request, rows, cursor, limit, out.day_out)
    allowed = roles.allows(request.auth, roles.VIEW, "reliability")
    # Days whose violations the reader may not see are left out, and counted, never shown.
    result["withheld_days"] = ReliabilityDay.objects.filter(day__gte=start, day__lte=end).count() - rows.count() if allowed else 0
    c = services.reliability_condition()
    rule = services.reliability_rule()
    result["condition"] = {
        "met": c.met, "streak_days": c.streak_days, "needed": c.needed, "since": c.since.isoformat() if c.since else None,
        "last_breach": c.last_breach.isoformat() if c.last_breach else None,
        # The full reason quotes the last breach day's index: only for readers who see every day.
        "reason": c.reason if not result["withheld_days"] else f"{'met' if c.met else 'not met'}: {c.streak_days} of {c.needed} calm days",
        "rule": {"window_days": rule.window_days, "threshold": rule.threshold, "serious_severity": rule.serious_severity},
    } if allowed else None  # fmt: skip
    return result
