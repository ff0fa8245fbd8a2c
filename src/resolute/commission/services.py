"""Use cases of field verification and the Special Commission. Each function is one atomic
step: it checks the role, the state machine (core/workflow.py) and the rules of the step, writes
the change and its audit entry in one transaction, and returns the record."""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from resolute.accounts import roles
from resolute.audit import services as audit
from resolute.core import reliability as rel
from resolute.core import voting, workflow
from resolute.core.markings import ALL, Classification, Marking, combine, decode_releasability, encode_releasability
from resolute.errors import Conflict, Forbidden, InvalidInput, NotFound
from resolute.monitoring import services as monitoring
from resolute.monitoring.models import Incident, Observation, Party
from resolute.monitoring.schemas import ObservationIn

from .signals import activation_determined
from .models import (
    BREACH_CLASSES, MEASURES, AccessDenial, ActivationEvent, Case, CaseEvidence, CaseNote, CommissionSeat, Decision,
    InvestigationReport, PartyResponse, Proposal, ReliabilityDay, Verification, Vote,
)  # fmt: skip

OUTCOMES = {"verified": "conclude_verified", "not_verified": "conclude_not_verified", "refuted": "conclude_refuted"}


# -- shared checks ----------------------------------------------------------------------------


def _user(actor, action: str, resource: str, what: str):
    """Workflow steps need a person: the two-person rule and votes are about who acts."""
    if actor is None or isinstance(actor, str) or not getattr(actor, "is_authenticated", False):
        raise Forbidden(f"{what} needs a named user (use --as on the command line)")
    if not roles.allows(actor, action, resource):
        raise Forbidden(f"your role ({actor.role}) may not {what}")
    return actor


def _step(machine: workflow.StateMachine, record, action: str) -> str:
    try:
        return machine.next(record.state, action)
    except workflow.IllegalTransition as exc:
        raise Conflict(str(exc), [{"field": "state", "message": f"current state is '{record.state}'; allowed: {', '.join(exc.allowed) or 'nothing (final)'}"}]) from None


def _locked(model, pk):
    # Re-read under a row lock so two concurrent steps cannot both pass the state check.
    return model.objects.select_for_update().get(pk=pk)


def _future(field: str, when: dt.datetime) -> dt.datetime:
    if when.tzinfo is None:
        raise InvalidInput("naive time", [{"field": field, "message": "give a time with its UTC offset"}])
    if when <= timezone.now():
        raise InvalidInput(f"{field} is in the past", [{"field": field, "message": "must lie in the future"}])
    return when


def marking_of(record) -> Marking:
    return Marking(Classification(record.classification), record.tlp, decode_releasability(record.releasable_to), record.originator)


def _apply_marking(record, m: Marking) -> None:
    record.classification, record.tlp = int(m.classification), m.tlp
    record.releasable_to, record.originator = encode_releasability(m.releasable_to), m.originator


# -- field verification -----------------------------------------------------------------------


def open_verification(actor, allegation: str, source: str, incident: Incident | None = None) -> Verification:
    """Record an allegation (from the mission's own teams, a party, a member, the public or an
    NGO). It carries the markings of the incident it concerns."""
    user = _user(actor, roles.ADD, "verification", "record allegations")
    if not allegation.strip():
        raise InvalidInput("empty allegation", [{"field": "allegation", "message": "say what is alleged"}])
    now = timezone.now()
    with transaction.atomic():
        v = Verification(
            incident=incident, allegation=allegation, allegation_source=source, alleged_by=user, received_at=now,
            review_due=now + dt.timedelta(hours=settings.VERIFICATION_REVIEW_HOURS),
        )
        _apply_marking(v, marking_of(incident) if incident else Marking(Classification.RESTRICTED, "AMBER", (ALL,), user.nation))
        v.save()
        audit.record(user, "verification.open", "verification", v.pk, after={"incident": incident.pk if incident else None, "source": source})
    return v


