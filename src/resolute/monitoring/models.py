"""Element 1's records: the observation (atomic, graded, marked), its source, the incident it is
fused into, the parties to the ceasefire and the coalition's members."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from resolute.accounts.restrict import MarkedModel, ReferenceQuerySet
from resolute.core import vocabulary as v
from resolute.core.geo import COMPASS_16
from resolute.words import lazy_label


def _choices(values):
    return [(x, lazy_label(x)) for x in values]


class Party(models.Model):
    """A party to the ceasefire (side of the contact line)."""

    resource = "party"
    code = models.CharField(max_length=3, unique=True, help_text="ISO 3166 alpha-3")
    name = models.CharField(max_length=100)
    objects = ReferenceQuerySet.as_manager()

    class Meta:
        verbose_name_plural = _("parties")

    def __str__(self) -> str:
        return self.name


class CoalitionMember(models.Model):
    """A member of the coalition: a state (ISO 3166 alpha-3) or the EU institutions ('EUU',
    the code NATO STANAG 1059 uses)."""

    resource = "member"
    code = models.CharField(max_length=3, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=[("state", "state"), ("institution", "institution")], default="state")
    european = models.BooleanField(default=True)
    joined = models.DateField(null=True, blank=True)
    objects = ReferenceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Source(MarkedModel):
    """Where observations come from: a patrol team, a post, a camera, an agency, an outlet.
    Its default Admiralty grade seeds fusion's confidence model."""

    resource = "source"
    code = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=32, choices=_choices(v.CHANNELS))
    nation = models.CharField(max_length=3, blank=True)
    reliability = models.CharField(max_length=1, default="F")
    credibility = models.PositiveSmallIntegerField(default=6)
    # Re-estimated from verified incidents (resolute fuse --reestimate); null: use the grade.
    p_report_real = models.FloatField(null=True, blank=True)
    p_report_false = models.FloatField(null=True, blank=True)

    def __str__(self) -> str:
        return self.code


class ContactLine(models.Model):
    """The line of contact fusion attributes against: a polyline, the polygon of the area held by
    side A (its boundary runs along the line), and the line's own drawing error (1σ, metres).
    The newest line valid at an incident's time applies. (The agreement's versioned zones will
    hold the line once that issue lands; fusion reads it through `current_line`.)"""

    name = models.CharField(max_length=100)
    valid_from = models.DateTimeField()
    line = models.JSONField(help_text="GeoJSON LineString, lon/lat")
    side_a_area = models.JSONField(help_text="GeoJSON Polygon of the area held by side A")
    side_a = models.CharField(max_length=3, help_text="party code of side A")
    side_b = models.CharField(max_length=3)
    drawing_sigma_m = models.FloatField(default=250.0)

    class Meta:
        ordering = ["-valid_from"]

    def __str__(self) -> str:
        return f"{self.name} ({self.valid_from:%Y-%m-%d})"


