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
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def stored_json(value: Any) -> Any:
    """The value a JSON column gives back (string keys, lists for tuples; integral floats
    as integers, as Postgres JSONB gives 1e20 back), so what is hashed at sealing time is
    what a later read sees, on either database."""
    return _integral(json.loads(json.dumps(value)))


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral(item) for item in value]
    return value


def timestamp(value: datetime) -> str:
    """A fixed ISO form with microseconds in UTC (databases keep microseconds)."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def _text(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def row_hash(row: Any, *, seq: int, prev_hash: str) -> str:
    """sha256 (hex) of the event's canonical JSON, its place (seq, prev_hash) included.
    `row` is an AuditEventRow, or a Core row whose metadata column is labelled `meta` like
    the model's attribute. The project is the one sealed (deleting a project clears
    project_id; sealed_project_id keeps what was hashed)."""
    content = {
        "seq": seq,
        "prevHash": prev_hash,
        "id": str(row.id),
        "createdAt": timestamp(row.created_at),
        "projectId": _text(row.sealed_project_id),
        "action": row.action,
        "resourceType": row.resource_type,
        "resourceId": _text(row.resource_id),
        "resourceName": row.resource_name,
        "actor": row.actor,
        "source": row.source,
        "principal": row.principal,
        "requestId": row.request_id,
        "operation": row.operation,
        "metadata": row.meta,
    }
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()
