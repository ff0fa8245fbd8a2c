"""How the API learns who is calling: a bearer token (machines, devices), a session with CSRF
(the web pages), or nobody (the public, for reads only)."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from ninja.errors import AuthenticationError
from ninja.security import HttpBearer, SessionAuth

from resolute.accounts.services import authenticate_token

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class BearerToken(HttpBearer):
    def authenticate(self, request, token):
        user = authenticate_token(token)
        if user is None:
            # A presented but bad token must not fall back to anonymous access.
            raise AuthenticationError()
        return user


class Session(SessionAuth):
    """The web pages' session. CSRF is checked only when there is a signed-in session: a request
    with no session is not a CSRF risk and must get 401, not a misleading 403."""

    def _get_key(self, request):
        if not getattr(request, "user", None) or not request.user.is_authenticated:
            return None
        return super()._get_key(request)


def public_reader(request):
    """Anyone may read what is marked for the public; writes need an identity."""
    return AnonymousUser() if request.method in SAFE_METHODS else None


AUTH = [BearerToken(), Session(csrf=True), public_reader]
