from django.apps import AppConfig


class ForcesConfig(AppConfig):
    name = "resolute.forces"
    label = "forces"
    verbose_name = "Multinational Force Ukraine (element 3)"
