"""Lifetime rules: a sandbox's lease (TTL), its idle timeout, renewals and activity.

From the template's `lifecyclePolicy`:
- `ttlSeconds`: the lease. `expiresAt` = launch + ttl; a renew moves it to now + ttl (or
  the seconds asked for). At the deadline the sandbox is deleted (reason `ttl`).
- `idleTimeoutSeconds`: a running sandbox with no activity (terminal input, tasks,
  preview traffic, renewals) for that long is stopped (reason `idle`).
The reconciler calls `enforce` on every pass, so deadlines hold within a pass (~1 s).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timedelta

from pydantic import Field
from sqlmodel import Session, col, select

from backend import changes
from backend.auth.models import SYSTEM, Principal
from backend.db import Database, commit, utcnow
from backend.errors import InvalidInput
from backend.sandboxes import service as sandboxes
from backend.sandboxes.models import SandboxRow
from backend.schemas import RequestModel
from backend.templates.models import TemplateRow

MAX_LEASE_SECONDS = 30 * 24 * 3600


class SandboxRenew(RequestModel):
    ttl_seconds: int | None = Field(default=None)


def renew(
    db: Session, *, principal: Principal, sandbox_id: uuid.UUID, data: SandboxRenew
) -> SandboxRow:
    """Extend the lease to now + ttl (the template's, or the seconds asked for)."""
    sandbox = sandboxes.operable(db, principal, sandbox_id)
    template = db.get(TemplateRow, sandbox.template_id) if sandbox.template_id else None
    default = template.ttl_seconds if template else None
    seconds = default if data.ttl_seconds is None else data.ttl_seconds
    if seconds is None:
        raise InvalidInput("this sandbox has no lease: give ttlSeconds to set one")
    if not 1 <= seconds <= MAX_LEASE_SECONDS:
        raise InvalidInput(f"ttlSeconds must be between 1 and {MAX_LEASE_SECONDS}")
    now = utcnow()
    sandbox.expires_at = now + timedelta(seconds=seconds)
    sandbox.last_activity_at = now
    sandbox.updated_at = now
    sandboxes.record(
        db, principal, "sandbox.renewed", sandbox, expiresAt=sandbox.expires_at.isoformat()
    )
    commit(db)
    changes.notify("sandboxes", str(sandbox.id))
    return sandbox


def note_activity(db: Session, *, sandbox_id: uuid.UUID) -> None:
    """Someone used the sandbox (terminal input, preview traffic): its idle clock restarts."""
    sandbox = db.get(SandboxRow, sandbox_id)
    if sandbox is not None and sandbox.deleted_at is None:
        sandbox.last_activity_at = utcnow()
        commit(db)


class ActivityMeter:
    """Notes activity at most once per `interval` seconds per sandbox, off the event loop:
    for hot paths (keystrokes, preview requests) where a write per event would cost."""

    def __init__(self, database: Database, interval: float = 30.0) -> None:
        self._database = database
        self._interval = interval
        self._last: dict[uuid.UUID, float] = {}
        self._pending: set[asyncio.Task] = set()

    def touch(self, sandbox_id: uuid.UUID) -> None:
        now = time.monotonic()
        if now - self._last.get(sandbox_id, -self._interval) < self._interval:
            return
        self._last[sandbox_id] = now
        task = asyncio.create_task(self._database.call(note_activity, sandbox_id=sandbox_id))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)


def enforce(db: Session, now: datetime | None = None) -> int:
    """Delete expired sandboxes and stop idle ones; return how many were acted on."""
    now = now or utcnow()
    acted = 0
    expired = db.exec(
        select(SandboxRow.id).where(
            col(SandboxRow.deleted_at).is_(None),
            col(SandboxRow.expires_at).is_not(None),
            col(SandboxRow.expires_at) <= now,
        )
    ).all()
    for sandbox_id in expired:
        sandboxes.delete_sandbox(db, principal=SYSTEM, sandbox_id=sandbox_id, reason="ttl")
        acted += 1
    running = db.exec(
        select(SandboxRow, TemplateRow)
        .join(TemplateRow, col(SandboxRow.template_id) == col(TemplateRow.id))
        .where(SandboxRow.status == "running", SandboxRow.desired_state == "running")
    ).all()
    for sandbox, template in running:
        idle = template.idle_timeout_seconds
        last = sandbox.last_activity_at or sandbox.ready_at or sandbox.created_at
        if idle and last + timedelta(seconds=idle) <= now:
            sandboxes.stop_sandbox(
                db,
                principal=SYSTEM,
                sandbox_id=sandbox.id,
                reason="idle",
                message=f"no activity for {idle} s",
            )
            acted += 1
    return acted
