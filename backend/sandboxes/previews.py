"""Previews: where a sandbox port is served to browsers, and the links that open it.

Every sandbox port has its own origin, `<port>-<sandbox id hex>.<preview host>`, so a
preview page never shares an origin (or cookies) with the console, the API or another
preview. A browser gets in through a preview link: `<origin>/.mbox/link?token=<id>.<secret>`
exchanges the token for a host-only cookie on that origin. Links expire, can be revoked,
and only a sha256 of their secret is stored.

Links are for sharing: the console's own Open and Embed use viewer grants instead
(backend/sandboxes/preview_grants.py), which are never listed as links.

`PreviewGate` is the in-memory front of this service for the proxy's hot path: verified
links and sandbox states are cached, links re-checked against the database every
`LINK_RECHECK_SECONDS`, so a revoked link stops working within a few seconds.

`listening_ports` reads which TCP ports processes in a running sandbox listen on, so the
console can offer to declare one that is not declared yet.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlmodel import Session, col, select

from backend import audit, changes
from backend.auth import access, sandbox_access
from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.db import Database, commit, get_row, utcnow
from backend.errors import InvalidInput, NotFound, ServiceError
from backend.runtime.base import RuntimeAdapter, RuntimeFailure, read_at_most
from backend.runtime.kubernetes import files as sandbox_files
from backend.sandboxes.models import PreviewLinkCreate, PreviewLinkRow, SandboxRow
from backend.sandboxes.service import get_sandbox, operable
from backend.settings import Settings

DEFAULT_LINK_SECONDS = 3600
MIN_LINK_SECONDS = 60
MAX_LABEL_CHARS = 120
LINK_PATH = "/.mbox/link"
PORT_NOT_PREVIEWABLE = "sandbox port is not declared or is not previewable"
LINK_RECHECK_SECONDS = 2.0
SANDBOX_RECHECK_SECONDS = 1.0
_LABEL = re.compile(r"^(\d{1,5})-([0-9a-f]{32})$")
LISTENING_TIMEOUT = 5.0
# /proc/net/tcp{,6} take 150 bytes a socket: far more sockets than a sandbox has. An
# image's sandbox can replace the `sh` that reads them with a flood.
MAX_LISTENING_BYTES = 1024 * 1024


# -- origins ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewDomain:
    """The parsed preview base URL: scheme, host (lower-case) and port ('' if none)."""

    scheme: str
    host: str
    port: str

    @classmethod
    def of(cls, settings: Settings) -> PreviewDomain:
        return _domain(settings.preview_base_url)

    @property
    def secure_context(self) -> bool:
        """Whether browsers treat preview origins as secure (https, or localhost names)."""
        return self.scheme == "https" or f".{self.host}".endswith(".localhost")


def _domain(base_url: str) -> PreviewDomain:
    parts = urlsplit(base_url)
    return PreviewDomain(parts.scheme, (parts.hostname or "").lower(), str(parts.port or ""))


def preview_origin(settings: Settings, sandbox_id: uuid.UUID, port: int) -> str:
    """The origin that serves `port` of the sandbox, e.g.
    http://8000-0123...cdef.preview.localhost:3000."""
    domain = PreviewDomain.of(settings)
    suffix = f":{domain.port}" if domain.port else ""
    return f"{domain.scheme}://{port}-{sandbox_id.hex}.{domain.host}{suffix}"


def parse_preview_host(settings: Settings, host: str) -> tuple[uuid.UUID, int] | None:
    """(sandbox id, port) when the Host header names a preview origin, else None. The
    port of the Host is not compared (a proxy in front may change it)."""
    return parse_host(PreviewDomain.of(settings), host)


def parse_host(domain: PreviewDomain, host: str) -> tuple[uuid.UUID, int] | None:
    name = host.strip().lower()
    if name.startswith("["):
        return None
    name = name.rsplit(":", 1)[0] if ":" in name else name
    name = name.rstrip(".")
    suffix = "." + domain.host
    if not name.endswith(suffix):
        return None
    match = _LABEL.match(name[: -len(suffix)])
    if match is None:
        return None
    port = int(match.group(1))
    if not 1 <= port <= 65535 or match.group(1).startswith("0"):
        return None
    return uuid.UUID(hex=match.group(2)), port


def traffic_allowed(db: Session, settings: Settings, token: str, sandbox_id: uuid.UUID) -> bool:
    """Whether a program's sandbox access token (E2B's traffic access token) opens any
    port of the sandbox on its preview origin: it acts as its caller, who must be able to
    drive the sandbox (and so could reach any of its ports from inside it anyway)."""
    principal = sandbox_access.principal_of(db, settings, token, sandbox_id)
    if principal is None:
        return False
    try:
        operable(db, principal, sandbox_id, Permission.OPERATE)
    except ServiceError:
        return False
    return True


