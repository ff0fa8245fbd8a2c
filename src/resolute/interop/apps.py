from django.apps import AppConfig


class InteropConfig(AppConfig):
    name = "resolute.interop"
    label = "interop"
    verbose_name = "Interoperability (TAK, imports, exports)"