def take_lock(actor, v: Verification) -> Verification:
    """The visible "being reviewed by" lock; it expires after VERIFICATION_LOCK_MINUTES."""
    user = _user(actor, roles.REVIEW, "verification", "review verifications")
    now = timezone.now()
    with transaction.atomic():
        v = _locked(Verification, v.pk)
        _check_lock(v, user, now)
        v.locked_by, v.lock_expires = user, now + dt.timedelta(minutes=settings.VERIFICATION_LOCK_MINUTES)
        v.save(update_fields=["locked_by", "lock_expires", "updated_at"])
        audit.record(user, "verification.lock", "verification", v.pk, after={"until": v.lock_expires.isoformat()})
    return v


def release_lock(actor, v: Verification) -> Verification:
    user = _user(actor, roles.REVIEW, "verification", "review verifications")
    with transaction.atomic():
        v = _locked(Verification, v.pk)
        if v.locked_by_id != user.pk:
            raise Conflict("you do not hold the lock", [{"field": "lock", "message": f"held by {v.locked_by or 'nobody'}"}])
        v.locked_by, v.lock_expires = None, None
        v.save(update_fields=["locked_by", "lock_expires", "updated_at"])
        audit.record(user, "verification.unlock", "verification", v.pk)
    return v


def _check_lock(v: Verification, user, now) -> None:
    if v.locked_by_id and v.locked_by_id != user.pk and v.lock_expires and v.lock_expires > now:
        raise Conflict(
            f"being reviewed by {v.locked_by.username} until {v.lock_expires:%Y-%m-%d %H:%M} UTC",
            [{"field": "lock", "message": f"held by {v.locked_by.username}"}],
        )


def review(actor, v: Verification, admissible: bool, note: str = "") -> Verification:
    """Preliminary review by an analyst: admissible (goes on to tasking) or dismissed."""
    user = _user(actor, roles.REVIEW, "verification", "review verifications")
    with transaction.atomic():
        v = _locked(Verification, v.pk)
        _check_lock(v, user, timezone.now())
        before = v.state
        v.state = _step(workflow.VERIFICATION, v, "review_admit" if admissible else "review_dismiss")
        v.reviewed_by, v.review_note = user, note
        v.save()
        audit.record(user, "verification.review", "verification", v.pk, before={"state": before}, after={"state": v.state, "note": note})
    return v


def task(actor, v: Verification, team: str, team_lead, deadline: dt.datetime) -> Verification:
    """Task a monitoring team with a deadline (also re-tasking, after a denial or a report sent
    back for more investigation)."""
    user = _user(actor, roles.REVIEW, "verification", "task monitoring teams")
    _future("deadline", deadline)
    if not team.strip():
        raise InvalidInput("no team", [{"field": "team", "message": "name the monitoring team"}])
    if team_lead is None or not roles.allows(team_lead, roles.INVESTIGATE, "verification"):
        raise InvalidInput("team lead cannot investigate", [{"field": "team_lead", "message": "must be a monitor"}])
    with transaction.atomic():
        v = _locked(Verification, v.pk)
        _check_lock(v, user, timezone.now())
        before = v.state
        v.state = _step(workflow.VERIFICATION, v, "task")
        v.team, v.team_lead, v.tasked_by, v.deadline = team.strip(), team_lead, user, deadline
        # The review is over once the team has the item: the reviewer's lock goes with it.
        v.locked_by, v.lock_expires = None, None
        v.save()
        audit.record(user, "verification.task", "verification", v.pk, before={"state": before}, after={"state": v.state, "team": v.team, "team_lead": team_lead.username, "deadline": deadline.isoformat()})
    return v


def report(actor, v: Verification, findings: str, evidence: list[dict], photos: list[dict], recommendation: str = "") -> InvestigationReport:
    """The team's investigation report."""
    user = _user(actor, roles.INVESTIGATE, "verification", "submit investigation reports")
    if not findings.strip():
        raise InvalidInput("empty report", [{"field": "findings", "message": "say what the team found"}])
    if recommendation and recommendation not in OUTCOMES:
        raise InvalidInput("bad recommendation", [{"field": "recommendation", "message": f"one of {', '.join(OUTCOMES)}"}])
    with transaction.atomic():
        v = _locked(Verification, v.pk)
        before = v.state
        v.state = _step(workflow.VERIFICATION, v, "report")
        v.save()
        r = InvestigationReport.objects.create(
            verification=v, author=user, submitted_at=timezone.now(), findings=findings, evidence=evidence, photos=photos, recommendation=recommendation
        )
        audit.record(
            user, "verification.report", "verification", v.pk, before={"state": before}, after={"state": v.state, "report": r.pk, "recommendation": recommendation},
            batch_item_hashes=[e["sha256"] for e in evidence] + [p["sha256"] for p in photos],
        )
    return r


