"""The artifact collector: expires artifacts past their project's retention days and
removes the bytes of blobs nothing references (re-captured, deleted, expired, lost races,
uploads that never finished).

Every replica may run it: blobs are claimed in the ledger (`deleting`) before their bytes
are removed, so two collectors never fight and a late upload can no longer revive one.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from backend.artifacts import service as artifacts
from backend.db import Database, utcnow
from backend.engines.health import engine_health
from backend.storage import BlobStores
from backend.storage.base import StorageError

log = logging.getLogger("mbox.artifacts")


@dataclass
class Collected:
    expired: int = 0
    removed: int = 0
    failed: int = 0


class ArtifactCollector:
    def __init__(self, database: Database, stores: BlobStores, *, upload_grace: float) -> None:
        self.database = database
        self.stores = stores
        self.upload_grace = timedelta(seconds=upload_grace)
        self.health = engine_health("artifactCollector", log)

    async def run(self, interval: float) -> None:
        while True:
            with self.health.watch("an artifact collection pass"):
                await self.collect_once()
            await asyncio.sleep(interval)

    async def collect_once(self) -> Collected:
        collected = Collected(expired=await self.database.call(artifacts.expire))
        while True:
            blobs = await self.database.call(
                artifacts.claim_garbage, stale_before=utcnow() - self.upload_grace
            )
            for blob in blobs:
                if await self._remove(blob.storage_provider, blob.storage_key):
                    await self.database.call(artifacts.forget_blob, blob_id=blob.id)
                    collected.removed += 1
                else:
                    collected.failed += 1
            if not blobs or collected.failed:
                return collected

    async def _remove(self, provider: str, key: str) -> bool:
        """Remove the bytes; on failure the blob stays claimed and is retried later."""
        try:
            await self.stores.get(provider).delete(key)
        except StorageError as exc:
            log.warning("could not remove artifact blob %s/%s: %s", provider, key, exc)
            return False
        return True
