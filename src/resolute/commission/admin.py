"""The Commission's records in the admin are read-only (steps go through the services, which
apply the state machines, the two-person rule and the vote rules); seats are reference data."""

from django.contrib import admin

from .models import Case, CommissionSeat, Decision, Verification


admin.site.register(CommissionSeat, list_display=("member", "chair", "since"))


class _ReadOnly(admin.ModelAdmin):
    def get_queryset(self, request):
        return self.model.objects.restrict(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.register(Verification, _ReadOnly, list_display=("id", "state", "incident", "received_at", "team", "locked_by"))
admin.site.register(Case, _ReadOnly, list_display=("number", "title", "state", "opened_at"))
admin.site.register(Decision, _ReadOnly, list_display=("id", "case", "breach_class", "attribution", "published_at"))
