"""Artifact content backends: the database, a filesystem, S3.

`BlobStores(settings, database)` is the one object the rest of the server uses:
`stores.writer` stores new content in the configured backend, `stores.get(provider)` reads
(or deletes) content stored by any backend, so switching the backend never strands the
bytes written before the switch. Stores are built on first use (boto3 is imported and its
client created only if S3 is used) and cached.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar

from backend.storage.base import BlobMissing, BlobStore, StorageError

if TYPE_CHECKING:
    from backend.db import Database
    from backend.settings import Settings

__all__ = ["BlobMissing", "BlobStore", "BlobStores", "StorageError"]

PROVIDERS = ("postgres", "filesystem", "s3")
S3_NOT_CONFIGURED = (
    "content is stored in s3, which this server is not configured to read "
    "(set MBOX_ARTIFACT_CONTENT_S3_*)"
)

T = TypeVar("T")


class BlobStores:
    """The configured writer plus a reader for every provider, built lazily, built once."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database
        self._stores: dict[str, BlobStore] = {}
        self._lock = threading.Lock()  # stores may be first asked for from worker threads

    @property
    def writer(self) -> BlobStore:
        return self.get(self.settings.artifact_content_backend)

    def get(self, provider: str) -> BlobStore:
        """The store holding content written by `provider`; StorageError if this server
        cannot reach it."""
        with self._lock:
            if provider not in self._stores:
                self._stores[provider] = self._build(provider)
            return self._stores[provider]

    def _build(self, provider: str) -> BlobStore:
        settings = self.settings
        if provider == "postgres":
            from backend.storage.database import DatabaseStore

            return DatabaseStore(self.database)
        if provider == "filesystem":
            from backend.storage.filesystem import FilesystemStore

            assert settings.artifact_content_dir is not None  # resolved by Settings
            return FilesystemStore(settings.artifact_content_dir)
        if provider == "s3":
            if not settings.artifact_content_s3_bucket:
                raise StorageError(S3_NOT_CONFIGURED)
            from backend.storage.s3 import S3Store

            return S3Store(settings)
        raise StorageError(f"unknown storage provider {provider!r}")


async def settled(work: Awaitable[T]) -> T:
    """Await `work` (typically a worker thread). If the caller is cancelled meanwhile, let
    the work finish before re-raising: a thread cannot be stopped, and cleanup (delete the
    chunks, unlink the file, abort the upload) must not race a write still in flight."""
    future = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        if not future.cancelled():
            future.exception()  # retrieved: the cancellation is what propagates
        raise
