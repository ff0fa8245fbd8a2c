"""Account use cases: users, roles, clearances, API tokens. Each audited."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from resolute.audit import services as audit
from resolute.core.markings import Classification
from resolute.errors import Forbidden, InvalidInput, NotFound

from . import roles
from .models import ApiToken, DigestNonceUse, User

TOKEN_PREFIX = "rsl_"
# The HTTP Digest realm of the OpenRosa endpoints. It is part of every stored HA1: changing it
# (or renaming a user) leaves existing tokens usable with Basic only.
DIGEST_REALM = "Resolute OpenRosa"


def _digest(secret: str) -> str:
    # Tokens carry 256 bits of randomness, so a plain SHA-256 (not a slow password hash) is
    # enough and keeps per-request authentication cheap.
    return hashlib.sha256(secret.encode()).hexdigest()


def digest_ha1(username: str, secret: str, realm: str = DIGEST_REALM) -> str:
    """HA1 of HTTP Digest with algorithm MD5 (RFC 7616 §3.4.2): MD5(username:realm:secret), hex.

    MD5 is what ODK Collect and every Digest client speak. Its weaknesses (collisions, speed)
    do not matter here: the secret is a random 256-bit token, so recovering it from a stolen
    HA1 means a preimage search over 2^256 candidates, out of reach however fast MD5 is. A
    stolen HA1 does let its holder answer Digest challenges for that token, as a stolen SHA-256
    digest would not allow Basic; that is why HA1 is kept per token, revoked with it."""
    return hashlib.md5(f"{username}:{realm}:{secret}".encode()).hexdigest()


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
        token = ApiToken.objects.create(
            user=user, name=name, prefix=secret[:10], digest=_digest(secret), digest_ha1=digest_ha1(user.username, secret),
            scopes=" ".join(scopes), expires_at=expires_at,
        )  # fmt: skip
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


def authenticate_digest(username: str, matches: Callable[[str], bool]) -> User | None:
    """The user `username` if one of their live tokens (not revoked, not expired, user active)
    has an HA1 for which `matches(ha1)` holds, with that token's scopes attached; else None.

    The caller owns the HTTP Digest exchange and computes the expected response from each
    candidate HA1 (compared in constant time). Tokens without an HA1 (issued before Digest
    existed) are not candidates: they work with Basic only."""
    now = timezone.now()
    rows = (
        ApiToken.objects.filter(user__username=username, user__is_active=True, revoked_at__isnull=True, digest_ha1__isnull=False)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .values_list("digest_ha1", "scopes", "user_id")
    )
    for ha1, scopes, user_id in rows:
        if matches(ha1):
            user = User.objects.get(pk=user_id)
            user.token_scopes = tuple(scopes.split())
            return user
    return None


def use_digest_nonce(nonce: str, nc: int, expires_at: dt.datetime) -> bool:
    """Record that an authenticated Digest request used (nonce, nc); False if that pair was used
    before (a replay). The pair is kept until `expires_at`, when the nonce itself stops being
    accepted. The database's unique constraint decides, so it holds across processes, and
    pairs may arrive out of order (a client's parallel requests): only an exact repeat fails.

    Not audited: this is a replay filter, like a session store, written on every Digest
    request; an audit entry per device request would bury the log's real events."""
    try:
        with transaction.atomic():
            DigestNonceUse.objects.create(nonce=nonce, nc=nc, expires_at=expires_at)
    except IntegrityError:
        return False
    if nc == 1:
        # Once per nonce, the first time a client uses it: forget pairs of expired nonces.
        DigestNonceUse.objects.filter(expires_at__lt=timezone.now()).delete()
    return True


def set_language(actor, user: User, language: str) -> None:
    """A person's interface language, used on every device they sign in from."""
    from django.conf import settings

    if language not in dict(settings.LANGUAGES):
        raise InvalidInput("unknown language", [{"field": "language", "message": f"one of {', '.join(dict(settings.LANGUAGES))}"}])
    if user.language == language:
        return
    with transaction.atomic():
        before = user.language
        User.objects.filter(pk=user.pk).update(language=language)
        user.language = language
        audit.record(actor, "user.set_language", "user", user.pk, before={"language": before}, after={"language": language})


#: What an administrator may change on a person (not the username: the audit log names people by it).
EDITABLE = ("role", "nation", "clearance", "language", "is_active", "first_name", "last_name", "email")


def update_user(actor, user: User, **changes) -> User:
    """Change a person's role, nation, clearance, language or whether they may sign in; audited
    with the values before and after. Administrators are staff; nobody else is."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise InvalidInput("not editable", [{"field": k, "message": "cannot be changed here"} for k in sorted(unknown)])
    if "role" in changes and changes["role"] not in roles.Role.values:
        raise InvalidInput("unknown role", [{"field": "role", "message": f"one of {', '.join(roles.Role.values)}"}])
    nation = changes.get("nation")
    if nation and not (len(nation) == 3 and nation.isalpha() and nation.isupper()):
        raise InvalidInput("bad nation", [{"field": "nation", "message": "ISO 3166 alpha-3 in capitals"}])
    if "clearance" in changes:
        changes["clearance"] = int(Classification(int(changes["clearance"])))
    with transaction.atomic():
        current = User.objects.select_for_update().get(pk=user.pk)
        before = {k: getattr(current, k) for k in changes}
        after = {k: v for k, v in changes.items() if before[k] != v}
        if not after:
            return current
        for k, v in after.items():
            setattr(current, k, v)
        current.is_staff = current.is_superuser = current.role == roles.Role.ADMINISTRATOR
        current.save()
        audit.record(actor, "user.update", "user", current.pk, before={k: before[k] for k in after}, after=after)
    return current
