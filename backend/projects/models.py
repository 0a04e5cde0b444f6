"""Projects: the unit of ownership for templates, sandboxes, policy and audit."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from pydantic import Field as SchemaField
from sqlmodel import Field, SQLModel

from backend.db import id_field, json_field, timestamp_field
from backend.schemas import PublicModel, RequestModel, uuid_field


class ProjectRow(SQLModel, table=True):
    audit_type: ClassVar[str] = "project"
    __tablename__ = "projects"
    __table_args__ = (
        sa.CheckConstraint("length(trim(name)) > 0", name="ck_projects_name"),
        sa.CheckConstraint("length(trim(default_namespace)) > 0", name="ck_projects_namespace"),
    )

    id: uuid.UUID = id_field()
    name: str
    slug: str = Field(sa_column_kwargs={"unique": True})
    repository_url: str = ""
    default_namespace: str
    # use_alter: projects and templates reference each other.
    default_template_id: uuid.UUID | None = Field(
        default=None,
        sa_column_args=[
            sa.ForeignKey(
                "environment_templates.id",
                ondelete="SET NULL",
                use_alter=True,
                name="fk_projects_default_template_id",
            )
        ],
    )
    # Artifacts older than this (since their last change) are deleted; None keeps them.
    artifact_retention_days: int | None = None
    meta: Any = json_field(column="metadata")
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class Project(PublicModel):
    omit_empty = frozenset({"repository_url"})

    id: uuid.UUID
    name: str
    slug: str
    repository_url: str | None = None
    default_namespace: str
    default_template_id: uuid.UUID | None = None
    artifact_retention_days: int | None = None
    metadata: Any = SchemaField(default_factory=dict)
    created_at: datetime
    updated_at: datetime


class ProjectCreate(RequestModel):
    name: str | None = None
    slug: str | None = None
    repository_url: str | None = None
    default_namespace: str | None = None
    artifact_retention_days: int | None = None
    metadata: Any = None


class ProjectUpdate(RequestModel):
    name: str | None = None
    repository_url: str | None = None
    default_namespace: str | None = None
    default_template_id: str | None = uuid_field(default=None)
    artifact_retention_days: int | None = None
    metadata: Any = None
