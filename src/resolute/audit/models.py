from __future__ import annotations

from django.db import models


class AuditEntry(models.Model):
    """One link of the hash-chained, append-only audit log. Written only by
    audit.services.record*, inside the transaction of the change it describes."""

    seq = models.BigAutoField(primary_key=True)
    at = models.DateTimeField()
    actor = models.CharField(max_length=150, help_text="username, or 'cli:<os user>' / 'system'")
    action = models.CharField(max_length=80)
    target_type = models.CharField(max_length=80)
    target_id = models.CharField(max_length=80, blank=True)
    before = models.JSONField(null=True)
    after = models.JSONField(null=True)
    batch_count = models.PositiveIntegerField(default=0)
    batch_sha256 = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        verbose_name_plural = "audit entries"


class AuditHead(models.Model):
    """Single row holding the chain's head. Writers lock it (SELECT … FOR UPDATE on
    PostgreSQL; SQLite's IMMEDIATE transactions already serialise writers), so two concurrent
    transactions can never chain from the same predecessor."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64)
