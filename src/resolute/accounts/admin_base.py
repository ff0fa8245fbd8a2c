"""Admin bases: records that are evidence or history are read-only in the admin (their changes
go through services), and marked records are listed through the one restriction mechanism."""

from __future__ import annotations

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RestrictedReadOnlyAdmin(ReadOnlyAdmin):
    def get_queryset(self, request):
        return self.model.objects.restrict(request.user)
