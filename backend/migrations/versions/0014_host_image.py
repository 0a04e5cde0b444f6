"""The built-in Shell template names its root honestly: image `host` (this machine's own
read-only /usr, on the local runtime), now that every other image is pulled and run.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

templates = sa.table(
    "environment_templates",
    sa.column("slug", sa.String()),
    sa.column("image", sa.String()),
    sa.column("project_id", sa.Uuid()),
)


def _rename(old: str, new: str) -> None:
    """Only the global built-in, and only if nobody changed its image since."""
    op.execute(
        templates.update()
        .where(templates.c.slug == "shell", templates.c.project_id.is_(None))
        .where(templates.c.image == old)
        .values(image=new)
    )


def upgrade() -> None:
    _rename("local/shell", "host")


def downgrade() -> None:
    _rename("host", "local/shell")
