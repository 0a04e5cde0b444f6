"""Viewer grants: how the console opens a preview for the person signed in, without making
a share link.

Open and Embed in the console ask for a grant (`mint_code`, a console event over the state
socket, so the web guard's Origin rules apply and no other site can ask). A grant is a
short, single-use exchange code bound to that sign-in and to one sandbox port:
`<origin>/.mbox/open?code=...` trades it, within CODE_SECONDS, for the preview origin's
usual host-only `mbox_preview` cookie, which then lasts VIEW_SECONDS (reopening renews it)
and opens that sandbox port only. Nothing is stored: codes and cookies are HMAC-signed
with a key derived from the server's API token (a random per-process key when
authentication is off), so they are never listed with the links, never shown, and not
audited as shares. A grant stops working once its sign-in is signed out (or its token is
revoked) or loses access to the project: checked at the exchange and re-checked every
SIGN_IN_RECHECK_SECONDS while the cookie is used.

Single use is kept in memory (`ViewGrants`, one per app): with several replicas a code
could be traded once on each of them within its minute (each trade still needs the
code, which only the signed-in browser saw).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass, replace

from sqlmodel import Session

from backend.auth import access
from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.auth.service import SignIn, principal_of_sign_in
from backend.db import Database
from backend.errors import InvalidInput, ServiceError, Unauthorized
from backend.sandboxes.previews import preview_origin, tcp_ports
from backend.sandboxes.service import get_sandbox, operable
from backend.settings import Settings

GRANT_PATH = "/.mbox/open"
CODE_SECONDS = 60
VIEW_SECONDS = 15 * 60
SIGN_IN_RECHECK_SECONDS = 2.0
_VERSION = "g1"
_CODE, _VIEW = "c", "v"
_PROCESS_KEY = secrets.token_bytes(32)  # authentication off: valid in this process only


@dataclass(frozen=True)
class Grant:
    """What a code or a view cookie proves (both signed, of kind _CODE or _VIEW)."""

    kind: str
    sandbox_id: uuid.UUID
    port: int
    expires_at: int  # epoch seconds
    nonce: str
    sign_in_id: uuid.UUID | None  # None: authentication is off
    subject: str  # the sign-in's subject ("" with authentication off)
    sign_in_expires_at: int  # epoch seconds (0 with authentication off)

    def sign_in(self) -> SignIn | None:
        if self.sign_in_id is None:
            return None
        return SignIn(self.sign_in_id, self.subject, self.sign_in_expires_at)


def _key(settings: Settings) -> bytes:
    secret = settings.api_token.encode() if settings.api_token else _PROCESS_KEY
    return hmac.new(secret, b"mbox preview viewer grant v1", hashlib.sha256).digest()


def _encode(grant: Grant, settings: Settings) -> str:
    subject = base64.urlsafe_b64encode(grant.subject.encode()).decode().rstrip("=")
    sign_in = grant.sign_in_id.hex if grant.sign_in_id else "-"
    payload = ".".join(
        [
            _VERSION,
            grant.kind,
            grant.sandbox_id.hex,
            str(grant.port),
            str(grant.expires_at),
            grant.nonce,
            sign_in,
            subject or "-",
            str(grant.sign_in_expires_at),
        ]
    )
    signature = hmac.new(_key(settings), payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}.{signature}"


def is_grant(token: str) -> bool:
    return token.startswith(_VERSION + ".")


def decode(token: str, settings: Settings, kind: str) -> Grant | None:
    """The grant a token proves: signed by this server, of `kind`, not expired."""
    if len(token) > 512 or not token.isascii():
        return None
    payload, _, signature = token.rpartition(".")
    expected = hmac.new(_key(settings), payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature, expected):
        return None
    fields = payload.split(".")
    if len(fields) != 9 or fields[0] != _VERSION or fields[1] != kind:
        return None
    _, _, sandbox, port, expires, nonce, sign_in, subject, sign_in_expires = fields
    if int(expires) <= time.time():
        return None
    padded = subject + "=" * (-len(subject) % 4)
    return Grant(
        kind,
        uuid.UUID(hex=sandbox),
        int(port),
        int(expires),
        nonce,
        None if sign_in == "-" else uuid.UUID(hex=sign_in),
        "" if subject == "-" else base64.urlsafe_b64decode(padded).decode(),
        int(sign_in_expires),
    )


def mint_code(
    db: Session,
    *,
    principal: Principal,
    settings: Settings,
    sandbox_id: uuid.UUID,
    port: int,
    sign_in: SignIn | None,
    now: float | None = None,
) -> str:
    """The URL that opens one declared TCP port of the sandbox for this viewer (the
    principal, signed in with `sign_in`): valid once, within CODE_SECONDS of `now`."""
    sandbox = operable(db, principal, sandbox_id)
    if port not in tcp_ports(sandbox):
        raise InvalidInput(f"port {port} is not a declared TCP port of this sandbox")
    if settings.auth_required and sign_in is None:
        raise Unauthorized("sign in to open previews")
    grant = Grant(
        _CODE,
        sandbox.id,
        port,
        int(time.time() if now is None else now) + CODE_SECONDS,
        secrets.token_hex(16),
        sign_in.sign_in_id if sign_in else None,
        sign_in.subject if sign_in else "",
        int(sign_in.expires_at) if sign_in else 0,
    )
    code = _encode(grant, settings)
    return f"{preview_origin(settings, sandbox.id, port)}{GRANT_PATH}?code={code}"


def _viewer(db: Session, grant: Grant, auth_required: bool) -> bool:
    """Whether the grant's sign-in is still live and may still open this sandbox."""
    sign_in = grant.sign_in()
    if sign_in is None:
        return not auth_required
    if sign_in.expires_at <= time.time():
        return False
    principal = principal_of_sign_in(db, sign_in)
    if principal is None:
        return False
    project_id = get_sandbox(db, grant.sandbox_id).project_id
    return access.sees(principal, project_id) and access.can(principal, Permission.OPERATE)


