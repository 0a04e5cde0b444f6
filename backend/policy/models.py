"""Project governance: launch policy and quota policy."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.db import json_field, timestamp_field
from backend.schemas import DeniedRuleBody, PublicModel, RequestModel

ENFORCEMENT_MODES = ("disabled", "enforced")


class ProjectPolicyRow(SQLModel, table=True):
    __tablename__ = "project_policies"

    project_id: uuid.UUID = Field(primary_key=True, foreign_key="projects.id", ondelete="CASCADE")
    enforcement: str = "disabled"
    allowed_image_prefixes: list[str] = json_field(list)
    allowed_service_accounts: list[str] = json_field(list)
    allowed_secret_refs: list[str] = json_field(list)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class ProjectQuotaPolicyRow(SQLModel, table=True):
    __tablename__ = "project_quota_policies"

    project_id: uuid.UUID = Field(primary_key=True, foreign_key="projects.id", ondelete="CASCADE")
    enforcement: str = "disabled"
    max_active_sandboxes: int | None = None
    max_retained_artifact_bytes: int | None = Field(default=None, sa_type=sa.BigInteger)
    # What runs (migration 0012): sandboxes meant to run, their summed template requests
    # (Kubernetes quantities as written), tasks queued or running, open terminals.
    max_running_sandboxes: int | None = None
    max_cpu: str | None = None
    max_memory: str | None = None
    max_tasks_in_progress: int | None = None
    max_live_terminals: int | None = None
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


# A policy never written reads as this moment (the reference's Go zero time).
NEVER = datetime(1, 1, 1, tzinfo=UTC)


class ProjectPolicy(PublicModel):
    omit_empty = frozenset(
        {"allowed_image_prefixes", "allowed_service_accounts", "allowed_secret_refs"}
    )

    project_id: uuid.UUID
    enforcement: str
    allowed_image_prefixes: list[str] | None = None
    allowed_service_accounts: list[str] | None = None
    allowed_secret_refs: list[str] | None = None
    created_at: datetime
    updated_at: datetime


class ProjectPolicyUpsert(RequestModel):
    enforcement: str | None = None
    allowed_image_prefixes: list[str] | None = None
    allowed_service_accounts: list[str] | None = None
    allowed_secret_refs: list[str] | None = None


class ProjectQuotaPolicy(PublicModel):
    project_id: uuid.UUID
    enforcement: str
    max_active_sandboxes: int | None = None
    max_retained_artifact_bytes: int | None = None
    max_running_sandboxes: int | None = None
    max_cpu: str | None = None
    max_memory: str | None = None
    max_tasks_in_progress: int | None = None
    max_live_terminals: int | None = None
    created_at: datetime
    updated_at: datetime


class ProjectQuotaPolicyUpsert(RequestModel):
    enforcement: str | None = None
    max_active_sandboxes: int | None = None
    max_retained_artifact_bytes: int | None = None
    max_running_sandboxes: int | None = None
    # Kubernetes quantities; a plain number is taken as one too.
    max_cpu: str | int | None = None
    max_memory: str | int | None = None
    max_tasks_in_progress: int | None = None
    max_live_terminals: int | None = None


# -- launch policy preview (POST /v1/projects/{id}/policy/preview) -----------------------


class PolicyPreviewItem(PublicModel):
    """A template or sandbox the previewed policy would deny, and the rules it breaks."""

    kind: str  # template | sandbox
    id: uuid.UUID
    name: str
    slug: str
    template_id: uuid.UUID | None = None
    rules: list[DeniedRuleBody]


class PolicyPreview(PublicModel):
    project_id: uuid.UUID
    enforcement: str
    checked_templates: int
    checked_sandboxes: int
    templates: list[PolicyPreviewItem]
    sandboxes: list[PolicyPreviewItem]
