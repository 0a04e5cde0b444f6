"""Workspace files of a sandbox: list, read, write, delete (the runtime confines paths)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from typing import Any

from backend.auth.models import Principal
from backend.db import Database, commit
from backend.errors import InvalidInput, NotFound, RuntimeFailed
from backend.runtime.base import FileEntry, FileMissing, PathRefused, RuntimeAdapter, RuntimeFailure
from backend.sandboxes import service as sandboxes

MAX_READ_BYTES = 8 * 1024 * 1024
MAX_WRITE_BYTES = 64 * 1024 * 1024


async def _call(awaitable: Awaitable[Any]) -> Any:
    try:
        return await awaitable
    except PathRefused as exc:
        raise InvalidInput(str(exc)) from None
    except FileMissing as exc:
        raise NotFound(str(exc)) from None
    except RuntimeFailure as exc:
        raise RuntimeFailed(str(exc)) from None


def entry_json(entry: FileEntry) -> dict[str, Any]:
    return {
        "path": entry.path,
        "name": entry.path.rsplit("/", 1)[-1],
        "type": entry.type,
        "size": entry.size,
        "modifiedAt": entry.modified_at.isoformat().replace("+00:00", "Z"),
    }


async def list_files(runtime: RuntimeAdapter, sandbox_id: uuid.UUID, path: str) -> list[dict]:
    return [entry_json(e) for e in await _call(runtime.list_files(sandbox_id, path))]


async def read_file(runtime: RuntimeAdapter, sandbox_id: uuid.UUID, path: str) -> bytes:
    data = await _call(runtime.read_file(sandbox_id, path, MAX_READ_BYTES + 1))
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
    await _call(runtime.write_file(sandbox_id, path, data))
    await _audit(database, principal, sandbox_id, "sandbox.file.written", path, len(data))


async def delete_file(
    database: Database,
    runtime: RuntimeAdapter,
    *,
    principal: Principal,
    sandbox_id: uuid.UUID,
    path: str,
) -> None:
    await _call(runtime.delete_file(sandbox_id, path))
    await _audit(database, principal, sandbox_id, "sandbox.file.deleted", path)


async def _audit(
    database: Database,
    principal: Principal,
    sandbox_id: uuid.UUID,
    action: str,
    path: str,
    size: int | None = None,
) -> None:
    def record() -> None:
        with database.session() as session:
            sandbox = sandboxes.get_sandbox(session, sandbox_id)
            metadata = {"path": path} | ({"sizeBytes": size} if size is not None else {})
            sandboxes.record(session, principal, action, sandbox, **metadata)
            commit(session)

    await asyncio.to_thread(record)
