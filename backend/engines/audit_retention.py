"""Audit retention: with MBOX_AUDIT_RETENTION_DAYS set, removes the events older than that
as a prefix of the hash chain under a signed checkpoint (backend.audit.service.
prune_expired), so the rest still verifies. One replica at a time (its own leadership
lock): pruning is cheap but two at once would fight over the same prefix."""

from __future__ import annotations

import asyncio
import logging

from backend.audit import service as audit
from backend.db import Database
from backend.engines.health import engine_health
from backend.engines.leadership import Leadership
from backend.settings import Settings

log = logging.getLogger("mbox.audit")
INTERVAL = 3600.0  # retention is counted in days: hourly is plenty
RETENTION_LOCK_KEY = 0x6D626F78_61756474


class AuditRetention:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self.health = engine_health("auditRetention", log)

    async def run(self, leadership: Leadership, interval: float = INTERVAL) -> None:
        if not self.settings.audit_retention_days:
            return  # events are kept forever
        try:
            while True:
                with self.health.watch("an audit retention pass"):
                    if await leadership.acquire():
                        await self.prune_once()
                await asyncio.sleep(interval)
        finally:
            await leadership.release()

    async def prune_once(self) -> int:
        removed = await self.database.call(audit.prune_expired, settings=self.settings)
        if removed:
            log.info("audit retention removed %d events", removed)
        return removed
