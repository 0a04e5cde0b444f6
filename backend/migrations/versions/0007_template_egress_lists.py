"""Template egress lists: CIDRs a template opens (`egress_allow`) or closes
(`egress_deny`) on top of its network policy (backend/runtime/egress.py).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from backend.db import JSONValue

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("environment_templates") as batch:
        for name in ("egress_allow", "egress_deny"):
            batch.add_column(sa.Column(name, JSONValue, nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("environment_templates") as batch:
        batch.drop_column("egress_deny")
        batch.drop_column("egress_allow")
