"""Shared fixtures: a user per role, tokens, a registered source, and an observation factory."""

from __future__ import annotations

import copy
import datetime as dt
import uuid

import pytest

from resolute.core.markings import Classification

# (role, nation, clearance) for the access-matrix users.
ROLE_USERS = {
    "administrator": ("USA", Classification.SECRET),
    "monitor": ("FRA", Classification.RESTRICTED),
    "analyst": ("POL", Classification.CONFIDENTIAL),
    "commissioner": ("GBR", Classification.SECRET),
    "chair": ("USA", Classification.SECRET),
    "delegate": ("DEU", Classification.CONFIDENTIAL),
    "ledger_officer": ("NLD", Classification.RESTRICTED),
    "public": ("", Classification.PUBLIC),
}


@pytest.fixture
def users(db):
    from resolute.accounts import services

    return {
        role: services.create_user("test", f"{role}-user", role, nation=nation, clearance=clearance, password="correct horse battery 9")
        for role, (nation, clearance) in ROLE_USERS.items()
    }


@pytest.fixture
def tokens(users):
    from resolute.accounts import services

    return {role: services.issue_token("test", u, "t", ("read", "write"))[1] for role, u in users.items()}


@pytest.fixture
def source(db):
    from resolute.monitoring import services

    return services.register_source("test", "OP-UKR-01", "Observation post 1", "observation_post", "B", 2, "FRA")


def observation(**over) -> dict:
    """A valid observation payload: the API documentation's example with a fresh client_id and a
    recent window (observed 2 hours ago); keyword arguments replace top-level fields."""
    from resolute.monitoring.schemas import OBSERVATION_EXAMPLE

    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    p = copy.deepcopy(OBSERVATION_EXAMPLE)
    p.update(
        client_id=str(uuid.uuid4()),
        observed_from=(now - dt.timedelta(hours=2)).isoformat(),
        observed_to=(now - dt.timedelta(hours=1, minutes=50)).isoformat(),
    )
    p.update(over)
    return p


@pytest.fixture
def make_observation():
    return observation


@pytest.fixture
def api(client):
    """Django test client with JSON helpers and bearer tokens."""

    class Api:
        def __init__(self, c):
            self.c = c

        def _h(self, token):
            return {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

        def get(self, path, token=None, **params):
            return self.c.get(path, params, **self._h(token))

        def post(self, path, body, token=None, content_type="application/json"):
            import json

            data = body if isinstance(body, (str, bytes)) else json.dumps(body)
            return self.c.post(path, data, content_type=content_type, **self._h(token))

    return Api(client)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Argon2 is deliberately slow; tests create many users. Production keeps Argon2
    # (tests/accounts/test_security.py checks the configured hasher).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _forget_source_ids():
    # Tests roll back sources the intake's per-process cache may remember; in production
    # sources are never deleted and ids never reused (AUTOINCREMENT / sequences).
    from resolute.monitoring import services

    services._SOURCE_IDS.clear()
    yield
    services._SOURCE_IDS.clear()


@pytest.fixture(autouse=True)
def _no_background_fusion(settings):
    # The background fusion thread would use its own database connection, which under
    # pytest-django's per-test transaction cannot see the test's rows; tests that exercise it
    # enable it explicitly with a transactional database.
    settings.FUSION_ON_INTAKE = False
