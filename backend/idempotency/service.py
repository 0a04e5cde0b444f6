"""Idempotency keys: the first request with a key leaves a pending record before it runs;
a retry with the same key is answered from the record (replayed once complete, refused
while still in progress, refused when it is a different request).

Records live RETENTION (24 h) and are purged lazily when new ones are written; a pending
record older than ABANDONED belonged to a request whose server went away, and is replaced.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Session, col, delete, select

from backend.db import utcnow
from backend.idempotency.models import IdempotencyRecordRow

RETENTION = timedelta(hours=24)
ABANDONED = timedelta(minutes=10)


@dataclass(frozen=True)
class Begun:
    """What to do with a request that carries a key: `run` it (its pending record is
    `record_id`), `replay` the stored answer, or refuse it (`in_progress`, `mismatch`)."""

    outcome: Literal["run", "replay", "in_progress", "mismatch"]
    record_id: uuid.UUID | None = None
    status_code: int | None = None
    body: Any = None


def begin(
    db: Session, *, subject: str, key: str, method: str, path: str, request_sha256: str
) -> Begun:
    """Claim `key` for this request, or say how an earlier request with it answered."""
    for _ in range(2):  # a concurrent first use wins the insert: the second read sees it
        now = utcnow()
        db.exec(
            delete(IdempotencyRecordRow).where(
                col(IdempotencyRecordRow.created_at) < now - RETENTION
            )
        )
        found = db.exec(
            select(IdempotencyRecordRow).where(
                IdempotencyRecordRow.subject == subject, IdempotencyRecordRow.key == key
            )
        ).first()
        if found is not None:
            if (found.method, found.path, found.request_sha256) != (method, path, request_sha256):
                db.commit()
                return Begun("mismatch")
            if found.status_code is not None:
                db.commit()
                return Begun("replay", found.id, found.status_code, found.response_body)
            if found.created_at > now - ABANDONED:
                db.commit()
                return Begun("in_progress", found.id)
            db.delete(found)
            db.flush()
        record = IdempotencyRecordRow(
            subject=subject, key=key, method=method, path=path, request_sha256=request_sha256
        )
        db.add(record)
        try:
            db.commit()
        except sa.exc.IntegrityError:
            db.rollback()
            continue
        return Begun("run", record.id)
    return Begun("in_progress")


def complete(db: Session, *, record_id: uuid.UUID, status_code: int, body: Any) -> None:
    """Keep the answer of the request that claimed the key (its retries replay it)."""
    record = db.get(IdempotencyRecordRow, record_id)
    if record is not None:
        record.status_code, record.response_body = status_code, body
        db.commit()


def discard(db: Session, *, record_id: uuid.UUID) -> None:
    """Forget a claim whose request failed (5xx, an error): the client may retry."""
    db.exec(delete(IdempotencyRecordRow).where(col(IdempotencyRecordRow.id) == record_id))
    db.commit()
