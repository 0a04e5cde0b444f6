"""Authentication: who is calling. Authorization and attribution build on the Principal."""

from __future__ import annotations

import hmac
import time

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
    if token_matches(settings, bearer_token(authorization)):
        return Principal(subject=SHARED_TOKEN_SUBJECT)
    return None


def bearer_token(authorization: str | None) -> str:
    if not authorization or not authorization.startswith("Bearer "):
        return ""
    return authorization.removeprefix("Bearer ").strip()


# Console sessions: a signed, expiring cookie set after the user proves the API token.
# Stateless: its key derives from the token, so rotating the token ends every session.
SESSION_COOKIE = "mbox_session"
SESSION_SECONDS = 12 * 3600


def _session_signature(settings: Settings, issued: str) -> str:
    key = hmac.new(settings.api_token.encode(), b"mbox console session v1", "sha256").digest()
    return hmac.new(key, issued.encode(), "sha256").hexdigest()


def issue_console_session(settings: Settings, now: float | None = None) -> str:
    issued = str(int(time.time() if now is None else now))
    return f"v1.{issued}.{_session_signature(settings, issued)}"


def console_session_valid(settings: Settings, cookie: str | None, now: float | None = None) -> bool:
    version, _, rest = (cookie or "").partition(".")
    issued, _, signature = rest.partition(".")
    if version != "v1" or not issued.isdigit():
        return False
    expected = _session_signature(settings, issued)
    age = (time.time() if now is None else now) - int(issued)
    return hmac.compare_digest(signature, expected) and 0 <= age <= SESSION_SECONDS


def token_matches(settings: Settings, token: str) -> bool:
    return bool(settings.api_token) and hmac.compare_digest(
        token.strip().encode(), settings.api_token.encode()
    )
