"""Audit events: an append-only record of every mutation, written with the change itself."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from pydantic import ConfigDict, WithJsonSchema
from pydantic import Field as SchemaField
from sqlmodel import Field, SQLModel

from backend.db import id_field, json_field, timestamp_field
from backend.schemas import PublicModel


class AuditEventRow(SQLModel, table=True):
    __tablename__ = "audit_events"
    __table_args__ = (
        sa.Index("ix_audit_events_project_created", "project_id", "created_at"),
        sa.Index("ix_audit_events_resource", "resource_type", "resource_id", "created_at"),
        sa.Index("ix_audit_events_action_created", "action", "created_at"),
        sa.Index("ix_audit_events_request_id", "request_id"),
        sa.Index("ix_audit_events_operation", "operation", "created_at"),
    )

    id: uuid.UUID = id_field()
    project_id: uuid.UUID | None = Field(
        default=None, foreign_key="projects.id", ondelete="SET NULL"
    )
    action: str
    resource_type: str
    resource_id: uuid.UUID | None = None
    resource_name: str = ""
    actor: str = Field(default="", index=True)
    source: str = Field(default="", index=True)
    # What authentication proved about the caller (actor/source are self-declared labels).
    principal: str = ""
    # Copies of metadata.requestId / metadata.operation, as plain indexed columns.
    request_id: str = ""
    operation: str = ""
    meta: dict[str, Any] = json_field(column="metadata")
    created_at: datetime = timestamp_field(index=True)
    # The chain (backend/audit/chain.py): set when the event's transaction commits. The
    # hash covers sealed_project_id: deleting a project clears project_id (SET NULL).
    sealed_project_id: uuid.UUID | None = None
    seq: int | None = Field(default=None, sa_type=sa.BigInteger, unique=True, index=True)
    prev_hash: str = ""
    hash: str = ""


class AuditChainHeadRow(SQLModel, table=True):
    """One row (id 1): the last sealed event; locked by every sealing transaction."""

    __tablename__ = "audit_chain_head"

    id: int = Field(primary_key=True)
    seq: int = Field(sa_type=sa.BigInteger)
    hash: str


class AuditCheckpointRow(SQLModel, table=True):
    """Where retention removed a prefix of the chain: up to which seq, the removed
    prefix's last hash and count, signed (HMAC-SHA256) with the server's key."""

    __tablename__ = "audit_checkpoints"

    id: uuid.UUID = id_field()
    upto_seq: int = Field(sa_type=sa.BigInteger, unique=True, index=True)
    last_hash: str
    removed_count: int = Field(sa_type=sa.BigInteger)
    signature: str
    created_at: datetime = timestamp_field()


class PolicyDeniedAuditMetadata(PublicModel):
    """The metadata of a `policy.denied` event; its other keys say what was refused."""

    model_config = ConfigDict(extra="allow")

    # sandbox.launch, sandbox.update, template.validation, artifact.content.capture or
    # artifact.content.upload
    operation: str
    reason: str  # the words after "policy denied: "


# Documented as the reference does (a policy denial's shape, or any object); kept a dict.
AuditEventMetadata = Annotated[
    dict[str, Any],
    WithJsonSchema(
        {"anyOf": [{"$ref": "#/components/schemas/PolicyDeniedAuditMetadata"}, {"type": "object"}]}
    ),
]


class AuditEvent(PublicModel):
    omit_empty = frozenset({"resource_name", "actor", "source", "principal", "prev_hash", "hash"})

    id: uuid.UUID
    project_id: uuid.UUID | None = None
    action: str
    resource_type: str
    resource_id: uuid.UUID | None = None
    resource_name: str | None = None
    actor: str | None = None
    source: str | None = None
    principal: str | None = None
    metadata: AuditEventMetadata = SchemaField(default_factory=dict)
    created_at: datetime
    # The chain: the event's place and its link (backend/audit/chain.py).
    seq: int | None = None
    prev_hash: str | None = None
    hash: str | None = None


class AuditExportEvent(AuditEvent):
    """A line of the NDJSON export: the event with what its hash covers, so the chain can
    be checked outside mbox (the project as sealed: deleting a project clears projectId)."""

    sealed_project_id: uuid.UUID | None = None


class AuditCheckpoint(PublicModel):
    """Retention removed the chain up to `uptoSeq`; `lastHash` was that event's hash."""

    upto_seq: int
    last_hash: str
    removed_count: int
    created_at: datetime


class AuditChainBreak(PublicModel):
    seq: int | None = None
    event_id: uuid.UUID | None = None
    # altered: content changed; missing: a seq is gone; inserted: a row the chain does not
    # hold (unsealed, beyond the head, or not the one the next event links to);
    # checkpoint: the retention checkpoint's signature is invalid.
    problem: Literal["altered", "missing", "inserted", "reordered", "checkpoint"]
    message: str


class AuditChainReport(PublicModel):
    """The answer of GET /v1/audit-events/verify."""

    verified: bool
    checked_events: int
    first_seq: int | None = None
    last_seq: int | None = None
    checkpoint: AuditCheckpoint | None = None
    broken: AuditChainBreak | None = None
