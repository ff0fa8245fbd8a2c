from django.apps import AppConfig


class CommissionConfig(AppConfig):
    name = "resolute.commission"
    label = "commission"
    verbose_name = "Verification and the Special Commission"
