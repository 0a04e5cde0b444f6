"""Environment templates: the launch recipe of a sandbox (image, command, ports, policy)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from pydantic import Field as SchemaField
from sqlmodel import Field, SQLModel

from backend.db import id_field, json_field, timestamp_field
from backend.schemas import PublicModel, RequestModel, uuid_field

DEFAULT_WORKING_DIR = "/workspace"
NETWORK_POLICIES = ("default", "restricted", "open")
IMAGE_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
PORT_PROTOCOLS = ("", "TCP", "UDP")


class TemplateRow(SQLModel, table=True):
    audit_type: ClassVar[str] = "template"
    __tablename__ = "environment_templates"
    __table_args__ = (
        sa.Index(
            "uq_templates_global_slug",
            "slug",
            unique=True,
            sqlite_where=sa.text("project_id IS NULL"),
            postgresql_where=sa.text("project_id IS NULL"),
        ),
        sa.Index(
            "uq_templates_project_slug",
            "project_id",
            "slug",
            unique=True,
            sqlite_where=sa.text("project_id IS NOT NULL"),
            postgresql_where=sa.text("project_id IS NOT NULL"),
        ),
        sa.CheckConstraint("length(trim(name)) > 0", name="ck_templates_name"),
        sa.CheckConstraint("length(trim(image)) > 0", name="ck_templates_image"),
    )

    id: uuid.UUID = id_field()
    project_id: uuid.UUID | None = Field(
        default=None, foreign_key="projects.id", ondelete="CASCADE", index=True
    )
    name: str
    slug: str
    image: str
    startup_command: list[str] = json_field(list)
    working_dir: str = DEFAULT_WORKING_DIR
    cpu_request: str = ""
    memory_request: str = ""
    storage_request: str = ""
    exposed_ports: list[dict[str, Any]] = json_field(list)
    env: dict[str, str] = json_field(dict)
    secret_refs: list[dict[str, Any]] = json_field(list)
    network_policy: str = "default"
    egress_allow: list[str] = json_field(list)  # CIDRs, see backend/runtime/egress.py
    egress_deny: list[str] = json_field(list)
    # Kubernetes only (the local runtime ignores both): the pod's RuntimeClass, and how
    # many sandboxes its warm pool keeps ready (None: the server's kube_warm_pool).
    runtime_class_name: str = ""
    warm_pool_size: int | None = None
    # Pulling `image`: Always | IfNotPresent | Never ("": Kubernetes' rule for its tag).
    image_pull_policy: str = ""
    # A build recipe (see BuildRecipe): the local runtime builds and runs it instead of
    # pulling `image`, which stays what a cluster runs. {}: none.
    build: dict[str, Any] = json_field(dict)
    lifecycle_policy: dict[str, Any] = json_field(dict)
    meta: Any = json_field(column="metadata")
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()

    @property
    def ttl_seconds(self) -> int | None:
        """The lease of its sandboxes (lifecyclePolicy.ttlSeconds), if any."""
        return self.lifecycle_policy.get("ttlSeconds") or None

    @property
    def idle_timeout_seconds(self) -> int | None:
        return self.lifecycle_policy.get("idleTimeoutSeconds") or None


class TemplatePort(PublicModel):
    name: str
    port: int
    protocol: str = ""


class SecretRef(PublicModel):
    name: str
    key: str | None = None


class BuildFile(PublicModel):
    path: str
    content: str
    mode: str  # octal, e.g. "0644"


class BuildRecipe(PublicModel):
    """An image built on the server: a Debian base (mmdebstrap, from Debian's archive) with
    `packages` installed, `files` added, the `run` steps run as root (sh -c, without
    network, in a jail), `user` (`user`: uid 1000 with /home/user; `root`) as the user its
    sandboxes run as, and `verify` run as that user last: if it fails, the build does."""

    base: str  # debian:<suite>
    packages: list[str] = SchemaField(default_factory=list)
    files: list[BuildFile] = SchemaField(default_factory=list)
    run: list[str] = SchemaField(default_factory=list)
    verify: str = ""
    user: str = "user"


class EnvironmentTemplate(PublicModel):
    omit_empty = frozenset(
        {
            "startup_command",
            "cpu_request",
            "memory_request",
            "storage_request",
            "exposed_ports",
            "secret_refs",
            "egress_allow",
            "egress_deny",
            "runtime_class_name",
            "image_pull_policy",
            "build",
        }
    )

    id: uuid.UUID
    project_id: uuid.UUID | None = None
    name: str
    slug: str
    image: str
    startup_command: list[str] | None = None
    working_dir: str
    cpu_request: str | None = None
    memory_request: str | None = None
    storage_request: str | None = None
    exposed_ports: list[TemplatePort] | None = None
    env: Any = SchemaField(default_factory=dict)
    secret_refs: list[SecretRef] | None = None
    network_policy: str
    egress_allow: list[str] | None = None
    egress_deny: list[str] | None = None
    runtime_class_name: str | None = None
    warm_pool_size: int | None = None
    image_pull_policy: str | None = None
    build: BuildRecipe | None = None
    lifecycle_policy: Any = SchemaField(default_factory=dict)
    metadata: Any = SchemaField(default_factory=dict)
    created_at: datetime
    updated_at: datetime


class TemplatePortInput(RequestModel):
    name: str | None = None
    port: int | None = None
    protocol: str | None = None


class SecretRefInput(RequestModel):
    name: str | None = None
    key: str | None = None


class TemplateFields(RequestModel):
    """The fields a client may set on create and on update."""

    name: str | None = None
    image: str | None = None
    startup_command: list[str] | None = None
    working_dir: str | None = None
    cpu_request: str | None = None
    memory_request: str | None = None
    storage_request: str | None = None
    exposed_ports: list[TemplatePortInput] | None = None
    env: Any = None
    secret_refs: list[SecretRefInput] | None = None
    network_policy: str | None = None
    egress_allow: list[str] | None = None
    egress_deny: list[str] | None = None
    runtime_class_name: str | None = None
    warm_pool_size: int | None = None  # null: the server's default pool size
    image_pull_policy: str | None = None  # "": Kubernetes' rule for the image's tag
    build: Any = None  # a BuildRecipe; {} removes it
    lifecycle_policy: Any = None
    metadata: Any = None


class TemplateCreate(TemplateFields):
    project_id: str | None = uuid_field(default=None)
    slug: str | None = None


class TemplateUpdate(TemplateFields):
    """Whole-field replacement for each field sent; projectId and slug are immutable."""


class TemplateValidationRunCreate(RequestModel):
    """Launch a sandbox that tries the template out; global templates name the project."""

    project_id: str | None = uuid_field(default=None)
    name: str | None = None
    metadata: Any = None


class TemplateValidationRunDecision(RequestModel):
    status: str | None = None
