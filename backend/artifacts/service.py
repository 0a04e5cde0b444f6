"""Artifacts: references, retained content, the blob ledger and retained-bytes accounting.

Synchronous, transactional steps on a session; `backend.artifacts.content` streams the
bytes between them. Retaining content is three steps so that no transaction is open while
bytes move: open a `pending` blob in the ledger, write the bytes to the store, then
`retain` — which points the artifact at the blob, adjusts the project's retained bytes
and audits, all in one transaction. A blob nobody points at is garbage (see `claim_garbage`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select, update

from backend import audit
from backend.artifacts.models import (
    ARTIFACT_KINDS,
    ArtifactBlobRow,
    ArtifactContentRow,
    ArtifactCreate,
    ArtifactRow,
    ArtifactUsage,
    ArtifactUsageRow,
)
from backend.auth import access
from backend.auth.access import Permission
from backend.auth.models import SYSTEM, Principal
from backend.db import commit, get_row, utcnow
from backend.errors import Conflict, InvalidInput, NotFound
from backend.policy import service as policy
from backend.projects.models import ProjectRow
from backend.sandboxes import service as sandboxes
from backend.sandboxes.models import SandboxRow
from backend.tasks.models import ExecutionTaskRow
from backend.validation import metadata_value, parse_uuid

MAX_NAME_CHARS = 256
MAX_URI_CHARS = 4096
MAX_CONTENT_TYPE_CHARS = 255

# The contract's quota operation names for each way content arrives.
QUOTA_OPERATIONS = {
    "artifact.content.uploaded": "artifact.content.upload",
    "artifact.content.captured": "artifact.content.capture",
}

Listed = list[tuple[ArtifactRow, ArtifactContentRow | None]]


# -- references ----------------------------------------------------------------------------


def list_for_sandbox(db: Session, *, sandbox_id: uuid.UUID, limit: int | None = None) -> Listed:
    """Newest first; a deleted sandbox's artifacts stay listed (they outlive it)."""
    if db.get(SandboxRow, sandbox_id) is None:
        raise NotFound()
    return _listed(db, ArtifactRow.sandbox_id == sandbox_id, limit)


def list_for_task(db: Session, *, task_id: uuid.UUID, limit: int | None = None) -> Listed:
    get_row(db, ExecutionTaskRow, task_id)
    return _listed(db, ArtifactRow.task_id == task_id, limit)


def list_for_project(
    db: Session,
    *,
    project_id: uuid.UUID,
    sandbox_id: uuid.UUID | None = None,
    task_id: uuid.UUID | None = None,
    kind: str | None = None,
    limit: int | None = None,
) -> Listed:
    """A project's artifacts newest first, deleted sandboxes' included (they outlive
    them), narrowed to one sandbox, task or kind when given (an unknown kind is refused)."""
    get_row(db, ProjectRow, project_id)
    conditions = [ArtifactRow.project_id == project_id]
    if sandbox_id is not None:
        conditions.append(ArtifactRow.sandbox_id == sandbox_id)
    if task_id is not None:
        conditions.append(ArtifactRow.task_id == task_id)
    if kind:
        conditions.append(ArtifactRow.kind == _kind(kind))
    return _listed(db, sa.and_(*conditions), limit)


def origins(
    db: Session, *, project_id: uuid.UUID
) -> tuple[list[SandboxRow], list[ExecutionTaskRow]]:
    """The sandboxes (deleted ones too) and the tasks that made the project's artifacts,
    newest first: what a project's artifacts can be filtered by."""
    get_row(db, ProjectRow, project_id)
    with_artifacts = select(ArtifactRow.sandbox_id).where(ArtifactRow.project_id == project_id)
    found = db.exec(
        select(SandboxRow)
        .where(col(SandboxRow.id).in_(with_artifacts))
        .order_by(col(SandboxRow.created_at).desc(), col(SandboxRow.id))
    )
    made = select(ArtifactRow.task_id).where(
        ArtifactRow.project_id == project_id, col(ArtifactRow.task_id).is_not(None)
    )
    tasks = db.exec(
        select(ExecutionTaskRow)
        .where(col(ExecutionTaskRow.id).in_(made))
        .order_by(col(ExecutionTaskRow.created_at).desc(), col(ExecutionTaskRow.id))
    )
    return list(found), list(tasks)


