from django.contrib import admin

from .models import CoalitionMember, Incident, Observation, Party, Source

admin.site.register(Party)
admin.site.register(CoalitionMember, list_display=("code", "name", "kind", "european"))
@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    """Sources are provenance: they are never deleted (intake remembers code -> id)."""

    list_display = ("code", "name", "channel", "reliability", "credibility")

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Observation)
class ObservationAdmin(admin.ModelAdmin):
    """Observations are immutable evidence: the admin shows them read-only."""

    list_display = ("id", "observed_from", "channel", "event_type", "count", "source", "classification", "tlp")
    list_filter = ("channel", "event_type", "classification", "tlp")

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return Observation.objects.restrict(request.user)


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    list_display = ("id", "first_seen", "event_type", "status", "confidence", "observation_count")

    def get_queryset(self, request):
        return Incident.objects.restrict(request.user)
