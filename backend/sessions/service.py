"""Runtime sessions: records of who or what is attached to a sandbox.

Clients create and end their own sessions (an IDE, a notebook, ...); the terminal route
creates one per WebSocket and ends or fails it when the socket closes. A session that ended
stays as it ended: ending it again changes nothing (a failed session stays failed).
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, func, select

from backend import audit
from backend.auth import access
from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.db import commit, get_row, utcnow
from backend.errors import InvalidInput, NotFound
from backend.policy import service as policy
from backend.sandboxes import service as sandboxes
from backend.sessions.models import (
    SESSION_TYPES,
    RuntimeSession,
    RuntimeSessionCreate,
    RuntimeSessionRow,
    SessionRecording,
    TerminalRecordingRow,
)
from backend.settings import Settings
from backend.validation import metadata_value

MAX_CLIENT_BYTES = 120
MAX_USER_AGENT_CHARS = 512


def list_sessions(
    db: Session, *, sandbox_id: uuid.UUID, limit: int | None = None
) -> list[RuntimeSession]:
    sandboxes.get_sandbox(db, sandbox_id)
    query = (
        select(RuntimeSessionRow)
        .where(RuntimeSessionRow.sandbox_id == sandbox_id)
        .order_by(col(RuntimeSessionRow.started_at).desc(), col(RuntimeSessionRow.id))
        .limit(limit)
    )
    return _public(db, list(db.exec(query)))


def get_session(db: Session, session_id: uuid.UUID) -> RuntimeSession:
    return _public(db, [_row(db, session_id)])[0]


def create_session(
    db: Session,
    *,
    principal: Principal,
    sandbox_id: uuid.UUID,
    data: RuntimeSessionCreate,
    user_agent: str = "",
) -> RuntimeSession:
    sandboxes.operable(db, principal, sandbox_id)
    if data.type not in SESSION_TYPES:
        raise InvalidInput("session type is invalid")
    row = _new_session(
        db,
        sandbox_id=sandbox_id,
        type=data.type,
        client=clean_client(data.client),
        user_agent=user_agent,
        metadata=metadata_value(data.metadata),
    )
    _record(db, principal, "runtime.session.created", row)
    commit(db)
    return get_session(db, row.id)


def end_session(db: Session, *, principal: Principal, session_id: uuid.UUID) -> RuntimeSession:
    row = _row(db, session_id)
    access.require(principal, Permission.OPERATE, row.project_id)
    if row.status == "active":
        _finish(row, "ended")
        _record(db, principal, "runtime.session.ended", row)
        commit(db)
    return get_session(db, session_id)


def clean_client(client: str | None, default: str = "") -> str:
    client = (client or "").strip() or default
    if len(client.encode()) > MAX_CLIENT_BYTES:
        raise InvalidInput("session client is too long")
    return client


# -- terminals: the terminal route's side ------------------------------------------------


def open_terminal_session(
    db: Session,
    *,
    principal: Principal,
    sandbox_id: uuid.UUID,
    terminal_id: uuid.UUID,
    client: str,
    user_agent: str,
    metadata: dict[str, Any],
    new_terminal: bool = False,
) -> uuid.UUID:
    """A WebSocket attached to a terminal, audited as `terminal.attached` (and its end as
    `terminal.detached`): who typed into which sandbox, and when, is in the trail. A
    `new_terminal` is held to the live terminal quota, counted and recorded in one step."""
    if new_terminal:
        check_terminal_quota(db, principal=principal, sandbox_id=sandbox_id)
    row = _new_session(
        db,
        sandbox_id=sandbox_id,
        type="terminal",
        client=client,
        user_agent=user_agent,
        metadata=metadata,
        terminal_id=terminal_id,
    )
    _record(db, principal, "terminal.attached", row)
    commit(db)
    return row.id


def count_live_terminals(db: Session, project_id: uuid.UUID) -> int:
    """The project's open terminals, on every replica: the distinct terminals its active
    terminal sessions are attached to (what maxLiveTerminals counts)."""
    return db.exec(
        select(func.count(func.distinct(RuntimeSessionRow.terminal_id))).where(
            RuntimeSessionRow.project_id == project_id,
            RuntimeSessionRow.type == "terminal",
            RuntimeSessionRow.status == "active",
            col(RuntimeSessionRow.terminal_id).is_not(None),
        )
    ).one()


def check_terminal_quota(db: Session, *, principal: Principal, sandbox_id: uuid.UUID) -> None:
    """Refuse a new terminal beyond the project's live terminal quota. The project stays
    locked until the caller commits (open_terminal_session records the terminal's session
    in the same transaction); the terminal route also asks before the WebSocket upgrade."""
    sandbox = sandboxes.get_sandbox(db, sandbox_id)
    policy.check_one_more(
        db,
        principal=principal,
        project_id=sandbox.project_id,
        measure="terminals",
        count=lambda: count_live_terminals(db, sandbox.project_id),
        operation="terminal.open",
        subject=("sandbox", sandbox.name),
        metadata={"sandboxId": str(sandbox.id)},
    )


def terminal_used(db: Session, *, terminal_id: uuid.UUID) -> bool:
    """Whether a terminal with this id ever ran (its sessions or recording remain)."""
    query = select(RuntimeSessionRow.id).where(RuntimeSessionRow.terminal_id == terminal_id)
    return db.get(TerminalRecordingRow, terminal_id) is not None or (
        db.exec(query.limit(1)).first() is not None
    )


def close_terminal_session(
    db: Session, *, principal: Principal, session_id: uuid.UUID, error: str = ""
) -> None:
    row = db.get(RuntimeSessionRow, session_id)
    if row is not None and row.status == "active":
        _finish(row, "failed" if error else "ended", error)
        _record(db, principal, "terminal.detached", row)
        commit(db)


def start_recording(db: Session, *, terminal_id: uuid.UUID, sandbox_id: uuid.UUID) -> None:
    sandbox = sandboxes.get_sandbox(db, sandbox_id)
    db.add(
        TerminalRecordingRow(
            terminal_id=terminal_id, project_id=sandbox.project_id, sandbox_id=sandbox_id
        )
    )
    commit(db)


def finish_recording(
    db: Session, *, terminal_id: uuid.UUID, size_bytes: int, truncated: bool
) -> None:
    row = db.get(TerminalRecordingRow, terminal_id)
    if row is not None:
        row.size_bytes, row.truncated, row.ended_at = size_bytes, truncated, utcnow()
        commit(db)


def recording_file(
    db: Session, settings: Settings, *, principal: Principal, session_id: uuid.UUID
) -> tuple[Path, str]:
    """The finished recording listed on a session: (file, download name)."""
    row = _row(db, session_id)
    access.require(principal, Permission.READ_CONTENT, row.project_id)
    recording = row.terminal_id and db.get(TerminalRecordingRow, row.terminal_id)
    path = recording and recording_path(settings, recording.sandbox_id, recording.terminal_id)
    if not recording or recording.ended_at is None or not path or not path.exists():
        raise NotFound("this session has no recording (yet)")
    return path, f"terminal-{recording.terminal_id}.cast"


def recording_path(settings: Settings, sandbox_id: uuid.UUID, terminal_id: uuid.UUID) -> Path:
    return settings.data_dir / "recordings" / str(sandbox_id) / f"{terminal_id}.cast"


def remove_recordings(settings: Settings, sandbox_id: uuid.UUID) -> None:
    """A deleted sandbox's recordings go with it (its rows go when it is purged)."""
    shutil.rmtree(settings.data_dir / "recordings" / str(sandbox_id), ignore_errors=True)


