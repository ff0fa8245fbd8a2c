"""People and device tokens in the admin. Every change goes through the accounts services, so it
is checked and audited exactly like one made from the command line."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from resolute.errors import ServiceError

from . import services
from .models import ApiToken, User
from .roles import Role


class UserForm(forms.ModelForm):
    password = forms.CharField(required=False, widget=forms.PasswordInput, help_text="for a new person, or to set a new password; leave empty to keep")

    class Meta:
        model = User
        fields = ("username", "role", "nation", "clearance", "language", "is_active", "first_name", "last_name", "email")

    def clean_nation(self):
        nation = self.cleaned_data.get("nation", "")
        if nation and not (len(nation) == 3 and nation.isalpha() and nation.isupper()):
            raise forms.ValidationError("ISO 3166 alpha-3 in capitals, e.g. FRA")
        return nation


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    form = UserForm
    list_display = ("username", "role", "nation", "clearance", "language", "is_active", "last_login")
    list_filter = ("role", "nation", "clearance", "is_active")
    search_fields = ("username", "first_name", "last_name", "email")
    actions = ("issue_device_token",)

    def get_readonly_fields(self, request, obj=None):
        return ("username", "last_login", "date_joined") if obj else ()

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if change:
                edits = {k: data[k] for k in services.EDITABLE if k in data}
                saved = services.update_user(request.user, obj, **edits)
            else:
                extra = {k: data[k] for k in ("language", "is_active", "first_name", "last_name", "email")}
                saved = services.create_user(request.user, data["username"], data["role"], nation=data["nation"], clearance=data["clearance"], **extra)
            if data.get("password"):
                services.set_password(request.user, saved, data["password"])
        except ServiceError as e:
            messages.error(request, f"{e.detail}: {e.errors}")
            return
        obj.pk = saved.pk

    def save_related(self, request, form, formsets, change):
        pass  # groups and per-user permissions are not used: roles.py is the one permission table

    def has_delete_permission(self, request, obj=None):
        return False  # people are deactivated, never deleted: the audit log names them

    @admin.action(description="Issue a device token (read and write) — shown once")
    def issue_device_token(self, request, queryset):
        for user in queryset:
            if user.role == Role.PUBLIC:
                continue
            token, secret = services.issue_token(request.user, user, "device (admin)", ("read", "write"))
            messages.warning(request, f"token {token.prefix}… for {user.username} (copy it now, it is not shown again): {secret}")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "scopes", "created_at", "expires_at", "revoked_at")
    list_filter = ("scopes",)
    search_fields = ("user__username", "name", "prefix")
    readonly_fields = ("user", "name", "prefix", "scopes", "created_at", "expires_at", "revoked_at")
    exclude = ("digest", "digest_ha1")
    actions = ("revoke",)

    def has_add_permission(self, request):
        return False  # issued from a person's row (the secret is shown once) or `resolute token issue`

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked_at__isnull=True):
            services.revoke_token(request.user, token.pk)
        messages.success(request, "revoked")
