"""Template `runtime_class_name` and `warm_pool_size` (Kubernetes: the pod's RuntimeClass
and the size of the template's warm pool, null meaning the server's default), and the
sandbox phase timestamp `scheduled_at` (when the runtime placed it, e.g. on a node).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from backend.db import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("environment_templates") as batch:
        batch.add_column(
            sa.Column("runtime_class_name", sa.String(), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("warm_pool_size", sa.Integer(), nullable=True))
    with op.batch_alter_table("sandboxes") as batch:
        batch.add_column(sa.Column("scheduled_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sandboxes") as batch:
        batch.drop_column("scheduled_at")
    with op.batch_alter_table("environment_templates") as batch:
        batch.drop_column("warm_pool_size")
        batch.drop_column("runtime_class_name")
