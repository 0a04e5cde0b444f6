"""Authentication: who is calling. Authorization and attribution build on the Principal."""

from __future__ import annotations

import contextlib
import hmac
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, delete

from backend.auth.models import Principal, SignInRevocationRow
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


# Console sign-ins: a signed, expiring cookie set after the user proves a token; it names
# the subject the token proved and a random sign-in id. Its key derives from the server's
# token, so rotating the token ends every sign-in; signing out records the sign-in id as
# revoked in the database, so every replica refuses the cookie from then on. (Not a
# runtime session, backend/sessions/, nor a database session.)
# The cookie names keep their old "session" wording for compatibility: renaming the
# cookie would sign everyone out.
SIGN_IN_COOKIE = "mbox_session"
SECURE_SIGN_IN_COOKIE = "__Host-mbox_session"  # Secure, Path=/, no Domain: this host only
SIGN_IN_SECONDS = 12 * 3600


@dataclass(frozen=True)
class SignIn:
    sign_in_id: uuid.UUID
    subject: str
    expires_at: float


def sign_in_cookie_name(secure: bool) -> str:
    return SECURE_SIGN_IN_COOKIE if secure else SIGN_IN_COOKIE


def _sign_in_signature(settings: Settings, payload: str) -> str:
    # The key label keeps its old wording: changing it would refuse every issued cookie.
    key = hmac.new(settings.api_token.encode(), b"mbox console session v3", "sha256").digest()
    return hmac.new(key, payload.encode(), "sha256").hexdigest()


def issue_sign_in(
    settings: Settings, subject: str = SHARED_TOKEN_SUBJECT, now: float | None = None
) -> str:
    """A new sign-in cookie value for `subject`."""
    issued = int(time.time() if now is None else now)
    payload = f"{issued}.{uuid.uuid4().hex}.{subject}"
    return f"v3.{payload}.{_sign_in_signature(settings, payload)}"


def sign_in_from_cookie(
    settings: Settings, cookie: str | None, now: float | None = None
) -> SignIn | None:
    """The sign-in a cookie proves (signed by this server, not expired), or None. Whether
    it was revoked is a database question: see `sign_in_revoked`."""
    version, _, rest = (cookie or "").partition(".")
    payload, _, signature = rest.rpartition(".")
    issued, _, rest = payload.partition(".")
    sign_in_id, _, subject = rest.partition(".")
    if version != "v3" or not issued.isdigit() or not subject or not settings.api_token:
        return None
    if not hmac.compare_digest(signature, _sign_in_signature(settings, payload)):
        return None
    age = (time.time() if now is None else now) - int(issued)
    if not 0 <= age <= SIGN_IN_SECONDS:
        return None
    return SignIn(uuid.UUID(hex=sign_in_id), subject, int(issued) + SIGN_IN_SECONDS)


def sign_in_valid(settings: Settings, cookie: str | None, now: float | None = None) -> bool:
    return sign_in_from_cookie(settings, cookie, now) is not None


def sign_in_revoked(db: Session, sign_in_id: uuid.UUID) -> bool:
    return db.get(SignInRevocationRow, sign_in_id) is not None


def revoke_sign_in(db: Session, *, sign_in: SignIn) -> None:
    """Sign-out: the sign-in is refused everywhere from now on. Rows of sign-ins that have
    expired anyway are dropped on the way (the cookie's signature refuses those)."""
    now = utcnow()
    db.exec(delete(SignInRevocationRow).where(SignInRevocationRow.expires_at < now))
    if db.get(SignInRevocationRow, sign_in.sign_in_id) is None:
        expires_at = datetime.fromtimestamp(sign_in.expires_at, UTC)
        db.add(SignInRevocationRow(session_id=sign_in.sign_in_id, expires_at=expires_at))
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
