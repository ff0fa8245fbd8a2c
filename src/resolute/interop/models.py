"""What interoperability keeps besides the observation itself."""

from __future__ import annotations

from django.db import models


class CotDetail(models.Model):
    """The raw `<detail>` of a Cursor on Target event, exactly as received, beside the
    observation it became: TAK devices put more there (sensor, link, user icons) than the
    observation has fields for, and the record keeps what was sent."""

    observation = models.OneToOneField("monitoring.Observation", on_delete=models.PROTECT, related_name="cot_detail")
    uid = models.CharField(max_length=200)
    detail = models.TextField()
