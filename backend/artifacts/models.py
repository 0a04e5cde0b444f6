"""Artifacts: references to outputs of execution, and the bytes retained for them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.db import id_field, json_field, timestamp_field

ARTIFACT_KINDS = ("file", "directory", "log", "report", "screenshot", "image", "link", "other")
STORAGE_PROVIDERS = ("postgres", "filesystem", "s3")


class ArtifactRow(SQLModel, table=True):
    __tablename__ = "artifacts"

    id: uuid.UUID = id_field()
    project_id: uuid.UUID = Field(foreign_key="projects.id", ondelete="CASCADE", index=True)
    sandbox_id: uuid.UUID = Field(foreign_key="sandboxes.id", ondelete="CASCADE", index=True)
    task_id: uuid.UUID | None = Field(
        default=None, foreign_key="execution_tasks.id", ondelete="SET NULL", index=True
    )
    kind: str
    name: str
    uri: str
    content_type: str = ""
    size_bytes: int | None = Field(default=None, sa_type=sa.BigInteger)
    meta: Any = json_field(column="metadata")
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class ArtifactContentRow(SQLModel, table=True):
    """Retained bytes of an artifact: inline (provider "postgres") or in a blob store."""

    __tablename__ = "artifact_contents"
    __table_args__ = (
        sa.CheckConstraint(
            "storage_provider IN ('postgres', 'filesystem', 's3')",
            name="ck_artifact_contents_provider",
        ),
        sa.CheckConstraint("length(sha256) = 64", name="ck_artifact_contents_sha256"),
    )

    artifact_id: uuid.UUID = Field(primary_key=True, foreign_key="artifacts.id", ondelete="CASCADE")
    project_id: uuid.UUID = Field(foreign_key="projects.id", ondelete="CASCADE", index=True)
    content_type: str = ""
    size_bytes: int = Field(sa_type=sa.BigInteger)
    sha256: str
    source_uri: str = ""
    storage_provider: str
    storage_key: str = ""
    content: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    captured_at: datetime = timestamp_field()
