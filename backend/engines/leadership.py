"""One reconciler (or audit pruner) at a time: a Postgres advisory lock held on a
dedicated connection, or a file lock next to the SQLite database (one machine)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from typing import IO

import sqlalchemy as sa

from backend.db import Database

RECONCILER_LOCK_KEY = 0x6D626F78_72656331


class Leadership:
    """`key` and `name` tell one leadership from another (the reconciler's by default)."""

    def __init__(
        self, database: Database, *, key: int = RECONCILER_LOCK_KEY, name: str = "reconciler"
    ) -> None:
        self.database = database
        self.key, self.name = key, name
        self._connection: sa.Connection | None = None
        self._file: IO | None = None
        self._trying = asyncio.Lock()  # engines sharing one leadership try one at a time

    async def acquire(self) -> bool:
        """True while this process is the leader (cheap once acquired)."""
        async with self._trying:
            if self._connection is not None or self._file is not None:
                return True
            return await asyncio.to_thread(self._try_acquire)

    def _try_acquire(self) -> bool:
        engine = self.database.engine
        if engine.dialect.name == "postgresql":
            connection = engine.connect()
            got = connection.execute(
                sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}
            ).scalar()
            connection.commit()
            if got:
                self._connection = connection
            else:
                connection.close()
            return bool(got)
        path = engine.url.database or ":memory:"
        if path == ":memory:":
            self._file = open("/dev/null")  # noqa: SIM115 - held for the process lifetime
            return True
        lock_file = open(f"{path}.{self.name}.lock", "a+")  # noqa: SIM115 - held while leader
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            return False
        self._file = lock_file
        return True

    async def release(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()  # closing the session releases the advisory lock
            self._connection = None
        if self._file is not None:
            self._file.close()
            self._file = None
