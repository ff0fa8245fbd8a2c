from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from resolute.core.markings import Classification

from .roles import Role

nation_code = RegexValidator(r"^[A-Z]{3}$", "an ISO 3166 alpha-3 code in capitals, e.g. FRA")


class User(AbstractUser):
    """A person. Role says what kinds of record they work with; clearance and nation say which
    records they may read (markings)."""

    role = models.CharField(max_length=32, choices=Role.choices, default=Role.PUBLIC)
    nation = models.CharField(max_length=3, blank=True, validators=[nation_code], help_text="ISO 3166 alpha-3")
    clearance = models.PositiveSmallIntegerField(
        choices=[(c.value, c.name) for c in Classification], default=Classification.PUBLIC
    )
    language = models.CharField(max_length=8, default="en", choices=[("en", "English"), ("fr", "Français"), ("uk", "Українська")])


class ApiToken(models.Model):
    """A machine or device credential. Only a SHA-256 digest of the secret is stored: the
    secret is shown once at creation. Tokens are scoped (read, write) and revocable."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="first characters, to recognise a token in lists")
    digest = models.CharField(max_length=64, unique=True)
    # HA1 = MD5(username:realm:secret) of HTTP Digest (RFC 7616), written at issuance for the
    # OpenRosa endpoints. Tokens issued before this field existed have none and authenticate
    # with Basic only (the secret is not kept, so HA1 cannot be derived later).
    digest_ha1 = models.CharField(max_length=32, null=True, blank=True, editable=False)
    scopes = models.CharField(max_length=100, default="read")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"


class DigestNonceUse(models.Model):
    """One (nonce, nonce-count) pair an HTTP Digest client has authenticated with, kept until
    the nonce can no longer be accepted: a second request with the same pair is a replay and is
    refused by every process (the unique constraint decides, not an in-memory cache)."""

    nonce = models.CharField(max_length=100)
    nc = models.BigIntegerField(help_text="nonce-count, 1..2^32-1")
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["nonce", "nc"], name="digest_nonce_use_once")]
