"""Authentication: who is calling. Authorization and attribution build on the Principal."""

from __future__ import annotations

import hmac

from backend.auth.models import Principal
from backend.settings import Settings

SHARED_TOKEN_SUBJECT = "token:shared"
ANONYMOUS = "anonymous"


def authenticate(settings: Settings, authorization: str | None) -> Principal | None:
    """The principal proven by an `Authorization: Bearer <token>` header, or None.

    With no MBOX_API_TOKEN configured, authentication is off and every caller is anonymous.
    """
    if not settings.api_token:
        return Principal(subject=ANONYMOUS)
    token = bearer_token(authorization)
    if token and hmac.compare_digest(token.encode(), settings.api_token.encode()):
        return Principal(subject=SHARED_TOKEN_SUBJECT)
    return None


def bearer_token(authorization: str | None) -> str:
    if not authorization or not authorization.startswith("Bearer "):
        return ""
    return authorization.removeprefix("Bearer ").strip()
