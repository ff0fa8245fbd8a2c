"""The ledger is append-only: read-only in the admin (entries go through the services)."""

from django.contrib import admin

from resolute.accounts.admin_base import ReadOnlyAdmin, RestrictedReadOnlyAdmin

from .models import FxRate, LedgerEntry, Pledge

admin.site.register(Pledge, RestrictedReadOnlyAdmin, list_display=("id", "member", "pillar", "category", "title", "currency", "confidential"))
admin.site.register(LedgerEntry, RestrictedReadOnlyAdmin, list_display=("id", "pledge", "stage", "value_date", "currency", "value_reported", "recorded_by"))
admin.site.register(FxRate, ReadOnlyAdmin, list_display=("currency", "date", "eur_per_unit", "source"))
