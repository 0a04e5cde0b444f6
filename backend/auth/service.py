"""Authentication: who is calling. Authorization and attribution build on the Principal."""

from __future__ import annotations

import contextlib
import hmac
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, delete

from backend.auth.models import ConsoleSessionRevocationRow, Principal
from backend.db import commit, utcnow
from backend.errors import Conflict
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
# the subject the token proved and a random session id. Its key derives from the server's
# token, so rotating the token ends every session; signing out records the session id as
# revoked in the database, so every replica refuses the cookie from then on.
SESSION_COOKIE = "mbox_session"
SECURE_SESSION_COOKIE = "__Host-mbox_session"  # Secure, Path=/, no Domain: this host only
SESSION_SECONDS = 12 * 3600


@dataclass(frozen=True)
class ConsoleSession:
    session_id: uuid.UUID
    subject: str
    expires_at: float


def session_cookie_name(secure: bool) -> str:
    return SECURE_SESSION_COOKIE if secure else SESSION_COOKIE


def _session_signature(settings: Settings, payload: str) -> str:
    key = hmac.new(settings.api_token.encode(), b"mbox console session v3", "sha256").digest()
    return hmac.new(key, payload.encode(), "sha256").hexdigest()


def issue_console_session(
    settings: Settings, subject: str = SHARED_TOKEN_SUBJECT, now: float | None = None
) -> str:
    issued = int(time.time() if now is None else now)
    payload = f"{issued}.{uuid.uuid4().hex}.{subject}"
    return f"v3.{payload}.{_session_signature(settings, payload)}"


def console_session(
    settings: Settings, cookie: str | None, now: float | None = None
) -> ConsoleSession | None:
    """The session a cookie proves (signed by this server, not expired), or None. Whether
    it was revoked is a database question: see `session_revoked`."""
    version, _, rest = (cookie or "").partition(".")
    payload, _, signature = rest.rpartition(".")
    issued, _, rest = payload.partition(".")
    session_id, _, subject = rest.partition(".")
    if version != "v3" or not issued.isdigit() or not subject or not settings.api_token:
        return None
    if not hmac.compare_digest(signature, _session_signature(settings, payload)):
        return None
    age = (time.time() if now is None else now) - int(issued)
    if not 0 <= age <= SESSION_SECONDS:
        return None
    return ConsoleSession(uuid.UUID(hex=session_id), subject, int(issued) + SESSION_SECONDS)


def console_session_valid(settings: Settings, cookie: str | None, now: float | None = None) -> bool:
    return console_session(settings, cookie, now) is not None


def session_revoked(db: Session, session_id: uuid.UUID) -> bool:
    return db.get(ConsoleSessionRevocationRow, session_id) is not None


def revoke_console_session(db: Session, *, session: ConsoleSession) -> None:
    """Sign-out: the session is refused everywhere from now on. Rows of sessions that have
    expired anyway are dropped on the way (the cookie's signature refuses those)."""
    now = utcnow()
    db.exec(delete(ConsoleSessionRevocationRow).where(ConsoleSessionRevocationRow.expires_at < now))
    if db.get(ConsoleSessionRevocationRow, session.session_id) is None:
        expires_at = datetime.fromtimestamp(session.expires_at, UTC)
        db.add(ConsoleSessionRevocationRow(session_id=session.session_id, expires_at=expires_at))
    with contextlib.suppress(Conflict):  # another replica recorded the same sign-out
        commit(db)


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
