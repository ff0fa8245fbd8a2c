from django.contrib import admin

from resolute.accounts.admin_base import ReadOnlyAdmin

from .models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """Read-only: the log is append-only, even for administrators."""

    list_display = ("seq", "at", "actor", "action", "target_type", "target_id", "batch_count")
    list_filter = ("action", "target_type")
    search_fields = ("actor", "target_id")

