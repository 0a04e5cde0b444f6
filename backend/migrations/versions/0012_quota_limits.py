"""Quotas on what runs: a project's running sandboxes, their summed cpu and memory
requests (Kubernetes quantities as written), its tasks in progress and its live terminals.
Null is no limit, as for the existing two.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

COLUMNS = (
    ("max_running_sandboxes", sa.Integer()),
    ("max_cpu", sa.String()),
    ("max_memory", sa.String()),
    ("max_tasks_in_progress", sa.Integer()),
    ("max_live_terminals", sa.Integer()),
)


def upgrade() -> None:
    with op.batch_alter_table("project_quota_policies") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("project_quota_policies") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
