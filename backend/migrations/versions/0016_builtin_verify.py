"""The built-in Python and Node.js recipes get a validation run (`verify`: the build
fails unless the interpreter starts as the image's user), in the full shape recipes now
have (`run` steps too). Only recipes nobody changed since 0015 are touched.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from backend.db import JSONValue

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

SEEDED = {
    slug: {"base": "debian:bookworm", "packages": packages, "files": [], "user": "user"}
    for slug, packages in (("python", ["python3", "python3-venv"]), ("nodejs", ["nodejs"]))
}
VERIFY = {
    "python": "python3 --version && python3 -m venv --help >/dev/null",
    "nodejs": "node --version",
}

templates = sa.table(
    "environment_templates",
    sa.column("id", sa.Uuid()),
    sa.column("slug", sa.String()),
    sa.column("project_id", sa.Uuid()),
    sa.column("build", JSONValue),
)


def _builtins(conn: sa.Connection) -> list[sa.Row]:
    query = sa.select(templates.c.id, templates.c.slug, templates.c.build).where(
        templates.c.slug.in_(list(SEEDED)), templates.c.project_id.is_(None)
    )
    return list(conn.execute(query))


def _set(conn: sa.Connection, template_id: object, build: dict) -> None:
    conn.execute(templates.update().where(templates.c.id == template_id).values(build=build))


def upgrade() -> None:
    conn = op.get_bind()
    for row in _builtins(conn):
        if row.build == SEEDED[row.slug]:
            _set(conn, row.id, {**SEEDED[row.slug], "run": [], "verify": VERIFY[row.slug]})


def downgrade() -> None:
    conn = op.get_bind()
    for row in _builtins(conn):
        if row.build == {**SEEDED[row.slug], "run": [], "verify": VERIFY[row.slug]}:
            _set(conn, row.id, SEEDED[row.slug])
