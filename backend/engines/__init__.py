"""Background engines, run under the server's lifespan: the reconciler (which also applies
lifetime rules), the task runner and the artifact collector."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from backend.artifacts.content import artifact_content
from backend.db import Database
from backend.engines.artifact_collector import ArtifactCollector
from backend.engines.leadership import Leadership
from backend.engines.reconciler import Reconciler
from backend.engines.task_runner import TaskRunner
from backend.runtime.base import RuntimeAdapter
from backend.settings import Settings
from backend.tasks.output import task_output_store


@contextlib.asynccontextmanager
async def running(
    database: Database, runtime: RuntimeAdapter, settings: Settings
) -> AsyncIterator[None]:
    """Run the engines while the context is open; on exit stop them and the runtime."""
    reconciler = Reconciler(database, runtime, settings)
    content = artifact_content(settings, database, runtime)
    runner = TaskRunner(
        database,
        runtime,
        task_output_store(settings),
        grace=settings.task_cancel_grace_seconds,
        collect=content.collect_for_task,
    )
    collector = ArtifactCollector(
        database, content.stores, upload_grace=settings.artifact_upload_grace_seconds
    )
    jobs = [
        asyncio.create_task(reconciler.run(settings.reconcile_interval, Leadership(database))),
        asyncio.create_task(runner.run(settings.reconcile_interval)),
        asyncio.create_task(collector.run(settings.artifact_collect_interval)),
    ]
    try:
        yield
    finally:
        for job in jobs:
            job.cancel()
        for job in jobs:
            with contextlib.suppress(asyncio.CancelledError):
                await job
        await runtime.close()
