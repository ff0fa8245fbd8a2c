"""The ceasefire agreement as versioned data, and the findings of the rules engine.

A version is immutable once in force: every change is a new version (a draft copied from the
last one, edited, then put in force), so an incident is always judged against the text and the
zones that were in force at its time, and an old judgement can be reproduced.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from resolute.accounts.restrict import MarkedModel, ReferenceQuerySet
from resolute.core.rules import RULE_TYPES, SEVERITY_WORDS, ZONE_KINDS


def _choices(values):
    return [(x, x.replace("_", " ")) for x in values]


class AgreementVersion(models.Model):
    """One version of the agreement. The agreement's text is public by nature (it is what the
    parties signed), so versions carry no markings; drafts are shown only to those who edit."""

    resource = "agreement"
    DRAFT, IN_FORCE = "draft", "in_force"
    number = models.PositiveIntegerField(unique=True)
    agreement = models.CharField(max_length=200)
    label = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=[(DRAFT, _("draft")), (IN_FORCE, _("in force"))], default=DRAFT)
    in_force_from = models.DateTimeField(null=True, blank=True, db_index=True, help_text="UTC; set when put in force")
    side_a = models.CharField(max_length=3, help_text="party code holding the held_area zone")
    side_b = models.CharField(max_length=3)
    contact_line_sigma_m = models.FloatField(default=250.0, help_text="drawing error of the contact line, metres (1σ)")
    attribution_threshold = models.FloatField(default=0.8, help_text="below this probability a finding is unattributable")
    withdrawal_bands_km = models.JSONField(default=dict, blank=True, help_text="weapon class -> km (bands are derived)")
    content_hash = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the bundle it was loaded from")
    origin = models.CharField(max_length=300, blank=True, help_text="bundle path, or the version a draft was copied from")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=150)

    objects = ReferenceQuerySet.as_manager()

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"v{self.number} {self.label} ({self.get_status_display()})"


class Provision(models.Model):
    version = models.ForeignKey(AgreementVersion, on_delete=models.CASCADE, related_name="provisions")
    ident = models.CharField(max_length=20, help_text="article number, e.g. 2.1")
    rule_type = models.CharField(max_length=40, choices=_choices(RULE_TYPES))
    severity = models.PositiveSmallIntegerField(choices=[(k, f"{k} {w}") for k, w in SEVERITY_WORDS.items()])
    title = models.JSONField(help_text="{en, fr, uk}")
    text = models.JSONField(help_text="{en, fr, uk}")
    params = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["version", "id"]
        constraints = [models.UniqueConstraint(fields=["version", "ident"], name="provision_ident_unique_per_version")]

    def __str__(self) -> str:
        return f"{self.ident} {self.title.get('en', '')}"


class Zone(models.Model):
    version = models.ForeignKey(AgreementVersion, on_delete=models.CASCADE, related_name="zones")
    kind = models.CharField(max_length=30, choices=_choices(ZONE_KINDS))
    name = models.CharField(max_length=200)
    party = models.CharField(max_length=3, blank=True)
    weapon_classes = models.JSONField(default=list, blank=True)
    geometry = models.JSONField(help_text="GeoJSON geometry, lon/lat")
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_to = models.DateTimeField(null=True, blank=True)
    inventory = models.JSONField(default=dict, blank=True, help_text="storage site: declared count per weapon class")
    radius_m = models.FloatField(default=0.0)
    derived = models.BooleanField(default=False, help_text="computed from the contact line (withdrawal bands)")

    class Meta:
        ordering = ["version", "kind", "name"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.name}"


class Finding(MarkedModel):
    """What the rules engine concluded about one incident under one provision. Re-judging never
    edits or deletes a finding: a changed conclusion supersedes the old one, so evidence that a
    verification or a case cited stays as it was."""

    resource = "finding"
    incident = models.ForeignKey("monitoring.Incident", on_delete=models.CASCADE, related_name="findings")
    version = models.ForeignKey(AgreementVersion, on_delete=models.PROTECT, related_name="findings")
    provision = models.ForeignKey(Provision, on_delete=models.PROTECT, related_name="findings")
    rule_type = models.CharField(max_length=40, choices=_choices(RULE_TYPES))
    severity = models.PositiveSmallIntegerField()
    party = models.CharField(max_length=3, blank=True, help_text="responsible party, blank = unattributable")
    p_party = models.FloatField(null=True, help_text="P(that party is responsible | violation)")
    p_side_a = models.FloatField(null=True)
    p_violation = models.FloatField(help_text="P(this is a violation of the provision)")
    zone = models.CharField(max_length=200, blank=True)
    exempt = models.BooleanField(default=False, help_text="covered by a declared live-fire exercise: not a violation")
    explanation = models.TextField()
    current = models.BooleanField(default=True)
    judged_at = models.DateTimeField()
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["incident", "current"]), models.Index(fields=["current", "severity"])]

    def __str__(self) -> str:
        return f"{self.provision.ident} on incident {self.incident_id}"