def _viewer_now(db: Session, grant: Grant, auth_required: bool) -> bool:
    try:
        return _viewer(db, grant, auth_required)
    except ServiceError:  # the sandbox is gone
        return False


class ViewGrants:
    """The preview origin's side of viewer grants (one per app): trades codes once for
    view cookies, and checks view cookies with their sign-in re-read at most every
    SIGN_IN_RECHECK_SECONDS."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self._database = database
        self._settings = settings
        self._used: dict[str, int] = {}  # nonce -> when its code expires
        self._checked: dict[Grant, tuple[float, bool]] = {}

    async def exchange(self, code: str, sandbox_id: uuid.UUID, port: int) -> tuple[str, int] | None:
        """(the view cookie's value, its max age) for a genuine, unused, unexpired code of
        this sandbox port whose viewer is still signed in; None otherwise. A code is used
        up by its first try, whatever the outcome."""
        grant = decode(code, self._settings, _CODE)
        if grant is None or (grant.sandbox_id, grant.port) != (sandbox_id, port):
            return None
        now = int(time.time())
        self._used = {nonce: until for nonce, until in self._used.items() if until > now}
        if grant.nonce in self._used:
            return None
        self._used[grant.nonce] = grant.expires_at
        required = self._settings.auth_required
        if not await self._database.call(_viewer_now, grant, required):
            return None
        expires = now + VIEW_SECONDS
        if grant.sign_in_id is not None:
            expires = min(expires, grant.sign_in_expires_at)
        view = replace(grant, kind=_VIEW, expires_at=expires, nonce=secrets.token_hex(8))
        return _encode(view, self._settings), expires - now

    async def allows(self, token: str, sandbox_id: uuid.UUID, port: int) -> bool:
        """Whether a view cookie opens this sandbox port now."""
        grant = decode(token, self._settings, _VIEW)
        if grant is None or (grant.sandbox_id, grant.port) != (sandbox_id, port):
            return False
        now = time.monotonic()
        checked = self._checked.get(grant)
        if checked is None or now - checked[0] > SIGN_IN_RECHECK_SECONDS:
            if len(self._checked) > 10_000:
                self._checked.clear()
            live = await self._database.call(_viewer_now, grant, self._settings.auth_required)
            checked = self._checked[grant] = (now, live)
        return checked[1]
