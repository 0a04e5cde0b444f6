"""The built-in Code Interpreter template (E2B's `code-interpreter-v1`): Jupyter kernels
with the usual data stack, built locally from Debian's packages; `image` is what a
cluster runs.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from backend.db import JSONValue, UTCDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

SLUG = "code-interpreter"
PACKAGES = ["python3", "python3-ipykernel", "python3-jupyter-client", "python3-matplotlib"]
PACKAGES += ["python3-numpy", "python3-pandas"]
# In the shape the templates service stores (backend/templates/service.py `_build`).
RECIPE = {
    "base": "debian:bookworm",
    "packages": PACKAGES,
    "files": [],
    "run": [],
    "verify": "python3 -c 'import ipykernel, jupyter_client, matplotlib, numpy, pandas'",
    "user": "user",
}
META = {
    "runtimeType": "Python",
    "useCase": "Run code in Jupyter kernels: pandas, numpy and matplotlib charts",
    "resourcePreset": "Medium",
    "builtin": True,
}

templates = sa.table(
    "environment_templates",
    sa.column("id", sa.Uuid()),
    sa.column("project_id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("slug", sa.String()),
    sa.column("image", sa.String()),
    sa.column("startup_command", JSONValue),
    sa.column("working_dir", sa.String()),
    sa.column("cpu_request", sa.String()),
    sa.column("memory_request", sa.String()),
    sa.column("storage_request", sa.String()),
    sa.column("exposed_ports", JSONValue),
    sa.column("env", JSONValue),
    sa.column("secret_refs", JSONValue),
    sa.column("network_policy", sa.String()),
    sa.column("build", JSONValue),
    sa.column("lifecycle_policy", JSONValue),
    sa.column("metadata", JSONValue),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)


def _existing(conn: sa.Connection) -> object:
    query = sa.select(templates.c.id).where(
        templates.c.slug == SLUG, templates.c.project_id.is_(None)
    )
    return conn.execute(query).scalar()


def upgrade() -> None:
    if _existing(op.get_bind()) is not None:  # an admin made one by that name: theirs
        return
    now = datetime.now(UTC)
    row = {
        "id": uuid.uuid4(),
        "project_id": None,
        "name": "Code Interpreter",
        "slug": SLUG,
        "image": "quay.io/jupyter/scipy-notebook:python-3.11",
        "startup_command": [],
        "working_dir": "/workspace",
        "cpu_request": "500m",
        "memory_request": "1Gi",
        "storage_request": "",
        "exposed_ports": [],
        "env": {},
        "secret_refs": [],
        "network_policy": "restricted",
        "build": RECIPE,
        "lifecycle_policy": {"idleTimeoutSeconds": 3600},
        "metadata": META,
        "created_at": now,
        "updated_at": now,
    }
    op.bulk_insert(templates, [row])


def downgrade() -> None:
    conn = op.get_bind()
    query = templates.delete().where(
        templates.c.slug == SLUG, templates.c.project_id.is_(None), templates.c.build == RECIPE
    )
    conn.execute(query)
