"""Artifacts: references to outputs of execution, and the bytes retained for them.

An artifact is a reference (`uri`, kind, name). Its retained content is one blob in a
blob store (the database, a filesystem or S3), named in `artifact_contents`. Every blob
ever written has a row in `artifact_blobs`, the ledger that makes garbage collection
exact: a blob that no content row references (re-captured, deleted, a lost race, an
upload that never finished) is removed from its store, then from the ledger.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from pydantic import Field as SchemaField
from sqlmodel import Field, SQLModel

from backend.db import id_field, json_field, timestamp_field
from backend.schemas import PublicModel, RequestModel, uuid_field

ARTIFACT_KINDS = ("file", "directory", "log", "report", "screenshot", "image", "link", "other")
STORAGE_PROVIDERS = ("postgres", "filesystem", "s3")
# pending: being written; live: referenced (or was); deleting: the collector is removing it.
BLOB_STATES = ("pending", "live", "deleting")


class ArtifactRow(SQLModel, table=True):
    __tablename__ = "artifacts"
    audit_type: ClassVar[str] = "artifact"

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
    updated_at: datetime = timestamp_field(index=True)


class ArtifactBlobRow(SQLModel, table=True):
    """One blob in a store. No foreign keys on purpose: the ledger outlives projects and
    artifacts so that their bytes can still be found and removed."""

    __tablename__ = "artifact_blobs"
    __table_args__ = (
        sa.CheckConstraint(
            "storage_provider IN ('postgres', 'filesystem', 's3')",
            name="ck_artifact_blobs_provider",
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'live', 'deleting')", name="ck_artifact_blobs_state"
        ),
        sa.UniqueConstraint("storage_provider", "storage_key", name="uq_artifact_blobs_key"),
    )

    id: uuid.UUID = id_field()
    project_id: uuid.UUID = Field(index=True)
    artifact_id: uuid.UUID
    storage_provider: str
    storage_key: str
    size_bytes: int = Field(default=0, sa_type=sa.BigInteger)
    state: str = Field(default="pending", index=True)
    created_at: datetime = timestamp_field()


class ArtifactContentRow(SQLModel, table=True):
    """The retained bytes of an artifact: which blob holds them, and what they are."""

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
    # RESTRICT: a referenced blob can never leave the ledger (the collector checks first).
    blob_id: uuid.UUID = Field(
        foreign_key="artifact_blobs.id", ondelete="RESTRICT", index=True, unique=True
    )
    content_type: str = ""
    size_bytes: int = Field(sa_type=sa.BigInteger)
    sha256: str
    source_uri: str = ""
    storage_provider: str
    storage_key: str = ""
    captured_at: datetime = timestamp_field()


class ArtifactUsageRow(SQLModel, table=True):
    """Retained bytes per project, kept exact by the service in the same transaction as
    every content change (read in O(1) by quotas and the usage summary)."""

    __tablename__ = "artifact_usage"
    __table_args__ = (
        sa.CheckConstraint("retained_bytes >= 0", name="ck_artifact_usage_bytes"),
        sa.CheckConstraint("retained_count >= 0", name="ck_artifact_usage_count"),
    )

    project_id: uuid.UUID = Field(primary_key=True, foreign_key="projects.id", ondelete="CASCADE")
    retained_bytes: int = Field(default=0, sa_type=sa.BigInteger)
    retained_count: int = 0


# -- API schemas ---------------------------------------------------------------------------


class RetainedContent(PublicModel):
    omit_empty = frozenset({"content_type", "storage_key"})

    artifact_id: uuid.UUID
    content_type: str | None = None
    size_bytes: int
    sha256: str
    source_uri: str
    storage_provider: str
    storage_key: str | None = None
    captured_at: datetime


class Artifact(PublicModel):
    omit_empty = frozenset({"content_type"})

    id: uuid.UUID
    project_id: uuid.UUID
    sandbox_id: uuid.UUID
    task_id: uuid.UUID | None = None
    kind: str
    name: str
    uri: str
    content_type: str | None = None
    size_bytes: int | None = None
    metadata: Any = SchemaField(default_factory=dict)
    retained_content: RetainedContent | None = None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: ArtifactRow, content: ArtifactContentRow | None) -> Artifact:
        artifact = cls.from_row(row)
        if content is not None:
            artifact.retained_content = RetainedContent.from_row(content)
        return artifact


class ArtifactCreate(RequestModel):
    kind: str | None = None
    name: str | None = None
    # Longer than the usual string cap, so that the service can say "uri is too long".
    uri: str | None = SchemaField(default=None, max_length=65536)
    task_id: str | None = uuid_field(default=None)
    content_type: str | None = None
    size_bytes: int | None = None
    metadata: Any = None


class ArtifactUsage(PublicModel):
    project_id: uuid.UUID
    retained_bytes: int
    retained_count: int
    retention_days: int | None = None