# -- building blocks ----------------------------------------------------------------------


def _row(db: Session, session_id: uuid.UUID) -> RuntimeSessionRow:
    return get_row(db, RuntimeSessionRow, session_id, "runtime session not found")


def _new_session(
    db: Session, *, sandbox_id: uuid.UUID, type: str, client: str, user_agent: str,
    metadata: Any, terminal_id: uuid.UUID | None = None,
) -> RuntimeSessionRow:  # fmt: skip
    sandbox = sandboxes.get_sandbox(db, sandbox_id)
    row = RuntimeSessionRow(
        project_id=sandbox.project_id,
        sandbox_id=sandbox_id,
        type=type,
        client=client,
        user_agent=(user_agent or "")[:MAX_USER_AGENT_CHARS],
        terminal_id=terminal_id,
        runtime_ref=sandbox.runtime_ref,
        meta=metadata,
    )
    db.add(row)
    db.flush()
    return row


def _record(db: Session, principal: Principal, action: str, row: RuntimeSessionRow) -> None:
    """Audit a session change; the reference names the session by its client."""
    audit.service.record(
        db,
        principal=principal,
        action=action,
        resource_type=RuntimeSessionRow.audit_type,
        resource_id=row.id,
        resource_name=row.client or str(row.id),
        project_id=row.project_id,
        metadata={"sandboxId": str(row.sandbox_id), "type": row.type},
    )


def _finish(row: RuntimeSessionRow, status: str, error: str = "") -> None:
    now = utcnow()
    row.status, row.error, row.ended_at, row.updated_at = status, error[:1000], now, now


def _public(db: Session, rows: list[RuntimeSessionRow]) -> list[RuntimeSession]:
    """Public sessions, each with its terminal's finished recording when there is one."""
    terminal_ids = {row.terminal_id for row in rows if row.terminal_id}
    recordings = {
        recording.terminal_id: recording
        for recording in db.exec(
            select(TerminalRecordingRow).where(
                col(TerminalRecordingRow.terminal_id).in_(terminal_ids),
                col(TerminalRecordingRow.ended_at).is_not(None),
            )
        )
    }
    public = []
    for row in rows:
        item = RuntimeSession.from_row(row)
        if (recording := recordings.get(row.terminal_id)) is not None:
            item.recording = SessionRecording(
                terminal_id=recording.terminal_id,
                size_bytes=recording.size_bytes,
                truncated=recording.truncated,
                url=f"/v1/sessions/{row.id}/recording",
                started_at=recording.started_at,
                ended_at=recording.ended_at,
            )
        public.append(item)
    return public
