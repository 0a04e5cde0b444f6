"""Authentication: who is calling. Authorization and attribution build on the Principal."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, delete, select

from backend.auth.access import Role
from backend.auth.models import ApiTokenRow, Principal, SignInRevocationRow, token_status
from backend.db import commit, utcnow
from backend.errors import Conflict, NotFound
from backend.settings import Settings

SHARED_TOKEN_SUBJECT = "token:shared"
ANONYMOUS = "anonymous"


SHARED = Principal(subject=SHARED_TOKEN_SUBJECT, role=Role.ADMIN)
NOBODY = Principal(subject=ANONYMOUS, role=Role.ADMIN)


def authenticate(settings: Settings, authorization: str | None) -> Principal | None:
    """The principal an `Authorization: Bearer <token>` header proves without the
    database: everyone (anonymous, as admin) when MBOX_API_TOKEN is not set, the shared
    admin token. None: a named token to look up (`principal_of_token`), or no principal."""
    if not settings.api_token:
        return NOBODY
    if token_matches(settings, bearer_token(authorization)):
        return SHARED
    return None


def principal_of_secret(db: Session, settings: Settings, token: str) -> Principal | None:
    """Who a token typed into the sign-in form proves: the shared admin token or a named
    one (None: neither)."""
    if token_matches(settings, token):
        return SHARED
    return principal_of_token(db, token.strip())


def is_named_token(token: str) -> bool:
    return token.startswith(TOKEN_PREFIX) and len(token) <= 128


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


def console_principal(principal: Principal) -> Principal:
    """The principal as the console acts for it: its name as the actor, source console."""
    return principal.with_labels(actor=principal.subject, source="console")


def sign_in_subject(principal: Principal) -> str:
    """What a sign-in cookie names: the shared token, or the named token signed in with
    (so that revoking the token ends the sign-in)."""
    if principal.token_id is None:
        return principal.subject
    return f"token:{principal.token_id}"


def principal_of_sign_in(db: Session, sign_in: SignIn) -> Principal | None:
    """Who a (signed, unexpired) sign-in acts as now: None once it was signed out or its
    token was revoked or expired since."""
    if sign_in_revoked(db, sign_in.sign_in_id):
        return None
    if sign_in.subject == SHARED_TOKEN_SUBJECT:
        return SHARED
    try:
        token_id = uuid.UUID(sign_in.subject.removeprefix("token:"))
    except ValueError:
        return None
    row = db.get(ApiTokenRow, token_id)
    return principal_of_row(db, row) if row is not None else None


def token_matches(settings: Settings, token: str) -> bool:
    return bool(settings.api_token) and hmac.compare_digest(
        token.strip().encode(), settings.api_token.encode()
    )


# -- named API tokens ----------------------------------------------------------------------

TOKEN_PREFIX = "mbx_"
PREFIX_SHOWN = 12  # characters of a token kept for display ("mbx_" and 8 more)
LAST_USED_EVERY = timedelta(seconds=60)  # last-use times are this precise (fewer writes)


def hash_token(token: str) -> str:
    """Tokens are 256 random bits: a plain SHA-256 is enough (no password stretching)."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_active(db: Session, token_id: uuid.UUID) -> bool:
    row = db.get(ApiTokenRow, token_id)
    return row is not None and token_status(row) == "active"


def principal_of_token(db: Session, token: str) -> Principal | None:
    """The principal a named token proves (None: unknown, revoked or expired)."""
    if not is_named_token(token):
        return None
    row = db.exec(select(ApiTokenRow).where(ApiTokenRow.token_hash == hash_token(token))).first()
    return principal_of_row(db, row) if row is not None else None


def principal_of_row(db: Session, row: ApiTokenRow) -> Principal | None:
    """The principal a named token's row stands for now (None: revoked or expired)."""
    now = utcnow()
    if token_status(row, now) != "active":
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        row.last_used_at = now
        with contextlib.suppress(Conflict, NotFound):
            commit(db)
    projects = None
    if row.project_ids is not None:
        projects = frozenset(uuid.UUID(value) for value in row.project_ids)
    return Principal(subject=row.principal, role=row.role, projects=projects, token_id=row.id)
