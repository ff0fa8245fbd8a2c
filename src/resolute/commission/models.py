"""Field verification (CTSAMVM-style), the Special Commission's cases and decisions, the
armed-attack activation event and the daily reliability index.

State lives in `state` fields moved only by services through the state machines in
core/workflow.py; every step writes an audit entry, which is also the record's history.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from resolute.accounts.restrict import MarkedModel, ReferenceQuerySet
from resolute.core import workflow
from resolute.words import lazy_label

USER = settings.AUTH_USER_MODEL


def _states(machine):
    return [(s, lazy_label(s)) for s in sorted(machine.states())]


ALLEGATION_SOURCES = ("mission", "party", "member", "public", "ngo")
BREACH_CLASSES = ("minor", "serious", "armed_attack")
MEASURES = ("demarche", "public_statement", "reinforced_monitoring", "additional_sanctions", "playbook_referral")


class Verification(MarkedModel):
    """An allegation and its verification: preliminary review, tasking of a monitoring team,
    investigation report, conclusion. Carries the markings of the incident it concerns."""

    resource = "verification"
    incident = models.ForeignKey("monitoring.Incident", null=True, blank=True, on_delete=models.PROTECT, related_name="verifications")
    allegation = models.TextField()
    allegation_source = models.CharField(max_length=20, choices=[(s, s) for s in ALLEGATION_SOURCES])
    alleged_by = models.ForeignKey(USER, null=True, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=20, choices=_states(workflow.VERIFICATION), default=workflow.VERIFICATION.initial)
    received_at = models.DateTimeField()
    review_due = models.DateTimeField()
    reviewed_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    review_note = models.TextField(blank=True)
    team = models.CharField(max_length=100, blank=True, help_text="monitoring team tasked")
    team_lead = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    tasked_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    deadline = models.DateTimeField(null=True, blank=True, help_text="the team's report is due (UTC)")
    concluded_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    concluded_at = models.DateTimeField(null=True, blank=True)
    conclusion = models.TextField(blank=True)
    # The "being reviewed by" lock (Ushahidi/SAGE users asked for it): visible, and it expires.
    locked_by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    lock_expires = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["state", "received_at"])]


class InvestigationReport(models.Model):
    """A team's report: what it found, the evidence by SHA-256, photos referenced by hash."""

    verification = models.ForeignKey(Verification, on_delete=models.PROTECT, related_name="reports")
    author = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    submitted_at = models.DateTimeField()
    findings = models.TextField()
    evidence = models.JSONField(default=list, help_text="[{sha256, description}]")
    photos = models.JSONField(default=list, help_text="[{sha256, caption}]")
    recommendation = models.CharField(max_length=20, blank=True, help_text="verified, not_verified or refuted")


class AccessDenial(models.Model):
    """A team was refused access. Recorded here and, as a movement-restriction observation, in
    the monitoring record, where it is fused and judged like any other violation."""

    verification = models.ForeignKey(Verification, on_delete=models.PROTECT, related_name="denials")
    reported_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    lat = models.FloatField()
    lon = models.FloatField()
    denied_by = models.CharField(max_length=3, blank=True, help_text="party whose personnel denied access, if known")
    note = models.TextField(blank=True)
    observation = models.ForeignKey("monitoring.Observation", on_delete=models.PROTECT, related_name="+")


class CommissionSeat(models.Model):
    """A coalition member's seat on the Special Commission; one vote per seat."""

    resource = "member"
    member = models.OneToOneField("monitoring.CoalitionMember", on_delete=models.PROTECT, related_name="commission_seat")
    chair = models.BooleanField(default=False)
    since = models.DateField(null=True, blank=True)
    objects = ReferenceQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chair"], condition=models.Q(chair=True), name="one_chair")]

    def __str__(self) -> str:
        return self.member.code + (" (chair)" if self.chair else "")


class Case(MarkedModel):
    resource = "case"
    number = models.CharField(max_length=20, unique=True)
    title = models.CharField(max_length=300)
    origin = models.CharField(max_length=20, choices=[("verification", _("verified violation")), ("referral", _("member's referral"))])
    verification = models.ForeignKey(Verification, null=True, blank=True, on_delete=models.PROTECT, related_name="cases")
    referred_by = models.CharField(max_length=3, blank=True, help_text="member that referred it")
    opened_by = models.CharField(max_length=150)
    opened_at = models.DateTimeField()
    state = models.CharField(max_length=20, choices=_states(workflow.CASE), default=workflow.CASE.initial)
    severity = models.PositiveSmallIntegerField(default=0, help_text="highest severity among its findings")
    response_deadline = models.DateTimeField(null=True, blank=True)
    rule = models.JSONField(default=dict, help_text="the decision rule in force when the case opened")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-opened_at"]


