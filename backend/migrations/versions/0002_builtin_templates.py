"""Built-in templates, so a new install can launch at once (seeded exactly once).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from backend.db import JSONValue, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

IDLE_HOUR = {"idleTimeoutSeconds": 3600}
BUILTINS = [
    {
        "name": "Shell",
        "slug": "shell",
        "image": "local/shell",
        "exposed_ports": [],
        "meta": {
            "runtimeType": "Custom",
            "useCase": "A POSIX shell with the host's command-line tools",
            "resourcePreset": "Small",
            "builtin": True,
        },
    },
    {
        "name": "Python",
        "slug": "python",
        "image": "python:3.12-bookworm",
        "exposed_ports": [],
        "meta": {
            "runtimeType": "Python",
            "useCase": "Scripts, data work and tests with python3",
            "resourcePreset": "Small",
            "builtin": True,
        },
    },
    {
        "name": "Node.js",
        "slug": "nodejs",
        "image": "node:22-bookworm-slim",
        "exposed_ports": [{"name": "web", "port": 3000, "protocol": "TCP"}],
        "meta": {
            "runtimeType": "Node.js",
            "useCase": "A web app or API served on port 3000",
            "resourcePreset": "Small",
            "builtin": True,
        },
    },
]

templates = sa.table(
    "environment_templates",
    sa.column("id", sa.Uuid()),
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
    sa.column("lifecycle_policy", JSONValue),
    sa.column("metadata", JSONValue),
    sa.column("created_at", UTCDateTime()),
    sa.column("updated_at", UTCDateTime()),
)


def upgrade() -> None:
    now = datetime.now(UTC)
    op.bulk_insert(
        templates,
        [
            {
                "id": uuid.uuid4(),
                "name": builtin["name"],
                "slug": builtin["slug"],
                "image": builtin["image"],
                "startup_command": [],
                "working_dir": "/workspace",
                "cpu_request": "250m",
                "memory_request": "512Mi",
                "storage_request": "",
                "exposed_ports": builtin["exposed_ports"],
                "env": {},
                "secret_refs": [],
                "network_policy": "restricted",
                "lifecycle_policy": IDLE_HOUR,
                "metadata": builtin["meta"],
                "created_at": now,
                "updated_at": now,
            }
            for builtin in BUILTINS
        ],
    )


def downgrade() -> None:
    raise NotImplementedError("mbox migrations are forward-only; restore a backup to go back")