def deny_access(actor, v: Verification, lat: float, lon: float, denied_by: str = "", note: str = "", at: dt.datetime | None = None) -> AccessDenial:
    """A team was refused access. The refusal is itself a violation of the monitors' access
    rights: it is recorded as a movement-restriction observation by the team, which fusion and
    the rules engine treat like any other report."""
    user = _user(actor, roles.INVESTIGATE, "verification", "report denials of access")
    at = at or timezone.now()
    if denied_by and not Party.objects.filter(code=denied_by).exists():
        raise InvalidInput("unknown party", [{"field": "denied_by", "message": f"{denied_by} is not a party"}])
    source = f"MVT-{(v.team or 'team')[:40]}".replace(" ", "-")
    m = marking_of(v)
    payload = {
        "client_id": str(uuid.uuid4()), "channel": "patrol", "observer": {"lat": lat, "lon": lon, "accuracy_m": 20},
        "observed_from": at.isoformat(), "observed_to": at.isoformat(), "event_type": "movement_restriction", "perception": "seen",
        "location": {"lat": lat, "lon": lon, "error_m": 50}, "narrative": f"verification {v.pk}: access denied" + (f" by {denied_by}" if denied_by else "") + (f"; {note}" if note else ""),
        "source": source, "grade": "A1", "chain": [source],
        "marking": {"classification": m.classification.name, "tlp": m.tlp, "releasable_to": list(m.releasable_to), "originator": m.originator or user.nation},
    }  # fmt: skip
    try:
        item = ObservationIn.model_validate(payload)
    except ValueError as exc:
        raise InvalidInput(f"bad position or time: {exc}", [{"field": "lat", "message": "a valid position and a past time are needed"}]) from None
    with transaction.atomic():
        v = _locked(Verification, v.pk)
        v.state = _step(workflow.VERIFICATION, v, "deny_access")
        v.save()
        monitoring.register_source("system:verification", source, f"Monitoring and verification team {v.team}", "patrol", "A", 1, user.nation)
        result = monitoring.submit_observations([item], user, intake="verification")
        d = AccessDenial.objects.create(
            verification=v, reported_by=user, at=at, lat=lat, lon=lon, denied_by=denied_by, note=note, observation_id=result.ids[0]
        )
        audit.record(user, "verification.access_denied", "verification", v.pk, after={"denial": d.pk, "observation": result.ids[0], "denied_by": denied_by})
    from resolute.monitoring import fusion

    fusion.after_intake(result.created)
    return d


def _reporters(v: Verification) -> set[int]:
    """Everyone who reported the matter: the person who recorded the allegation, the team
    members who wrote reports, and the monitors whose observations make up the incident."""
    ids = {v.alleged_by_id} | set(v.reports.values_list("author_id", flat=True))
    if v.incident_id:
        ids |= set(Observation.objects.filter(incident_id=v.incident_id, submitted_by__isnull=False).values_list("submitted_by_id", flat=True))
    return ids - {None}


