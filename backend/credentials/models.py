"""Credential references: names of secrets a project may use; values are never stored."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.db import id_field, json_field, timestamp_field

CREDENTIAL_TYPES = ("git", "registry", "kubernetes", "ssh", "generic")


class ProjectCredentialRow(SQLModel, table=True):
    __tablename__ = "project_credentials"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "slug", name="uq_project_credentials_slug"),
    )

    id: uuid.UUID = id_field()
    project_id: uuid.UUID = Field(foreign_key="projects.id", ondelete="CASCADE", index=True)
    name: str
    slug: str
    type: str
    target: str = ""
    secret_ref: dict[str, Any] = json_field(dict)
    usage: list[str] = json_field(list)
    meta: Any = json_field(column="metadata")
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
