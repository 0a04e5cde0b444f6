"""Sandbox routes: launch, read, update, lifecycle (start/stop), soft delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse

from backend.api import waits
from backend.api.deps import Body, DatabaseDep, DbDep, PrincipalDep, RuntimeAccessDep, SandboxId
from backend.api.openapi import body, deleted, returns, returns_list
from backend.api.responses import PageLimit, iso_time, item, items, page
from backend.api.waits import AfterTime, WaitSeconds
from backend.auth.access import Permission
from backend.errors import InvalidInput
from backend.runtime import base as runtime_base
from backend.sandboxes import lifetime
from backend.sandboxes import service as sandboxes
from backend.sandboxes.lifetime import SandboxRenew
from backend.sandboxes.models import (
    LogResult,
    PreviewPortsResult,
    RuntimeEvent,
    RuntimeTarget,
    Sandbox,
    SandboxCreate,
    SandboxRow,
    SandboxUpdate,
)
from backend.sandboxes.runtime_access import PortView
from backend.validation import optional_uuid

router = APIRouter(tags=["sandboxes"])


@router.get("/v1/sandboxes", responses=returns_list(Sandbox))
def list_sandboxes(
    db: DbDep,
    limit: PageLimit,
    projectId: Annotated[str | None, Query()] = None,  # noqa: N803 - the contract's name
) -> JSONResponse:
    project_id = optional_uuid(projectId, "invalid projectId query")
    rows = sandboxes.list_sandboxes(db, project_id=project_id, limit=limit + 1)
    return items(Sandbox, rows, limit)


@router.post(
    "/v1/sandboxes",
    status_code=201,
    responses=returns(Sandbox, 201),
    openapi_extra=body(SandboxCreate),
)
def create_sandbox(
    db: DbDep, principal: PrincipalDep, data: SandboxCreate = Body(SandboxCreate)
) -> JSONResponse:
    return item(Sandbox, sandboxes.create_sandbox(db, principal=principal, data=data), 201)


@router.get("/v1/sandboxes/{sandboxID}", responses=returns(Sandbox))
async def get_sandbox(
    database: DatabaseDep,
    principal: PrincipalDep,
    sandbox_id: SandboxId,
    wait: WaitSeconds,
    after: AfterTime,
) -> JSONResponse:
    """The sandbox; with `after` (an earlier `updatedAt`) and `wait`, once its `updatedAt`
    is later than `after` (any change: status, phase, fields), or when the seconds pass."""

    async def load() -> SandboxRow:
        # As a scoped session would: another project's sandbox is a 404 (every role reads).
        return await database.read(sandboxes.operable, principal, sandbox_id, Permission.READ)

    with waits.watching("sandboxes", "sandbox-status") as wakeup:  # before the read
        row = await load()
        if after is not None:
            row = await waits.until(
                wakeup,
                row,
                seconds=wait or 0,
                key=str(sandbox_id),
                done=lambda found: found.updated_at > after,
                load=load,
            )
    return item(Sandbox, row)


@router.patch(
    "/v1/sandboxes/{sandboxID}", responses=returns(Sandbox), openapi_extra=body(SandboxUpdate)
)
def update_sandbox(
    db: DbDep,
    principal: PrincipalDep,
    sandbox_id: SandboxId,
    data: SandboxUpdate = Body(SandboxUpdate),
) -> JSONResponse:
    row = sandboxes.update_sandbox(db, principal=principal, sandbox_id=sandbox_id, data=data)
    return item(Sandbox, row)


@router.delete("/v1/sandboxes/{sandboxID}", status_code=204, responses=deleted())
def delete_sandbox(db: DbDep, principal: PrincipalDep, sandbox_id: SandboxId) -> Response:
    sandboxes.delete_sandbox(db, principal=principal, sandbox_id=sandbox_id)
    return Response(status_code=204)


@router.post("/v1/sandboxes/{sandboxID}/start", responses=returns(Sandbox))
def start_sandbox(db: DbDep, principal: PrincipalDep, sandbox_id: SandboxId) -> JSONResponse:
    return item(Sandbox, sandboxes.start_sandbox(db, principal=principal, sandbox_id=sandbox_id))


@router.post("/v1/sandboxes/{sandboxID}/stop", responses=returns(Sandbox))
def stop_sandbox(db: DbDep, principal: PrincipalDep, sandbox_id: SandboxId) -> JSONResponse:
    return item(Sandbox, sandboxes.stop_sandbox(db, principal=principal, sandbox_id=sandbox_id))


@router.post(
    "/v1/sandboxes/{sandboxID}/renew",
    responses=returns(Sandbox),
    openapi_extra=body(SandboxRenew, required=False),
)
def renew_sandbox(
    db: DbDep,
    principal: PrincipalDep,
    sandbox_id: SandboxId,
    data: SandboxRenew = Body(SandboxRenew, optional=True),
) -> JSONResponse:
    """Extend the sandbox's lease (and restart its idle clock)."""
    row = lifetime.renew(db, principal=principal, sandbox_id=sandbox_id, data=data)
    return item(Sandbox, row)


