from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "resolute.audit"
    label = "audit"
    verbose_name = "Audit log"
