from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "resolute.web"
    label = "web"