def _listed(db: Session, condition: Any, limit: int | None) -> Listed:
    query = (
        select(ArtifactRow, ArtifactContentRow)
        .join(ArtifactContentRow, isouter=True)
        .where(condition)
        .order_by(col(ArtifactRow.created_at).desc(), col(ArtifactRow.id))
        .limit(limit)
    )
    return [(row, content) for row, content in db.exec(query)]


def get_artifact(db: Session, artifact_id: uuid.UUID) -> ArtifactRow:
    return get_row(db, ArtifactRow, artifact_id)


def get_with_content(
    db: Session, artifact_id: uuid.UUID
) -> tuple[ArtifactRow, ArtifactContentRow | None]:
    return get_artifact(db, artifact_id), db.get(ArtifactContentRow, artifact_id)


def create_artifact(
    db: Session, *, principal: Principal, sandbox_id: uuid.UUID, data: ArtifactCreate
) -> ArtifactRow:
    sandbox = sandboxes.operable(db, principal, sandbox_id)
    task_id = _task_of(db, sandbox, data.task_id)
    artifact = ArtifactRow(
        project_id=sandbox.project_id,
        sandbox_id=sandbox.id,
        task_id=task_id,
        kind=_kind(data.kind),
        name=_bounded(data.name, "name", MAX_NAME_CHARS),
        uri=_bounded(data.uri, "uri", MAX_URI_CHARS),
        content_type=_content_type(data.content_type),
        size_bytes=_declared_size(data.size_bytes),
        meta=metadata_value(data.metadata),
    )
    db.add(artifact)
    _audit(
        db,
        principal,
        "artifact.created",
        artifact,
        kind=artifact.kind,
        taskId=str(task_id or ""),
    )
    commit(db)
    return artifact


def delete_artifact(db: Session, *, principal: Principal, artifact_id: uuid.UUID) -> None:
    """Delete the reference and its retained content; the bytes become garbage."""
    artifact = _locked(db, artifact_id)
    access.require(principal, Permission.OPERATE, artifact.project_id)
    _delete(db, principal, artifact, "artifact.deleted")
    commit(db)


def _delete(db: Session, principal: Principal, artifact: ArtifactRow, action: str) -> None:
    content = db.get(ArtifactContentRow, artifact.id)
    if content is not None:
        _account(db, artifact.project_id, -content.size_bytes, -1)
        db.delete(content)
    _audit(db, principal, action, artifact, name=artifact.name)
    db.delete(artifact)


