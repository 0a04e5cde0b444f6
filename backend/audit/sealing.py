"""Sealing: events join the chain when their transaction commits, in commit order.

`record()` adds an event to the session and notes it in `session.info`. At commit (the
`before_commit` listener below) the session's unsealed events take the next seqs: the
chain head row is locked (an UPDATE from the head this process last left, else SELECT ...
FOR UPDATE on Postgres; SQLite transactions are already serialised by BEGIN IMMEDIATE),
each event gets seq, prev_hash and hash, and the head moves. The head lock is taken last,
after every other row lock of the transaction (other changes are flushed first; the lock
an event's foreign key check takes on its project is taken ahead), and held only until
the commit: every transaction takes its locks in the same order, so sealing cannot
deadlock, and seq order is commit order. An event not yet written is inserted sealed; one
already flushed (an earlier event of the same transaction) is updated.
"""

from __future__ import annotations

import weakref
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm
from sqlalchemy.dialects import postgresql, sqlite

from backend.audit.chain import GENESIS, row_hash, stored_json
from backend.audit.models import AuditChainHeadRow, AuditEventRow

PENDING_KEY = "mbox.audit.pending"  # Session.info: events recorded, not yet sealed
SEALED_KEY = "mbox.audit.sealed"  # Session.info: the head its commit will leave
# Per engine, the head this process's last sealing commit left: a guess that saves reading
# the head under its lock (a wrong guess moves nothing and the head is read).
_LAST_HEADS: weakref.WeakKeyDictionary[sa.Engine, tuple[int, str]] = weakref.WeakKeyDictionary()
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
    for event in events:  # before the lock: it is held for as little as can be
        event.meta = stored_json(event.meta)  # hash what a later read will see
        event.sealed_project_id = event.project_id
    if _other_changes(session, events):
        session.flush()  # their row locks before the head's: one lock order for everyone
    with session.no_autoflush:
        connection = session.connection()
        _lock_projects(connection, events)
        guess = _LAST_HEADS.get(connection.engine)
        if guess is None or not _move_head(connection, events, guess, checked=False):
            _move_head(connection, events, lock_head(connection), checked=True)
        session.info[SEALED_KEY] = (connection.engine, events[-1].seq, events[-1].hash)


def _move_head(
    connection: sa.Connection, events: list[AuditEventRow], head: tuple[int, str], *, checked: bool
) -> bool:
    """Chain the events after `head` and move the head past them. Unless the head was read
    under its lock (`checked`), the move applies only if the head is still `head`: one
    statement instead of two when this process wrote the last event, as it mostly has."""
    seq, last = head
    for event in events:
        seq += 1
        event.seq, event.prev_hash = seq, last
        event.hash = last = row_hash(event, seq=seq, prev_hash=last)
    dialect = connection.dialect.name
    if checked:
        connection.exec_driver_sql(_MOVE_HEAD[dialect], (seq, last))
        return True
    moved = connection.exec_driver_sql(_MOVE_HEAD_FROM[dialect], (seq, last, *head))
    return moved.rowcount == 1


@sa.event.listens_for(orm.Session, "after_commit")
def _remember(session: orm.Session) -> None:
    if sealed := session.info.pop(SEALED_KEY, None):
        _LAST_HEADS[sealed[0]] = sealed[1:]


@sa.event.listens_for(orm.Session, "after_rollback")
def _forget(session: orm.Session) -> None:
    session.info.pop(SEALED_KEY, None)


def _unsealed(session: orm.Session, event: AuditEventRow) -> bool:
    """Still in this session and unsealed (a rolled back savepoint drops its events)."""
    state = sa.inspect(event)
    return event.seq is None and state.session_id == session.hash_key and not state.deleted


def _other_changes(session: orm.Session, events: list[AuditEventRow]) -> bool:
    ours = {id(event) for event in events}
    return any(id(row) not in ours for row in (*session.new, *session.dirty, *session.deleted))


def _lock_projects(connection: sa.Connection, events: list[AuditEventRow]) -> None:
    """Postgres: the lock each unwritten event's foreign key check will take on its project
    row (FOR KEY SHARE), taken now, before the head's. Written after the head lock, an event
    could wait for a transaction that deletes its project while that one waits for the
    head. (SQLite runs one writer at a time.)"""
    ids = {e.project_id for e in events if e.project_id is not None and sa.inspect(e).pending}
    if ids and connection.dialect.name == "postgresql":
        # The projects table through the foreign key (backend.audit imports no domain above).
        projects = next(iter(_events.c.project_id.foreign_keys)).column.table
        connection.execute(
            sa.select(projects.c.id)
            .where(projects.c.id.in_(ids))
            .with_for_update(read=True, key_share=True)
        )


# Plain SQL: sealing runs inside the write lock, where building statements costs (SQLite
# has no FOR UPDATE: its transactions already hold the one write lock).
_READ_HEAD = {
    "postgresql": "SELECT seq, hash FROM audit_chain_head WHERE id = 1 FOR UPDATE",
    "sqlite": "SELECT seq, hash FROM audit_chain_head WHERE id = 1",
}
_MOVE_HEAD = {
    "postgresql": "UPDATE audit_chain_head SET seq = %s, hash = %s WHERE id = 1",
    "sqlite": "UPDATE audit_chain_head SET seq = ?, hash = ? WHERE id = 1",
}
_MOVE_HEAD_FROM = {
    dialect: f"{update} AND seq = {mark} AND hash = {mark}"
    for dialect, update, mark in (
        ("postgresql", _MOVE_HEAD["postgresql"], "%s"),
        ("sqlite", _MOVE_HEAD["sqlite"], "?"),
    )
}


def lock_head(connection: sa.Connection) -> tuple[int, str]:
    """The chain head (last seq, last hash), locked until the transaction ends; made from
    the last sealed event if the row is missing (emptied tables), once however many
    transactions find it missing together."""
    read = _READ_HEAD[connection.dialect.name]
    found = connection.exec_driver_sql(read).first()
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
        found = connection.exec_driver_sql(read).one()
    return found.seq, found.hash
