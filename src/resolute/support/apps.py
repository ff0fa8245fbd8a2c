from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "resolute.support"
    label = "support"
    verbose_name = "Support ledger (elements 2 and 5)"
