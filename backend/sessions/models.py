"""Runtime sessions: who or what is attached to a sandbox (terminal, IDE, notebook, ...).

A browser terminal is a PTY in the sandbox (a *terminal*, which outlives its WebSockets for
a grace period); each WebSocket attached to it is one session. A terminal's recording
(asciicast v2) is listed on every session that attached to it, once the terminal ended.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from pydantic import Field as SchemaField
from sqlmodel import Field, SQLModel

from backend.db import id_field, json_field, timestamp_field
from backend.schemas import PublicModel, RequestModel

SESSION_TYPES = ("terminal", "ide", "notebook", "browser", "command", "custom")
SESSION_STATUSES = ("active", "ended", "failed")


class RuntimeSessionRow(SQLModel, table=True):
    __tablename__ = "runtime_sessions"
    audit_type: ClassVar[str] = "runtime-session"
    __table_args__ = (
        sa.CheckConstraint(
            "type IN ('terminal', 'ide', 'notebook', 'browser', 'command', 'custom')",
            name="ck_runtime_sessions_type",
        ),
        sa.CheckConstraint(
            "status IN ('active', 'ended', 'failed')", name="ck_runtime_sessions_status"
        ),
        sa.CheckConstraint(
            "ended_at IS NULL OR ended_at >= started_at", name="ck_runtime_sessions_ended"
        ),
    )

    id: uuid.UUID = id_field()
    project_id: uuid.UUID = Field(foreign_key="projects.id", ondelete="CASCADE", index=True)
    sandbox_id: uuid.UUID = Field(foreign_key="sandboxes.id", ondelete="CASCADE", index=True)
    type: str
    status: str = "active"
    client: str = ""
    user_agent: str = ""
    # The terminal this session attached to (terminal sessions only).
    terminal_id: uuid.UUID | None = Field(default=None, index=True)
    error: str = ""
    runtime_ref: dict[str, Any] | None = json_field(nullable=True)
    meta: Any = json_field(column="metadata")
    started_at: datetime = timestamp_field()
    ended_at: datetime | None = timestamp_field(nullable=True)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class TerminalRecordingRow(SQLModel, table=True):
    """An asciicast v2 file of one terminal's output (input is never recorded)."""

    __tablename__ = "terminal_recordings"

    terminal_id: uuid.UUID = Field(primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="projects.id", ondelete="CASCADE", index=True)
    sandbox_id: uuid.UUID = Field(foreign_key="sandboxes.id", ondelete="CASCADE", index=True)
    size_bytes: int = Field(default=0, sa_type=sa.BigInteger)
    truncated: bool = False
    started_at: datetime = timestamp_field()
    ended_at: datetime | None = timestamp_field(nullable=True)


class SessionRecording(PublicModel):
    terminal_id: uuid.UUID
    size_bytes: int
    truncated: bool
    content_type: str = "application/x-asciicast"
    url: str
    started_at: datetime
    ended_at: datetime


class RuntimeSession(PublicModel):
    omit_empty = frozenset({"client", "user_agent", "error"})

    id: uuid.UUID
    project_id: uuid.UUID
    sandbox_id: uuid.UUID
    type: str
    status: str
    client: str | None = None
    user_agent: str | None = None
    terminal_id: uuid.UUID | None = None
    error: str | None = None
    runtime_ref: dict[str, Any] | None = None
    metadata: Any = SchemaField(default_factory=dict)
    recording: SessionRecording | None = None
    started_at: datetime
    ended_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class RuntimeSessionCreate(RequestModel):
    type: str | None = None
    client: str | None = None
    metadata: Any = None
