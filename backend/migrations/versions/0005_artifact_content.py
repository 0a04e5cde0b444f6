"""Artifact content: a blob ledger, chunked blobs in the database, per-project retained
bytes, retention days on projects, declared artifact paths on tasks.

`artifact_contents` is rebuilt: it now names a blob instead of holding bytes inline (no
release stored content in it before this revision).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from backend.db import JSONValue, UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

PROVIDERS = "storage_provider IN ('postgres', 'filesystem', 's3')"


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(sa.Column("artifact_retention_days", sa.Integer(), nullable=True))
    with op.batch_alter_table("execution_tasks") as batch:
        batch.add_column(
            sa.Column("artifact_paths", JSONValue, nullable=False, server_default="[]")
        )
    with op.batch_alter_table("artifacts") as batch:
        batch.create_index("ix_artifacts_updated_at", ["updated_at"])
    _blobs()
    op.drop_table("artifact_contents")
    _contents()
    op.create_table(
        "artifact_usage",
        sa.Column(
            "project_id", sa.Uuid(), sa.ForeignKey("projects.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("retained_bytes", sa.BigInteger(), nullable=False),
        sa.Column("retained_count", sa.Integer(), nullable=False),
        sa.CheckConstraint("retained_bytes >= 0", name="ck_artifact_usage_bytes"),
        sa.CheckConstraint("retained_count >= 0", name="ck_artifact_usage_count"),
    )  # fmt: skip
    op.create_table(
        "artifact_blob_chunks",
        sa.Column("storage_key", sa.String(), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )


def _blobs() -> None:
    op.create_table(
        "artifact_blobs",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("project_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("artifact_id", sa.Uuid(), nullable=False),
        sa.Column("storage_provider", sa.String(), nullable=False),
        sa.Column("storage_key", sa.String(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(), nullable=False, index=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(PROVIDERS, name="ck_artifact_blobs_provider"),
        sa.CheckConstraint(
            "state IN ('pending', 'live', 'deleting')", name="ck_artifact_blobs_state"
        ),
        sa.UniqueConstraint("storage_provider", "storage_key", name="uq_artifact_blobs_key"),
    )


def _contents() -> None:
    op.create_table(
        "artifact_contents",
        sa.Column(
            "artifact_id", sa.Uuid(), sa.ForeignKey("artifacts.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "project_id", sa.Uuid(), sa.ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=False, index=True,
        ),
        sa.Column(
            "blob_id", sa.Uuid(), sa.ForeignKey("artifact_blobs.id", ondelete="RESTRICT"),
            nullable=False, index=True, unique=True,
        ),
        sa.Column("content_type", sa.String(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("source_uri", sa.String(), nullable=False),
        sa.Column("storage_provider", sa.String(), nullable=False),
        sa.Column("storage_key", sa.String(), nullable=False),
        sa.Column("captured_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(PROVIDERS, name="ck_artifact_contents_provider"),
        sa.CheckConstraint("length(sha256) = 64", name="ck_artifact_contents_sha256"),
    )  # fmt: skip


def downgrade() -> None:
    raise NotImplementedError("mbox migrations are forward-only; restore a backup to go back")
