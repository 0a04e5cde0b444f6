"""Audit: events are added to the caller's transaction, so they commit with the change,
and join the hash chain at that commit (backend/audit/sealing.py). The feeds page with an
opaque cursor; the export streams; verification walks the chain; retention removes a
prefix of it under a signed checkpoint."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Protocol

import sqlalchemy as sa
from sqlmodel import Session, col, select

from backend.audit import sealing, verification
from backend.audit.chain import GENESIS, row_hash, timestamp
from backend.audit.models import AuditChainReport, AuditCheckpointRow, AuditEventRow
from backend.audit.signing import checkpoint_signature, signing_key
from backend.auth import access
from backend.auth.access import Permission
from backend.auth.models import SYSTEM, Principal
from backend.db import UTCDateTime, utcnow
from backend.errors import InvalidInput
from backend.settings import Settings
from backend.validation import clean_label, clean_request_id, optional_uuid

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
EXPORT_BATCH = 500
PRUNE_BATCH = 1000


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
    sealing.track(db, event)
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
    cursor: str | None = None,
) -> list[AuditEventRow]:
    """Newest first, filtered by the reference's exact-match query parameters; at most
    `limit` rows (by default the `limit` filter's, see event_limit), after `cursor` (see
    next_cursor). A project-scoped principal's session reads only its projects' events."""
    query = _feed(principal, project_id, filters)
    if cursor:
        created_at, event_id = _decode_cursor(cursor)
        query = query.where(
            sa.tuple_(AuditEventRow.created_at, AuditEventRow.id)
            < sa.tuple_(sa.literal(created_at, UTCDateTime()), sa.literal(event_id, sa.Uuid()))
        )
    if limit is None:
        limit = event_limit(filters.get("limit"))
    query = query.order_by(col(AuditEventRow.created_at).desc(), col(AuditEventRow.id).desc())
    return list(db.exec(query.limit(limit)))


def next_cursor(last: AuditEventRow) -> str:
    """An opaque cursor: the feed goes on after this event (its time, then its id)."""
    text = f"{timestamp(last.created_at)}|{last.id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _, event_id = text.partition("|")
        parsed = datetime.strptime(moment, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        return parsed, uuid.UUID(event_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("invalid cursor") from None


def export_events(
    db: Session,
    *,
    principal: Principal,
    project_id: uuid.UUID | None = None,
    filters: dict[str, str | None],
) -> Iterator[AuditEventRow]:
    """Every matching event oldest first (chain order; `limit` does not apply), read a
    batch at a time. Bad filters and refusals raise here, before anything is streamed."""
    return _export(db, _feed(principal, project_id, filters).where(col(AuditEventRow.seq) > 0))


def _export(db: Session, query: Any) -> Iterator[AuditEventRow]:
    after = 0
    while True:
        rows = list(
            db.exec(
                query.where(col(AuditEventRow.seq) > after)
                .order_by(col(AuditEventRow.seq))
                .limit(EXPORT_BATCH)
            )
        )
        db.expunge_all()  # the rows stay readable, the session holds none
        db.rollback()  # no transaction (nor SQLite's write lock) held between batches
        if not rows:
            return
        yield from rows
        after = rows[-1].seq or after


def _feed(
    principal: Principal, project_id: uuid.UUID | None, filters: dict[str, str | None]
) -> Any:
    """The feeds' query: the principal's permission, then the filters (400 when bad)."""
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
    return query


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


# -- the chain -------------------------------------------------------------------------


def verify_chain(db: Session, *, principal: Principal, settings: Settings) -> AuditChainReport:
    """Walk the chain from the latest retention checkpoint; the first broken link, if any.
    Unscoped principals only: the chain spans every project."""
    access.require_global(principal, Permission.AUDIT)
    key = signing_key(settings)
    for _ in range(3):
        report = verification.walk(db, key)
        # Retention may have removed the start of the walk meanwhile: walk again from its
        # new checkpoint.
        if report.verified or _same_checkpoint(report, verification.latest_checkpoint(db)):
            return report
    return report


def _same_checkpoint(report: AuditChainReport, latest: Any) -> bool:
    walked = report.checkpoint.upto_seq if report.checkpoint else None
    return walked == (latest.upto_seq if latest is not None else None)


class ChainBroken(RuntimeError):
    """Retention found a broken link in what it was to remove: it stops there rather than
    remove the evidence."""


def prune_expired(
    db: Session, *, settings: Settings, now: datetime | None = None, batch: int = PRUNE_BATCH
) -> int:
    """Retention: remove the events older than MBOX_AUDIT_RETENTION_DAYS, strictly as a
    prefix of the chain (lowest seq first), a batch per transaction, each under a signed
    checkpoint; the run is itself an audit event. Returns how many were removed."""
    if not settings.audit_retention_days:
        return 0
    cutoff = (now or utcnow()) - timedelta(days=settings.audit_retention_days)
    key, removed = signing_key(settings), 0
    while checkpoint := _prune_batch(db, cutoff, key, batch):
        removed += checkpoint[1]
        if checkpoint[1] < batch:
            break
    if removed:
        record(
            db,
            principal=SYSTEM,
            action="audit.pruned",
            resource_type="audit-checkpoint",
            resource_name=f"seq {checkpoint_upto(db)}",
            metadata={"removedCount": removed, "retentionDays": settings.audit_retention_days},
        )
        db.commit()
    return removed


def checkpoint_upto(db: Session) -> int:
    latest = verification.latest_checkpoint(db)
    return latest.upto_seq if latest is not None else 0


def _prune_batch(db: Session, cutoff: datetime, key: bytes, batch: int) -> tuple[int, int] | None:
    """One transaction: the next expired events of the chain's start, checked link by link
    from the last checkpoint, deleted, and the checkpoint moved past them."""
    previous = db.exec(
        select(AuditCheckpointRow).order_by(col(AuditCheckpointRow.upto_seq).desc()).limit(1)
    ).first()
    seq, last = (previous.upto_seq, previous.last_hash) if previous else (0, GENESIS)
    rows = db.exec(
        select(AuditEventRow)
        .where(col(AuditEventRow.seq) > seq)
        .order_by(col(AuditEventRow.seq))
        .limit(batch)
    ).all()
    expired, broken = 0, False
    for row in rows:
        if row.created_at >= cutoff:
            break
        if broken := not _links(row, seq, last):
            break
        seq, last, expired = row.seq, row.hash, expired + 1
    if expired:
        db.exec(sa.delete(AuditEventRow).where(col(AuditEventRow.seq) <= seq))  # type: ignore[call-overload]
        if previous is not None:
            db.delete(previous)  # the latest checkpoint stands for everything before it
        total = (previous.removed_count if previous else 0) + expired
        db.add(_checkpoint(key, seq, last, total))
    db.commit()
    if broken:  # what verified before the break is gone; the evidence stays
        raise ChainBroken(f"audit retention stopped: the chain is broken at seq {seq + 1}")
    return (seq, expired) if expired else None


def _links(row: AuditEventRow, seq: int, last: str) -> bool:
    """The row is the next link after (seq, last) and its content matches its hash."""
    return (
        row.seq == seq + 1
        and row.prev_hash == last
        and row.hash == row_hash(row, seq=row.seq, prev_hash=row.prev_hash)
    )


def _checkpoint(key: bytes, upto_seq: int, last_hash: str, removed: int) -> AuditCheckpointRow:
    created_at = utcnow()
    signature = checkpoint_signature(
        key, upto_seq=upto_seq, last_hash=last_hash, removed_count=removed, created_at=created_at
    )
    return AuditCheckpointRow(
        upto_seq=upto_seq,
        last_hash=last_hash,
        removed_count=removed,
        signature=signature,
        created_at=created_at,
    )
