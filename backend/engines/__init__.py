"""Background engines, run under the server's lifespan: the reconciler (which also applies
lifetime rules) and the task runner."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from backend.db import Database
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
    runner = TaskRunner(
        database, runtime, task_output_store(settings), grace=settings.task_cancel_grace_seconds
    )
    jobs = [
        asyncio.create_task(reconciler.run(settings.reconcile_interval, Leadership(database))),
        asyncio.create_task(runner.run(settings.reconcile_interval)),
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
