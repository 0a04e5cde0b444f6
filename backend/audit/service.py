"""Audit: events are added to the caller's transaction, so they commit with the change."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from sqlmodel import Session, col, select

from backend.audit.models import AuditEventRow
from backend.auth import access
from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.errors import InvalidInput
from backend.validation import clean_label, clean_request_id, optional_uuid

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def record(
    db: Session,
    *,
    principal: Principal,
    action: str,
    resource_type: str,
    resource_id: uuid.UUID | None = None,
    resource_name: str = "",
    project_id: uuid.UUID | None = None,
    metadata: dict[str, Any] | None = None,
) -> AuditEventRow:
    """Add an audit event to the session; it is written by the caller's commit."""
    db.flush()  # the change first: the event references rows it may have just created
    meta = dict(metadata or {})
    if principal.request_id:
        meta.setdefault("requestId", principal.request_id)
    if principal.token_id is not None:  # which of the principal's tokens acted
        meta.setdefault("tokenId", str(principal.token_id))
    event = AuditEventRow(
        project_id=project_id,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        resource_name=resource_name,
        actor=principal.actor,
        source=principal.source,
        principal=principal.subject,
        request_id=str(meta.get("requestId", "")),
        operation=str(meta.get("operation", "")),
        meta=meta,
    )
    db.add(event)
    return event


class AuditSubject(Protocol):
    """A row that audit events can be about (named by its slug, else by its id)."""

    audit_type: ClassVar[str]
    id: uuid.UUID


_OWN_PROJECT: Any = object()


def record_change(
    db: Session,
    *,
    principal: Principal,
    action: str,
    subject: AuditSubject,
    metadata: dict[str, Any] | None = None,
    project_id: uuid.UUID | None = _OWN_PROJECT,
) -> AuditEventRow:
    """Record an action on a row; the project defaults to the row's own (or the row itself)."""
    if project_id is _OWN_PROJECT:
        project_id = getattr(subject, "project_id", subject.id)
    return record(
        db,
        principal=principal,
        action=action,
        resource_type=subject.audit_type,
        resource_id=subject.id,
        # Readable where the row has a slug or a name (artifacts: their file name).
        resource_name=getattr(subject, "slug", None)
        or getattr(subject, "name", None)
        or str(subject.id),
        project_id=project_id,
        metadata=metadata,
    )


def list_events(
    db: Session,
    *,
    principal: Principal,
    project_id: uuid.UUID | None = None,
    filters: dict[str, str | None],
    limit: int | None = None,
) -> list[AuditEventRow]:
    """Newest first, filtered by the reference's exact-match query parameters; at most
    `limit` rows (by default the `limit` filter's, see event_limit). A project-scoped
    principal's session reads only its projects' events."""
    access.require(principal, Permission.AUDIT, project_id)
    query = select(AuditEventRow)
    if project_id is not None:
        query = query.where(AuditEventRow.project_id == project_id)
    elif (pid := optional_uuid(filters.get("projectId"), "invalid projectId query")) is not None:
        query = query.where(AuditEventRow.project_id == pid)
    for name, column in (
        ("action", AuditEventRow.action),
        ("resourceType", AuditEventRow.resource_type),
    ):
        if value := (filters.get(name) or "").strip():
            query = query.where(column == value)
    for name, column in (
        ("actor", AuditEventRow.actor),
        ("source", AuditEventRow.source),
        ("operation", AuditEventRow.operation),
    ):
        if value := clean_label(filters.get(name)):
            query = query.where(column == value)
    if request_id := clean_request_id(filters.get("requestId")):
        query = query.where(AuditEventRow.request_id == request_id)
    if (rid := optional_uuid(filters.get("resourceId"), "invalid resourceId query")) is not None:
        query = query.where(AuditEventRow.resource_id == rid)
    since = _timestamp(filters.get("since"), "since")
    until = _timestamp(filters.get("until"), "until")
    if since and until and since > until:
        raise InvalidInput("since must be before or equal to until")
    if since:
        query = query.where(AuditEventRow.created_at >= since)
    if until:
        query = query.where(AuditEventRow.created_at <= until)
    if limit is None:
        limit = event_limit(filters.get("limit"))
    query = query.order_by(col(AuditEventRow.created_at).desc(), col(AuditEventRow.id).desc())
    return list(db.exec(query.limit(limit)))


def _timestamp(value: str | None, name: str) -> datetime | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        if parsed.tzinfo is None or "T" not in text.upper():
            raise ValueError("no time zone")
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(f"{name} must be an RFC3339 timestamp") from None


def event_limit(value: str | None) -> int:
    """The audit feeds' `limit` query (the contract's 1..MAX_LIMIT): 400 outside it."""
    if value is None or value == "":
        return DEFAULT_LIMIT
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    return limit
