"""envd's `process.Process` service over mbox's process table (backend/sessions/processes).

Streams follow envd: a `start` event first, then output, keepalives during silence, and an
`end` event last; a process outlives its stream and is killed at the call's deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal as signals
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext
from protobuf import Oneof

from backend.auth.access import Permission
from backend.e2b.envd.caller import as_connect_errors, current_caller
from backend.e2b.envd.generated.process import process_pb as pb
from backend.e2b.envd.generated.process.process_connect import ProcessASGIApplication
from backend.services import Services
from backend.sessions.processes import Event, Exit, LiveProcess, Output, ProcessConfig

KEEPALIVE_SECONDS = 50.0  # what the SDK asks for; envd's default is 90
MAX_KEEPALIVE_SECONDS = 300.0
SIGNALS = {pb.Signal.SIGKILL: signals.SIGKILL, pb.Signal.SIGTERM: signals.SIGTERM}
Response = TypeVar("Response", pb.StartResponse, pb.ConnectResponse)


class ProcessService:
    def __init__(self, services: Services) -> None:
        self._table = services.processes

    async def start(
        self, request: pb.StartRequest, ctx: RequestContext
    ) -> AsyncIterator[pb.StartResponse]:
        caller = current_caller()
        config = request.process or pb.ProcessConfig()
        if not config.cmd:
            raise ConnectError(Code.INVALID_ARGUMENT, "process.cmd is required")
        size = request.pty.size if request.pty is not None and request.pty.size else None
        with as_connect_errors():
            cwd = config.cwd or await self._table.home(caller.sandbox_id)
            process, watch = await self._table.start(
                principal=caller.principal,
                sandbox_id=caller.sandbox_id,
                config=ProcessConfig(config.cmd, tuple(config.args), dict(config.envs), cwd),
                tag=request.tag,
                stdin=bool(request.stdin),
                terminal=(size.rows or 24, size.cols or 80) if size is not None else None,
                timeout=_deadline(ctx),
            )
        with watch as events:
            async for response in _stream(process, events, ctx, pb.StartResponse):
                yield response

    async def connect(
        self, request: pb.ConnectRequest, ctx: RequestContext
    ) -> AsyncIterator[pb.ConnectResponse]:
        process = await self._find(request.process, Permission.READ_CONTENT)
        with process.watch() as events:
            async for response in _stream(process, events, ctx, pb.ConnectResponse):
                yield response

    async def list(self, request: pb.ListRequest, ctx: RequestContext) -> pb.ListResponse:
        caller = current_caller()
        with as_connect_errors():
            processes = await self._table.list(
                principal=caller.principal, sandbox_id=caller.sandbox_id
            )
        return pb.ListResponse(processes=[_info(process) for process in processes])

    async def send_input(
        self, request: pb.SendInputRequest, ctx: RequestContext
    ) -> pb.SendInputResponse:
        process = await self._find(request.process)
        with as_connect_errors():
            await process.write(_input(request.input))
        return pb.SendInputResponse()

    async def stream_input(
        self, requests: AsyncIterator[pb.StreamInputRequest], ctx: RequestContext
    ) -> pb.StreamInputResponse:
        process: LiveProcess | None = None
        async for request in requests:
            match request.event:
                case Oneof(field="start", value=start):
                    process = await self._find(start.process)
                case Oneof(field="data", value=data) if process is not None:
                    with as_connect_errors():
                        await process.write(_input(data.input))
                case Oneof(field="data"):
                    raise ConnectError(Code.INVALID_ARGUMENT, "the first event must be start")
        return pb.StreamInputResponse()

    async def send_signal(
        self, request: pb.SendSignalRequest, ctx: RequestContext
    ) -> pb.SendSignalResponse:
        signum = SIGNALS.get(request.signal)
        if signum is None:
            raise ConnectError(Code.INVALID_ARGUMENT, "signal must be SIGTERM or SIGKILL")
        process = await self._find(request.process)
        process.signal(signum)
        return pb.SendSignalResponse()

    async def close_stdin(
        self, request: pb.CloseStdinRequest, ctx: RequestContext
    ) -> pb.CloseStdinResponse:
        process = await self._find(request.process)
        with as_connect_errors():
            await process.close_stdin()
        return pb.CloseStdinResponse()

    async def update(self, request: pb.UpdateRequest, ctx: RequestContext) -> pb.UpdateResponse:
        process = await self._find(request.process)
        size = request.pty.size if request.pty is not None else None
        if size is None:
            return pb.UpdateResponse()
        if not (0 < size.rows <= 1000 and 0 < size.cols <= 1000):
            raise ConnectError(Code.INVALID_ARGUMENT, "pty size must be 1..1000 rows and columns")
        with as_connect_errors():
            process.resize(size.rows, size.cols)
        return pb.UpdateResponse()

    async def _find(
        self, selector: pb.ProcessSelector | None, permission: Permission = Permission.OPERATE
    ) -> LiveProcess:
        caller = current_caller()
        match selector.selector if selector is not None else None:
            case Oneof(field="pid", value=pid):
                which = {"pid": pid}
            case Oneof(field="tag", value=tag):
                which = {"tag": tag}
            case _:
                raise ConnectError(Code.INVALID_ARGUMENT, "a process pid or tag is required")
        with as_connect_errors():
            return await self._table.find(
                principal=caller.principal,
                sandbox_id=caller.sandbox_id,
                permission=permission,
                **which,
            )


def process_app(services: Services) -> ProcessASGIApplication:
    return ProcessASGIApplication(ProcessService(services))  # type: ignore[arg-type]


async def _stream(
    process: LiveProcess,
    events: AsyncIterator[Event],
    ctx: RequestContext,
    response: Callable[..., Response],
) -> AsyncIterator[Response]:
    """start, then each event as it comes (a keepalive after each silent interval), and
    end last, so the SDK sees the whole life of the process."""
    interval = _keepalive_interval(ctx)
    yield response(event=_event("start", pb.ProcessEvent.StartEvent(pid=process.pid)))
    pending = asyncio.ensure_future(anext(events, None))
    try:
        while True:
            done, _ = await asyncio.wait({pending}, timeout=interval)
            if not done:
                yield response(event=_event("keepalive", pb.ProcessEvent.KeepAlive()))
                continue
            event = pending.result()
            if event is None:
                return
            yield response(event=_wire(event))
            if isinstance(event, Exit):
                return
            pending = asyncio.ensure_future(anext(events, None))
    finally:
        pending.cancel()
        with contextlib.suppress(BaseException):
            await pending


def _wire(event: Event) -> pb.ProcessEvent:
    if isinstance(event, Output):
        data = pb.ProcessEvent.DataEvent(output=Oneof(event.stream, event.data))
        return _event("data", data)
    end = pb.ProcessEvent.EndEvent(
        exit_code=event.exit_code, exited=True, status=event.status, error=event.error
    )
    return _event("end", end)


def _event(kind: str, value: object) -> pb.ProcessEvent:
    return pb.ProcessEvent(event=Oneof(kind, value))


def _info(process: LiveProcess) -> pb.ProcessInfo:
    config = process.config
    wire = pb.ProcessConfig(
        cmd=config.cmd, args=list(config.args), envs=dict(config.envs), cwd=config.cwd
    )
    return pb.ProcessInfo(config=wire, pid=process.pid, tag=process.tag)


def _input(value: pb.ProcessInput | None) -> bytes:
    match value.input if value is not None else None:
        case Oneof(field="stdin" | "pty", value=data):
            return data
    raise ConnectError(Code.INVALID_ARGUMENT, "input must be stdin or pty bytes")


def _deadline(ctx: RequestContext) -> float | None:
    """The call's deadline bounds the process (envd's rule); none without one."""
    timeout_ms = ctx.timeout_ms
    return timeout_ms / 1000 if timeout_ms else None


def _keepalive_interval(ctx: RequestContext) -> float:
    asked = ctx.request_headers.get("keepalive-ping-interval", "")
    try:
        return min(max(float(asked), 1.0), MAX_KEEPALIVE_SECONDS)
    except ValueError:
        return KEEPALIVE_SECONDS
