"""Artifact routes: references, capture, streamed upload and download, retained usage."""

from __future__ import annotations

from email.utils import format_datetime
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.background import BackgroundTask

from backend.api.deps import (
    ArtifactId,
    ArtifactsDep,
    Body,
    DbDep,
    PrincipalDep,
    ProjectId,
    SandboxId,
    TaskId,
)
from backend.api.openapi import body, deleted, returns, returns_list
from backend.api.responses import SAFE_DOWNLOAD, PageLimit, download_headers, page, public
from backend.artifacts import service as artifacts
from backend.artifacts.content import ByteRange, ContentStream
from backend.artifacts.models import Artifact, ArtifactCreate, ArtifactUsage
from backend.errors import InvalidInput

router = APIRouter(tags=["artifacts"])
BINARY = {"schema": {"type": "string", "format": "binary"}}
# Any type is taken as it is (and kept as the content type); the reference SDK's check
# looks for these two by name.
UPLOAD_TYPES = {"application/octet-stream": BINARY, "text/plain": BINARY, "*/*": BINARY}
MAX_SOURCE_URI_CHARS = 4096


def _listed(rows: artifacts.Listed, limit: int) -> JSONResponse:
    return page([Artifact.of(row, content) for row, content in rows], limit)


@router.get("/v1/sandboxes/{sandboxID}/artifacts", responses=returns_list(Artifact))
def list_sandbox_artifacts(db: DbDep, sandbox_id: SandboxId, limit: PageLimit) -> JSONResponse:
    return _listed(artifacts.list_for_sandbox(db, sandbox_id=sandbox_id, limit=limit + 1), limit)


@router.post(
    "/v1/sandboxes/{sandboxID}/artifacts",
    status_code=201,
    responses=returns(Artifact, 201),
    openapi_extra=body(ArtifactCreate),
)
def create_artifact(
    db: DbDep,
    principal: PrincipalDep,
    sandbox_id: SandboxId,
    data: ArtifactCreate = Body(ArtifactCreate),
) -> JSONResponse:
    row = artifacts.create_artifact(db, principal=principal, sandbox_id=sandbox_id, data=data)
    return public(Artifact.of(row, None), 201)


@router.get("/v1/tasks/{taskID}/artifacts", responses=returns_list(Artifact))
def list_task_artifacts(db: DbDep, task_id: TaskId, limit: PageLimit) -> JSONResponse:
    return _listed(artifacts.list_for_task(db, task_id=task_id, limit=limit + 1), limit)


@router.get("/v1/artifacts/{artifactID}", responses=returns(Artifact))
def get_artifact(db: DbDep, artifact_id: ArtifactId) -> JSONResponse:
    return public(Artifact.of(*artifacts.get_with_content(db, artifact_id)))


@router.delete("/v1/artifacts/{artifactID}", status_code=204, responses=deleted())
def delete_artifact(db: DbDep, principal: PrincipalDep, artifact_id: ArtifactId) -> Response:
    """Delete the reference and its retained bytes (collected in the background)."""
    artifacts.delete_artifact(db, principal=principal, artifact_id=artifact_id)
    return Response(status_code=204)


@router.post("/v1/artifacts/{artifactID}/capture", responses=returns(Artifact))
async def capture(
    content: ArtifactsDep, principal: PrincipalDep, artifact_id: ArtifactId
) -> JSONResponse:
    """Retain the bytes at the artifact's workspace:// path; a directory as tar.gz."""
    found = await content.capture(principal=principal, artifact_id=artifact_id)
    return public(found)


@router.put(
    "/v1/artifacts/{artifactID}/content",
    responses=returns(Artifact),
    openapi_extra={"requestBody": {"required": True, "content": UPLOAD_TYPES}},
)
async def upload(
    request: Request,
    content: ArtifactsDep,
    principal: PrincipalDep,
    artifact_id: ArtifactId,
    source_uri: Annotated[str, Header(alias="X-Mbox-Artifact-Source-URI")] = "",
) -> JSONResponse:
    """Stream the request body into retained content (sha256 computed on the way)."""
    if len(source_uri) > MAX_SOURCE_URI_CHARS:
        raise InvalidInput("X-Mbox-Artifact-Source-URI is too long")
    declared = request.headers.get("content-length", "")
    found = await content.upload(
        principal=principal,
        artifact_id=artifact_id,
        chunks=request.stream(),
        content_type=request.headers.get("content-type", "").strip(),
        source_uri=source_uri.strip(),
        declared_bytes=int(declared) if declared.isdigit() else None,
    )
    return public(found)


@router.get(
    "/v1/artifacts/{artifactID}/content",
    responses={
        200: {"description": "The content", "content": {"application/octet-stream": BINARY}},
        206: {"description": "A byte range of retained content"},
        304: {"description": "Not modified (If-None-Match matched the sha256 ETag)"},
    },
)
async def download(
    content: ArtifactsDep,
    principal: PrincipalDep,
    artifact_id: ArtifactId,
    byte_range: Annotated[str | None, Header(alias="Range")] = None,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    """Retained bytes first (verified against their sha256), else a live workspace read."""
    found = await content.download(
        principal=principal,
        artifact_id=artifact_id,
        byte_range=requested_range(byte_range),
        if_none_match=if_none_match,
    )
    status = 304 if found.not_modified else 206 if found.byte_range is not None else 200
    return StreamingResponse(
        found.chunks,
        status_code=status,
        headers=content_headers(found),
        media_type=None,
        background=BackgroundTask(found.close),
    )


def requested_range(header: str | None) -> ByteRange | None:
    """One `bytes=` range of a Range header; None for none (or a multi-part one), which is
    answered with the whole content."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header.removeprefix("bytes=").strip().partition("-")
    try:
        if first == "":  # the last N bytes
            return ByteRange(None, int(last))
        return ByteRange(int(first), int(last) if last else None)
    except ValueError:
        return None


def content_headers(found: ContentStream) -> dict[str, str]:
    """The headers of artifact content: what it is, where it came from, its validator and
    range, and always a download."""
    if found.not_modified:
        return {"ETag": f'"{found.sha256}"', **SAFE_DOWNLOAD}
    headers = {"Content-Type": found.content_type, "X-Mbox-Artifact-ID": str(found.artifact_id)}
    if found.path is not None:
        headers["X-Mbox-Artifact-Path"] = found.path
    headers["X-Mbox-Artifact-Retained"] = "true" if found.retained else "false"
    if found.retained:
        headers["X-Mbox-Artifact-SHA256"] = str(found.sha256)
        if found.captured_at is not None:
            headers["X-Mbox-Artifact-Captured-At"] = format_datetime(found.captured_at, usegmt=True)
        headers["ETag"] = f'"{found.sha256}"'
        headers["Accept-Ranges"] = "bytes"
    if found.byte_range is not None:
        start, end = found.byte_range
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{found.size}"
    if found.truncated:
        headers["X-Mbox-Content-Truncated"] = "true"
    if found.length is not None:
        headers["Content-Length"] = str(found.length)
    return {**headers, **download_headers(found.file_name)}


@router.get("/v1/projects/{projectID}/artifact-usage", responses=returns(ArtifactUsage))
def artifact_usage(db: DbDep, project_id: ProjectId) -> JSONResponse:
    """Retained bytes and count of the project, and its retention days."""
    return public(artifacts.usage(db, project_id=project_id))