def conclude(actor, v: Verification, outcome: str, note: str = "") -> Verification:
    """Verified, not verified or refuted; the incident takes that status. Two-person rule: the
    person who concludes neither reported nor reviewed the item. A verified violation at or
    above COMMISSION_MIN_SEVERITY opens a Commission case."""
    user = _user(actor, roles.REVIEW, "verification", "conclude verifications")
    if outcome not in OUTCOMES:
        raise InvalidInput("bad outcome", [{"field": "outcome", "message": f"one of {', '.join(OUTCOMES)}"}])
    with transaction.atomic():
        v = _locked(Verification, v.pk)
        _check_lock(v, user, timezone.now())
        if user.pk == v.reviewed_by_id:
            raise Forbidden("two-person rule: you reviewed this item; another analyst must conclude it", [{"field": "actor", "message": "reviewed it"}])
        if user.pk in _reporters(v):
            raise Forbidden("two-person rule: you reported this item; another analyst must conclude it", [{"field": "actor", "message": "reported it"}])
        before = v.state
        v.state = _step(workflow.VERIFICATION, v, OUTCOMES[outcome])
        v.concluded_by, v.concluded_at, v.conclusion = user, timezone.now(), note
        v.locked_by, v.lock_expires = None, None
        v.save()
        audit.record(user, "verification.conclude", "verification", v.pk, before={"state": before}, after={"state": v.state, "note": note})
        if v.incident_id:
            monitoring.set_incident_status(user, v.incident, outcome)
            refresh_reliability(user)
        if outcome == "verified" and v.incident_id:
            severity = _severity(v.incident_id)
            if severity >= settings.COMMISSION_MIN_SEVERITY:
                open_case_from_verification(user, v, severity)
    return v


def _severity(incident_id: int) -> int:
    from resolute.agreement.models import Finding

    return Finding.objects.filter(incident_id=incident_id, current=True, exempt=False).aggregate(m=Max("severity"))["m"] or 0


# -- the Special Commission -------------------------------------------------------------------


def _next_number() -> str:
    year = timezone.now().year
    n = Case.objects.filter(number__startswith=f"SC-{year}-").count() + 1
    return f"SC-{year}-{n:03d}"


def _rule() -> dict:
    return dict(settings.COMMISSION_RULE)


def open_case_from_verification(actor, v: Verification, severity: int) -> Case:
    from resolute.agreement.models import Finding

    with transaction.atomic():
        case = Case(
            number=_next_number(), title=f"Verified violation: {v.allegation[:250]}", origin="verification", verification=v,
            opened_by=audit.actor_name(actor), opened_at=timezone.now(), severity=severity, rule=_rule(),
        )
        _apply_marking(case, marking_of(v))
        case.save()
        now = timezone.now()
        rows = [CaseEvidence(case=case, verification=v, added_by=case.opened_by, added_at=now), CaseEvidence(case=case, incident_id=v.incident_id, added_by=case.opened_by, added_at=now)]
        rows += [CaseEvidence(case=case, finding=f, added_by=case.opened_by, added_at=now) for f in Finding.objects.filter(incident_id=v.incident_id, current=True, exempt=False)]
        rows += [CaseEvidence(case=case, report=r, added_by=case.opened_by, added_at=now) for r in v.reports.all()]
        CaseEvidence.objects.bulk_create(rows)
        audit.record(actor, "case.open", "case", case.number, after={"origin": "verification", "verification": v.pk, "severity": severity, "evidence": len(rows)})
    return case


def refer(actor, title: str, incidents: list[Incident], note: str = "") -> Case:
    """A member's referral: a commissioner or a national delegation brings a matter before the
    Commission."""
    user = _user(actor, roles.REFER, "case", "refer matters to the Commission")
    if not title.strip():
        raise InvalidInput("no title", [{"field": "title", "message": "say what the referral is about"}])
    now = timezone.now()
    with transaction.atomic():
        case = Case(
            number=_next_number(), title=title[:300], origin="referral", referred_by=user.nation, opened_by=user.username, opened_at=now, rule=_rule(),
            severity=max([_severity(i.pk) for i in incidents] or [0]),
        )
        _apply_marking(case, combine([marking_of(i) for i in incidents]) if incidents else Marking(Classification.RESTRICTED, "GREEN", (ALL,), user.nation))
        case.save()
        CaseEvidence.objects.bulk_create([CaseEvidence(case=case, incident=i, added_by=user.username, added_at=now, note=note) for i in incidents])
        if note:
            CaseNote.objects.create(case=case, author=user.username, member=user.nation, at=now, text=note)
        audit.record(user, "case.open", "case", case.number, after={"origin": "referral", "member": user.nation, "incidents": [i.pk for i in incidents]})
    return case


