"""Sandbox holds: a row per live sandbox (not deleted, or deleted but its runtime not yet
cleaned up), ON DELETE RESTRICT on the sandbox and on its template, so the database refuses
to delete a project (its delete cascades to its sandboxes) or a template while a live
sandbox holds it. Existing live sandboxes get their hold here.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sandbox_holds",
        sa.Column("sandbox_id", sa.Uuid(), primary_key=True),
        sa.Column("template_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["sandbox_id"], ["sandboxes.id"], ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["template_id"], ["environment_templates.id"], ondelete="RESTRICT"),
    )
    op.create_index(op.f("ix_sandbox_holds_template_id"), "sandbox_holds", ["template_id"])
    # A live sandbox always has its template (the old guard refused deleting a template in
    # use); one that somehow lost it has nothing to hold.
    op.execute(
        "INSERT INTO sandbox_holds (sandbox_id, template_id) "
        "SELECT id, template_id FROM sandboxes "
        "WHERE (deleted_at IS NULL OR runtime_ref IS NOT NULL) AND template_id IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_sandbox_holds_template_id"), table_name="sandbox_holds")
    op.drop_table("sandbox_holds")
