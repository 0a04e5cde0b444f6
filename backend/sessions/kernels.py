"""Code execution in a Jupyter kernel inside a sandbox (placeholder until it lands)."""

from __future__ import annotations

from backend.db import Database
from backend.runtime.base import RuntimeAdapter


class KernelHub:
    def __init__(self, database: Database, runtime: RuntimeAdapter) -> None:
        self._database = database
        self._runtime = runtime

    async def close(self) -> None:
        pass
