"""Credential references: names of secrets a project may use; values are never stored."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from pydantic import Field as SchemaField
from sqlmodel import Field, SQLModel

from backend.db import id_field, json_field, timestamp_field
from backend.schemas import PublicModel, RequestModel
from backend.templates.models import SecretRef, SecretRefInput

CREDENTIAL_TYPES = ("git", "registry", "kubernetes", "ssh", "generic")
# A credential whose usage lists this is mounted into the project's sandboxes.
SANDBOX_USAGE = "sandbox"


class ProjectCredentialRow(SQLModel, table=True):
    audit_type: ClassVar[str] = "project-credential"
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

    @property
    def secret_name(self) -> str:
        return str(self.secret_ref.get("name", ""))

    @property
    def secret_key(self) -> str:
        return str(self.secret_ref.get("key") or "")


class ProjectCredential(PublicModel):
    """A reference to a secret by name (and key): there is no value field, by design."""

    omit_empty = frozenset({"target", "usage"})

    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    slug: str
    type: str
    target: str | None = None
    secret_ref: SecretRef
    usage: list[str] | None = None
    metadata: Any = SchemaField(default_factory=dict)
    created_at: datetime
    updated_at: datetime


class ProjectCredentialCreate(RequestModel):
    name: str | None = None
    slug: str | None = None
    type: str | None = None
    target: str | None = None
    secret_ref: SecretRefInput | None = None
    usage: list[str] | None = None
    metadata: Any = None
