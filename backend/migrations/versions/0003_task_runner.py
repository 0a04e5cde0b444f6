"""Task runner: full output sizes, the running process, cancel requests.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from backend.db import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("execution_tasks") as batch:
        batch.add_column(
            sa.Column("stdout_bytes", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("stderr_bytes", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("runner", sa.String(), nullable=False, server_default=""))
        batch.add_column(sa.Column("cancel_requested_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("mbox migrations are forward-only; restore a backup to go back")
