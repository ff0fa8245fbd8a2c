"""Account use cases: users, roles, clearances, API tokens. Each audited."""

from __future__ import annotations

import hashlib
import secrets

from django.db import connection, transaction
from django.utils import timezone

from resolute.audit import services as audit
from resolute.core.markings import Classification
from resolute.errors import Forbidden, InvalidInput, NotFound

from . import roles
from .models import ApiToken, User

TOKEN_PREFIX = "rsl_"


def _digest(secret: str) -> str:
    # Tokens carry 256 bits of randomness, so a plain SHA-256 (not a slow password hash) is
    # enough and keeps per-request authentication cheap.
    return hashlib.sha256(secret.encode()).hexdigest()


def create_user(actor, username: str, role: str, nation: str = "", clearance: int = 0, password: str | None = None, **extra) -> User:
    if role not in roles.Role.values:
        raise InvalidInput("unknown role", [{"field": "role", "message": f"one of {', '.join(roles.Role.values)}"}])
    if nation and not (len(nation) == 3 and nation.isalpha() and nation.isupper()):
        raise InvalidInput("bad nation", [{"field": "nation", "message": "ISO 3166 alpha-3 in capitals"}])
    with transaction.atomic():
        user = User(username=username, role=role, nation=nation, clearance=int(Classification(clearance)), **extra)
        if role == roles.Role.ADMINISTRATOR:
            user.is_staff = user.is_superuser = True
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
        audit.record(actor, "user.create", "user", user.pk, after={"username": username, "role": role, "nation": nation, "clearance": user.clearance})
    return user


def set_password(actor, user: User, password: str) -> None:
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit.record(actor, "user.set_password", "user", user.pk)


def issue_token(actor, user: User, name: str, scopes: tuple[str, ...] = ("read",), expires_at=None) -> tuple[ApiToken, str]:
    """Create a token for `user`; returns (token, secret). The secret is shown once, never stored."""
    bad = [s for s in scopes if s not in roles.SCOPES]
    if bad or not scopes:
        raise InvalidInput("unknown scope", [{"field": "scopes", "message": f"choose from {', '.join(roles.SCOPES)}"}])
    if actor is not None and not isinstance(actor, str) and actor != user and not roles.allows(actor, roles.CHANGE, "user"):
        raise Forbidden("only administrators issue tokens for other users")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(user=user, name=name, prefix=secret[:10], digest=_digest(secret), scopes=" ".join(scopes), expires_at=expires_at)
        audit.record(actor, "token.issue", "api_token", token.pk, after={"user": user.username, "name": name, "scopes": list(scopes)})
    return token, secret


def revoke_token(actor, token_id: int) -> None:
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(pk=token_id, revoked_at__isnull=True).first()
        if token is None:
            raise NotFound("no such active token")
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(actor, "token.revoke", "api_token", token.pk)


# In the model's field order, which Model.from_db requires for a partial row.
_USER_FIELDS = tuple(
    f.attname for f in User._meta.concrete_fields
    if f.attname in {"id", "username", "role", "nation", "clearance", "is_active", "is_staff", "is_superuser", "language"}
)  # fmt: skip


def authenticate_token(secret: str) -> User | None:
    """The user behind a token, with the token's scopes attached, or None.

    One raw SQL statement: this runs on every machine request, and the ORM's query compilation
    cost more than the query. The user comes back through `User.from_db` with only the fields
    authorisation needs loaded; the rest are deferred (loaded on access, never overwritten)."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    qn = connection.ops.quote_name
    cols = ", ".join(f"u.{qn(User._meta.get_field(f).column)}" for f in _USER_FIELDS)
    sql = (
        f"SELECT t.{qn('scopes')}, {cols} FROM {qn(ApiToken._meta.db_table)} t "
        f"JOIN {qn(User._meta.db_table)} u ON u.{qn('id')} = t.{qn('user_id')} "
        f"WHERE t.{qn('digest')} = %s AND t.{qn('revoked_at')} IS NULL "
        f"AND (t.{qn('expires_at')} IS NULL OR t.{qn('expires_at')} > %s)"
    )
    with connection.cursor() as cur:
        cur.execute(sql, [_digest(secret), connection.ops.adapt_datetimefield_value(timezone.now())])
        row = cur.fetchone()
    if row is None:
        return None
    values = [bool(v) if f.startswith("is_") else v for f, v in zip(_USER_FIELDS, row[1:])]
    if not values[_USER_FIELDS.index("is_active")]:
        return None
    user = User.from_db(connection.alias, list(_USER_FIELDS), values)
    user.token_scopes = tuple(row[0].split())
    return user
