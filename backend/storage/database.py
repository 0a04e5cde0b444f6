"""Blobs in the database (provider "postgres" in the contract's words; SQLite too): one
row per 1 MiB chunk, each written in its own short transaction so that a slow upload
never holds the database's write lock."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Field, Session, SQLModel

from backend.storage import settled
from backend.storage.base import CHUNK_BYTES, BlobMissing, StorageError, rechunk

if TYPE_CHECKING:
    from backend.db import Database

T = TypeVar("T")


class BlobChunkRow(SQLModel, table=True):
    __tablename__ = "artifact_blob_chunks"

    storage_key: str = Field(primary_key=True)
    seq: int = Field(primary_key=True)
    data: bytes = Field(sa_type=sa.LargeBinary)


CHUNKS = BlobChunkRow.__table__  # core statements: no 1 MiB objects in an identity map


class DatabaseStore:
    provider = "postgres"

    def __init__(self, database: Database) -> None:
        self.database = database

    async def write(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        total = seq = 0
        try:
            async for piece in rechunk(chunks, CHUNK_BYTES):
                await self._call(_insert, key, seq, piece)
                total, seq = total + len(piece), seq + 1
            if seq == 0:  # an empty blob still exists: one empty chunk
                await self._call(_insert, key, 0, b"")
        except BaseException:
            await self._cleanup(key)
            raise
        return total

    async def size(self, key: str) -> int:
        count, total = await self._call(_size, key)
        if not count:
            raise BlobMissing(key)
        return total

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        if end is not None and end <= start:
            await self.size(key)  # an empty range, but a missing blob is still missing
            return
        seq, offset = divmod(start, CHUNK_BYTES)
        position = start
        while end is None or position < end:
            data = await self._call(_chunk, key, seq)
            if data is None:  # past the last chunk
                if position == start:  # ...or there is no blob at all
                    await self.size(key)
                return
            piece = data[offset:] if end is None else data[offset : offset + end - position]
            if piece:
                yield piece
            position += len(piece)
            if len(data) < CHUNK_BYTES:  # only the last chunk is short
                return
            seq, offset = seq + 1, 0

    async def delete(self, key: str) -> None:
        await self._call(_delete, key)

    async def _cleanup(self, key: str) -> None:
        """Best effort after a failed write; the artifact collector retries what remains."""
        with contextlib.suppress(Exception):
            await self.delete(key)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return await settled(self.database.call(fn, *args))
        except sa.exc.SQLAlchemyError as exc:
            # The driver's own message, never the statement's parameters (1 MiB of data).
            reason = str(getattr(exc, "orig", None) or type(exc).__name__).splitlines()[0]
            raise StorageError(f"database blob store: {reason}") from None


def _insert(db: Session, key: str, seq: int, data: bytes) -> None:
    db.execute(CHUNKS.insert().values(storage_key=key, seq=seq, data=data))
    db.commit()


def _size(db: Session, key: str) -> tuple[int, int]:
    query = sa.select(
        sa.func.count(), sa.func.coalesce(sa.func.sum(sa.func.length(CHUNKS.c.data)), 0)
    ).where(CHUNKS.c.storage_key == key)
    count, total = db.execute(query).one()
    return int(count), int(total)


def _chunk(db: Session, key: str, seq: int) -> bytes | None:
    query = sa.select(CHUNKS.c.data).where(CHUNKS.c.storage_key == key, CHUNKS.c.seq == seq)
    data = db.execute(query).scalar_one_or_none()
    return None if data is None else bytes(data)


def _delete(db: Session, key: str) -> None:
    db.execute(CHUNKS.delete().where(CHUNKS.c.storage_key == key))
    db.commit()


__all__ = ["CHUNK_BYTES", "BlobChunkRow", "DatabaseStore"]