def tcp_ports(sandbox: SandboxRow) -> frozenset[int]:
    """The sandbox's declared ports that a preview may open (TCP only)."""
    return frozenset(
        int(port["port"])
        for port in sandbox.ports
        if (port.get("protocol") or "TCP").upper() == "TCP"
    )


async def listening_ports(runtime: RuntimeAdapter, sandbox_id: uuid.UUID) -> frozenset[int]:
    """The TCP ports some process in the running sandbox listens on, from its
    /proc/net/tcp and tcp6 (read by a short command inside it); none when they cannot be
    read (not running, slower than LISTENING_TIMEOUT, more than MAX_LISTENING_BYTES)."""
    try:
        async with asyncio.timeout(LISTENING_TIMEOUT):
            process = await runtime.exec(sandbox_id, ["sh", "-c", sandbox_files.LISTENING])
            table = await read_at_most(process, MAX_LISTENING_BYTES)
            await process.wait()
    except (RuntimeFailure, TimeoutError, OSError):
        return frozenset()
    return frozenset(sandbox_files.listening_ports(table or b""))


# -- links --------------------------------------------------------------------------------


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_link(
    db: Session,
    *,
    principal: Principal,
    settings: Settings,
    sandbox_id: uuid.UUID,
    data: PreviewLinkCreate,
) -> tuple[PreviewLinkRow, str]:
    """A new link to one declared TCP port of the sandbox; returns the row and the full
    URL (the only time the secret is shown)."""
    sandbox = operable(db, principal, sandbox_id)
    if data.port is None:
        raise InvalidInput("port is required")
    if data.port not in tcp_ports(sandbox):
        raise InvalidInput(f"port {data.port} is not a declared TCP port of this sandbox")
    seconds = DEFAULT_LINK_SECONDS if data.expires_in_seconds is None else data.expires_in_seconds
    longest = settings.preview_link_max_seconds
    if not MIN_LINK_SECONDS <= seconds <= longest:
        raise InvalidInput(f"expiresInSeconds must be between {MIN_LINK_SECONDS} and {longest}")
    label = (data.label or "").strip()
    if len(label) > MAX_LABEL_CHARS:
        raise InvalidInput(f"label is too long (at most {MAX_LABEL_CHARS} characters)")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in label):
        raise InvalidInput("label cannot contain control characters")
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    link = PreviewLinkRow(
        project_id=sandbox.project_id,
        sandbox_id=sandbox.id,
        port=data.port,
        label=label,
        secret_hash=_hash(secret),
        created_by=principal.actor or principal.subject,
        expires_at=now + timedelta(seconds=seconds),
        created_at=now,
    )
    db.add(link)
    audit.service.record_change(
        db,
        principal=principal,
        action="preview.link.created",
        subject=link,
        metadata={
            "sandboxId": str(sandbox.id),
            "port": data.port,
            "expiresAt": link.expires_at.isoformat(),
            **({"label": label} if label else {}),
        },
    )
    commit(db)
    url = f"{preview_origin(settings, sandbox.id, data.port)}{LINK_PATH}?token={link.id}.{secret}"
    return link, url


def list_links(
    db: Session, *, sandbox_id: uuid.UUID, limit: int | None = None
) -> list[PreviewLinkRow]:
    """The sandbox's links, newest first (revoked and expired ones included)."""
    get_sandbox(db, sandbox_id)
    query = (
        select(PreviewLinkRow)
        .where(PreviewLinkRow.sandbox_id == sandbox_id)
        .order_by(col(PreviewLinkRow.created_at).desc(), col(PreviewLinkRow.id))
        .limit(limit)
    )
    return list(db.exec(query))


def revoke_link(db: Session, *, principal: Principal, link_id: uuid.UUID) -> PreviewLinkRow:
    """Revoke a link (idempotent: a revoked link keeps its first revocation time)."""
    link = get_row(db, PreviewLinkRow, link_id, "preview link not found")
    access.require(principal, Permission.OPERATE, link.project_id)
    if link.revoked_at is not None:
        return link
    link.revoked_at = utcnow()
    audit.service.record_change(
        db,
        principal=principal,
        action="preview.link.revoked",
        subject=link,
        metadata={"sandboxId": str(link.sandbox_id), "port": link.port},
    )
    commit(db)
    return link


def split_token(token: str) -> tuple[uuid.UUID, str] | None:
    link_id, dot, secret = token.partition(".")
    if not dot or not secret or len(secret) > 128:
        return None
    try:
        return uuid.UUID(link_id), secret
    except ValueError:
        return None


