"""The audit hash chain's canonical form: each event's hash covers its content and the
previous event's hash, so altering, inserting or removing a row breaks a link.

Pure functions (no session, no settings): the migration that backfills the chain uses the
same code as the sealer and the verifier.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64  # the prev_hash of the first event ever sealed


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, ASCII: the same text whichever database stored it."""
    return json.dumps(_integral(value), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def stored_json(value: Any) -> Any:
    """The value a JSON column gives back (string keys, lists for tuples), so what is
    hashed at sealing time is what a later read sees."""
    return json.loads(json.dumps(value))


def _integral(value: Any) -> Any:
    # Postgres JSONB keeps numbers as numerics: 1.0 and 1e20 may come back as integers.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral(item) for item in value]
    return value


def timestamp(value: datetime) -> str:
    """A fixed ISO form with microseconds in UTC (databases keep microseconds)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _text(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def event_hash(
    *,
    seq: int,
    prev_hash: str,
    id: uuid.UUID,
    created_at: datetime,
    project_id: uuid.UUID | None,
    action: str,
    resource_type: str,
    resource_id: uuid.UUID | None,
    resource_name: str,
    actor: str,
    source: str,
    principal: str,
    request_id: str,
    operation: str,
    metadata: dict[str, Any],
) -> str:
    """sha256 (hex) of the event's canonical JSON, prev_hash included."""
    content = {
        "seq": seq,
        "prevHash": prev_hash,
        "id": str(id),
        "createdAt": timestamp(created_at),
        "projectId": _text(project_id),
        "action": action,
        "resourceType": resource_type,
        "resourceId": _text(resource_id),
        "resourceName": resource_name,
        "actor": actor,
        "source": source,
        "principal": principal,
        "requestId": request_id,
        "operation": operation,
        "metadata": metadata,
    }
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


HASHED_COLUMNS = (
    "id",
    "created_at",
    "action",
    "resource_type",
    "resource_id",
    "resource_name",
    "actor",
    "source",
    "principal",
    "request_id",
    "operation",
)


def row_hash(row: Any, *, seq: int, prev_hash: str) -> str:
    """The hash of a row-like object: an AuditEventRow, or a Core row whose metadata
    column is labelled `meta` like the model's attribute. The project is the one sealed
    (a deleted project's events keep it there)."""
    fields = {name: getattr(row, name) for name in HASHED_COLUMNS}
    return event_hash(
        seq=seq,
        prev_hash=prev_hash,
        project_id=row.sealed_project_id,
        metadata=row.meta,
        **fields,
    )
