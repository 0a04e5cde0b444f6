"""Templates: an image pull policy, and a build recipe (a Debian base built with its
packages and files by the local runtime). The built-in Python and Node.js templates get
recipes from Debian's own python3 and nodejs, so a machine without a registry runs them.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from backend.db import JSONValue

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# In the shape the templates service stores (backend/templates/service.py `_build`).
RECIPES = {
    slug: {"base": "debian:bookworm", "packages": packages, "files": [], "user": "user"}
    for slug, packages in (("python", ["python3", "python3-venv"]), ("nodejs", ["nodejs"]))
}
IMAGES = {"python": "python:3.12-bookworm", "nodejs": "node:22-bookworm-slim"}

templates = sa.table(
    "environment_templates",
    sa.column("slug", sa.String()),
    sa.column("image", sa.String()),
    sa.column("project_id", sa.Uuid()),
    sa.column("build", JSONValue),
)


def upgrade() -> None:
    with op.batch_alter_table("environment_templates") as batch:
        batch.add_column(
            sa.Column("image_pull_policy", sa.String(), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("build", JSONValue, nullable=False, server_default="{}"))
    for slug, recipe in RECIPES.items():
        op.execute(
            templates.update()
            .where(templates.c.slug == slug, templates.c.project_id.is_(None))
            .where(templates.c.image == IMAGES[slug])
            .values(build=recipe)
        )


def downgrade() -> None:
    with op.batch_alter_table("environment_templates") as batch:
        batch.drop_column("build")
        batch.drop_column("image_pull_policy")
