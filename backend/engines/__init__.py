"""Background engines, run under the server's lifespan: the reconciler (which also applies
lifetime rules), the task runner, the artifact collector, audit retention and the metrics
sampler (under the reconciler's leadership: it measures the sandboxes the leader runs)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from backend.engines.artifact_collector import ArtifactCollector
from backend.engines.audit_retention import RETENTION_LOCK_KEY, AuditRetention
from backend.engines.leadership import Leadership
from backend.engines.metrics_sampler import MetricsSampler
from backend.engines.reconciler import Reconciler
from backend.engines.task_runner import TaskRunner

if TYPE_CHECKING:
    from backend.services import Services


@contextlib.asynccontextmanager
async def running(services: Services) -> AsyncIterator[None]:
    """Run the engines while the context is open; on exit stop them."""
    settings, database, runtime = services.settings, services.database, services.runtime
    runner = TaskRunner(
        database,
        runtime,
        services.task_output,
        grace=settings.task_cancel_grace_seconds,
        collect=services.artifacts.collect_for_task,
    )
    collector = ArtifactCollector(
        database, services.artifacts.stores, upload_grace=settings.artifact_upload_grace_seconds
    )
    reconciler = Reconciler(database, runtime, settings)
    leadership = Leadership(database)  # the reconciler's, shared by the metrics sampler
    jobs = [
        asyncio.create_task(reconciler.run(settings.reconcile_interval, leadership)),
        asyncio.create_task(MetricsSampler(database, runtime, settings).run(leadership)),
        asyncio.create_task(runner.run(settings.reconcile_interval)),
        asyncio.create_task(collector.run(settings.artifact_collect_interval)),
        asyncio.create_task(
            AuditRetention(database, settings).run(
                Leadership(database, key=RETENTION_LOCK_KEY, name="audit-retention")
            )
        ),
    ]
    try:
        yield
    finally:
        for job in jobs:
            job.cancel()
        for job in jobs:
            with contextlib.suppress(asyncio.CancelledError):
                await job
