from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "resolute.reports"
    label = "reports"
    verbose_name = "Daily and weekly reports"
