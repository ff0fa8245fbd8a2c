"""Force generation in the admin, read-only: offers move through the services (status machine,
deployment gate), each step audited."""

from django.contrib import admin

from resolute.accounts.admin_base import ReadOnlyAdmin, RestrictedReadOnlyAdmin

from .models import Offer, Requirement, UkraineRequest

admin.site.register(Requirement, RestrictedReadOnlyAdmin, list_display=("code", "capability", "quantity", "unit", "tier", "lead_nation", "enabler"))
admin.site.register(Offer, RestrictedReadOnlyAdmin, list_display=("id", "requirement", "member", "unit", "size", "readiness_days", "status"))
admin.site.register(UkraineRequest, ReadOnlyAdmin, list_display=("received", "reference", "recorded_by", "withdrawn_at"))
