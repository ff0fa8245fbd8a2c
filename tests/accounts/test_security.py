"""Secure by default: production refuses unsafe settings, passwords use Argon2, tokens are
stored hashed, and `check --deploy` is clean in production mode."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from resolute.accounts.models import ApiToken

GOOD_KEY = "k" * 20 + "Zq8!xT0pLm4#Vb7nR2sW9yE5uI3oA6dF"


def _run(env_over: dict, code: str = "import django; django.setup(); print('started')", tmp_path=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESOLUTE_")}
    env.update({"DJANGO_SETTINGS_MODULE": "resolute.web.settings", "RESOLUTE_DATA_DIR": str(tmp_path), **env_over})
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_production_refuses_a_missing_secret_key(tmp_path):
    r = _run({"RESOLUTE_ENV": "production", "RESOLUTE_ALLOWED_HOSTS": "resolute.example.org"}, tmp_path=tmp_path)
    assert r.returncode != 0 and "RESOLUTE_SECRET_KEY" in r.stderr


def test_production_refuses_an_open_host_list(tmp_path):
    for hosts in ("", "*", "a.example.org,*"):
        r = _run({"RESOLUTE_ENV": "production", "RESOLUTE_SECRET_KEY": GOOD_KEY, "RESOLUTE_ALLOWED_HOSTS": hosts}, tmp_path=tmp_path)
        assert r.returncode != 0 and "RESOLUTE_ALLOWED_HOSTS" in r.stderr, hosts


def test_production_refuses_a_django_insecure_key(tmp_path):
    r = _run({"RESOLUTE_ENV": "production", "RESOLUTE_SECRET_KEY": "django-insecure-" + GOOD_KEY, "RESOLUTE_ALLOWED_HOSTS": "a.example.org"}, tmp_path=tmp_path)
    assert r.returncode != 0


def test_check_deploy_is_clean_in_production(tmp_path):
    env = {"RESOLUTE_ENV": "production", "RESOLUTE_SECRET_KEY": GOOD_KEY, "RESOLUTE_ALLOWED_HOSTS": "resolute.example.org"}
    code = "import sys; from django.core.management import execute_from_command_line; execute_from_command_line(['m', 'check', '--deploy', '--fail-level', 'WARNING'])"
    r = _run(env, code, tmp_path=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no issues" in r.stdout


def test_development_generates_its_own_secret_key(tmp_path):
    r = _run({}, "from django.conf import settings; print(settings.SECRET_KEY)", tmp_path=tmp_path)
    key = r.stdout.strip()
    assert len(key) >= 50 and (tmp_path / "secret_key").read_text() == key
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_passwords_are_hashed_with_argon2():
    from resolute.web import settings as configured

    assert configured.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")


@pytest.mark.django_db
def test_token_secrets_are_never_stored(users):
    from resolute.accounts.services import issue_token

    token, secret = issue_token("test", users["monitor"], "device", ("write",))
    row = ApiToken.objects.filter(pk=token.pk).values().get()
    assert secret not in str(row) and secret[:10] == row["prefix"]


@pytest.mark.django_db
def test_user_creation_is_audited(users):
    from resolute.audit.models import AuditEntry

    assert AuditEntry.objects.filter(action="user.create").count() == len(users)


@pytest.mark.django_db
def test_expired_tokens_and_inactive_users_are_refused(users):
    import datetime as dt

    from django.utils import timezone

    from resolute.accounts.services import authenticate_token, issue_token

    _, old = issue_token("test", users["monitor"], "old", ("read",), expires_at=timezone.now() - dt.timedelta(seconds=1))
    _, fresh = issue_token("test", users["monitor"], "new", ("read",), expires_at=timezone.now() + dt.timedelta(hours=1))
    assert authenticate_token(old) is None
    who = authenticate_token(fresh)
    assert who.pk == users["monitor"].pk and who.role == "monitor" and who.nation == "FRA" and who.token_scopes == ("read",)
    users["monitor"].is_active = False
    users["monitor"].save()
    assert authenticate_token(fresh) is None
