from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "resolute.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring (element 1)"