def verify(db: Session, token: str) -> PreviewLinkRow | None:
    """The link this token opens, if it is genuine, unexpired and not revoked."""
    parts = split_token(token)
    if parts is None:
        return None
    link = db.get(PreviewLinkRow, parts[0])
    if link is None or not hmac.compare_digest(link.secret_hash, _hash(parts[1])):
        return None
    if link.revoked_at is not None or link.expires_at <= utcnow():
        return None
    return link


def _link_state(db: Session, link_id: uuid.UUID) -> tuple[datetime, datetime | None] | None:
    link = db.get(PreviewLinkRow, link_id)
    return None if link is None else (link.expires_at, link.revoked_at)


@dataclass(frozen=True)
class PreviewTarget:
    """What the proxy needs to know about a sandbox (cached briefly)."""

    sandbox_id: uuid.UUID
    project_id: uuid.UUID
    status: str
    ports: frozenset[int]


def preview_target(db: Session, sandbox_id: uuid.UUID) -> PreviewTarget:
    """The sandbox's status and previewable ports; NotFound for a missing or deleted one."""
    sandbox = get_sandbox(db, sandbox_id)
    return PreviewTarget(sandbox.id, sandbox.project_id, sandbox.status, tcp_ports(sandbox))


# -- the hot path's front: caches -----------------------------------------------------------


@dataclass
class _CachedLink:
    sandbox_id: uuid.UUID
    port: int
    secret_hash: str
    expires_at: float  # epoch seconds
    revoked: bool
    checked: float  # monotonic time of the last database check


class PreviewGate:
    """Link verification and sandbox lookups with short-lived in-memory caches, so the
    proxy does no database work on most requests. A cached link is re-read from the
    database at most every LINK_RECHECK_SECONDS (one read for all waiting requests);
    sandbox states for SANDBOX_RECHECK_SECONDS, and at once after a change in this
    process (the `sandboxes` change topic)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._links: dict[uuid.UUID, _CachedLink] = {}
        self._refreshing: dict[uuid.UUID, asyncio.Future[None]] = {}
        self._targets: dict[uuid.UUID, tuple[float, PreviewTarget | None]] = {}
        self._changed: asyncio.Event | None = None

    async def exchange(self, token: str) -> PreviewLinkRow | None:
        """Verify a token against the database (the link exchange) and cache it."""
        link = await self._database.call(verify, token)
        if link is not None:
            self._links[link.id] = _CachedLink(
                link.sandbox_id,
                link.port,
                link.secret_hash,
                link.expires_at.timestamp(),
                False,
                time.monotonic(),
            )
        return link

    async def allows(self, token: str, sandbox_id: uuid.UUID, port: int) -> bool:
        """Whether a cookie's token opens this sandbox port now."""
        parts = split_token(token)
        if parts is None:
            return False
        link_id, secret = parts
        cached = self._links.get(link_id)
        if cached is None:
            return await self.exchange(token) is not None and await self.allows(
                token, sandbox_id, port
            )
        if not hmac.compare_digest(cached.secret_hash, _hash(secret)):
            return False
        if cached.sandbox_id != sandbox_id or cached.port != port:
            return False
        if time.monotonic() - cached.checked > LINK_RECHECK_SECONDS:
            await self._recheck(link_id, cached)
        return not cached.revoked and cached.expires_at > time.time()

    async def _recheck(self, link_id: uuid.UUID, cached: _CachedLink) -> None:
        pending = self._refreshing.get(link_id)
        if pending is not None:
            await asyncio.shield(pending)
            return
        future = asyncio.get_running_loop().create_future()
        self._refreshing[link_id] = future
        try:
            state = await self._database.call(_link_state, link_id)
            if state is None:
                cached.revoked = True
            else:
                cached.expires_at = state[0].timestamp()
                cached.revoked = state[1] is not None
            cached.checked = time.monotonic()
        finally:
            del self._refreshing[link_id]
            future.set_result(None)

    async def target(self, sandbox_id: uuid.UUID) -> PreviewTarget | None:
        """The sandbox's preview target (None: missing or deleted), cached briefly."""
        if self._changed is None:
            self._changed = changes.subscribe("sandboxes")
        if self._changed.is_set():
            self._changed.clear()
            self._targets.clear()
        now = time.monotonic()
        cached = self._targets.get(sandbox_id)
        if cached is not None and now - cached[0] < SANDBOX_RECHECK_SECONDS:
            return cached[1]
        try:
            found: PreviewTarget | None = await self._database.call(preview_target, sandbox_id)
        except NotFound:
            found = None
        self._targets[sandbox_id] = (now, found)
        return found

    def close(self) -> None:
        if self._changed is not None:
            changes.unsubscribe(self._changed)
            self._changed = None