# -- runtime access ------------------------------------------------------------------------


@router.get("/v1/sandboxes/{sandboxID}/runtime", tags=["runtime"], responses=returns(RuntimeTarget))
async def get_runtime_target(
    access: RuntimeAccessDep, principal: PrincipalDep, sandbox_id: SandboxId
) -> JSONResponse:
    found = await access.target(principal=principal, sandbox_id=sandbox_id)
    return JSONResponse(_target_json(found))


MAX_TAIL_LINES = 5000
DEFAULT_TAIL_LINES = 200


def tail_lines(
    tailLines: Annotated[str | None, Query()] = None,  # noqa: N803 - the contract's name
) -> int:
    """The `tailLines` query of the log route: 400 outside 1..MAX_TAIL_LINES."""
    if tailLines is None or tailLines == "":
        return DEFAULT_TAIL_LINES
    lines = int(tailLines) if tailLines.isascii() and tailLines.isdigit() else 0
    if not 1 <= lines <= MAX_TAIL_LINES:
        raise InvalidInput(f"tailLines must be between 1 and {MAX_TAIL_LINES}")
    return lines


TailLines = Annotated[int, Depends(tail_lines)]


@router.get("/v1/sandboxes/{sandboxID}/logs", tags=["runtime"], responses=returns(LogResult))
async def get_logs(
    access: RuntimeAccessDep, principal: PrincipalDep, sandbox_id: SandboxId, lines: TailLines
) -> JSONResponse:
    found = await access.logs(principal=principal, sandbox_id=sandbox_id, lines=lines)
    return JSONResponse({"target": _target_json(found.target), "logs": found.text})


@router.get(
    "/v1/sandboxes/{sandboxID}/events", tags=["runtime"], responses=returns_list(RuntimeEvent)
)
async def get_events(
    access: RuntimeAccessDep, principal: PrincipalDep, sandbox_id: SandboxId, limit: PageLimit
) -> JSONResponse:
    found = await access.events(principal=principal, sandbox_id=sandbox_id)
    return page([_event_json(event) for event in found], limit, newest_last=True)


@router.get(
    "/v1/sandboxes/{sandboxID}/ports", tags=["runtime"], responses=returns(PreviewPortsResult)
)
async def get_ports(
    access: RuntimeAccessDep, principal: PrincipalDep, sandbox_id: SandboxId
) -> JSONResponse:
    found = await access.ports(principal=principal, sandbox_id=sandbox_id)
    items = [_port_json(port) for port in found.ports]
    return JSONResponse({"target": _target_json(found.target), "items": items})


def _target_json(found: runtime_base.RuntimeTarget) -> dict[str, Any]:
    body: dict[str, Any] = {
        "namespace": found.namespace,
        "podName": found.pod_name,
        "container": found.container,
        "phase": found.phase,
    }
    if found.selector:
        body["selector"] = found.selector
    if found.commands:
        body["commands"] = list(found.commands)
    return body


def _event_json(event: runtime_base.RuntimeEvent) -> dict[str, Any]:
    at = iso_time(event.timestamp)
    return {
        "type": event.type,
        "reason": event.reason,
        "message": event.message,
        "count": 1,
        "firstTimestamp": at,
        "lastTimestamp": at,
    }


def _port_json(port: PortView) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": port.name,
        "port": port.port,
        "protocol": port.protocol,
        "previewUrl": port.preview_url,
    }
    if port.preview_origin is not None:
        body["previewOrigin"] = port.preview_origin
    body["available"] = port.available
    if port.message:
        body["message"] = port.message
    return body
