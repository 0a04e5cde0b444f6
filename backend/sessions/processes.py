"""Live processes in sandboxes, as E2B's envd keeps them: started with or without a
terminal, addressed by a pid (this table's number, not the kernel's) or a tag, fed input,
signalled, resized, and watched by any number of streams while they run.

A process outlives the stream that started it (a background command), until it exits, its
deadline passes or the sandbox stops. The table is this server process's: a client
reconnects to a process on the replica that started it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal as signals
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

from sqlmodel import Session

from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.db import Database, commit
from backend.errors import Conflict, InvalidInput, NotFound, TooManyRequests
from backend.runtime.base import (
    ExecProcess,
    InteractiveRuntime,
    PtySession,
    RuntimeAdapter,
    read_at_most,
)
from backend.sandboxes import service as sandboxes
from backend.sandboxes.runtime_access import call_runtime

MAX_PROCESSES_PER_SANDBOX = 256
SUBSCRIBER_BUFFER_CHUNKS = 256  # chunks of at most 64 KiB a slow watcher may lag behind
MAX_INPUT_BYTES = 8 * 1024 * 1024
HOME_PROBE = ["sh", "-c", 'printf %s "$HOME"']
MAX_HOME_BYTES = 4096


@dataclass(frozen=True)
class ProcessConfig:
    cmd: str
    args: tuple[str, ...] = ()
    envs: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None


@dataclass(frozen=True)
class Output:
    stream: str  # stdout | stderr | pty
    data: bytes


@dataclass(frozen=True)
class Exit:
    exit_code: int
    status: str  # as envd says it (Go's ProcessState): "exit status 1", "signal: killed"
    error: str | None = None


Event = Output | Exit


class LiveProcess:
    def __init__(
        self,
        pid: int,
        sandbox_id: uuid.UUID,
        config: ProcessConfig,
        tag: str | None,
        handle: ExecProcess | PtySession,
    ) -> None:
        self.pid = pid
        self.sandbox_id = sandbox_id
        self.config = config
        self.tag = tag
        self._handle = handle
        self._watchers: set[asyncio.Queue[Event | None]] = set()
        self.exit: Exit | None = None
        self.done = asyncio.Event()
        self._hangup: asyncio.Future | None = None  # a terminal's close, once signalled

    @property
    def is_pty(self) -> bool:
        return not hasattr(self._handle, "stdout")

    def watch(self) -> Watch:
        """The events from now on: output as it comes, then its Exit (at once if over).
        Close it when done (`with process.watch() as events:`)."""
        watch = Watch(self._watchers)
        if self.exit is not None:
            watch.queue.put_nowait(self.exit)
            watch.queue.put_nowait(None)
        else:
            self._watchers.add(watch.queue)
        return watch

    async def write(self, data: bytes) -> None:
        if len(data) > MAX_INPUT_BYTES:
            raise InvalidInput(f"input is larger than {MAX_INPUT_BYTES} bytes")
        if self.exit is not None:
            raise NotFound(f"process with pid {self.pid} has exited")
        await call_runtime(self._handle.write(data))

    async def close_stdin(self) -> None:
        if self.is_pty:
            raise InvalidInput("a terminal has no stdin to close: send Ctrl-D (0x04)")
        await call_runtime(self._handle.close_stdin())  # type: ignore[union-attr]

    def signal(self, signum: int) -> None:
        if self.is_pty:  # the terminal's whole session, as a hangup would
            self._hangup = asyncio.ensure_future(self._handle.close())  # type: ignore[union-attr]
        else:
            self._handle.signal(signum)  # type: ignore[union-attr]

    def resize(self, rows: int, cols: int) -> None:
        if not self.is_pty:
            raise InvalidInput("only a process started with a terminal can be resized")
        self._handle.resize(rows, cols)  # type: ignore[union-attr]

    async def run(self) -> None:
        """Relay the output to the watchers until the process ends (the table's task)."""
        try:
            if self.is_pty:
                await self._relay_terminal()
            else:
                await asyncio.gather(self._relay("stdout"), self._relay("stderr"))
            code = await self._handle.wait()
            self.exit = _exit(code)
        except Exception as exc:  # the sandbox went away under it
            self.exit = Exit(-1, "signal: killed", str(exc) or type(exc).__name__)
        await self._publish(self.exit)
        for queue in list(self._watchers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)
        self.done.set()

    async def _relay(self, stream: str) -> None:
        async for chunk in getattr(self._handle, stream)():
            await self._publish(Output(stream, chunk))

    async def _relay_terminal(self) -> None:
        while chunk := await self._handle.read():  # type: ignore[union-attr]
            await self._publish(Output("pty", chunk))

    async def _publish(self, event: Event) -> None:
        """To every watcher; a watcher that stopped reading holds the process back as a
        full pipe would, until it reads or goes."""
        for queue in list(self._watchers):
            await queue.put(event)

    async def kill(self) -> None:
        if self.is_pty:
            await self._handle.close()  # type: ignore[union-attr]
        else:
            self._handle.signal(signals.SIGKILL)  # type: ignore[union-attr]


class Watch:
    """One watcher's events (see LiveProcess.watch)."""

    def __init__(self, watchers: set[asyncio.Queue[Event | None]]) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(SUBSCRIBER_BUFFER_CHUNKS)
        self._watchers = watchers

    def __enter__(self) -> AsyncIterator[Event]:
        return self._events()

    def __exit__(self, *exc: object) -> None:
        self._watchers.discard(self.queue)

    async def _events(self) -> AsyncIterator[Event]:
        while (event := await self.queue.get()) is not None:
            yield event


SIGNAL_WORDS = {"SIGKILL": "killed", "SIGTERM": "terminated", "SIGINT": "interrupt"}


def _exit(code: int) -> Exit:
    """An exit code as envd words it (Go's ProcessState.String())."""
    if code < 0 and -code in iter(signals.Signals):
        name = signals.Signals(-code).name
        return Exit(code, f"signal: {SIGNAL_WORDS.get(name, name.lower())}")
    return Exit(code, f"exit status {code}")


class ProcessTable:
    """This server's live sandbox processes. Every call checks the caller may drive the
    sandbox (reading output needs READ_CONTENT, anything else OPERATE)."""

    def __init__(self, database: Database, runtime: RuntimeAdapter) -> None:
        self._database = database
        self._runtime = runtime
        self._processes: dict[uuid.UUID, dict[int, LiveProcess]] = {}
        self._tasks: set[asyncio.Task] = set()
        self._pids = itertools.count(1000)
        self._homes: dict[uuid.UUID, str] = {}
        # E2B's `envVars` of a sandbox: every process gets them. Kept in this server's
        # memory only, never stored: they often carry keys (docs/e2b.md).
        self._envs: dict[uuid.UUID, dict[str, str]] = {}

    def set_env(self, sandbox_id: uuid.UUID, env: Mapping[str, str]) -> None:
        self._envs[sandbox_id] = dict(env)

    def env(self, sandbox_id: uuid.UUID) -> dict[str, str]:
        return dict(self._envs.get(sandbox_id, {}))

    def forget(self, sandbox_id: uuid.UUID) -> None:
        """A deleted sandbox: its processes are gone with it."""
        self._envs.pop(sandbox_id, None)
        self._homes.pop(sandbox_id, None)

    async def start(
        self,
        *,
        principal: Principal,
        sandbox_id: uuid.UUID,
        config: ProcessConfig,
        tag: str | None = None,
        stdin: bool = False,
        terminal: tuple[int, int] | None = None,
        timeout: float | None = None,
    ) -> tuple[LiveProcess, Watch]:
        """Start `config` in the running sandbox (on a terminal of `terminal` rows and
        columns, if given), and watch it from its start; it is killed once `timeout`
        seconds have passed."""
        await self._database.call(_starting, principal, sandbox_id, config)
        processes = self._processes.setdefault(sandbox_id, {})
        if len(processes) >= MAX_PROCESSES_PER_SANDBOX:
            raise TooManyRequests(f"a sandbox runs at most {MAX_PROCESSES_PER_SANDBOX} processes")
        if tag is not None and any(p.tag == tag for p in processes.values()):
            raise Conflict(f"a process tagged {tag!r} is running")
        handle = await call_runtime(self._open(sandbox_id, config, stdin, terminal))
        process = LiveProcess(next(self._pids), sandbox_id, config, tag, handle)
        processes[process.pid] = process
        watch = process.watch()  # before its first output can be relayed
        self._spawn(self._run(process, timeout))
        return process, watch

    async def home(self, sandbox_id: uuid.UUID) -> str:
        """The sandbox user's home (asked once per sandbox; what the sandbox answers is
        bounded: its `sh` is its own to replace)."""
        if sandbox_id not in self._homes:
            probe = await call_runtime(self._runtime.exec(sandbox_id, HOME_PROBE))
            answer = await read_at_most(probe, MAX_HOME_BYTES)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(probe.wait(), 5)
            home = (answer or b"").decode(errors="replace")
            self._homes[sandbox_id] = home if home.startswith("/") else "/"
        return self._homes[sandbox_id]

    async def find(
        self,
        *,
        principal: Principal,
        sandbox_id: uuid.UUID,
        pid: int | None = None,
        tag: str | None = None,
        permission: Permission = Permission.OPERATE,
    ) -> LiveProcess:
        await self._database.call(sandboxes.operable, principal, sandbox_id, permission)
        for process in self._processes.get(sandbox_id, {}).values():
            if (pid is not None and process.pid == pid) or (tag is not None and process.tag == tag):
                return process
        which = f"pid {pid}" if pid is not None else f"tag {tag!r}"
        raise NotFound(f"process with {which} not found")

    async def list(self, *, principal: Principal, sandbox_id: uuid.UUID) -> list[LiveProcess]:
        await self._database.call(
            sandboxes.operable, principal, sandbox_id, Permission.READ_CONTENT
        )
        return list(self._processes.get(sandbox_id, {}).values())

    async def close(self) -> None:
        """At server end: every process is killed."""
        for processes in list(self._processes.values()):
            for process in list(processes.values()):
                with contextlib.suppress(Exception):
                    await process.kill()
        for task in list(self._tasks):
            task.cancel()

    async def _open(
        self,
        sandbox_id: uuid.UUID,
        config: ProcessConfig,
        stdin: bool,
        terminal: tuple[int, int] | None,
    ) -> ExecProcess | PtySession:
        argv = [config.cmd, *config.args]
        env = {**self._envs.get(sandbox_id, {}), **config.envs}
        if terminal is None:
            return await self._runtime.exec(sandbox_id, argv, env=env, cwd=config.cwd, stdin=stdin)
        if not hasattr(self._runtime, "open_pty"):
            raise InvalidInput("this runtime has no terminals")
        runtime: InteractiveRuntime = self._runtime  # type: ignore[assignment]
        rows, cols = terminal
        if config.cwd:  # a terminal starts in its shell's directory: enter the asked one
            argv = ["sh", "-c", 'cd "$0" && exec "$@"', config.cwd, *argv]
        return await runtime.open_pty(sandbox_id, argv, rows=rows, cols=cols, env=env)

    async def _run(self, process: LiveProcess, timeout: float | None) -> None:
        relay = asyncio.ensure_future(process.run())
        try:
            try:
                await asyncio.wait_for(asyncio.shield(relay), timeout or None)
            except TimeoutError:  # its deadline: envd kills it, streams see the end
                await process.kill()
                await relay
        finally:
            self._processes.get(process.sandbox_id, {}).pop(process.pid, None)

    def _spawn(self, coroutine: object) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _starting(
    db: Session, principal: Principal, sandbox_id: uuid.UUID, config: ProcessConfig
) -> None:
    sandbox = sandboxes.operable(db, principal, sandbox_id)
    if sandbox.status != "running":
        raise Conflict("sandbox is not running")
    command = " ".join([config.cmd, *config.args])[:1000]
    sandboxes.record(db, principal, "sandbox.process_started", sandbox, command=command)
    commit(db)
