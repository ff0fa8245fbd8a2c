"""The agreement in the admin: versions in force are read-only; changes are made on a draft
(action "new draft from this version"), each save audited, then put in force."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction

from resolute.accounts.admin_base import RestrictedReadOnlyAdmin
from resolute.errors import ServiceError

from . import services
from .models import AgreementVersion, Finding, Provision, Zone


class _DraftOnly:
    def _editable(self, obj) -> bool:
        version = obj if isinstance(obj, AgreementVersion) else getattr(obj, "version", None)
        return version is None or version.status == AgreementVersion.DRAFT

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and (obj is None or self._editable(obj))

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or self._editable(obj))


class ProvisionInline(_DraftOnly, admin.StackedInline):
    model = Provision
    extra = 0


class ZoneInline(_DraftOnly, admin.StackedInline):
    model = Zone
    extra = 0
    exclude = ("derived",)


@admin.register(AgreementVersion)
class AgreementVersionAdmin(_DraftOnly, admin.ModelAdmin):
    list_display = ("number", "label", "status", "in_force_from", "created_by")
    readonly_fields = ("number", "status", "in_force_from", "content_hash", "origin", "created_by")
    inlines = [ProvisionInline, ZoneInline]
    actions = ["make_draft", "bring_into_force"]

    def has_add_permission(self, request):
        return False  # a version starts from a bundle or as a copy of another

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            services.record_draft_edit(request.user, obj, "version", {k: str(form.cleaned_data.get(k)) for k in form.changed_data})
            super().save_model(request, obj, form, change)

    def save_formset(self, request, form, formset, change):
        with transaction.atomic():
            if formset.has_changed():
                services.record_draft_edit(request.user, form.instance, formset.model._meta.model_name, {"changed": [str(f.instance) for f in formset.forms if f.has_changed()]})
            super().save_formset(request, form, formset, change)

    @admin.action(description="New draft from this version")
    def make_draft(self, request, queryset):
        for v in queryset:
            d = services.new_draft(request.user, v, f"draft from v{v.number}")
            self.message_user(request, f"draft v{d.number} created")

    @admin.action(description="Put the draft in force now")
    def bring_into_force(self, request, queryset):
        for v in queryset:
            try:
                services.put_in_force(request.user, v)
                self.message_user(request, f"v{v.number} is in force")
            except ServiceError as exc:
                self.message_user(request, f"v{v.number}: {exc.detail}", messages.ERROR)


@admin.register(Finding)
class FindingAdmin(RestrictedReadOnlyAdmin):
    list_display = ("id", "incident", "provision", "party", "p_violation", "severity", "exempt", "current")
    list_filter = ("rule_type", "severity", "current", "exempt")
