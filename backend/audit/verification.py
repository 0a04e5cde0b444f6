"""Walking the chain: from the latest retention checkpoint (its signature checked) to the
head, a batch at a time, each batch in a transaction of its own (flat memory for any
number of events; SQLite writers are never held up for longer than a batch)."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from backend.audit.chain import GENESIS, row_hash
from backend.audit.models import (
    AuditChainBreak,
    AuditChainHeadRow,
    AuditChainReport,
    AuditCheckpoint,
    AuditCheckpointRow,
    AuditEventRow,
)
from backend.audit.signing import checkpoint_signature

BATCH = 2000
_events = AuditEventRow.__table__  # type: ignore[attr-defined]
_head = AuditChainHeadRow.__table__  # type: ignore[attr-defined]
_checkpoints = AuditCheckpointRow.__table__  # type: ignore[attr-defined]
_COLUMNS = [c for c in _events.c if c.name != "metadata"] + [_events.c.metadata.label("meta")]


class Broken(Exception):
    def __init__(self, problem: str, message: str, seq: int | None, event_id: Any = None):
        super().__init__(message)
        self.found = AuditChainBreak(seq=seq, event_id=event_id, problem=problem, message=message)


@dataclass
class Walk:
    """Where the walk is: the last seq checked and its hash."""

    seq: int
    hash: str
    checked: int = 0
    first: int | None = None


def latest_checkpoint(db: Session) -> Any:
    found = _read(db, sa.select(_checkpoints).order_by(_checkpoints.c.upto_seq.desc()).limit(1))
    return found[0] if found else None


def walk(db: Session, key: bytes) -> AuditChainReport:
    """Check every link from the latest checkpoint to the head."""
    checkpoint = latest_checkpoint(db)
    public = _public(checkpoint)
    state = Walk(0, GENESIS)
    try:
        if checkpoint is not None:
            _check_signature(checkpoint, key)
            state = Walk(checkpoint.upto_seq, checkpoint.last_hash)
        _nothing_before(db, state.seq)
        _walk_to_head(db, state)
        _no_unsealed(db)
    except Broken as broken:
        return _report(state, public, broken.found)
    return _report(state, public, None)


def _report(state: Walk, checkpoint: Any, broken: AuditChainBreak | None) -> AuditChainReport:
    return AuditChainReport(
        verified=broken is None,
        checked_events=state.checked,
        first_seq=state.first,
        last_seq=state.seq if state.checked else None,
        checkpoint=checkpoint,
        broken=broken,
    )


def _public(checkpoint: Any) -> AuditCheckpoint | None:
    return None if checkpoint is None else AuditCheckpoint.from_row(checkpoint)


def _check_signature(checkpoint: Any, key: bytes) -> None:
    expected = checkpoint_signature(
        key,
        upto_seq=checkpoint.upto_seq,
        last_hash=checkpoint.last_hash,
        removed_count=checkpoint.removed_count,
        created_at=checkpoint.created_at,
    )
    if not hmac.compare_digest(expected, checkpoint.signature):
        raise Broken(
            "checkpoint",
            f"the retention checkpoint up to seq {checkpoint.upto_seq} has an invalid "
            "signature (forged, altered, or signed with another key)",
            checkpoint.upto_seq,
        )


def _walk_to_head(db: Session, state: Walk) -> None:
    """Batches until none is left, then the head must be where the walk ended (events
    committed meanwhile: walk on)."""
    while True:
        for row in _batches(db, state):
            _check(row, state)
        head = _read(db, sa.select(_head.c.seq, _head.c.hash))
        head_seq, head_hash = (head[0].seq, head[0].hash) if head else (0, GENESIS)
        if head_seq > state.seq:
            if not _read(db, _after(state.seq, 1)):
                raise Broken(
                    "missing",
                    f"the chain head is at seq {head_seq} but events from seq "
                    f"{state.seq + 1} on are gone",
                    state.seq + 1,
                )
            continue
        if head_seq < state.seq:
            extra = _read(db, sa.select(_events.c.id).where(_events.c.seq == head_seq + 1))
            raise Broken(
                "inserted",
                f"event seq {head_seq + 1} lies beyond the chain head (seq {head_seq}): "
                "it was not sealed by mbox",
                head_seq + 1,
                extra[0].id if extra else None,
            )
        if head_hash != state.hash:
            raise Broken(
                "altered",
                f"event seq {state.seq} does not match the chain head's hash",
                state.seq,
            )
        return


def _batches(db: Session, state: Walk) -> Iterator[Any]:
    while rows := _read(db, _after(state.seq, BATCH)):
        yield from rows


def _after(seq: int, limit: int) -> sa.Select:
    return sa.select(*_COLUMNS).where(_events.c.seq > seq).order_by(_events.c.seq).limit(limit)


def _read(db: Session, query: sa.Select) -> list[Any]:
    """One query in a transaction of its own (no lock held between batches)."""
    try:
        return list(db.connection().execute(query))
    finally:
        db.rollback()


def _check(row: Any, state: Walk) -> None:
    expected = state.seq + 1
    if row.seq != expected:
        raise Broken(
            "missing",
            f"event seq {expected} is missing (the next event present is seq {row.seq})",
            expected,
            row.id,
        )
    if row.hash != row_hash(row, seq=row.seq, prev_hash=row.prev_hash):
        raise Broken(
            "altered",
            f"event seq {row.seq} was altered: its content does not match its hash",
            row.seq,
            row.id,
        )
    if row.prev_hash != state.hash:
        raise Broken(
            "inserted",
            f"event seq {row.seq} does not follow the event before it (its prevHash differs): "
            f"seq {row.seq} was inserted or replaced, or seq {state.seq} was altered and rehashed",
            row.seq,
            row.id,
        )
    state.seq, state.hash = row.seq, row.hash
    state.checked += 1
    state.first = row.seq if state.first is None else state.first


def _nothing_before(db: Session, seq: int) -> None:
    """Nothing at or below the start (seq 0 or less, or what a checkpoint stands for)."""
    found = _read(db, sa.select(_events.c.id, _events.c.seq).where(_events.c.seq <= seq).limit(1))
    if found:
        raise Broken(
            "inserted",
            f"event seq {found[0].seq} lies before the start of the chain (seq {seq + 1})",
            found[0].seq,
            found[0].id,
        )


def _no_unsealed(db: Session) -> None:
    """A committed event always has its seq: one without was written around mbox."""
    found = _read(db, sa.select(_events.c.id).where(_events.c.seq.is_(None)).limit(1))
    if found:
        event_id: uuid.UUID = found[0].id
        raise Broken(
            "inserted",
            f"event {event_id} has no place in the chain (no seq): it was not sealed by mbox",
            None,
            event_id,
        )
