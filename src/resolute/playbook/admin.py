"""The playbook in the admin, read-only: instruments, packages and tasks change through the
services, each step audited."""

from django.contrib import admin

from resolute.accounts.admin_base import RestrictedReadOnlyAdmin

from .models import Activation, Instrument, ResponsePackage, ResponseTask

admin.site.register(Instrument, RestrictedReadOnlyAdmin, list_display=("name", "kind", "binding", "valid_from", "valid_to", "trigger"))
admin.site.register(ResponsePackage, RestrictedReadOnlyAdmin, list_display=("id", "instrument", "member", "domain", "value_eur", "national_step"))
admin.site.register(Activation, RestrictedReadOnlyAdmin, list_display=("id", "event", "started_at", "breach_class", "attribution"))
admin.site.register(ResponseTask, RestrictedReadOnlyAdmin, list_display=("key", "activation", "member", "due_at", "status", "escalated_at"))
