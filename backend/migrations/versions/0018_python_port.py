"""The built-in Python template declares the port its web apps serve on (http 8000, as
`python3 -m http.server` and most Python dev servers do), so its sandboxes offer a preview.
Only a built-in whose ports nobody changed (still none) is touched.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from backend.db import JSONValue

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

PORTS = [{"name": "http", "port": 8000, "protocol": "TCP"}]

templates = sa.table(
    "environment_templates",
    sa.column("id", sa.Uuid()),
    sa.column("slug", sa.String()),
    sa.column("project_id", sa.Uuid()),
    sa.column("exposed_ports", JSONValue),
)


def _set_ports(before: list, after: list) -> None:
    conn = op.get_bind()
    query = sa.select(templates.c.id, templates.c.exposed_ports).where(
        templates.c.slug == "python", templates.c.project_id.is_(None)
    )
    for row in conn.execute(query):
        if row.exposed_ports == before:
            update = templates.update().where(templates.c.id == row.id)
            conn.execute(update.values(exposed_ports=after))


def upgrade() -> None:
    _set_ports([], PORTS)


def downgrade() -> None:
    _set_ports(PORTS, [])
