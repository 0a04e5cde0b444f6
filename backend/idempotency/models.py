"""Idempotency records: what a create request with an `Idempotency-Key` header answered,
so that a retry with the same key gets the same answer instead of a second resource."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from backend.db import id_field, json_field, timestamp_field


class IdempotencyRecordRow(SQLModel, table=True):
    """One key of one principal: the request it was first used for (method, path and the
    SHA-256 of the body) and, once the request completed, its status and JSON body. A
    record without a status is a request still in progress."""

    __tablename__ = "idempotency_records"
    __table_args__ = (
        sa.UniqueConstraint("subject", "key", name="uq_idempotency_records_subject_key"),
    )

    id: uuid.UUID = id_field()
    subject: str  # the principal's subject: keys are per principal
    key: str
    method: str
    path: str
    request_sha256: str
    status_code: int | None = Field(default=None, nullable=True)
    response_body: Any = json_field(nullable=True)
    created_at: datetime = timestamp_field(index=True)
