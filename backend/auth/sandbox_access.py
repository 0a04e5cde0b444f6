"""Sandbox access tokens: what E2B's SDK sends to envd (`X-Access-Token`).

A token is minted for one caller and one sandbox, each time that caller creates, connects
to or reads the sandbox. It names the caller's credential (a named token's id, the shared
token, or nobody with authentication off) and is signed with a key derived from the
server's token, so every replica accepts it without storing anything. Using it acts as
that caller, checked again on every use: a revoked or expired named token, or a rotated
shared token, refuses every access token minted for it. A sandbox reader never receives a
token stronger than their own.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

from sqlmodel import Session

from backend.auth.models import ApiTokenRow, Principal
from backend.auth.service import ANONYMOUS, NOBODY, SHARED, SHARED_TOKEN_SUBJECT, principal_of_row
from backend.settings import Settings

PREFIX = "mbxs_"
_PROCESS_KEY = secrets.token_bytes(32)  # authentication off: nothing to derive from


def issue(settings: Settings, principal: Principal, sandbox_id: uuid.UUID) -> str:
    """An access token for `sandbox_id` acting as `principal`."""
    credential = _credential(principal)
    return f"{PREFIX}{credential}.{_signature(settings, credential, sandbox_id)}"


def principal_of(
    db: Session, settings: Settings, token: str, sandbox_id: uuid.UUID
) -> Principal | None:
    """Whom `token` lets act on `sandbox_id` now (None: not a token for it, or its
    credential is no longer valid)."""
    credential, _, signature = token.removeprefix(PREFIX).rpartition(".")
    if not token.startswith(PREFIX) or not credential or len(token) > 200:
        return None
    if not hmac.compare_digest(signature, _signature(settings, credential, sandbox_id)):
        return None
    if credential == "anonymous":
        return None if settings.api_token else NOBODY
    if credential == "shared":
        return SHARED if settings.api_token else None
    try:
        token_id = uuid.UUID(hex=credential.removeprefix("token-"))
    except ValueError:
        return None
    row = db.get(ApiTokenRow, token_id)
    return principal_of_row(db, row) if row is not None else None


def _credential(principal: Principal) -> str:
    if principal.token_id is not None:
        return f"token-{principal.token_id.hex}"
    if principal.subject == SHARED_TOKEN_SUBJECT:
        return "shared"
    if principal.subject == ANONYMOUS:
        return "anonymous"
    raise ValueError(f"no access token can act as {principal.subject}")


def _signature(settings: Settings, credential: str, sandbox_id: uuid.UUID) -> str:
    secret = settings.api_token.encode() if settings.api_token else _PROCESS_KEY
    key = hmac.new(secret, b"mbox sandbox access v1", hashlib.sha256).digest()
    payload = f"{credential}.{sandbox_id}".encode()
    return hmac.new(key, payload, hashlib.sha256).hexdigest()
