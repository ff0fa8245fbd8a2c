"""Published reports: the daily report in its two editions, stored as generated (HTML and PDF)
so that what was released on a day can be shown again exactly as it was."""

from __future__ import annotations

from django.db import models

from resolute.accounts.restrict import MarkedModel

PUBLIC, RESTRICTED = "public", "restricted"
EDITIONS = (PUBLIC, RESTRICTED)


class DailyReport(MarkedModel):
    """One edition of the daily report for reporting day `day` (19:30 Kyiv on day-1 to 19:30 on
    day). The public edition is PUBLIC/CLEAR/ALL; the restricted edition carries at least
    RESTRICTED/AMBER/ALL, tightened to the combined marking of every record it was built from
    (docs/markings.md, records built from other records), so it never reveals more than its
    least releasable input. Regenerating replaces the row; the audit log keeps the history."""

    resource = "report"
    day = models.DateField()
    edition = models.CharField(max_length=12, choices=[(e, e) for e in EDITIONS])
    html = models.TextField()
    pdf = models.BinaryField()
    generated_at = models.DateTimeField()
    generated_by = models.CharField(max_length=150)
    reader = models.CharField(max_length=150, help_text="whose view the content was computed for ('public' or a username)")
    content_sha256 = models.CharField(max_length=64, help_text="SHA-256 of the canonical JSON of the content")

    class Meta:
        ordering = ["-day", "edition"]
        constraints = [models.UniqueConstraint(fields=["day", "edition"], name="one_report_per_day_and_edition")]

    def __str__(self) -> str:
        return f"daily report {self.day} ({self.edition})"
