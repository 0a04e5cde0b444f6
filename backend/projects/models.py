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


# -- usage summary (computed: backend/reporting/usage.py) --------------------------------------


class ResourceQuantityUsage(PublicModel):
    """A summed request: `total` as a Kubernetes quantity (omitted when none is declared),
    and how many sandboxes declared it, left it blank, or gave an unparseable value."""

    total: str | None = None
    declared: int
    missing: int
    invalid: int


class SandboxResourceRequestUsage(PublicModel):
    count: int
    cpu: ResourceQuantityUsage
    memory: ResourceQuantityUsage
    storage: ResourceQuantityUsage


class ProjectSandboxUsage(PublicModel):
    total: int
    active: int
    pending: int
    running: int
    stopped: int
    failed: int
    deleted: int
    cleanup_pending: int
    active_requests: SandboxResourceRequestUsage
    running_requests: SandboxResourceRequestUsage
    # Beyond the reference: the enforced quota's limit, when there is one.
    max_active: int | None = None


class ProjectSessionUsage(PublicModel):
    total: int
    active: int
    ended: int
    failed: int
    terminal: int
    ide: int
    notebook: int
    browser: int
    command: int
    custom: int


class ProjectTaskUsage(PublicModel):
    total: int
    queued: int
    running: int
    succeeded: int
    failed: int
    canceled: int
    timed_out: int


class ProjectArtifactUsage(PublicModel):
    total: int
    retained_content: int
    referenced_bytes: int
    retained_bytes: int
    file: int
    directory: int
    log: int
    report: int
    screenshot: int
    image: int
    link: int
    other: int
    # Beyond the reference: the enforced quota's limit, when there is one.
    max_retained_bytes: int | None = None


class ResourceUsageValue(PublicModel):
    value: str
    count: int


class ProjectTemplateUsage(PublicModel):
    project_scoped: int
    global_visible: int
    cpu_requests: list[ResourceUsageValue] | None = None
    memory_requests: list[ResourceUsageValue] | None = None
    storage_requests: list[ResourceUsageValue] | None = None


class ProjectCredentialUsage(PublicModel):
    total: int
    git: int
    registry: int
    kubernetes: int
    ssh: int
    generic: int


class QuotaUsage(PublicModel):
    """A quota against its limit: `limit` is omitted when the project has none enforced;
    quantities (cpu, memory) are Kubernetes quantity strings."""

    name: str
    limit: int | str | None = None
    current: int | str
    unit: str | None = None


class ProjectLiveUsage(PublicModel):
    """The latest sample of each running sandbox, summed (backend/metrics): what the
    project uses now. A sandbox whose runtime cannot measure a field adds nothing to it."""

    sampled_sandboxes: int
    cpu_millicores: float
    memory_bytes: int
    disk_bytes: int
    processes: int
    network_rx_bytes_per_second: float
    network_tx_bytes_per_second: float
    at: datetime | None = None  # the newest sample summed


class ProjectUsage(PublicModel):
    project_id: uuid.UUID
    generated_at: datetime
    sandboxes: ProjectSandboxUsage
    runtime_sessions: ProjectSessionUsage
    execution_tasks: ProjectTaskUsage
    artifacts: ProjectArtifactUsage
    templates: ProjectTemplateUsage
    credentials: ProjectCredentialUsage
    notes: list[str]
    # Beyond the reference: every quota, its limit and the usage it counts.
    quotas: list[QuotaUsage] = SchemaField(default_factory=list)
    # Beyond the reference: live resource use, summed over the running sandboxes.
    live: ProjectLiveUsage | None = None
