"""Authentication: who is calling. Authorization and attribution build on the Principal."""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass

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


# Console sessions: a signed, expiring cookie set after the user proves a token; it names
# the subject the token proved, so the console can say who is signed in. Stateless: its key
# derives from the server's token, so rotating the token ends every session.
SESSION_COOKIE = "mbox_session"
SESSION_SECONDS = 12 * 3600


@dataclass(frozen=True)
class ConsoleSession:
    subject: str
    expires_at: float


def _session_signature(settings: Settings, payload: str) -> str:
    key = hmac.new(settings.api_token.encode(), b"mbox console session v2", "sha256").digest()
    return hmac.new(key, payload.encode(), "sha256").hexdigest()


def issue_console_session(
    settings: Settings, subject: str = SHARED_TOKEN_SUBJECT, now: float | None = None
) -> str:
    payload = f"{int(time.time() if now is None else now)}.{subject}"
    return f"v2.{payload}.{_session_signature(settings, payload)}"


def console_session(
    settings: Settings, cookie: str | None, now: float | None = None
) -> ConsoleSession | None:
    """The session a cookie proves (signed by this server, not expired), or None."""
    version, _, rest = (cookie or "").partition(".")
    payload, _, signature = rest.rpartition(".")
    issued, _, subject = payload.partition(".")
    if version != "v2" or not issued.isdigit() or not subject or not settings.api_token:
        return None
    if not hmac.compare_digest(signature, _session_signature(settings, payload)):
        return None
    age = (time.time() if now is None else now) - int(issued)
    if not 0 <= age <= SESSION_SECONDS:
        return None
    return ConsoleSession(subject, int(issued) + SESSION_SECONDS)


def console_session_valid(settings: Settings, cookie: str | None, now: float | None = None) -> bool:
    return console_session(settings, cookie, now) is not None


def describe_subject(subject: str) -> str:
    """Who a subject is, in words for the console."""
    if subject == SHARED_TOKEN_SUBJECT:
        return "the shared API token"
    if subject == ANONYMOUS:
        return "nobody (authentication is off)"
    return subject


def token_matches(settings: Settings, token: str) -> bool:
    return bool(settings.api_token) and hmac.compare_digest(
        token.strip().encode(), settings.api_token.encode()
    )
