"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from backend.db import JSONValue, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _sqlite_default_template_fk() -> list[sa.ForeignKeyConstraint]:
    """SQLite cannot add a constraint later, but accepts a forward reference inline."""
    if op.get_bind().dialect.name != "sqlite":
        return []
    return [
        sa.ForeignKeyConstraint(
            ["default_template_id"],
            ["environment_templates.id"],
            name="fk_projects_default_template_id",
            ondelete="SET NULL",
        )
    ]


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("token_hash", sa.String(), nullable=False),
        sa.Column("token_prefix", sa.String(), nullable=False),
        sa.Column("scopes", JSONValue, nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("slug", sa.String(), nullable=False),
        sa.Column("repository_url", sa.String(), nullable=False),
        sa.Column("default_namespace", sa.String(), nullable=False),
        sa.Column("default_template_id", sa.Uuid(), nullable=True),
        sa.Column("metadata", JSONValue, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("length(trim(default_namespace)) > 0", name="ck_projects_namespace"),
        sa.CheckConstraint("length(trim(name)) > 0", name="ck_projects_name"),
        *_sqlite_default_template_fk(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("resource_type", sa.String(), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=True),
        sa.Column("resource_name", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("principal", sa.String(), nullable=False),
        sa.Column("request_id", sa.String(), nullable=False),
        sa.Column("operation", sa.String(), nullable=False),
        sa.Column("metadata", JSONValue, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_events_action_created", ["action", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_audit_events_actor"), ["actor"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_audit_events_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            "ix_audit_events_operation", ["operation", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_audit_events_project_created", ["project_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_audit_events_request_id", ["request_id"], unique=False)
        batch_op.create_index(
            "ix_audit_events_resource", ["resource_type", "resource_id", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_audit_events_source"), ["source"], unique=False)

    op.create_table(
        "environment_templates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("slug", sa.String(), nullable=False),
        sa.Column("image", sa.String(), nullable=False),
        sa.Column("startup_command", JSONValue, nullable=False),
        sa.Column("working_dir", sa.String(), nullable=False),
        sa.Column("cpu_request", sa.String(), nullable=False),
        sa.Column("memory_request", sa.String(), nullable=False),
        sa.Column("storage_request", sa.String(), nullable=False),
        sa.Column("exposed_ports", JSONValue, nullable=False),
        sa.Column("env", JSONValue, nullable=False),
        sa.Column("secret_refs", JSONValue, nullable=False),
        sa.Column("network_policy", sa.String(), nullable=False),
        sa.Column("lifecycle_policy", JSONValue, nullable=False),
        sa.Column("metadata", JSONValue, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("length(trim(image)) > 0", name="ck_templates_image"),
        sa.CheckConstraint("length(trim(name)) > 0", name="ck_templates_name"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("environment_templates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_environment_templates_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(
            "uq_templates_global_slug",
            ["slug"],
            unique=True,
            sqlite_where=sa.text("project_id IS NULL"),
            postgresql_where=sa.text("project_id IS NULL"),
        )
        batch_op.create_index(
            "uq_templates_project_slug",
            ["project_id", "slug"],
            unique=True,
            sqlite_where=sa.text("project_id IS NOT NULL"),
            postgresql_where=sa.text("project_id IS NOT NULL"),
        )

    # projects and templates reference each other: on Postgres the FK comes after both.
    if op.get_bind().dialect.name != "sqlite":
        op.create_foreign_key(
            "fk_projects_default_template_id",
            "projects",
            "environment_templates",
            ["default_template_id"],
            ["id"],
            ondelete="SET NULL",
        )

    op.create_table(
        "project_credentials",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("slug", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("secret_ref", JSONValue, nullable=False),
        sa.Column("usage", JSONValue, nullable=False),
        sa.Column("metadata", JSONValue, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "slug", name="uq_project_credentials_slug"),
    )
    with op.batch_alter_table("project_credentials", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_project_credentials_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "project_policies",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("enforcement", sa.String(), nullable=False),
        sa.Column("allowed_image_prefixes", JSONValue, nullable=False),
        sa.Column("allowed_service_accounts", JSONValue, nullable=False),
        sa.Column("allowed_secret_refs", JSONValue, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id"),
    )
    op.create_table(
        "project_quota_policies",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("enforcement", sa.String(), nullable=False),
        sa.Column("max_active_sandboxes", sa.Integer(), nullable=True),
        sa.Column("max_retained_artifact_bytes", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id"),
    )
    op.create_table(
        "sandboxes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("template_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("slug", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("desired_state", sa.String(), nullable=False),
        sa.Column("status_reason", sa.String(), nullable=False),
        sa.Column("status_message", sa.String(), nullable=False),
        sa.Column("namespace", sa.String(), nullable=False),
        sa.Column("service_account_name", sa.String(), nullable=False),
        sa.Column("runtime_ref", JSONValue, nullable=True),
        sa.Column("ports", JSONValue, nullable=False),
        sa.Column("metadata", JSONValue, nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("ready_at", UTCDateTime(), nullable=True),
        sa.Column("stopped_at", UTCDateTime(), nullable=True),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("last_activity_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("deleted_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "desired_state IN ('running', 'stopped', 'deleted')", name="ck_sandboxes_desired"
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'stopped', 'failed', 'deleted')",
            name="ck_sandboxes_status",
        ),
        sa.CheckConstraint("length(trim(name)) > 0", name="ck_sandboxes_name"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["template_id"], ["environment_templates.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sandboxes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sandboxes_deleted_at"), ["deleted_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_sandboxes_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sandboxes_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_sandboxes_template_id"), ["template_id"], unique=False)
        batch_op.create_index(
            "uq_sandboxes_active_slug",
            ["project_id", "slug"],
            unique=True,
            sqlite_where=sa.text("deleted_at IS NULL"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        )

    op.create_table(
        "execution_tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("sandbox_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("command", JSONValue, nullable=False),
        sa.Column("env", JSONValue, nullable=False),
        sa.Column("cwd", sa.String(), nullable=False),
        sa.Column("idempotency_key", sa.String(), nullable=True),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("stdout", sa.Text(), nullable=False),
        sa.Column("stderr", sa.Text(), nullable=False),
        sa.Column("output_truncated", sa.Boolean(), nullable=False),
        sa.Column("error", sa.String(), nullable=False),
        sa.Column("runtime_ref", JSONValue, nullable=True),
        sa.Column("metadata", JSONValue, nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'canceled', 'timed_out')",
            name="ck_execution_tasks_status",
        ),
        sa.CheckConstraint("timeout_seconds > 0", name="ck_execution_tasks_timeout"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["sandbox_id"], ["sandboxes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("execution_tasks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_execution_tasks_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_execution_tasks_sandbox_id"), ["sandbox_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_execution_tasks_status"), ["status"], unique=False)
        batch_op.create_index(
            "uq_execution_tasks_idempotency",
            ["sandbox_id", "idempotency_key"],
            unique=True,
            sqlite_where=sa.text("idempotency_key IS NOT NULL"),
            postgresql_where=sa.text("idempotency_key IS NOT NULL"),
        )

    op.create_table(
        "runtime_sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("sandbox_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("client", sa.String(), nullable=False),
        sa.Column("user_agent", sa.String(), nullable=False),
        sa.Column("runtime_ref", JSONValue, nullable=True),
        sa.Column("metadata", JSONValue, nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'ended', 'failed')", name="ck_runtime_sessions_status"
        ),
        sa.CheckConstraint(
            "type IN ('terminal', 'ide', 'notebook', 'browser', 'command', 'custom')",
            name="ck_runtime_sessions_type",
        ),
        sa.CheckConstraint(
            "ended_at IS NULL OR ended_at >= started_at", name="ck_runtime_sessions_ended"
        ),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["sandbox_id"], ["sandboxes.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("runtime_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_runtime_sessions_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_runtime_sessions_sandbox_id"), ["sandbox_id"], unique=False
        )

    op.create_table(
        "artifacts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("sandbox_id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("uri", sa.String(), nullable=False),
        sa.Column("content_type", sa.String(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("metadata", JSONValue, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["sandbox_id"], ["sandboxes.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["task_id"], ["execution_tasks.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_artifacts_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_artifacts_sandbox_id"), ["sandbox_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_artifacts_task_id"), ["task_id"], unique=False)

    op.create_table(
        "artifact_contents",
        sa.Column("artifact_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("content_type", sa.String(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.Column("source_uri", sa.String(), nullable=False),
        sa.Column("storage_provider", sa.String(), nullable=False),
        sa.Column("storage_key", sa.String(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("captured_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "storage_provider IN ('postgres', 'filesystem', 's3')",
            name="ck_artifact_contents_provider",
        ),
        sa.CheckConstraint("length(sha256) = 64", name="ck_artifact_contents_sha256"),
        sa.ForeignKeyConstraint(["artifact_id"], ["artifacts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("artifact_id"),
    )
    with op.batch_alter_table("artifact_contents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_artifact_contents_project_id"), ["project_id"], unique=False
        )


def downgrade() -> None:
    raise NotImplementedError("mbox migrations are forward-only; restore a backup to go back")
