"""Terminals and previews: sessions know their terminal, terminal recordings, preview links.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from backend.db import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _owner_columns() -> list[sa.Column]:
    return [
        sa.Column(
            "project_id", sa.Uuid(), sa.ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=False, index=True,
        ),
        sa.Column(
            "sandbox_id", sa.Uuid(), sa.ForeignKey("sandboxes.id", ondelete="CASCADE"),
            nullable=False, index=True,
        ),
    ]  # fmt: skip


def upgrade() -> None:
    with op.batch_alter_table("runtime_sessions") as batch:
        batch.add_column(sa.Column("terminal_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("error", sa.String(), nullable=False, server_default=""))
        batch.create_index("ix_runtime_sessions_terminal_id", ["terminal_id"])
    op.create_table(
        "terminal_recordings",
        sa.Column("terminal_id", sa.Uuid(), primary_key=True),
        *_owner_columns(),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("truncated", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "preview_links",
        sa.Column("id", sa.Uuid(), primary_key=True),
        *_owner_columns(),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(), nullable=False, server_default=""),
        sa.Column("secret_hash", sa.String(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False, server_default=""),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("mbox migrations are forward-only; restore a backup to go back")
