"""Execution tasks: a command run in a sandbox, with its output and outcome."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.db import id_field, json_field, timestamp_field

TASK_STATUSES = ("queued", "running", "succeeded", "failed", "canceled", "timed_out")
FINISHED_STATUSES = ("succeeded", "failed", "canceled", "timed_out")


class ExecutionTaskRow(SQLModel, table=True):
    __tablename__ = "execution_tasks"
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'canceled', 'timed_out')",
            name="ck_execution_tasks_status",
        ),
        sa.CheckConstraint("timeout_seconds > 0", name="ck_execution_tasks_timeout"),
        sa.Index(
            "uq_execution_tasks_idempotency",
            "sandbox_id",
            "idempotency_key",
            unique=True,
            sqlite_where=sa.text("idempotency_key IS NOT NULL"),
            postgresql_where=sa.text("idempotency_key IS NOT NULL"),
        ),
    )

    id: uuid.UUID = id_field()
    project_id: uuid.UUID = Field(foreign_key="projects.id", ondelete="CASCADE", index=True)
    sandbox_id: uuid.UUID = Field(foreign_key="sandboxes.id", ondelete="CASCADE", index=True)
    status: str = Field(default="queued", index=True)
    command: list[str] = json_field(list)
    env: dict[str, str] = json_field(dict)
    cwd: str = ""
    idempotency_key: str | None = None
    timeout_seconds: int = 60
    exit_code: int | None = None
    stdout: str = Field(default="", sa_type=sa.Text)
    stderr: str = Field(default="", sa_type=sa.Text)
    output_truncated: bool = False
    error: str = ""
    runtime_ref: dict[str, Any] | None = json_field(nullable=True)
    meta: Any = json_field(column="metadata")
    started_at: datetime | None = timestamp_field(nullable=True)
    finished_at: datetime | None = timestamp_field(nullable=True)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
