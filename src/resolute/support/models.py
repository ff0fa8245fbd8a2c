"""Elements 2 and 5: members' pledges and the append-only ledger of their stages.

A pledge is what a member promised; its ledger entries record each stage it reached (pledge,
commitment, allocation, contracted, disbursed, shipped, received by Ukraine, verified). An entry
is never edited: a correction is a reversal entry plus a new entry. Amounts are kept in the
original currency and converted to EUR with the dated FX table when totals are made
(core/valuation.py)."""

from __future__ import annotations

from django.db import models

from resolute.accounts.restrict import MarkedModel
from resolute.core.valuation import STAGES

PILLARS = ("support", "cooperation", "financial", "humanitarian")
# Element 2 (support to the Ukrainian armed forces) and element 5 (defence cooperation).
CATEGORIES = {
    "arms_financing": "support", "defence_budget_support": "support", "rapid_reinforcement_personnel": "support",
    "fortifications": "support", "military_equipment": "support",
    "training": "cooperation", "joint_production": "cooperation", "intelligence_cooperation": "cooperation",
    # Macro-financial aid (the Kiel tracker's "Financial") is not support to the armed forces:
    # kept in its own pillar so element 2's totals stay honest.
    "financial_assistance": "financial", "humanitarian": "humanitarian",
}  # fmt: skip


class FxRate(models.Model):
    """EUR per unit of a currency on a date (e.g. the ECB reference rate), loaded from CSV."""

    currency = models.CharField(max_length=3)
    date = models.DateField()
    eur_per_unit = models.DecimalField(max_digits=24, decimal_places=12)
    source = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["currency", "date"], name="one_rate_per_currency_day")]


class Pledge(MarkedModel):
    resource = "pledge"
    member = models.ForeignKey("monitoring.CoalitionMember", on_delete=models.PROTECT, related_name="pledges")
    pillar = models.CharField(max_length=20, choices=[(p, p) for p in PILLARS])
    category = models.CharField(max_length=40, choices=[(c, c.replace("_", " ")) for c in CATEGORIES])
    title = models.CharField(max_length=300)
    kind = models.CharField(max_length=10, choices=[("financial", "financial"), ("in_kind", "in kind")])
    item = models.CharField(max_length=200, blank=True)
    currency = models.CharField(max_length=3)
    announced = models.DateField()
    confidential = models.BooleanField(default=False, help_text="values shown only to the member and those cleared; totals still count them")
    external_ref = models.CharField(max_length=100, blank=True, help_text="e.g. Kiel activity/sub-activity id")
    created_by = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["member", "pillar"])]
        constraints = [models.UniqueConstraint(fields=["external_ref"], condition=~models.Q(external_ref=""), name="one_pledge_per_external_ref")]


class LedgerEntry(MarkedModel):
    """One stage of a pledge. Carries its pledge's markings."""

    resource = "pledge"
    pledge = models.ForeignKey(Pledge, on_delete=models.PROTECT, related_name="entries")
    stage = models.CharField(max_length=20, choices=[(s, s) for s in STAGES])
    value_date = models.DateField()
    currency = models.CharField(max_length=3)
    # Value in the original currency on each valuation basis (in-kind items may have several).
    value_reported = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    value_price_list = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    value_replacement = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    value_net_book_value = models.DecimalField(max_digits=20, decimal_places=2, null=True, blank=True)
    quantity = models.PositiveIntegerField(null=True, blank=True)
    reversal_of = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by")
    # The entries that finance this one (a fund reimbursing a donation; members' shares of a pooled
    # purchase): counted there, excluded here (core/valuation.py, effective()).
    funded_by = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="funds")
    note = models.TextField(blank=True)
    recorded_by = models.CharField(max_length=150)
    recorded_at = models.DateTimeField()
    source = models.CharField(max_length=20, default="api", help_text="api, cli, kiel, demo")

    class Meta:
        ordering = ["pk"]
        indexes = [models.Index(fields=["pledge", "stage"])]

