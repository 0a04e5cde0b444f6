"""Code run in Jupyter kernels inside sandboxes (E2B's code interpreter, notebooks).

Per sandbox ONE kernel driver (kernel_driver.py, run as the sandbox's user with the
image's python3 and jupyter_client) keeps a kernel per context; the hub speaks JSON
lines with it over the driver's stdin and stdout, each request tagged with an id so
executions in several contexts run at once. Everything the sandbox sends back is
bounded: a line's length, the events waiting for a slow reader, the requests at once.
The driver is started on first use and ends with the sandbox (or at server end).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import signal
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from sqlmodel import Session

from backend.auth.models import Principal
from backend.db import Database, commit
from backend.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    RuntimeFailed,
    ServiceError,
    TooManyRequests,
)
from backend.runtime.base import ExecProcess, RuntimeAdapter
from backend.sandboxes import service as sandboxes
from backend.sandboxes.runtime_access import call_runtime
from backend.sessions.processes import ProcessTable

DRIVER_SOURCE = (Path(__file__).with_name("kernel_driver.py")).read_text()
LANGUAGES = ("python",)
MAX_LINE = 16 * 1024 * 1024  # one event (a chart's PNG in base64 fits many times)
# Replies read from a driver but not yet taken by their caller, per driver (an event
# counts at least 1 KiB): a slow caller holds the driver back, as a full pipe would.
MAX_QUEUED_BYTES = 64 * 1024 * 1024
MAX_REQUESTS = 64  # at once, per sandbox
MAX_CODE = 4 * 1024 * 1024
MAX_ENV_BYTES = 64 * 1024
START_TIMEOUT = 60.0  # until the driver says it is ready
REQUEST_TIMEOUT = 180.0  # a context's start, restart or deletion
STDERR_TAIL = 4096
NO_KERNEL = (
    "this sandbox cannot run code: its image needs python3 with jupyter_client and "
    "ipykernel (use the code-interpreter template)"
)

Event = dict[str, Any]


class _Failed(Exception):
    """The driver refused a request (its reply's kind and message)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _service_error(kind: str, message: str) -> ServiceError:
    if kind == "not_found":
        return NotFound(message)
    if kind == "invalid":
        return InvalidInput(message)
    if kind == "limit":
        return TooManyRequests(message)
    return RuntimeFailed(message)


class KernelDriver:
    """One sandbox's driver process: requests out, replies dispatched by id."""

    def __init__(self, process: ExecProcess) -> None:
        self.process = process
        self.ready: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._requests: dict[str, asyncio.Queue[tuple[Event, int]]] = {}
        self._queued = 0  # bytes of the replies in the requests' queues
        self._freed = asyncio.Event()  # set when a caller took a reply
        self._ids = itertools.count(1)
        self._stderr = b""
        self.gone: str | None = None  # why it ended, once it has
        self._writes: set[asyncio.Task] = set()

    async def run(self) -> None:
        """Read its replies until it ends; then every open request learns it."""
        drain = asyncio.ensure_future(self._drain_stderr())
        try:
            await self._read()
        except Exception as exc:  # its output broke a bound, or the sandbox went away
            self.gone = str(exc) or type(exc).__name__
            self.kill()
        finally:
            drain.cancel()
            with contextlib.suppress(Exception):
                await self.process.wait()
            tail = self._stderr.decode(errors="replace").strip()[-500:]
            self.gone = self.gone or ("the kernel driver ended" + (f": {tail}" if tail else ""))
            if not self.ready.done():
                self.ready.set_exception(RuntimeFailed(f"{NO_KERNEL}; {self.gone}"))
            for queue in self._requests.values():
                queue.put_nowait(({"error": {"kind": "failed", "message": self.gone}}, 0))

    async def _read(self) -> None:
        buffer = b""
        async for chunk in self.process.stdout():
            buffer += chunk
            while b"\n" in buffer:
                line, _, buffer = buffer.partition(b"\n")
                await self._dispatch(line)
            if len(buffer) > MAX_LINE:
                raise RuntimeFailed(f"the kernel driver sent a line over {MAX_LINE} bytes")

    async def _dispatch(self, line: bytes) -> None:
        try:
            reply = json.loads(line)
        except ValueError:
            return  # not the driver's: something the code wrote to the driver's stdout
        if not isinstance(reply, dict):
            return
        if reply.get("id") is None and not self.ready.done():
            self.ready.set_result(reply.get("done") or {})
            return
        size = len(line) + 1024
        while self._queued + size > MAX_QUEUED_BYTES:
            self._freed.clear()
            await self._freed.wait()
        queue = self._requests.get(str(reply.get("id")))
        if queue is not None:  # else its caller went away
            self._queued += size
            queue.put_nowait((reply, size))

    async def _drain_stderr(self) -> None:
        async for chunk in self.process.stderr():
            self._stderr = (self._stderr + chunk)[-STDERR_TAIL:]

    async def request(self, op: str, **fields: Any) -> AsyncIterator[Event]:
        """The driver's replies to one request: its events, then its `done` (raising
        _Failed for an error reply)."""
        if self.gone is not None:
            raise RuntimeFailed(self.gone)
        if len(self._requests) >= MAX_REQUESTS:
            raise TooManyRequests(f"a sandbox runs at most {MAX_REQUESTS} kernel requests at once")
        request_id = str(next(self._ids))
        queue: asyncio.Queue[tuple[Event, int]] = asyncio.Queue()
        self._requests[request_id] = queue
        finished = False
        try:
            line = json.dumps({"id": request_id, "op": op, **fields}) + "\n"
            await call_runtime(self.process.write(line.encode()))
            while True:
                reply = await self._take(queue)
                if "event" in reply:
                    yield reply["event"]
                    continue
                if "error" in reply:
                    error = reply["error"] if isinstance(reply["error"], dict) else {}
                    raise _Failed(str(error.get("kind")), str(error.get("message"))[:2000])
                finished = True
                yield {"done": reply.get("done") or {}}
                return
        finally:
            self._requests.pop(request_id, None)
            while not queue.empty():
                self._release(queue.get_nowait()[1])
            if not finished and op == "execute" and self.gone is None:
                self._cancel(request_id)

    async def _take(self, queue: asyncio.Queue[tuple[Event, int]]) -> Event:
        reply, size = await queue.get()
        self._release(size)
        return reply

    def _release(self, size: int) -> None:
        self._queued -= size
        self._freed.set()

    def _cancel(self, request_id: str) -> None:
        """Its reader went away (a client's timeout): the kernel is interrupted, so the
        context's next run need not wait for this one."""
        line = json.dumps({"id": f"cancel-{request_id}", "op": "cancel", "request": request_id})
        task = asyncio.get_running_loop().create_task(self._write_quietly(line + "\n"))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write_quietly(self, line: str) -> None:
        with contextlib.suppress(Exception):
            await self.process.write(line.encode())

    async def call(self, op: str, **fields: Any) -> Event:
        """A request without events: its `done`."""
        async with (
            asyncio.timeout(REQUEST_TIMEOUT),
            contextlib.aclosing(self.request(op, **fields)) as replies,
        ):
            async for reply in replies:
                if "done" in reply:
                    return reply["done"]
        raise RuntimeFailed("the kernel driver did not answer")

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.signal(signal.SIGKILL)


class KernelHub:
    """Jupyter kernels in sandboxes; every call needs OPERATE on the sandbox."""

    def __init__(
        self, database: Database, runtime: RuntimeAdapter, processes: ProcessTable | None = None
    ) -> None:
        self._database = database
        self._runtime = runtime
        # The sandbox's E2B `envVars` and its user's home (E2B's default cwd) come from
        # the process table; without one, the driver runs in the template's directory.
        self._processes = processes
        self._drivers: dict[uuid.UUID, KernelDriver] = {}
        self._starting: dict[uuid.UUID, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task] = set()

    async def contexts(self, principal: Principal, sandbox_id: uuid.UUID) -> list[Event]:
        driver = await self._driver(principal, sandbox_id)
        contexts = (await self._call(driver, "list")).get("contexts", [])
        return [_context(context) for context in contexts if isinstance(context, dict)]

    async def create_context(
        self,
        principal: Principal,
        sandbox_id: uuid.UUID,
        language: str | None = None,
        cwd: str | None = None,
    ) -> Event:
        _language(language)
        if cwd is not None and (not isinstance(cwd, str) or "\x00" in cwd or len(cwd) > 4096):
            raise InvalidInput("cwd must be a path of at most 4096 characters", field="cwd")
        driver = await self._driver(principal, sandbox_id)
        return _context((await self._call(driver, "create", cwd=cwd or None)).get("context"))

    async def delete_context(
        self, principal: Principal, sandbox_id: uuid.UUID, context_id: str
    ) -> None:
        driver = await self._driver(principal, sandbox_id)
        await self._call(driver, "delete", context_id=_context_id(context_id))

    async def restart_context(
        self, principal: Principal, sandbox_id: uuid.UUID, context_id: str
    ) -> None:
        driver = await self._driver(principal, sandbox_id)
        await self._call(driver, "restart", context_id=_context_id(context_id))

    async def execute(
        self,
        principal: Principal,
        sandbox_id: uuid.UUID,
        code: str,
        context_id: str | None = None,
        language: str | None = None,
        env_vars: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[Event]:
        """Run `code` in the context (the sandbox's default one if none), yielding E2B's
        output events (stdout, stderr, result, error, number_of_executions) as they come.
        A refusal (an unknown context, bad input) is raised before the first event."""
        fields = _execution(code, context_id, language, env_vars, timeout)
        driver = await self._driver(principal, sandbox_id, audit_code=code)
        replies = driver.request("execute", **fields)
        try:
            async for reply in replies:
                if "done" not in reply:
                    yield reply
        except _Failed as exc:
            if exc.kind != "failed":
                raise _service_error(exc.kind, exc.message) from None
            yield {"type": "error", "name": "KernelError", "value": exc.message, "traceback": ""}
        finally:
            await replies.aclose()

    async def close(self) -> None:
        """At server end: every driver (and so every kernel) is killed."""
        for driver in list(self._drivers.values()):
            driver.kill()
        for task in list(self._tasks):
            task.cancel()
        self._drivers.clear()

    async def _call(self, driver: KernelDriver, op: str, **fields: Any) -> Event:
        try:
            return await driver.call(op, **fields)
        except _Failed as exc:
            raise _service_error(exc.kind, exc.message) from None
        except TimeoutError:
            raise RuntimeFailed(
                f"the kernel did not answer within {REQUEST_TIMEOUT:.0f}s"
            ) from None

    async def _driver(
        self, principal: Principal, sandbox_id: uuid.UUID, audit_code: str | None = None
    ) -> KernelDriver:
        """The sandbox's driver, started if need be, once the caller may operate it."""
        await self._database.call(_operating, principal, sandbox_id, audit_code)
        async with self._starting.setdefault(sandbox_id, asyncio.Lock()):
            driver = self._drivers.get(sandbox_id)
            if driver is None or driver.gone is not None:
                driver = await self._start(sandbox_id)
        return driver

    async def _start(self, sandbox_id: uuid.UUID) -> KernelDriver:
        argv = ["python3", "-c", DRIVER_SOURCE]
        env = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
        cwd = None
        if self._processes is not None:
            env = {**self._processes.env(sandbox_id), **env}
            cwd = await self._processes.home(sandbox_id)
        process = await call_runtime(
            self._runtime.exec(sandbox_id, argv, env=env, cwd=cwd, stdin=True)
        )
        driver = KernelDriver(process)
        self._drivers[sandbox_id] = driver
        task = asyncio.get_running_loop().create_task(self._run(sandbox_id, driver))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            async with asyncio.timeout(START_TIMEOUT):
                await asyncio.shield(driver.ready)
        except TimeoutError:
            driver.kill()
            message = f"the kernel driver did not start within {START_TIMEOUT:.0f}s"
            raise RuntimeFailed(message) from None
        return driver

    async def _run(self, sandbox_id: uuid.UUID, driver: KernelDriver) -> None:
        try:
            await driver.run()
        finally:
            if self._drivers.get(sandbox_id) is driver:
                del self._drivers[sandbox_id]


def _operating(db: Session, principal: Principal, sandbox_id: uuid.UUID, code: str | None) -> None:
    sandbox = sandboxes.operable(db, principal, sandbox_id)
    if sandbox.status != "running":
        raise Conflict("sandbox is not running")
    if code is not None:
        sandboxes.record(db, principal, "sandbox.code_executed", sandbox, code=code[:500])
        commit(db)


def _language(language: str | None) -> None:
    if language is not None and (
        not isinstance(language, str) or language.lower() not in LANGUAGES
    ):
        shown = str(language)[:64]
        raise InvalidInput(
            f"language {shown!r} is not supported: only python runs here", field="language"
        )


def _context_id(context_id: Any) -> str:
    if not isinstance(context_id, str) or not 0 < len(context_id) <= 64:
        raise NotFound(f"context {str(context_id)[:64]} not found")
    return context_id


def _context(value: Any) -> Event:
    """A context as the SDK reads it, from what the driver said (nothing else)."""
    value = value if isinstance(value, dict) else {}
    return {
        "id": str(value.get("id", ""))[:64],
        "language": str(value.get("language", "python"))[:32],
        "cwd": str(value.get("cwd", ""))[:4096],
    }


def _execution(
    code: Any,
    context_id: Any,
    language: Any,
    env_vars: Any,
    timeout: Any,
) -> Event:
    """An execute request's fields, checked."""
    if not isinstance(code, str) or len(code) > MAX_CODE:
        raise InvalidInput(f"code must be text of at most {MAX_CODE} characters", field="code")
    if context_id is not None and language is not None:
        raise InvalidInput("give a context_id or a language, not both", field="language")
    _language(language)
    if context_id is not None:
        context_id = _context_id(context_id)
    env = env_vars or {}
    if not isinstance(env, dict) or not all(
        isinstance(name, str) and isinstance(value, str) for name, value in env.items()
    ):
        raise InvalidInput("env_vars must map names to text values", field="env_vars")
    if any(not name or "=" in name or "\x00" in name + value for name, value in env.items()):
        raise InvalidInput("env_vars names must be non-empty, without = or NUL", field="env_vars")
    if sum(len(name) + len(value) for name, value in env.items()) > MAX_ENV_BYTES:
        raise InvalidInput(f"env_vars are larger than {MAX_ENV_BYTES} bytes", field="env_vars")
    if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
        raise InvalidInput("timeout must be a positive number of seconds", field="timeout")
    return {"code": code, "context_id": context_id, "env_vars": env, "timeout": timeout}
