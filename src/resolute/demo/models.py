"""Ground truth of the demo scenario, stored apart from the monitoring records so that fusion
can be scored against it and nothing in the monitoring path can read it by accident."""

from __future__ import annotations

from django.db import models


class ScenarioRun(models.Model):
    seed = models.IntegerField(unique=True)
    start = models.DateTimeField(help_text="UTC start of the simulated week; fixed at first load so reloads are identical")
    loaded_at = models.DateTimeField(auto_now_add=True)
    geography = models.JSONField(help_text="contact line, withdrawal bands, sites (GeoJSON)")
    summary = models.JSONField()


class TrueEvent(models.Model):
    run = models.ForeignKey(ScenarioRun, on_delete=models.CASCADE, related_name="events")
    truth_id = models.CharField(max_length=20)
    kind = models.CharField(max_length=40)
    lat = models.FloatField()
    lon = models.FloatField()
    origin_lat = models.FloatField()
    origin_lon = models.FloatField()
    origin_side = models.CharField(max_length=3)
    impact_side = models.CharField(max_length=3)
    start = models.DateTimeField()
    end = models.DateTimeField()
    count = models.PositiveIntegerField()
    weapon_class = models.CharField(max_length=32)

    class Meta:
        unique_together = [("run", "truth_id")]


class TruthLink(models.Model):
    """Which true event an observation came from (None: a false report)."""

    run = models.ForeignKey(ScenarioRun, on_delete=models.CASCADE, related_name="links")
    client_id = models.UUIDField(unique=True)
    truth_id = models.CharField(max_length=20, null=True)
