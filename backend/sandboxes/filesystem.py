"""A sandbox's whole filesystem by absolute path, as the sandbox's own user sees it (E2B's
envd model), unlike `files.py`'s workspace. Every operation runs inside the sandbox."""

from __future__ import annotations

from backend.db import Database
from backend.runtime.base import RuntimeAdapter


class SandboxFilesystem:
    def __init__(self, database: Database, runtime: RuntimeAdapter) -> None:
        self._database = database
        self._runtime = runtime
