"""Live resource use: one row per sandbox per sampling round (the metrics sampler), kept
for MBOX_METRICS_RETENTION_SECONDS.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from backend.db import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

COUNTERS = (
    "cpu_usage_usec",
    "cpu_limit_millicores",
    "memory_bytes",
    "memory_limit_bytes",
    "disk_bytes",
    "disk_limit_bytes",
    "processes",
    "process_limit",
    "network_rx_bytes",
    "network_tx_bytes",
)


def upgrade() -> None:
    op.create_table(
        "sandbox_metric_samples",
        sa.Column("sandbox_id", sa.Uuid(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("cpu_millicores", sa.Float(), nullable=True),
        *(sa.Column(name, sa.BigInteger(), nullable=True) for name in COUNTERS),
        sa.ForeignKeyConstraint(["sandbox_id"], ["sandboxes.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("sandbox_id", "at"),
    )
    with op.batch_alter_table("sandbox_metric_samples") as batch:
        batch.create_index("ix_sandbox_metric_samples_at", ["at"])
        batch.create_index("ix_sandbox_metric_samples_project_id", ["project_id"])


def downgrade() -> None:
    op.drop_table("sandbox_metric_samples")
