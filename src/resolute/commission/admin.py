"""The Commission's records in the admin are read-only (steps go through the services, which
apply the state machines, the two-person rule and the vote rules); seats are reference data."""

from django.contrib import admin

from resolute.accounts.admin_base import RestrictedReadOnlyAdmin

from .models import Case, CommissionSeat, Decision, Verification


admin.site.register(CommissionSeat, list_display=("member", "chair", "since"))


admin.site.register(Verification, RestrictedReadOnlyAdmin, list_display=("id", "state", "incident", "received_at", "team", "locked_by"))
admin.site.register(Case, RestrictedReadOnlyAdmin, list_display=("number", "title", "state", "opened_at"))
admin.site.register(Decision, RestrictedReadOnlyAdmin, list_display=("id", "case", "breach_class", "attribution", "published_at"))
