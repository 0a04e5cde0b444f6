"""E2B's code interpreter (port 49999), as `e2b-code-interpreter` speaks it: `POST /execute`
streams a run's output events as JSON lines, `/contexts` keeps kernels apart, `/health`.
The kernels are the kernel hub's (backend/sessions/kernels.py), in the sandbox; the edge
(edge.py) has already checked the caller, who is `current_caller()`.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from backend.e2b.envd.caller import current_caller
from backend.errors import InvalidInput, ServiceError, TooLarge
from backend.services import Services
from backend.sessions.kernels import MAX_CODE

MAX_BODY = MAX_CODE + 256 * 1024  # the code and its env_vars, in JSON
END = {"type": "end_of_execution"}


def interpreter_app(services: Services) -> ASGIApp:
    kernels = services.kernels

    async def health(request: Request) -> Response:
        return Response(status_code=204)

    async def execute(request: Request) -> Response:
        body = await _body(request)
        caller = current_caller()
        events = kernels.execute(
            caller.principal,
            caller.sandbox_id,
            body.get("code"),
            context_id=body.get("context_id"),
            language=body.get("language"),
            env_vars=body.get("env_vars"),
        )
        first = await anext(events, None)  # a refusal is a status, before any line
        return StreamingResponse(_lines(first, events), media_type="application/x-ndjson")

    async def list_contexts(request: Request) -> Response:
        caller = current_caller()
        return JSONResponse(await kernels.contexts(caller.principal, caller.sandbox_id))

    async def create_context(request: Request) -> Response:
        body = await _body(request)
        caller = current_caller()
        context = await kernels.create_context(
            caller.principal, caller.sandbox_id, body.get("language"), body.get("cwd")
        )
        return JSONResponse(context)

    async def delete_context(request: Request) -> Response:
        caller = current_caller()
        context_id = request.path_params["context_id"]
        await kernels.delete_context(caller.principal, caller.sandbox_id, context_id)
        return Response(status_code=204)

    async def restart_context(request: Request) -> Response:
        caller = current_caller()
        context_id = request.path_params["context_id"]
        await kernels.restart_context(caller.principal, caller.sandbox_id, context_id)
        return Response(status_code=204)

    routes = [
        Route("/health", health, methods=["GET", "HEAD"]),
        Route("/execute", execute, methods=["POST"]),
        Route("/contexts", list_contexts, methods=["GET"]),
        Route("/contexts", create_context, methods=["POST"]),
        Route("/contexts/{context_id}", delete_context, methods=["DELETE"]),
        Route("/contexts/{context_id}/restart", restart_context, methods=["POST"]),
    ]
    handlers = {
        ServiceError: _service_error,
        404: _status_error,
        405: _status_error,
        ClientDisconnect: _gone,
    }
    return Starlette(routes=routes, exception_handlers=handlers)  # type: ignore[arg-type]


async def _lines(first: dict | None, events: AsyncIterator[dict]) -> AsyncIterator[str]:
    """Each event a JSON line, then the end (upstream's `end_of_execution`)."""
    async with contextlib.aclosing(events):  # type: ignore[type-var]
        if first is not None:
            yield json.dumps(first) + "\n"
            async for event in events:
                yield json.dumps(event) + "\n"
    yield json.dumps(END) + "\n"


async def _body(request: Request) -> dict[str, Any]:
    """The JSON object of the request, read up to MAX_BODY bytes ({} for none)."""
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise TooLarge(f"the request body is larger than {MAX_BODY} bytes")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise InvalidInput("the request body must be JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput("the request body must be a JSON object")
    return body


def _error(status: int, message: str) -> Response:
    return JSONResponse({"code": status, "message": message}, status_code=status)


async def _service_error(request: Request, exc: Exception) -> Response:
    """Its status and words; a runtime's failure is 503, as the SDK reads 502 as "the
    sandbox timed out"."""
    assert isinstance(exc, ServiceError)
    return _error(503 if exc.status_code == 502 else exc.status_code, exc.message)


async def _status_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 404)
    return _error(
        status, f"{request.method} {request.url.path[:200]} is not a code interpreter path"
    )


async def _gone(request: Request, exc: Exception) -> Response:
    return Response(status_code=499)
