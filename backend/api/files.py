"""Workspace file routes: `path` is relative to the sandbox's workspace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from backend.api.deps import FilesDep, PrincipalDep, SandboxId
from backend.api.responses import PageLimit, download_headers, iso_time, page
from backend.errors import TooLarge
from backend.sandboxes import files

router = APIRouter(tags=["sandboxes"])
PathQuery = Annotated[str, Query(description="Path relative to the workspace")]
BINARY = {
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
}


@router.get(
    "/v1/sandboxes/{sandboxID}/files", responses={200: {"description": "Directory listing"}}
)
async def list_files(
    workspace: FilesDep,
    principal: PrincipalDep,
    sandbox_id: SandboxId,
    limit: PageLimit,
    path: PathQuery = "",
) -> JSONResponse:
    entries = await workspace.list(principal=principal, sandbox_id=sandbox_id, path=path)
    return page([_entry_json(entry) for entry in entries], limit, path=path)


def _entry_json(entry: files.WorkspaceEntry) -> dict[str, Any]:
    return {
        "path": entry.path,
        "name": entry.name,
        "type": entry.type,
        "size": entry.size,
        "modifiedAt": iso_time(entry.modified_at),
    }


@router.get(
    "/v1/sandboxes/{sandboxID}/files/content",
    responses={200: {"description": "File bytes", **BINARY}},
)
async def read_file(
    workspace: FilesDep, principal: PrincipalDep, sandbox_id: SandboxId, path: PathQuery
) -> Response:
    """The file's bytes as they are read (any size; the server holds one chunk at a time)."""
    stream = await workspace.open(principal=principal, sandbox_id=sandbox_id, path=path)
    name = path.rstrip("/").rpartition("/")[2]

    async def chunks() -> AsyncIterator[bytes]:
        async with stream:
            async for chunk in stream.chunks:
                yield chunk

    return StreamingResponse(
        chunks(), media_type="application/octet-stream", headers=download_headers(name)
    )


@router.put(
    "/v1/sandboxes/{sandboxID}/files/content",
    status_code=204,
    responses={204: {"description": "Written"}},
    openapi_extra={"requestBody": {"required": True, **BINARY}},
)
async def write_file(
    request: Request,
    workspace: FilesDep,
    principal: PrincipalDep,
    sandbox_id: SandboxId,
    path: PathQuery,
) -> Response:
    data = await _read_limited(request, files.MAX_WRITE_BYTES)
    await workspace.write(principal=principal, sandbox_id=sandbox_id, path=path, data=data)
    return Response(status_code=204)


@router.delete(
    "/v1/sandboxes/{sandboxID}/files", status_code=204, responses={204: {"description": "Deleted"}}
)
async def delete_file(
    workspace: FilesDep, principal: PrincipalDep, sandbox_id: SandboxId, path: PathQuery
) -> Response:
    await workspace.delete(principal=principal, sandbox_id=sandbox_id, path=path)
    return Response(status_code=204)


async def _read_limited(request: Request, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"file is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
