"""Element 1's records: the observation (atomic, graded, marked), its source, the incident it is
fused into, the parties to the ceasefire and the coalition's members."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from resolute.accounts.restrict import MarkedModel, ReferenceQuerySet
from resolute.core import vocabulary as v
from resolute.core.geo import COMPASS_16


def _choices(values):
    return [(x, x.replace("_", " ")) for x in values]


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

    def __str__(self) -> str:
        return self.code


class Incident(MarkedModel):
    """A located, scored, attributed event fused from observations (filled by fusion)."""

    resource = "incident"
    event_type = models.CharField(max_length=40, choices=_choices(v.EVENT_TYPES))
    status = models.CharField(
        max_length=20,
        choices=[("open", "open"), ("verified", "verified"), ("not_verified", "not verified"), ("refuted", "refuted")],
        default="open",
    )
    first_seen = models.DateTimeField(db_index=True)
    last_seen = models.DateTimeField()
    lat = models.FloatField(null=True)
    lon = models.FloatField(null=True)
    error_m = models.FloatField(null=True)
    confidence = models.FloatField(null=True, help_text="probability the incident is real, 0–1")
    observation_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["lat", "lon"])]


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
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    intake = models.CharField(max_length=20, default="api", help_text="api, import, openrosa, cot, demo")

    class Meta:
        indexes = [models.Index(fields=["lat", "lon"]), models.Index(fields=["event_type", "observed_from"])]
