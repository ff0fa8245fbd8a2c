from django.apps import AppConfig


class AgreementConfig(AppConfig):
    name = "resolute.agreement"
    label = "agreement"
    verbose_name = "The agreement (provisions, zones, findings)"

    def ready(self) -> None:
        # Judge incidents against the agreement whenever fusion changes them (signals.py).
        from . import signals  # noqa: F401
