"""The metrics sampler: every MBOX_METRICS_INTERVAL_SECONDS, one sample of every running
sandbox from the runtime (`RuntimeAdapter.sample`), stored as one batch in one
transaction, with samples older than MBOX_METRICS_RETENTION_SECONDS pruned in the same
one (backend.metrics.service).

It runs where the sandboxes run: under the reconciler's own leadership (the local
runtime measures only the sandboxes its process started). A round that fails (the
runtime, the database) is recorded in the engine's health and the next one comes on
time; one sandbox that cannot be measured only has None fields, never fails the round.
"""

from __future__ import annotations

import asyncio
import logging

from backend.db import Database
from backend.engines.health import engine_health
from backend.engines.leadership import Leadership
from backend.metrics import service as metrics
from backend.runtime.base import RuntimeAdapter
from backend.settings import Settings

log = logging.getLogger("mbox.metrics")


class MetricsSampler:
    def __init__(self, database: Database, runtime: RuntimeAdapter, settings: Settings) -> None:
        self.database = database
        self.runtime = runtime
        self.settings = settings
        self.health = engine_health("metricsSampler", log)

    async def run(self, leadership: Leadership) -> None:
        """Sample forever while this process leads; `leadership` is the reconciler's
        (shared, so the reconciler releases it)."""
        interval = self.settings.metrics_interval_seconds
        clock = asyncio.get_running_loop().time
        while True:
            started = clock()
            with self.health.watch("a metrics sampling round"):
                if await leadership.acquire():
                    await self.sample_once()
            await asyncio.sleep(max(0.0, interval - (clock() - started)))

    async def sample_once(self) -> int:
        """One round: measure every running sandbox, store the batch, prune; how many
        samples were stored."""
        running = await self.database.read(metrics.running_sandboxes)
        samples = await self.runtime.sample(list(running)) if running else {}
        return await self.database.call(
            metrics.store_round,
            samples=samples,
            projects=running,
            retention_seconds=self.settings.metrics_retention_seconds,
        )
