"""Background engines, run under the server's lifespan: the reconciler (later also the
task runner and the lifetime reaper)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from backend.db import Database
from backend.engines.leadership import Leadership
from backend.engines.reconciler import Reconciler
from backend.runtime.base import RuntimeAdapter


@contextlib.asynccontextmanager
async def running(
    database: Database, runtime: RuntimeAdapter, *, interval: float
) -> AsyncIterator[Reconciler]:
    """Run the engines while the context is open; on exit stop them and the runtime."""
    reconciler = Reconciler(database, runtime)
    task = asyncio.create_task(reconciler.run(interval, Leadership(database)))
    try:
        yield reconciler
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await runtime.close()
