"""Code run in a sandbox's Jupyter kernels (the code-interpreter template has them): a run
answers with its results and output at once, or streams them as NDJSON lines; contexts
keep kernels (and their variables) apart. Every route needs OPERATE on the sandbox."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from backend.api.deps import Body, PrincipalDep, SandboxId, ServicesDep
from backend.api.openapi import body, deleted, returns, returns_list, schema_only
from backend.api.responses import PageLimit, page
from backend.sessions.code_models import (
    DEFAULT_TIMEOUT_SECONDS,
    CodeContext,
    CodeContextCreate,
    CodeExecution,
    CodeRun,
    wire_event,
)
from backend.sessions.kernels import KernelHub

router = APIRouter(tags=["sandboxes"])
NDJSON = "application/x-ndjson"
CONTEXT = "/v1/sandboxes/{sandboxID}/code/contexts/{contextID}"


def _kernels(services: ServicesDep) -> KernelHub:
    return services.kernels


KernelsDep = Annotated[KernelHub, Depends(_kernels)]
RUN_RESPONSES = {
    **schema_only(CodeExecution),
    200: {
        "description": (
            "The run's results and output; with `Accept: application/x-ndjson`, its events "
            "as they come, one JSON object a line (`stdout`, `stderr`, `result`, `error`, "
            "`executionCount`), then `done`"
        ),
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/CodeExecution"}},
            NDJSON: {"schema": {"type": "object"}},
        },
    },
}


@router.post(
    "/v1/sandboxes/{sandboxID}/code/run", responses=RUN_RESPONSES, openapi_extra=body(CodeRun)
)
async def run_code(
    request: Request,
    kernels: KernelsDep,
    principal: PrincipalDep,
    sandbox_id: SandboxId,
    data: CodeRun = Body(CodeRun),
) -> Response:
    events = kernels.execute(
        principal,
        sandbox_id,
        data.code,
        context_id=data.context_id,
        language=data.language,
        env_vars=data.env_vars,
        timeout=data.timeout_seconds or DEFAULT_TIMEOUT_SECONDS,
    )
    if NDJSON not in request.headers.get("accept", ""):
        async with contextlib.aclosing(events):  # type: ignore[type-var]
            return JSONResponse((await CodeExecution.collect(events)).to_json())
    first = await anext(events, None)  # a refusal is a status, before any line
    return StreamingResponse(
        _lines(first, events),
        media_type=NDJSON,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _lines(first: dict | None, events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[str]:
    async with contextlib.aclosing(events):  # type: ignore[type-var]
        if first is not None:
            yield _line(first)
            async for event in events:
                yield _line(event)
    yield json.dumps({"type": "done"}) + "\n"


def _line(event: dict[str, Any]) -> str:
    line = wire_event(event)
    return "" if line is None else json.dumps(line) + "\n"


@router.get("/v1/sandboxes/{sandboxID}/code/contexts", responses=returns_list(CodeContext))
async def list_contexts(
    kernels: KernelsDep, principal: PrincipalDep, sandbox_id: SandboxId, limit: PageLimit
) -> JSONResponse:
    """The sandbox's kernel contexts (a sandbox keeps at most 16)."""
    contexts = await kernels.contexts(principal, sandbox_id)
    return page([CodeContext(**context) for context in contexts], limit)


@router.post(
    "/v1/sandboxes/{sandboxID}/code/contexts",
    status_code=201,
    responses=returns(CodeContext, 201),
    openapi_extra=body(CodeContextCreate, required=False),
)
async def create_context(
    kernels: KernelsDep,
    principal: PrincipalDep,
    sandbox_id: SandboxId,
    data: CodeContextCreate = Body(CodeContextCreate, optional=True),
) -> JSONResponse:
    context = await kernels.create_context(principal, sandbox_id, data.language, data.cwd)
    return JSONResponse(CodeContext(**context).to_json(), status_code=201)


@router.delete(CONTEXT, status_code=204, responses=deleted())
async def delete_context(
    kernels: KernelsDep,
    principal: PrincipalDep,
    sandbox_id: SandboxId,
    contextID: str,  # noqa: N803
) -> Response:
    await kernels.delete_context(principal, sandbox_id, contextID)
    return Response(status_code=204)


@router.post(f"{CONTEXT}/restart", status_code=204, responses={204: {"description": "Restarted"}})
async def restart_context(
    kernels: KernelsDep,
    principal: PrincipalDep,
    sandbox_id: SandboxId,
    contextID: str,  # noqa: N803
) -> Response:
    """The context's kernel starts afresh: its variables are gone."""
    await kernels.restart_context(principal, sandbox_id, contextID)
    return Response(status_code=204)
