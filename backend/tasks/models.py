"""Execution tasks: a command run in a sandbox, with its output and outcome."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from pydantic import Field as SchemaField
from sqlmodel import Field, SQLModel

from backend.db import id_field, json_field, timestamp_field
from backend.schemas import PublicModel, RequestModel

TASK_STATUSES = ("queued", "running", "succeeded", "failed", "canceled", "timed_out")
FINISHED_STATUSES = ("succeeded", "failed", "canceled", "timed_out")


class ExecutionTaskRow(SQLModel, table=True):
    __tablename__ = "execution_tasks"
    audit_type: ClassVar[str] = "execution-task"
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
    # Full output sizes (the whole output is kept in the task output store).
    stdout_bytes: int = Field(default=0, sa_type=sa.BigInteger)
    stderr_bytes: int = Field(default=0, sa_type=sa.BigInteger)
    error: str = ""
    # Which server process runs it, and whether someone asked it to stop.
    runner: str = ""
    cancel_requested_at: datetime | None = timestamp_field(nullable=True)
    runtime_ref: dict[str, Any] | None = json_field(nullable=True)
    # Workspace globs collected as artifacts of the task when it ends.
    artifact_paths: list[str] = json_field(list)
    meta: Any = json_field(column="metadata")
    started_at: datetime | None = timestamp_field(nullable=True)
    finished_at: datetime | None = timestamp_field(nullable=True)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class ExecutionTask(PublicModel):
    omit_empty = frozenset({"env", "cwd", "error", "artifact_paths"})

    id: uuid.UUID
    project_id: uuid.UUID
    sandbox_id: uuid.UUID
    status: str
    command: list[str]
    timeout_seconds: int
    env: dict[str, str] | None = None
    cwd: str | None = None
    idempotency_key: str | None = None
    exit_code: int | None = None
    stdout: str
    stderr: str
    output_truncated: bool
    stdout_bytes: int
    stderr_bytes: int
    error: str | None = None
    runtime_ref: dict[str, str] | None = None
    artifact_paths: list[str] | None = None
    metadata: Any = SchemaField(default_factory=dict)
    cancel_requested_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class ExecutionTaskCreate(RequestModel):
    command: list[str] | None = None
    timeout_seconds: int | None = None
    env: dict[str, str] | None = None
    cwd: str | None = None
    idempotency_key: str | None = None
    artifact_paths: list[str] | None = None
    metadata: Any = None


class ExecutionTaskEvent(PublicModel):
    """One line of the NDJSON event stream."""

    type: str  # snapshot | status | output | done
    task: ExecutionTask | None = None
    stream: str | None = None  # stdout | stderr
    data: str | None = None
    offset: int | None = None  # byte offset of `data` within its stream
    created_at: datetime
