"""Runtime sessions: who or what is attached to a sandbox (terminal, IDE, notebook, ...)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.db import id_field, json_field, timestamp_field

SESSION_TYPES = ("terminal", "ide", "notebook", "browser", "command", "custom")
SESSION_STATUSES = ("active", "ended", "failed")


class RuntimeSessionRow(SQLModel, table=True):
    __tablename__ = "runtime_sessions"
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
    runtime_ref: dict[str, Any] | None = json_field(nullable=True)
    meta: Any = json_field(column="metadata")
    started_at: datetime = timestamp_field()
    ended_at: datetime | None = timestamp_field(nullable=True)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
