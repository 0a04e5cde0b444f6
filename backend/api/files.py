"""Workspace file routes: `path` is relative to the sandbox's workspace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from backend.api.deps import FilesDep, PrincipalDep, SandboxId
from backend.api.responses import PageLimit, download_headers, iso_time, page
from backend.errors import TooLarge
from backend.runtime.base import WorkspaceStream
from backend.sandboxes import files

router = APIRouter(tags=["sandboxes"])
PathQuery = Annotated[str, Query(description="Path relative to the workspace")]
DirectoryQuery = Annotated[
    str, Query(description="Directory relative to the workspace (empty: the workspace)")
]
GZIP = {"content": {"application/gzip": {"schema": {"type": "string", "format": "binary"}}}}
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
    return _streamed(stream, "application/octet-stream", name)


@router.get(
    "/v1/sandboxes/{sandboxID}/files/archive",
    responses={200: {"description": "The directory as tar.gz", **GZIP}},
)
async def download_archive(
    workspace: FilesDep, principal: PrincipalDep, sandbox_id: SandboxId, path: DirectoryQuery = ""
) -> Response:
    """A directory and everything in it as a tar.gz made as it streams (the server holds a
    few chunks at a time). Members are named after the directory ("workspace" for the
    workspace itself); symlinks are stored as links, never followed; other special files
    are left out. An archive passing 1 GiB is cut off: the connection closes before the
    end of the body, so the download fails instead of looking whole."""
    stream = await workspace.archive(principal=principal, sandbox_id=sandbox_id, path=path)
    name = path.strip("/").rpartition("/")[2] or "workspace"
    return _streamed(stream, "application/gzip", f"{name}.tar.gz")


def _streamed(stream: WorkspaceStream, media_type: str, name: str) -> StreamingResponse:
    """A download of the stream's chunks, closing it when done (or cut off)."""

    async def chunks() -> AsyncIterator[bytes]:
        async with stream:
            async for chunk in stream.chunks:
                yield chunk

    return StreamingResponse(chunks(), media_type=media_type, headers=download_headers(name))


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
