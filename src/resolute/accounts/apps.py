from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "resolute.accounts"
    label = "accounts"
    verbose_name = "Accounts and access"
