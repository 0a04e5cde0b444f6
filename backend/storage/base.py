"""The blob store interface: where artifact bytes live (the database, a filesystem, S3).

A store keeps immutable blobs under keys chosen by the caller. It streams both ways and
never holds a whole blob in memory; it knows nothing of artifacts, hashes or quotas.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Protocol

CHUNK_BYTES = 1024 * 1024


class StorageError(Exception):
    """The store failed (unreachable, refused, inconsistent); the message says how."""


class BlobMissing(StorageError):
    """No blob under this key."""


class StorageFull(StorageError):
    """No room left where the store keeps its blobs (ENOSPC, EDQUOT)."""


class BlobStore(Protocol):
    provider: str  # "postgres" (the database, whichever it is), "filesystem" or "s3"

    async def write(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        """Store every chunk under `key`; return the byte count. If `chunks` or the store
        fails, nothing remains under `key` and the error propagates."""
        ...

    async def size(self, key: str) -> int:
        """The blob's size; BlobMissing if there is none."""
        ...

    def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Bytes [start, end) of the blob (end None: to the end), in chunks; BlobMissing
        (raised on first iteration) if there is none."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the blob; removing a missing blob is not an error."""
        ...


async def rechunk(chunks: AsyncIterable[bytes], size: int) -> AsyncIterator[bytes]:
    """Regroup a stream into pieces of exactly `size` bytes (the last may be shorter),
    holding at most about two pieces at a time."""
    pending: list[bytes] = []
    held = 0
    async for chunk in chunks:
        pending.append(chunk)
        held += len(chunk)
        while held >= size:
            joined = b"".join(pending)
            piece, pending = joined[:size], ([joined[size:]] if held > size else [])
            del joined  # not kept alive while the consumer works on the piece
            held -= size
            yield piece
    if held:
        yield b"".join(pending)
