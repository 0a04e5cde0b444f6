"""API tokens bound to a principal with a role: `principal` (the name its actions are
recorded under) and `role`; `scopes` now holds the project ids a token is scoped to, null
for every project.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from backend.db import JSONValue

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("principal", sa.String(), nullable=False, server_default=""))
        batch.add_column(sa.Column("role", sa.String(), nullable=False, server_default="viewer"))
        batch.alter_column("scopes", existing_type=JSONValue, nullable=True)
        batch.create_index("ix_api_tokens_principal", ["principal"])


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_index("ix_api_tokens_principal")
        batch.alter_column("scopes", existing_type=JSONValue, nullable=False)
        batch.drop_column("role")
        batch.drop_column("principal")
