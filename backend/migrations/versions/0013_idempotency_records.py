"""Idempotency keys: what a create request with an `Idempotency-Key` header answered, per
principal and key, kept 24 hours (a record without a status is still in progress).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from backend.db import JSONValue, UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("method", sa.String(), nullable=False),
        sa.Column("path", sa.String(), nullable=False),
        sa.Column("request_sha256", sa.String(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_body", JSONValue, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subject", "key", name="uq_idempotency_records_subject_key"),
    )
    with op.batch_alter_table("idempotency_records") as batch:
        batch.create_index("ix_idempotency_records_created_at", ["created_at"])


def downgrade() -> None:
    op.drop_table("idempotency_records")
