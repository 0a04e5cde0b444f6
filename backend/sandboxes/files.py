"""Workspace files of a sandbox: list, read, write, delete (the runtime confines paths)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from backend.auth.models import Principal
from backend.db import Database, commit
from backend.errors import InvalidInput
from backend.runtime.base import FileEntry, RuntimeAdapter
from backend.sandboxes import service as sandboxes
from backend.sandboxes.runtime_access import call_runtime

MAX_READ_BYTES = 8 * 1024 * 1024
MAX_WRITE_BYTES = 64 * 1024 * 1024


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


async def list_files(
    runtime: RuntimeAdapter, sandbox_id: uuid.UUID, path: str
) -> list[WorkspaceEntry]:
    return [WorkspaceEntry.of(e) for e in await call_runtime(runtime.list_files(sandbox_id, path))]


async def read_file(runtime: RuntimeAdapter, sandbox_id: uuid.UUID, path: str) -> bytes:
    data = await call_runtime(runtime.read_file(sandbox_id, path, MAX_READ_BYTES + 1))
    if len(data) > MAX_READ_BYTES:
        raise InvalidInput(
            f"file is larger than {MAX_READ_BYTES} bytes: capture it as an artifact instead"
        )
    return data


async def write_file(
    database: Database,
    runtime: RuntimeAdapter,
    *,
    principal: Principal,
    sandbox_id: uuid.UUID,
    path: str,
    data: bytes,
) -> None:
    await call_runtime(runtime.write_file(sandbox_id, path, data))
    await database.call(
        _record,
        principal=principal,
        sandbox_id=sandbox_id,
        action="sandbox.file.written",
        path=path,
        sizeBytes=len(data),
    )


async def delete_file(
    database: Database,
    runtime: RuntimeAdapter,
    *,
    principal: Principal,
    sandbox_id: uuid.UUID,
    path: str,
) -> None:
    await call_runtime(runtime.delete_file(sandbox_id, path))
    await database.call(
        _record,
        principal=principal,
        sandbox_id=sandbox_id,
        action="sandbox.file.deleted",
        path=path,
    )


def _record(
    session: Session, *, principal: Principal, sandbox_id: uuid.UUID, action: str, **metadata: Any
) -> None:
    sandbox = sandboxes.get_sandbox(session, sandbox_id)
    sandboxes.record(session, principal, action, sandbox, **metadata)
    commit(session)
