"""Sandbox routes: launch, read, update, lifecycle (start/stop), soft delete."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from backend.api.deps import Body, PrincipalDep, SandboxId, SessionDep
from backend.api.openapi import body, deleted, returns, returns_list
from backend.api.responses import PageLimit, item, items, page
from backend.errors import InvalidInput
from backend.sandboxes import lifetime, runtime_access
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
from backend.validation import optional_uuid

router = APIRouter(tags=["sandboxes"])


@router.get("/v1/sandboxes", responses=returns_list(Sandbox))
def list_sandboxes(
    session: SessionDep,
    limit: PageLimit,
    projectId: Annotated[str | None, Query()] = None,  # noqa: N803 - the contract's name
) -> JSONResponse:
    project_id = optional_uuid(projectId, "invalid projectId query")
    rows = sandboxes.list_sandboxes(session, project_id=project_id, limit=limit + 1)
    return items(Sandbox, rows, limit)


@router.post(
    "/v1/sandboxes",
    status_code=201,
    responses=returns(Sandbox, 201),
    openapi_extra=body(SandboxCreate),
)
def create_sandbox(
    session: SessionDep, principal: PrincipalDep, data: SandboxCreate = Body(SandboxCreate)
) -> JSONResponse:
    return item(Sandbox, sandboxes.create_sandbox(session, principal=principal, data=data), 201)


@router.get("/v1/sandboxes/{sandboxID}", responses=returns(Sandbox))
def get_sandbox(session: SessionDep, sandbox_id: SandboxId) -> JSONResponse:
    return item(Sandbox, sandboxes.get_sandbox(session, sandbox_id))


@router.patch(
    "/v1/sandboxes/{sandboxID}", responses=returns(Sandbox), openapi_extra=body(SandboxUpdate)
)
def update_sandbox(
    session: SessionDep,
    principal: PrincipalDep,
    sandbox_id: SandboxId,
    data: SandboxUpdate = Body(SandboxUpdate),
) -> JSONResponse:
    row = sandboxes.update_sandbox(session, principal=principal, sandbox_id=sandbox_id, data=data)
    return item(Sandbox, row)


@router.delete("/v1/sandboxes/{sandboxID}", status_code=204, responses=deleted())
def delete_sandbox(session: SessionDep, principal: PrincipalDep, sandbox_id: SandboxId) -> Response:
    sandboxes.delete_sandbox(session, principal=principal, sandbox_id=sandbox_id)
    return Response(status_code=204)


@router.post("/v1/sandboxes/{sandboxID}/start", responses=returns(Sandbox))
def start_sandbox(
    session: SessionDep, principal: PrincipalDep, sandbox_id: SandboxId
) -> JSONResponse:
    return item(
        Sandbox, sandboxes.start_sandbox(session, principal=principal, sandbox_id=sandbox_id)
    )


@router.post("/v1/sandboxes/{sandboxID}/stop", responses=returns(Sandbox))
def stop_sandbox(
    session: SessionDep, principal: PrincipalDep, sandbox_id: SandboxId
) -> JSONResponse:
    return item(
        Sandbox, sandboxes.stop_sandbox(session, principal=principal, sandbox_id=sandbox_id)
    )


@router.post(
    "/v1/sandboxes/{sandboxID}/renew",
    responses=returns(Sandbox),
    openapi_extra=body(SandboxRenew, required=False),
)
def renew_sandbox(
    session: SessionDep,
    principal: PrincipalDep,
    sandbox_id: SandboxId,
    data: SandboxRenew = Body(SandboxRenew, optional=True),
) -> JSONResponse:
    """Extend the sandbox's lease (and restart its idle clock)."""
    row = lifetime.renew(session, principal=principal, sandbox_id=sandbox_id, data=data)
    return item(Sandbox, row)


# -- runtime access ------------------------------------------------------------------------


async def _runtime_sandbox(request: Request, sandbox_id: uuid.UUID) -> SandboxRow:
    return await request.app.state.database.call(runtime_access.runtime_sandbox, sandbox_id)


@router.get("/v1/sandboxes/{sandboxID}/runtime", tags=["runtime"], responses=returns(RuntimeTarget))
async def get_runtime_target(request: Request, sandbox_id: SandboxId) -> JSONResponse:
    sandbox = await _runtime_sandbox(request, sandbox_id)
    return JSONResponse(await runtime_access.target(request.app.state.runtime, sandbox))


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
async def get_logs(request: Request, sandbox_id: SandboxId, lines: TailLines) -> JSONResponse:
    sandbox = await _runtime_sandbox(request, sandbox_id)
    return JSONResponse(await runtime_access.logs(request.app.state.runtime, sandbox, lines))


@router.get(
    "/v1/sandboxes/{sandboxID}/events", tags=["runtime"], responses=returns_list(RuntimeEvent)
)
async def get_events(request: Request, sandbox_id: SandboxId, limit: PageLimit) -> JSONResponse:
    sandbox = await _runtime_sandbox(request, sandbox_id)
    events = await runtime_access.events(request.app.state.runtime, sandbox)
    return page(events, limit, newest_last=True)


@router.get(
    "/v1/sandboxes/{sandboxID}/ports", tags=["runtime"], responses=returns(PreviewPortsResult)
)
async def get_ports(request: Request, sandbox_id: SandboxId) -> JSONResponse:
    sandbox = await _runtime_sandbox(request, sandbox_id)
    state = request.app.state
    return JSONResponse(await runtime_access.ports(state.runtime, sandbox, state.settings))