class Incident(MarkedModel):
    """A located, scored, attributed event fused from observations. Its markings are the most
    restrictive of its members' (an incident never reveals more than its least releasable
    observation)."""

    resource = "incident"
    event_type = models.CharField(max_length=40, choices=_choices(v.EVENT_TYPES))
    family = models.CharField(max_length=40, blank=True, help_text="fusion parameter family")
    status = models.CharField(
        max_length=20,
        choices=[
            ("open", "open"), ("verified", "verified"), ("not_verified", "not verified"), ("refuted", "refuted"),
            ("merged", "merged"), ("dissolved", "dissolved"),
        ],
        default="open",
    )  # fmt: skip
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="absorbed")
    first_seen = models.DateTimeField(db_index=True)
    last_seen = models.DateTimeField()
    # The fix: a point, its covariance on local east/north axes (m²) and the 95% ellipse.
    lat = models.FloatField(null=True)
    lon = models.FloatField(null=True)
    error_m = models.FloatField(null=True, help_text="95% ellipse semi-major axis, metres")
    fix_ok = models.BooleanField(default=False)
    fix_method = models.CharField(max_length=20, blank=True)
    fix_note = models.CharField(max_length=300, blank=True, help_text="why there is no fix, or a caveat")
    cov_ee = models.FloatField(null=True)
    cov_en = models.FloatField(null=True)
    cov_nn = models.FloatField(null=True)
    semi_major_m = models.FloatField(null=True)
    semi_minor_m = models.FloatField(null=True)
    orientation_deg = models.FloatField(null=True)
    chi2 = models.FloatField(null=True)
    dof = models.IntegerField(null=True)
    consistent = models.BooleanField(null=True)
    outlier_ids = models.JSONField(default=list, help_text="member observations rejected as gross errors")
    # Confidence that it is real.
    confidence = models.FloatField(null=True, help_text="probability the incident is real, 0–1")
    confidence_word = models.CharField(max_length=40, blank=True)
    confidence_terms = models.JSONField(default=list, help_text="each relay chain's contribution (log-odds)")
    # Attribution: P(origin on side A), P(impact on side A) with the contact line's drawing error.
    p_origin_a = models.FloatField(null=True)
    p_impact_a = models.FloatField(null=True)
    attribution_kind = models.CharField(max_length=20, blank=True, help_text="cross_line, same_side, indeterminate")
    origin_side = models.CharField(max_length=3, blank=True)
    impact_side = models.CharField(max_length=3, blank=True)
    attribution = models.CharField(max_length=300, blank=True)
    origin_incident = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="impacts")
    observation_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["lat", "lon"]), models.Index(fields=["status", "first_seen"])]


class Observation(MarkedModel):
    """One report of one event by one observer, as the OSCE SMM recorded them. Immutable once
    accepted; `client_id` makes resubmission idempotent and `content_hash` detects a different
    payload under the same id."""

    resource = "observation"
    client_id = models.UUIDField(unique=True)
    content_hash = models.CharField(max_length=64)
    channel = models.CharField(max_length=32, choices=_choices(v.CHANNELS))
    observer_lat = models.FloatField()
    observer_lon = models.FloatField()
    observer_accuracy_m = models.FloatField()
    observed_from = models.DateTimeField(db_index=True)
    observed_to = models.DateTimeField()
    # Indexed through (event_type, observed_from) below.
    event_type = models.CharField(max_length=40, choices=_choices(v.EVENT_TYPES))
    perception = models.CharField(max_length=20, choices=_choices(v.PERCEPTIONS))
    count = models.PositiveIntegerField(default=1)
    weapon_class = models.CharField(max_length=32, choices=_choices(v.WEAPON_CLASSES), default="unknown")
    # Either an estimated point …
    event_lat = models.FloatField(null=True)
    event_lon = models.FloatField(null=True)
    event_error_m = models.FloatField(null=True)
    # … or a direction from the observer.
    bearing_deg = models.FloatField(null=True)
    bearing_sigma_deg = models.FloatField(null=True)
    compass_sector = models.CharField(max_length=3, null=True, choices=[(c, c) for c in COMPASS_16])
    range_min_m = models.FloatField(null=True)
    range_max_m = models.FloatField(null=True)
    # Indicative location for maps and bbox filters (the point, or a point along the bearing);
    # fusion computes the real fix.
    lat = models.FloatField()
    lon = models.FloatField()
    radius_m = models.FloatField()
    narrative = models.TextField(blank=True)
    attachments = models.JSONField(default=list, help_text="SHA-256 hex digests of attached files")
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="observations")
    reliability = models.CharField(max_length=1)
    credibility = models.PositiveSmallIntegerField()
    chain = models.JSONField(default=list, help_text="originating asset first, then each relay")
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="observations")
    received_at = models.DateTimeField()
    # No index: "who submitted" is an audit question, and each index costs every bulk insert.
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, db_index=False)
    intake = models.CharField(max_length=20, default="api", help_text="api, import, openrosa, cot, demo")

    class Meta:
        indexes = [models.Index(fields=["lat", "lon"]), models.Index(fields=["event_type", "observed_from"])]