def add_evidence(actor, case: Case, incident: Incident | None = None, finding=None, verification: Verification | None = None, note: str = "") -> CaseEvidence:
    user = _user(actor, roles.CHAIR, "case", "add evidence to cases")
    items = [x for x in (incident, finding, verification) if x is not None]
    if len(items) != 1:
        raise InvalidInput("one item", [{"field": "evidence", "message": "give exactly one of incident, finding, verification"}])
    with transaction.atomic():
        case = _locked(Case, case.pk)
        case.state = _step(workflow.CASE, case, "add_evidence")
        # The case can never reveal more than its evidence: its marking tightens as evidence comes in.
        _apply_marking(case, combine([marking_of(case), marking_of(items[0])]))
        case.save()
        e = CaseEvidence.objects.create(case=case, incident=incident, finding=finding, verification=verification, added_by=user.username, added_at=timezone.now(), note=note)
        audit.record(user, "case.evidence", "case", case.number, after={"incident": getattr(incident, "pk", None), "finding": getattr(finding, "pk", None), "verification": getattr(verification, "pk", None)})
    return e


def invite_parties(actor, case: Case, deadline: dt.datetime) -> Case:
    user = _user(actor, roles.CHAIR, "case", "invite the parties")
    _future("deadline", deadline)
    with transaction.atomic():
        case = _locked(Case, case.pk)
        case.state = _step(workflow.CASE, case, "invite_parties")
        case.response_deadline = deadline
        case.save()
        audit.record(user, "case.invite_parties", "case", case.number, after={"deadline": deadline.isoformat(), "parties": list(Party.objects.values_list("code", flat=True))})
    return case


def record_response(actor, case: Case, party_code: str, text: str) -> PartyResponse:
    user = _user(actor, roles.CHAIR, "case", "record the parties' responses")
    party = Party.objects.filter(code=party_code).first()
    if party is None:
        raise InvalidInput("unknown party", [{"field": "party", "message": f"{party_code} is not a party to the ceasefire"}])
    if not text.strip():
        raise InvalidInput("empty response", [{"field": "text", "message": "record what the party said"}])
    now = timezone.now()
    with transaction.atomic():
        case = _locked(Case, case.pk)
        case.state = _step(workflow.CASE, case, "record_response")
        case.save()
        r = PartyResponse.objects.create(case=case, party=party, text=text, received_at=now, recorded_by=user.username, late=bool(case.response_deadline and now > case.response_deadline))
        audit.record(user, "case.response", "case", case.number, after={"party": party_code, "late": r.late})
    return r


def note(actor, case: Case, text: str) -> CaseNote:
    """A line of the deliberation record, by a member of the Commission."""
    user = _user(actor, roles.VOTE, "case", "take part in deliberation")
    if not text.strip():
        raise InvalidInput("empty note", [{"field": "text", "message": "empty"}])
    with transaction.atomic():
        case = _locked(Case, case.pk)
        case.state = _step(workflow.CASE, case, "note")
        case.save()
        n = CaseNote.objects.create(case=case, author=user.username, member=user.nation, at=timezone.now(), text=text)
        audit.record(user, "case.note", "case", case.number, after={"note": n.pk})
    return n


def open_deliberation(actor, case: Case) -> Case:
    """Only once every party has answered or the deadline has passed: the parties' right to be
    heard comes first."""
    user = _user(actor, roles.CHAIR, "case", "open deliberation")
    with transaction.atomic():
        case = _locked(Case, case.pk)
        new = _step(workflow.CASE, case, "open_deliberation")
        answered = set(case.responses.values_list("party__code", flat=True))
        missing = set(Party.objects.values_list("code", flat=True)) - answered
        if missing and case.response_deadline and timezone.now() < case.response_deadline:
            raise Conflict(
                f"the parties have until {case.response_deadline:%Y-%m-%d %H:%M} UTC to respond; waiting for {', '.join(sorted(missing))}",
                [{"field": "response_deadline", "message": "not passed"}],
            )
        case.state = new
        case.save()
        audit.record(user, "case.deliberation", "case", case.number, after={"missing_responses": sorted(missing)})
    return case


