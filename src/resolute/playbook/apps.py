from django.apps import AppConfig


class PlaybookConfig(AppConfig):
    name = "resolute.playbook"
    label = "playbook"
    verbose_name = "Attack-response playbook (element 4)"

    def ready(self) -> None:
        # Take armed-attack activations as soon as the Commission's decision commits.
        from . import signals  # noqa: F401
