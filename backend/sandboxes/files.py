"""Workspace files of a sandbox: list, read, write, delete (the runtime confines paths)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlmodel import Session

from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.db import Database, commit
from backend.errors import InvalidInput, TooLarge
from backend.runtime.base import FileEntry, RuntimeAdapter, WorkspaceStream
from backend.sandboxes import service as sandboxes
from backend.sandboxes.runtime_access import call_runtime

MAX_READ_BYTES = 8 * 1024 * 1024
MAX_WRITE_BYTES = 64 * 1024 * 1024
# A directory's archive (tar.gz, as sent): past this the stream stops with ArchiveTooLarge,
# so a client sees a failed download rather than a truncated archive that looks whole.
MAX_ARCHIVE_BYTES = 1024 * 1024 * 1024


class ArchiveTooLarge(Exception):
    """Raised by an archive's chunks once it passed MAX_ARCHIVE_BYTES (mid-stream: the
    response has begun, so the connection is cut instead of answered)."""


@dataclass(frozen=True)
class WorkspaceEntry:
    """One entry of a workspace directory listing."""

    path: str  # relative to the workspace
    name: str  # the last part of the path
    type: str  # file | directory | symlink | other
    size: int
    modified_at: datetime

    @classmethod
    def of(cls, entry: FileEntry) -> WorkspaceEntry:
        name = entry.path.rsplit("/", 1)[-1]
        return cls(entry.path, name, entry.type, entry.size, entry.modified_at)


class WorkspaceFiles:
    """A sandbox's workspace files. Every call checks that the sandbox exists first;
    writes and deletes are audited."""

    def __init__(self, database: Database, runtime: RuntimeAdapter) -> None:
        self._database = database
        self._runtime = runtime
        self.archive_max_bytes = MAX_ARCHIVE_BYTES

    async def list(
        self, *, principal: Principal, sandbox_id: uuid.UUID, path: str
    ) -> list[WorkspaceEntry]:
        await self._may(principal, sandbox_id, Permission.READ_CONTENT)
        entries = await call_runtime(self._runtime.list_files(sandbox_id, path))
        return [WorkspaceEntry.of(entry) for entry in entries]

    async def read(self, *, principal: Principal, sandbox_id: uuid.UUID, path: str) -> bytes:
        await self._may(principal, sandbox_id, Permission.READ_CONTENT)
        data = await call_runtime(self._runtime.read_file(sandbox_id, path, MAX_READ_BYTES + 1))
        if len(data) > MAX_READ_BYTES:
            raise InvalidInput(
                f"file is larger than {MAX_READ_BYTES} bytes: capture it as an artifact instead"
            )
        return data

    async def open(
        self, *, principal: Principal, sandbox_id: uuid.UUID, path: str
    ) -> WorkspaceStream:
        """A workspace file opened to be read as it streams: any size, the server's memory
        stays flat (`read` keeps the whole file, up to MAX_READ_BYTES). Close it."""
        await self._may(principal, sandbox_id, Permission.READ_CONTENT)
        stream = await call_runtime(self._runtime.open_read(sandbox_id, path))
        if stream.entry.type == "directory":
            await stream.close()
            raise InvalidInput(f"'{path}' is not a regular file")
        return stream

    async def archive(
        self, *, principal: Principal, sandbox_id: uuid.UUID, path: str
    ) -> WorkspaceStream:
        """A workspace directory as a tar.gz made as it streams (symlinks stored as links,
        never followed; other special files left out), cut off past `archive_max_bytes`.
        Close it."""
        await self._may(principal, sandbox_id, Permission.READ_CONTENT)
        stream = await call_runtime(self._runtime.open_read(sandbox_id, path))
        if stream.entry.type != "directory":
            await stream.close()
            raise InvalidInput(f"'{path}' is not a directory: download it as a file instead")
        return replace(stream, chunks=_capped(stream.chunks, self.archive_max_bytes))

    async def write(
        self, *, principal: Principal, sandbox_id: uuid.UUID, path: str, data: bytes
    ) -> None:
        if len(data) > MAX_WRITE_BYTES:
            raise TooLarge(f"file is larger than {MAX_WRITE_BYTES} bytes")
        await self._may(principal, sandbox_id, Permission.OPERATE)
        await call_runtime(self._runtime.write_file(sandbox_id, path, data))
        await self._record(principal, sandbox_id, "sandbox.file.written", path, sizeBytes=len(data))

    async def delete(self, *, principal: Principal, sandbox_id: uuid.UUID, path: str) -> None:
        await self._may(principal, sandbox_id, Permission.OPERATE)
        await call_runtime(self._runtime.delete_file(sandbox_id, path))
        await self._record(principal, sandbox_id, "sandbox.file.deleted", path)

    async def _may(
        self, principal: Principal, sandbox_id: uuid.UUID, permission: Permission
    ) -> None:
        """The sandbox exists and the principal may do this to it."""
        await self._database.call(sandboxes.operable, principal, sandbox_id, permission)

    async def _record(
        self, principal: Principal, sandbox_id: uuid.UUID, action: str, path: str, **metadata: Any
    ) -> None:
        await self._database.call(
            _record,
            principal=principal,
            sandbox_id=sandbox_id,
            action=action,
            path=path,
            **metadata,
        )


async def _capped(chunks: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    sent = 0
    async for chunk in chunks:
        sent += len(chunk)
        if sent > limit:
            raise ArchiveTooLarge(f"the archive is larger than {limit} bytes")
        yield chunk


def _record(
    db: Session, *, principal: Principal, sandbox_id: uuid.UUID, action: str, **metadata: Any
) -> None:
    sandbox = sandboxes.get_sandbox(db, sandbox_id)
    sandboxes.record(db, principal, action, sandbox, **metadata)
    commit(db)
