"""Sealing: events join the chain when their transaction commits, in commit order.

`record()` adds an event to the session and notes it in `session.info`. At commit (the
`before_commit` listener below) the session's unsealed events take the next seqs: the
chain head row is locked (SELECT ... FOR UPDATE on Postgres; SQLite transactions are
already serialised by BEGIN IMMEDIATE), each event gets seq, prev_hash and hash, and the
head moves. The head lock is taken last, after everything else of the transaction is
flushed (the events too: their foreign key checks lock the project row), and held only
until the commit: every transaction takes its locks in the same order, so sealing cannot
deadlock, and seq order is commit order.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.dialects import postgresql, sqlite

from backend.audit.chain import GENESIS, row_hash, stored_json
from backend.audit.models import AuditChainHeadRow, AuditEventRow

PENDING_KEY = "mbox.audit.pending"  # Session.info: events recorded, not yet sealed
HEAD_ID = 1
_head = AuditChainHeadRow.__table__  # type: ignore[attr-defined]
_events = AuditEventRow.__table__  # type: ignore[attr-defined]


def track(session: orm.Session, event: AuditEventRow) -> None:
    """Note an event to seal at the session's next commit."""
    session.info.setdefault(PENDING_KEY, []).append(event)


@sa.event.listens_for(orm.Session, "before_commit")
def seal(session: orm.Session) -> None:
    if not session.info.get(PENDING_KEY) or session.in_nested_transaction():
        return  # a savepoint's commit: the outer commit seals
    events = [event for event in session.info.pop(PENDING_KEY) if _unsealed(session, event)]
    if not events:
        return
    # Every row lock of the transaction (the events' own foreign key checks included)
    # before the head's: one lock order for everyone.
    session.flush()
    with session.no_autoflush:
        seq, last = lock_head(session.connection())
        for event in events:
            seq += 1
            event.meta = stored_json(event.meta)  # hash what a later read will see
            event.sealed_project_id = event.project_id
            event.seq, event.prev_hash = seq, last
            event.hash = last = row_hash(event, seq=seq, prev_hash=event.prev_hash)
        session.connection().execute(
            _head.update().where(_head.c.id == HEAD_ID).values(seq=seq, hash=last)
        )


def _unsealed(session: orm.Session, event: AuditEventRow) -> bool:
    """Still in this session and unsealed (a rolled back savepoint drops its events)."""
    state = sa.inspect(event)
    return event.seq is None and state.session_id == session.hash_key and not state.deleted


def lock_head(connection: sa.Connection) -> tuple[int, str]:
    """The chain head (last seq, last hash), locked until the transaction ends; made from
    the last sealed event if the row is missing (emptied tables), once however many
    transactions find it missing together."""
    query = sa.select(_head.c.seq, _head.c.hash).where(_head.c.id == HEAD_ID).with_for_update()
    found = connection.execute(query).first()
    if found is None:
        last: Any = connection.execute(
            sa.select(_events.c.seq, _events.c.hash)
            .where(_events.c.seq.is_not(None))
            .order_by(_events.c.seq.desc())
            .limit(1)
        ).first()
        seq, digest = (last.seq, last.hash) if last is not None else (0, GENESIS)
        insert = (postgresql if connection.dialect.name == "postgresql" else sqlite).insert
        connection.execute(
            insert(_head).values(id=HEAD_ID, seq=seq, hash=digest).on_conflict_do_nothing()
        )
        found = connection.execute(query).one()
    return found.seq, found.hash