class CaseEvidence(models.Model):
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="evidence")
    incident = models.ForeignKey("monitoring.Incident", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    finding = models.ForeignKey("agreement.Finding", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    verification = models.ForeignKey(Verification, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    report = models.ForeignKey(InvestigationReport, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    added_by = models.CharField(max_length=150)
    added_at = models.DateTimeField()
    note = models.TextField(blank=True)


class PartyResponse(models.Model):
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="responses")
    party = models.ForeignKey("monitoring.Party", on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    received_at = models.DateTimeField()
    recorded_by = models.CharField(max_length=150)
    late = models.BooleanField(default=False)


class CaseNote(models.Model):
    """The deliberation record."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="notes")
    author = models.CharField(max_length=150)
    member = models.CharField(max_length=3, blank=True)
    at = models.DateTimeField()
    text = models.TextField()


class Proposal(models.Model):
    """A draft decision put to the vote by the chair."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="proposals")
    number = models.PositiveSmallIntegerField()
    attribution = models.CharField(max_length=3, blank=True, help_text="responsible party, blank = unattributable")
    breach_class = models.CharField(max_length=20, choices=[(b, lazy_label(b)) for b in BREACH_CLASSES])
    measures = models.JSONField(default=list)
    rationale = models.TextField()
    proposed_by = models.CharField(max_length=150)
    proposed_at = models.DateTimeField()
    status = models.CharField(max_length=10, default="open", choices=[("open", "open"), ("adopted", "adopted"), ("rejected", "rejected")])
    outcome = models.JSONField(null=True, blank=True, help_text="the tally when the vote closed")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "number"], name="proposal_number_unique")]


class Vote(models.Model):
    proposal = models.ForeignKey(Proposal, on_delete=models.PROTECT, related_name="votes")
    seat = models.ForeignKey(CommissionSeat, on_delete=models.PROTECT, related_name="+")
    cast_by = models.CharField(max_length=150)
    choice = models.CharField(max_length=10, choices=[("yes", "yes"), ("no", "no"), ("abstain", "abstain")])
    opinion = models.TextField(blank=True, help_text="explanation of vote; a 'no' with an opinion is a dissenting opinion")
    at = models.DateTimeField()

    class Meta:
        # The database refuses a second vote by one member even if two requests race.
        constraints = [models.UniqueConstraint(fields=["proposal", "seat"], name="one_vote_per_member")]


class Decision(MarkedModel):
    """The Commission's decision. Published decisions are re-marked PUBLIC/CLEAR/REL ALL: the
    public sees them, and nothing else of the Commission."""

    resource = "decision"
    case = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="decision")
    proposal = models.OneToOneField(Proposal, on_delete=models.PROTECT, related_name="+")
    attribution = models.CharField(max_length=3, blank=True, help_text="blank = unattributable")
    breach_class = models.CharField(max_length=20)
    measures = models.JSONField(default=list)
    rationale = models.TextField()
    tally = models.JSONField()
    dissenting = models.JSONField(default=list, help_text="[{member, opinion}]")
    decided_by = models.CharField(max_length=150)
    decided_at = models.DateTimeField()
    published_at = models.DateTimeField(null=True, blank=True)


class ActivationEvent(MarkedModel):
    """The durable domain event "the Commission determined an armed attack". The guarantee
    playbook consumes it; until then it is a pending activation. One per decision: an
    activation can never run twice for one determination."""

    resource = "activation"
    decision = models.OneToOneField(Decision, on_delete=models.PROTECT, related_name="activation")
    kind = models.CharField(max_length=20, default="armed_attack")
    attribution = models.CharField(max_length=3, blank=True)
    determined_at = models.DateTimeField()
    payload = models.JSONField()
    status = models.CharField(max_length=10, default="pending", choices=[("pending", "pending"), ("consumed", "consumed")])
    consumed_at = models.DateTimeField(null=True, blank=True)
    consumed_by = models.CharField(max_length=150, blank=True)


class ReliabilityDay(MarkedModel):
    """One reporting day of the reliability index. Its markings combine those of the verified
    violations it counts, so a day's figure is shown only to readers who may see every record
    behind it (DESIGN.md: aggregates must not leak a restricted record)."""

    resource = "reliability"
    day = models.DateField(unique=True)
    index = models.FloatField()
    count = models.PositiveIntegerField()
    serious = models.PositiveIntegerField()
    calm = models.BooleanField()
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["day"]