def propose(actor, case: Case, attribution: str, breach_class: str, measures: list[str], rationale: str) -> Proposal:
    """The chair puts a draft decision to the vote."""
    user = _user(actor, roles.CHAIR, "case", "put decisions to the vote")
    errors = []
    if breach_class not in BREACH_CLASSES:
        errors.append({"field": "breach_class", "message": f"one of {', '.join(BREACH_CLASSES)}"})
    bad = [m for m in measures if m not in MEASURES]
    if bad or len(set(measures)) != len(measures):
        errors.append({"field": "measures", "message": f"unknown or repeated: {', '.join(bad) or 'repeated'}; catalogue: {', '.join(MEASURES)}"})
    if attribution and not Party.objects.filter(code=attribution).exists():
        errors.append({"field": "attribution", "message": f"{attribution} is not a party; leave empty for 'unattributable'"})
    if breach_class == "armed_attack" and not attribution:
        errors.append({"field": "attribution", "message": "an armed-attack determination must name the party responsible"})
    if not rationale.strip():
        errors.append({"field": "rationale", "message": "give the reasons"})
    if errors:
        raise InvalidInput("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors)
    if breach_class == "armed_attack" and "playbook_referral" not in measures:
        # An armed attack activates the guarantees: the referral is what the declaration commits to.
        measures = [*measures, "playbook_referral"]
    with transaction.atomic():
        case = _locked(Case, case.pk)
        case.state = _step(workflow.CASE, case, "propose")
        case.save()
        p = Proposal.objects.create(
            case=case, number=case.proposals.count() + 1, attribution=attribution, breach_class=breach_class, measures=measures,
            rationale=rationale, proposed_by=user.username, proposed_at=timezone.now(),
        )
        audit.record(user, "case.propose", "case", case.number, after={"proposal": p.number, "attribution": attribution or "unattributable", "breach_class": breach_class, "measures": measures})
    return p


def seat_of(user) -> CommissionSeat | None:
    return CommissionSeat.objects.select_related("member").filter(member__code=getattr(user, "nation", "")).first()


def vote(actor, case: Case, choice: str, opinion: str = "") -> Vote:
    """One vote per member of the Commission on the open proposal."""
    user = _user(actor, roles.VOTE, "case", "vote")
    seat = seat_of(user)
    if seat is None:
        raise Forbidden(f"{user.nation or 'your nation'} is not a member of the Commission", [{"field": "actor", "message": "not a member"}])
    if choice not in voting.CHOICES:
        raise InvalidInput("bad choice", [{"field": "choice", "message": f"one of {', '.join(voting.CHOICES)}"}])
    with transaction.atomic():
        case = _locked(Case, case.pk)
        case.state = _step(workflow.CASE, case, "vote")
        proposal = case.proposals.get(status="open")
        if Vote.objects.filter(proposal=proposal, seat=seat).exists():
            raise Conflict(f"{seat.member.code} has already voted on proposal {proposal.number}", [{"field": "actor", "message": "already voted"}])
        try:
            with transaction.atomic():
                vt = Vote.objects.create(proposal=proposal, seat=seat, cast_by=user.username, choice=choice, opinion=opinion, at=timezone.now())
        except IntegrityError:
            raise Conflict(f"{seat.member.code} has already voted on proposal {proposal.number}") from None
        audit.record(user, "case.vote", "case", case.number, after={"proposal": proposal.number, "member": seat.member.code, "choice": choice})
    return vt


def tally(case: Case) -> voting.Outcome:
    proposal = case.proposals.get(status="open")
    seats = CommissionSeat.objects.select_related("member")
    chair = next((s.member.code for s in seats if s.chair), None)
    ballots = [voting.Ballot(v.seat.member.code, v.choice) for v in proposal.votes.select_related("seat__member")]
    try:
        return voting.tally([s.member.code for s in seats], ballots, voting.DecisionRule.from_mapping(case.rule), chair_seat=chair)
    except ValueError as e:
        # The Commission's composition (no seats, a ballot from a seat since removed) is
        # configuration, not the caller's input: a conflict to resolve, not a server error.
        raise Conflict(f"the vote cannot be counted: {e}", [{"field": "seats", "message": str(e)}]) from None


def close_vote(actor, case: Case) -> Decision | None:
    """The chair closes the vote. Without quorum the vote stays open (refused); an adopted
    proposal becomes the decision (with dissenting opinions, and for an armed attack a pending
    activation); a rejected one sends the case back to deliberation."""
    user = _user(actor, roles.CHAIR, "case", "close votes")
    with transaction.atomic():
        case = _locked(Case, case.pk)
        _step(workflow.CASE, case, "close_adopted")  # the state check, before counting
        outcome = tally(case)
        if not outcome.quorum_met:
            raise Conflict(f"no quorum: {outcome.reason}", [{"field": "votes", "message": f"{outcome.cast} of {outcome.seats} voted; {outcome.required_for_quorum} needed"}])
        proposal = case.proposals.get(status="open")
        record = {k: getattr(outcome, k) for k in ("adopted", "quorum_met", "seats", "cast", "yes", "no", "abstain", "required_for_quorum", "casting_vote_used", "reason")}
        proposal.status, proposal.outcome = ("adopted" if outcome.adopted else "rejected"), record
        proposal.save()
        case.state = _step(workflow.CASE, case, "close_adopted" if outcome.adopted else "close_rejected")
        case.save()
        audit.record(user, "case.close_vote", "case", case.number, after={"proposal": proposal.number, **record})
        if not outcome.adopted:
            return None
        dissent = [{"member": v.seat.member.code, "opinion": v.opinion} for v in proposal.votes.select_related("seat__member").filter(choice="no")]
        d = Decision(
            case=case, proposal=proposal, attribution=proposal.attribution, breach_class=proposal.breach_class, measures=proposal.measures,
            rationale=proposal.rationale, tally=record, dissenting=dissent, decided_by=user.username, decided_at=timezone.now(),
        )
        _apply_marking(d, marking_of(case))
        d.save()
        audit.record(user, "decision.adopt", "decision", d.pk, after={"case": case.number, "attribution": d.attribution or "unattributable", "breach_class": d.breach_class, "measures": d.measures})
        if d.breach_class == "armed_attack":
            _emit_activation(user, d)
    return d


def _emit_activation(actor, d: Decision) -> ActivationEvent:
    incidents = list(CaseEvidence.objects.filter(case=d.case, incident__isnull=False).values_list("incident_id", "incident__first_seen"))
    event = ActivationEvent(
        decision=d, attribution=d.attribution, determined_at=d.decided_at,
        payload={"case": d.case.number, "decision": d.pk, "attribution": d.attribution, "measures": d.measures, "incidents": [i for i, _t in incidents],
                 "attack_first_seen": min((t for _i, t in incidents), default=d.decided_at).isoformat()},
    )  # fmt: skip
    _apply_marking(event, marking_of(d))
    event.save()
    audit.record(actor, "activation.pending", "activation", event.pk, after=event.payload)
    # The event is durable before anyone acts on it: listeners run after the commit, and a
    # listener that fails leaves it pending for `resolute playbook run`.
    transaction.on_commit(lambda: activation_determined.send(sender=ActivationEvent, event_id=event.pk))
    return event


def publish(actor, decision: Decision) -> Decision:
    """Publication releases the decision to the public (PUBLIC/CLEAR/REL ALL); the case, its
    evidence and its deliberation keep their markings."""
    user = _user(actor, roles.CHAIR, "case", "publish decisions")
    with transaction.atomic():
        case = _locked(Case, decision.case_id)
        case.state = _step(workflow.CASE, case, "publish")
        case.save()
        decision = _locked(Decision, decision.pk)
        before = marking_of(decision)
        _apply_marking(decision, Marking(Classification.PUBLIC, "CLEAR", (ALL,), before.originator))
        decision.published_at = timezone.now()
        decision.save()
        audit.record(user, "decision.publish", "decision", decision.pk, before={"marking": [before.classification.name, before.tlp, list(before.releasable_to)]}, after={"published_at": decision.published_at.isoformat()})
    return decision


def consume_activation(actor, event: ActivationEvent, by: str) -> ActivationEvent:
    """The guarantee playbook takes a pending activation. Refused if already taken: one
    determination never activates twice."""
    with transaction.atomic():
        event = _locked(ActivationEvent, event.pk)
        if event.status != "pending":
            raise Conflict(f"activation {event.pk} is '{event.status}' (taken by {event.consumed_by} at {event.consumed_at:%Y-%m-%d %H:%M} UTC)")
        event.status, event.consumed_at, event.consumed_by = "consumed", timezone.now(), by
        event.save()
        audit.record(actor, "activation.consume", "activation", event.pk, after={"by": by})
    return event


# -- the reliability index --------------------------------------------------------------------


def reliability_rule() -> rel.ReliabilityRule:
    return rel.ReliabilityRule.from_mapping(settings.RELIABILITY_RULE)


def _series_start(rule: rel.ReliabilityRule):
    from resolute.agreement.models import AgreementVersion

    first = AgreementVersion.objects.filter(status=AgreementVersion.IN_FORCE).order_by("in_force_from").values_list("in_force_from", flat=True).first()
    return rel.reporting_day(first, rule) if first else None


def refresh_reliability(actor, today=None) -> int:
    """Recompute the index for every reporting day from the agreement's entry into force to
    today, from verified violations (verified incidents with at least one current, non-exempt
    finding; weight by the highest severity). Stored per day with the combined markings of what
    it counts. Returns the number of days."""
    from resolute.agreement.models import Finding

    rule = reliability_rule()
    start = _series_start(rule)
    if start is None:
        return 0
    today = today or rel.reporting_day(timezone.now(), rule)
    verified = {
        i.pk: i for i in Incident.objects.filter(status="verified")
    }
    severity: dict[int, int] = {}
    for inc_id, sev in Finding.objects.filter(incident_id__in=list(verified), current=True, exempt=False).values_list("incident_id", "severity"):
        severity[inc_id] = max(severity.get(inc_id, 0), sev)
    violations = [rel.Violation(verified[i].first_seen, s) for i, s in severity.items()]
    markings: dict = {}
    for i in severity:
        markings.setdefault(rel.reporting_day(verified[i].first_seen, rule), []).append(marking_of(verified[i]))
    days = rel.daily_index(violations, start, today, rule)
    now = timezone.now()
    with transaction.atomic():
        existing = {r.day: r for r in ReliabilityDay.objects.filter(day__gte=start, day__lte=today)}
        changed = 0
        for d in days:
            m = combine(markings[d.day]) if d.day in markings else Marking(Classification.RESTRICTED, "GREEN", (ALL,), "")
            row = existing.get(d.day) or ReliabilityDay(day=d.day)
            new = (d.index, d.count, d.serious, d.calm, int(m.classification), m.tlp, encode_releasability(m.releasable_to), m.originator)
            old = (row.index, row.count, row.serious, row.calm, row.classification, row.tlp, row.releasable_to, row.originator) if row.pk else None
            if new != old:
                row.index, row.count, row.serious, row.calm, row.computed_at = d.index, d.count, d.serious, d.calm, now
                _apply_marking(row, m)
                row.save()
                changed += 1
        if changed:
            audit.record(actor, "reliability.refresh", "reliability", str(today), after={"days": len(days), "changed": changed, "start": str(start)})
    return len(days)


def reliability_condition(as_of=None) -> rel.Condition:
    """The "reliable cessation of hostilities" condition from the stored series (all days,
    whatever the reader's markings: the yes/no is released coalition-wide; see docs/markings.md)."""
    rule = reliability_rule()
    as_of = as_of or rel.reporting_day(timezone.now(), rule)
    days = [rel.Day(r.day, r.index, r.count, r.serious, r.calm) for r in ReliabilityDay.objects.filter(day__lte=as_of).order_by("day")]
    return rel.condition(days, rule, as_of)


def get_or_404(qs, pk):
    obj = qs.filter(pk=pk).first()
    if obj is None:
        raise NotFound("no such record, or not visible to you")
    return obj
