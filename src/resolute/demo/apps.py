from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "resolute.demo"
    label = "demo"
    verbose_name = "Demo scenario and its ground truth"
