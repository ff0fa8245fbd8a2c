"""Element 3: the Multinational Force Ukraine's statement of requirements, national offers and
the deployment gate (Ukraine's request and the reliability condition)."""

from __future__ import annotations

from django.db import models

from resolute.accounts.restrict import MarkedModel

TIERS = (("t10", "≤ 10 days"), ("t30", "10–30 days"), ("t180", "30–180 days"))
OFFER_STATES = ("offered", "accepted", "certified", "deployed", "transfer_of_authority", "declined", "withdrawn")


class Requirement(MarkedModel):
    """A capability the force needs (a statement of requirements lists capabilities, not nations)."""

    resource = "force"
    code = models.CharField(max_length=20, unique=True)
    capability = models.CharField(max_length=200)
    quantity = models.PositiveIntegerField()
    unit = models.CharField(max_length=40, help_text="battalion, aircraft, team…")
    tier = models.CharField(max_length=5, choices=TIERS)
    location = models.CharField(max_length=200)
    lead_nation = models.CharField(max_length=3)
    enabler = models.BooleanField(default=False, help_text="US enablers: intelligence, logistics")

    class Meta:
        ordering = ["code"]


class Offer(MarkedModel):
    """A member's contribution against a requirement; its status moves offered → accepted →
    certified → deployed → transfer of authority."""

    resource = "force"
    requirement = models.ForeignKey(Requirement, on_delete=models.PROTECT, related_name="offers")
    member = models.ForeignKey("monitoring.CoalitionMember", on_delete=models.PROTECT, related_name="force_offers")
    unit = models.CharField(max_length=200)
    size = models.PositiveIntegerField()
    readiness_days = models.PositiveIntegerField()
    caveats = models.TextField(blank=True)
    status = models.CharField(max_length=25, choices=[(s, s.replace("_", " ")) for s in OFFER_STATES], default="offered")
    offered_by = models.CharField(max_length=150)
    offered_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)


class UkraineRequest(models.Model):
    """Ukraine's request for deployment, as received (the force deploys only at its request)."""

    resource = "force"
    received = models.DateField()
    reference = models.CharField(max_length=200)
    text = models.TextField()
    recorded_by = models.CharField(max_length=150)
    recorded_at = models.DateTimeField()
    withdrawn_at = models.DateTimeField(null=True, blank=True)
