"""Settings from RESOLUTE_* environment variables, with secure defaults.

Kept apart from settings.py so the CLI can resolve the data directory before Django starts,
and so every setting is listed in one place (docs/operations.md documents each of them).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import unquote, urlparse


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the message names the variable."""


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"RESOLUTE_{name}", default)


def data_dir() -> Path:
    raw = env("DATA_DIR")
    if raw is None and "PYTEST_VERSION" in os.environ:
        # Under pytest, never touch ./resolute-data: use a private temporary directory.
        import tempfile

        os.environ["RESOLUTE_DATA_DIR"] = raw = tempfile.mkdtemp(prefix="resolute-test-")
    return Path(raw or "./resolute-data").expanduser().resolve()


def is_production() -> bool:
    return env("ENV", "development") == "production"


def secret_key(production: bool, directory: Path) -> str:
    """Production takes RESOLUTE_SECRET_KEY and refuses a weak one. Development generates a
    random key once and keeps it in the data directory, so no default key ever exists."""
    key = env("SECRET_KEY")
    if production:
        if not key or len(key) < 50 or len(set(key)) < 5 or key.startswith("django-insecure"):
            raise ConfigError("RESOLUTE_SECRET_KEY must be set to a random string of at least 50 characters in production")
        return key
    if key:
        return key
    path = directory / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        directory.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(64)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key


def allowed_hosts(production: bool) -> list[str]:
    raw = env("ALLOWED_HOSTS")
    hosts = [h.strip() for h in (raw or "").split(",") if h.strip()]
    if production:
        if not hosts or "*" in hosts:
            raise ConfigError("RESOLUTE_ALLOWED_HOSTS must list the served host names (no '*') in production")
        return hosts
    return hosts or ["127.0.0.1", "localhost", "[::1]", "testserver"]


def database(directory: Path) -> dict:
    url = env("DATABASE_URL")
    if not url:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(directory / "resolute.sqlite3"),
            # Keep each server thread's connection: opening one costs ~0.5 ms per request.
            "CONN_MAX_AGE": 600,
            # One writer: IMMEDIATE transactions take the write lock at BEGIN, so concurrent
            # writers queue on busy_timeout instead of failing half-way; WAL lets readers run
            # beside the writer; synchronous=FULL makes an accepted write durable before reply.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
            },
        }
    parts = urlparse(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ConfigError("RESOLUTE_DATABASE_URL must be a postgresql:// URL")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }


def int_setting(name: str, default: int) -> int:
    raw = env(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"RESOLUTE_{name} must be an integer") from None
    if value <= 0:
        raise ConfigError(f"RESOLUTE_{name} must be positive")
    return value


def json_setting(name: str, default: dict) -> dict:
    """A JSON object from RESOLUTE_<name>, merged over the default (so one key can be changed);
    the consumer validates the keys (e.g. DecisionRule.from_mapping) at start-up."""
    import json

    raw = env(name)
    if raw is None:
        return dict(default)
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"RESOLUTE_{name} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ConfigError(f"RESOLUTE_{name} must be a JSON object")
    return {**default, **value}
