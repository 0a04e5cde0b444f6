"""Tamper-evident audit trail: every event gets `seq` (its place in the chain, set when its
transaction commits), `prev_hash` and `hash` (sha256 over its content and prev_hash), and
`sealed_project_id` (the project as hashed: deleting a project clears `project_id`); the
chain head (one row: last seq and hash) and the signed checkpoints retention leaves where
it removed a prefix. Existing events are chained in (created_at, id) order.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

from backend.audit.chain import GENESIS, row_hash
from backend.db import JSONValue, UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("sealed_project_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("prev_hash", sa.String(), nullable=False, server_default=""))
        batch.add_column(sa.Column("hash", sa.String(), nullable=False, server_default=""))
        batch.create_index("ix_audit_events_seq", ["seq"], unique=True)
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("upto_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(), nullable=False),
        sa.Column("removed_count", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.String(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_checkpoints") as batch:
        batch.create_index("ix_audit_checkpoints_upto_seq", ["upto_seq"], unique=True)
    seq, last = _backfill(op.get_bind())
    op.get_bind().execute(
        sa.text("INSERT INTO audit_chain_head (id, seq, hash) VALUES (1, :seq, :hash)"),
        {"seq": seq, "hash": last},
    )


_events = sa.table(
    "audit_events",
    sa.column("id", sa.Uuid()),
    sa.column("created_at", UTCDateTime()),
    sa.column("project_id", sa.Uuid()),
    sa.column("action", sa.String()),
    sa.column("resource_type", sa.String()),
    sa.column("resource_id", sa.Uuid()),
    sa.column("resource_name", sa.String()),
    sa.column("actor", sa.String()),
    sa.column("source", sa.String()),
    sa.column("principal", sa.String()),
    sa.column("request_id", sa.String()),
    sa.column("operation", sa.String()),
    sa.column("metadata", JSONValue),
    sa.column("sealed_project_id", sa.Uuid()),
    sa.column("seq", sa.BigInteger()),
    sa.column("prev_hash", sa.String()),
    sa.column("hash", sa.String()),
)


def _backfill(bind: sa.Connection) -> tuple[int, str]:
    """Chain the existing events oldest first, a batch at a time (keyset, flat memory)."""
    seq, last = 0, GENESIS
    chain = ("metadata", "sealed_project_id", "seq", "prev_hash", "hash")
    columns = [c for c in _events.c if c.name not in chain]
    query = sa.select(
        *columns,
        _events.c.metadata.label("meta"),
        _events.c.project_id.label("sealed_project_id"),
    ).order_by(_events.c.created_at, _events.c.id)
    after = None
    while True:
        page = query if after is None else query.where(_after(*after))
        rows = bind.execute(page.limit(BATCH)).all()
        if not rows:
            return seq, last
        updates = []
        for row in rows:
            seq += 1
            digest = row_hash(row, seq=seq, prev_hash=last)
            updates.append(
                {
                    "row_id": row.id,
                    "sealed": row.project_id,
                    "seq": seq,
                    "prev_hash": last,
                    "hash": digest,
                }
            )
            last = digest
        bind.execute(
            _events.update()
            .where(_events.c.id == sa.bindparam("row_id"))
            .values(
                sealed_project_id=sa.bindparam("sealed"),
                seq=sa.bindparam("seq"),
                prev_hash=sa.bindparam("prev_hash"),
                hash=sa.bindparam("hash"),
            ),
            updates,
        )
        after = (rows[-1].created_at, rows[-1].id)


def _after(created_at: object, event_id: object) -> sa.ColumnElement[bool]:
    return sa.tuple_(_events.c.created_at, _events.c.id) > sa.tuple_(
        sa.literal(created_at, UTCDateTime()), sa.literal(event_id, sa.Uuid())
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_chain_head")
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_index("ix_audit_events_seq")
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
        batch.drop_column("sealed_project_id")
        batch.drop_column("seq")
