"""Sandboxes: the product record of an isolated environment; runtimes reconcile toward it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from pydantic import Field as SchemaField
from sqlmodel import Field, SQLModel

from backend.db import id_field, json_field, timestamp_field
from backend.schemas import PublicModel, RequestModel, uuid_field
from backend.templates.models import EnvironmentTemplate

DEFAULT_SERVICE_ACCOUNT = "mbox-sandbox"
STATUSES = ("pending", "running", "stopped", "failed", "deleted")
DESIRED_STATES = ("running", "stopped", "deleted")


class SandboxRow(SQLModel, table=True):
    audit_type: ClassVar[str] = "sandbox"
    __tablename__ = "sandboxes"
    __table_args__ = (
        sa.Index(
            "uq_sandboxes_active_slug",
            "project_id",
            "slug",
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'stopped', 'failed', 'deleted')",
            name="ck_sandboxes_status",
        ),
        sa.CheckConstraint(
            "desired_state IN ('running', 'stopped', 'deleted')", name="ck_sandboxes_desired"
        ),
        sa.CheckConstraint("length(trim(name)) > 0", name="ck_sandboxes_name"),
    )

    id: uuid.UUID = id_field()
    project_id: uuid.UUID = Field(foreign_key="projects.id", ondelete="CASCADE", index=True)
    # Null only on deleted sandboxes whose template was removed later (history is kept).
    template_id: uuid.UUID | None = Field(
        default=None, foreign_key="environment_templates.id", ondelete="SET NULL", index=True
    )
    name: str
    slug: str
    status: str = Field(default="pending", index=True)
    # What the user asked for; the reconciler drives `status` toward it.
    desired_state: str = "running"
    # Why the sandbox is in its status (e.g. "idle", "ttl", "user", "start-failed") and words.
    status_reason: str = ""
    status_message: str = ""
    namespace: str
    service_account_name: str = DEFAULT_SERVICE_ACCOUNT
    runtime_ref: dict[str, Any] | None = json_field(nullable=True)
    ports: list[dict[str, Any]] = json_field(list)
    meta: Any = json_field(column="metadata")
    # Phase timestamps, so a user can see where start-up time went.
    requested_at: datetime | None = timestamp_field(nullable=True)
    started_at: datetime | None = timestamp_field(nullable=True)
    scheduled_at: datetime | None = timestamp_field(nullable=True)
    ready_at: datetime | None = timestamp_field(nullable=True)
    stopped_at: datetime | None = timestamp_field(nullable=True)
    # Lifetime: the lease deadline (TTL / renew) and the last observed activity (idle).
    expires_at: datetime | None = timestamp_field(nullable=True)
    last_activity_at: datetime | None = timestamp_field(nullable=True)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    deleted_at: datetime | None = timestamp_field(nullable=True, index=True)


class SandboxHoldRow(SQLModel, table=True):
    """A live sandbox's hold on its project and template. The row exists exactly while the
    sandbox is live: not deleted, or deleted with its runtime not yet cleaned up
    (`backend.sandboxes.service._hold_while_live`). Both keys are ON DELETE RESTRICT, so the
    database refuses to delete the template, or the project (whose delete cascades to its
    sandboxes), while a live sandbox holds it; soft-deleted, cleaned-up history does not."""

    __tablename__ = "sandbox_holds"

    sandbox_id: uuid.UUID = Field(primary_key=True, foreign_key="sandboxes.id", ondelete="RESTRICT")
    # Never null: a sandbox is created with a template, which cannot go while it is held.
    template_id: uuid.UUID = Field(
        foreign_key="environment_templates.id", ondelete="RESTRICT", index=True
    )


class RuntimeRef(PublicModel):
    adapter: str
    kind: str
    namespace: str
    name: str


class SandboxPort(PublicModel):
    name: str
    port: int
    protocol: str = "TCP"
    preview_url: str | None = None


class Sandbox(PublicModel):
    omit_empty = frozenset({"status_reason", "status_message", "ports"})

    id: uuid.UUID
    project_id: uuid.UUID
    template_id: uuid.UUID | None = None
    name: str
    slug: str
    status: str
    status_reason: str | None = None
    status_message: str | None = None
    namespace: str
    service_account_name: str
    runtime_ref: RuntimeRef | None = None
    ports: list[SandboxPort] | None = None
    metadata: Any = SchemaField(default_factory=dict)
    # Where start-up time went: asked for, runtime start began, placed (on a node), ready;
    # and when it stopped.
    requested_at: datetime | None = None
    started_at: datetime | None = None
    scheduled_at: datetime | None = None
    ready_at: datetime | None = None
    stopped_at: datetime | None = None
    # Lifetime: when the lease ends (TTL) and the last activity seen (idle timeout).
    expires_at: datetime | None = None
    last_activity_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None


class SandboxCreate(RequestModel):
    server_owned: ClassVar[tuple[str, ...]] = ("status", "runtimeRef", "ports")

    project_id: str | None = uuid_field(default=None)
    template_id: str | None = uuid_field(default=None)
    name: str | None = None
    slug: str | None = None
    namespace: str | None = None
    service_account_name: str | None = None
    metadata: Any = None


class SandboxPortInput(RequestModel):
    name: str | None = None
    port: int | None = None
    protocol: str | None = None
    preview_url: str | None = None


class SandboxUpdate(RequestModel):
    server_owned: ClassVar[tuple[str, ...]] = ("status", "runtimeRef")

    name: str | None = None
    namespace: str | None = None
    service_account_name: str | None = None
    ports: list[SandboxPortInput] | None = None
    metadata: Any = None


# -- runtime access (documented shapes; built by backend.sandboxes.runtime_access) ----------


class RuntimeTarget(PublicModel):
    namespace: str
    pod_name: str
    container: str
    phase: str
    selector: str | None = None
    commands: list[str] | None = None


class LogResult(PublicModel):
    target: RuntimeTarget
    logs: str


class RuntimeEvent(PublicModel):
    type: str
    reason: str
    message: str
    count: int
    first_timestamp: datetime
    last_timestamp: datetime


class PreviewPort(PublicModel):
    name: str
    port: int
    protocol: str
    # The reference's relative proxy route on the API origin (for programs).
    preview_url: str | None = None
    # This port's own origin (for browsers: open it through a preview link).
    preview_origin: str | None = None
    available: bool
    message: str | None = None


class PreviewPortsResult(PublicModel):
    target: RuntimeTarget
    items: list[PreviewPort]


class PreviewLinkRow(SQLModel, table=True):
    """A shareable, expiring, revocable link to one sandbox port's preview. Only a hash of
    its secret is stored; the link itself is shown once, when it is created."""

    __tablename__ = "preview_links"
    audit_type: ClassVar[str] = "preview-link"

    id: uuid.UUID = id_field()
    project_id: uuid.UUID = Field(foreign_key="projects.id", ondelete="CASCADE", index=True)
    sandbox_id: uuid.UUID = Field(foreign_key="sandboxes.id", ondelete="CASCADE", index=True)
    port: int
    label: str = ""
    secret_hash: str
    created_by: str = ""
    expires_at: datetime = timestamp_field()
    revoked_at: datetime | None = timestamp_field(nullable=True)
    created_at: datetime = timestamp_field()


class PreviewLink(PublicModel):
    omit_empty = frozenset({"label"})

    id: uuid.UUID
    sandbox_id: uuid.UUID
    port: int
    label: str | None = None
    created_by: str
    expires_at: datetime
    revoked_at: datetime | None = None
    created_at: datetime
    # Only in the response that created the link (the secret is not stored).
    url: str | None = None


class PreviewLinkCreate(RequestModel):
    port: int | None = None
    label: str | None = None
    expires_in_seconds: int | None = None


class TemplateValidationRun(PublicModel):
    """A template validation run (backend/sandboxes/validation_runs.py): its sandbox, and the
    template it tries out."""

    template: EnvironmentTemplate
    sandbox: Sandbox