def _task_of(db: Session, sandbox: SandboxRow, value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    task = get_row(db, ExecutionTaskRow, parse_uuid(value, "taskId must be a task UUID"))
    if task.sandbox_id != sandbox.id:
        raise Conflict("task does not belong to sandbox")
    return task.id


def _kind(kind: str | None) -> str:
    if kind not in ARTIFACT_KINDS:
        raise InvalidInput("kind is invalid", allowed=list(ARTIFACT_KINDS))
    return kind


def _bounded(value: str | None, field: str, limit: int) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInput(f"{field} is required")
    if len(value) > limit:
        raise InvalidInput(f"{field} is too long")
    return value


def _content_type(value: str | None) -> str:
    value = (value or "").strip()
    if len(value) > MAX_CONTENT_TYPE_CHARS:
        raise InvalidInput("contentType is too long")
    return value


def _declared_size(value: int | None) -> int | None:
    if value is not None and value < 0:
        raise InvalidInput("sizeBytes cannot be negative")
    return value


# -- retained content ----------------------------------------------------------------------


@dataclass(frozen=True)
class Retained:
    """What was stored: the facts `retain` records about a written blob."""

    blob_id: uuid.UUID
    size_bytes: int
    sha256: str
    content_type: str
    source_uri: str


def open_blob(db: Session, *, artifact_id: uuid.UUID, provider: str) -> ArtifactBlobRow:
    """Enter a new blob in the ledger (pending) before its bytes are written, so that a
    crash mid-write still leaves a trace the collector follows."""
    artifact = get_artifact(db, artifact_id)
    blob_id = uuid.uuid4()
    blob = ArtifactBlobRow(
        id=blob_id,
        project_id=artifact.project_id,
        artifact_id=artifact.id,
        storage_provider=provider,
        storage_key=f"{artifact.id}/{blob_id}",
    )
    db.add(blob)
    commit(db)
    return blob


def drop_blob(db: Session, *, blob_id: uuid.UUID) -> None:
    """Forget a pending blob whose write failed (the store already removed its bytes)."""
    db.exec(
        sa.delete(ArtifactBlobRow).where(
            col(ArtifactBlobRow.id) == blob_id, col(ArtifactBlobRow.state) == "pending"
        )
    )
    commit(db)


def retain(
    db: Session,
    *,
    principal: Principal,
    artifact_id: uuid.UUID,
    stored: Retained,
    action: str,
    **details: Any,
) -> tuple[ArtifactRow, ArtifactContentRow]:
    """Make a written blob the artifact's content (replacing any earlier one)."""
    artifact = _locked(db, artifact_id)
    content = db.get(ArtifactContentRow, artifact.id)
    _check_quota(
        db,
        principal,
        artifact,
        stored.size_bytes - (content.size_bytes if content else 0),
        action,
    )
    blob = _make_live(db, stored)
    if content is None:
        content = ArtifactContentRow(artifact_id=artifact.id, project_id=artifact.project_id)
        _account(db, artifact.project_id, stored.size_bytes, 1)
    else:
        _account(db, artifact.project_id, stored.size_bytes - content.size_bytes, 0)
    content.blob_id = blob.id
    content.storage_provider, content.storage_key = blob.storage_provider, blob.storage_key
    content.size_bytes, content.sha256 = stored.size_bytes, stored.sha256
    content.content_type, content.source_uri = stored.content_type, stored.source_uri
    content.captured_at = artifact.updated_at = utcnow()
    db.add(content)
    _audit(
        db,
        principal,
        action,
        artifact,
        storageProvider=blob.storage_provider,
        sizeBytes=stored.size_bytes,
        **details,
    )
    commit(db)
    return artifact, content


def _check_quota(
    db: Session, principal: Principal, artifact: ArtifactRow, incoming: int, action: str
) -> None:
    retained = _totals(db, artifact.project_id).retained_bytes
    reasons = policy.retained_bytes_violations(
        db, project_id=artifact.project_id, retained=retained, incoming=incoming
    )
    if reasons:
        raise policy.deny(
            db,
            principal=principal,
            reasons=reasons,
            operation=QUOTA_OPERATIONS.get(action, action),
            resource_type=artifact.audit_type,
            resource_name=str(artifact.id),
            project_id=artifact.project_id,
            metadata={"sandboxId": str(artifact.sandbox_id), "incomingBytes": incoming},
        )


def _locked(db: Session, artifact_id: uuid.UUID) -> ArtifactRow:
    """The artifact, locked for this transaction: concurrent retains of one artifact take
    turns, so the accounting sees each replacement exactly once."""
    query = select(ArtifactRow).where(ArtifactRow.id == artifact_id).with_for_update()
    artifact = db.exec(query).first()
    if artifact is None:
        raise NotFound()
    return artifact


def _make_live(db: Session, stored: Retained) -> ArtifactBlobRow:
    result = db.exec(
        update(ArtifactBlobRow)
        .where(col(ArtifactBlobRow.id) == stored.blob_id, col(ArtifactBlobRow.state) == "pending")
        .values(state="live", size_bytes=stored.size_bytes)
    )
    if result.rowcount != 1:  # the collector took it: the write outlived the grace period
        raise Conflict("the content took too long to arrive and was discarded; try again")
    return db.get_one(ArtifactBlobRow, stored.blob_id)


# -- accounting ----------------------------------------------------------------------------


def _account(db: Session, project_id: uuid.UUID, delta_bytes: int, delta_count: int) -> None:
    """Add to the project's retained totals with one atomic upsert (no lost updates)."""
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    table = ArtifactUsageRow.__table__
    # The inserted row is checked (>= 0) before the conflict turns it into an update.
    statement = dialect.insert(table).values(
        project_id=project_id,
        retained_bytes=max(delta_bytes, 0),
        retained_count=max(delta_count, 0),
    )
    statement = statement.on_conflict_do_update(
        index_elements=["project_id"],
        set_={
            "retained_bytes": table.c.retained_bytes + delta_bytes,
            "retained_count": table.c.retained_count + delta_count,
        },
    )
    db.exec(statement)


def usage(db: Session, *, project_id: uuid.UUID) -> ArtifactUsage:
    """The project's retained bytes and count (one primary-key read) and retention."""
    project = get_row(db, ProjectRow, project_id)
    totals = _totals(db, project_id)
    return ArtifactUsage(
        project_id=project_id,
        retained_bytes=totals.retained_bytes,
        retained_count=totals.retained_count,
        retention_days=project.artifact_retention_days,
    )


def _totals(db: Session, project_id: uuid.UUID) -> ArtifactUsageRow:
    found = db.get(ArtifactUsageRow, project_id)
    return found or ArtifactUsageRow(project_id=project_id)


# -- garbage and retention (the collector engine) -------------------------------------------


def claim_garbage(
    db: Session, *, stale_before: datetime, limit: int = 100
) -> list[ArtifactBlobRow]:
    """Blobs to remove: live ones nothing references any more, pending ones whose writer
    gave up (older than `stale_before`), and ones a crashed collector left half-removed.
    They are marked `deleting` first, so a late writer can no longer make them live."""
    referenced = select(ArtifactContentRow.blob_id).where(
        col(ArtifactContentRow.blob_id) == col(ArtifactBlobRow.id)
    )
    garbage = (
        ((col(ArtifactBlobRow.state) == "live") & ~referenced.exists())
        | (
            col(ArtifactBlobRow.state).in_(("pending", "deleting"))
            & (col(ArtifactBlobRow.created_at) < stale_before)
        )
    )  # fmt: skip
    ids = list(db.exec(select(ArtifactBlobRow.id).where(garbage).limit(limit)))
    if not ids:
        return []
    db.exec(
        update(ArtifactBlobRow)
        .where(col(ArtifactBlobRow.id).in_(ids), garbage)
        .values(state="deleting")
    )
    commit(db)
    query = select(ArtifactBlobRow).where(
        col(ArtifactBlobRow.id).in_(ids), ArtifactBlobRow.state == "deleting"
    )
    return list(db.exec(query))


def forget_blob(db: Session, *, blob_id: uuid.UUID) -> None:
    """The blob's bytes are gone from its store: remove it from the ledger."""
    db.exec(
        sa.delete(ArtifactBlobRow).where(
            col(ArtifactBlobRow.id) == blob_id, col(ArtifactBlobRow.state) == "deleting"
        )
    )
    commit(db)


def expire(db: Session, *, now: datetime | None = None, limit: int = 200) -> int:
    """Delete artifacts unchanged for longer than their project's retention days."""
    now = now or utcnow()
    expired = 0
    projects = select(ProjectRow).where(col(ProjectRow.artifact_retention_days).is_not(None))
    for project in db.exec(projects).all():
        cutoff = now - timedelta(days=project.artifact_retention_days or 0)
        query = (
            select(ArtifactRow.id)
            .where(ArtifactRow.project_id == project.id, col(ArtifactRow.updated_at) < cutoff)
            .limit(limit - expired)
        )
        for artifact_id in db.exec(query).all():
            _delete(db, SYSTEM, _locked(db, artifact_id), "artifact.expired")
            expired += 1
        if expired >= limit:
            break
    commit(db)
    return expired


def _audit(
    db: Session, principal: Principal, action: str, artifact: ArtifactRow, **metadata: Any
) -> None:
    audit.service.record_change(
        db,
        principal=principal,
        action=action,
        subject=artifact,
        metadata={"sandboxId": str(artifact.sandbox_id), **metadata},
    )
