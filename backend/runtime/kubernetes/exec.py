"""Commands in a sandbox's pod over the pods/exec WebSocket (the official client's
`kubernetes.stream`, v5.channel.k8s.io with v4 as fallback).

The client's socket is synchronous: a thread per command pumps its channels into the
event loop. The exit status comes from the error channel. Kubernetes has no way to
signal an exec'd process, so each command starts under a small shell that writes its pid
to a file first; `signal()` runs `kill` in the pod with a second exec.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import signal as signals
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

from kubernetes.stream import stream

from backend.runtime.kubernetes import names

# Writes its pid, enters the working directory, then becomes the command (with its env).
LAUNCHER = 'echo $$ > "$0"; cd "$1" || exit 126; shift; exec "$@"'
EXIT_UNKNOWN = 255  # the stream ended without a status
RESIZE_CHANNEL = 4
STDIN_CHANNEL = 0
KILL_SECONDS = 10.0  # for a signal's own exec to run
# The process tree under a pid, from the kernel's children lists.
KILL_TREE = (
    'tree() {{ echo "$1"; for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do '
    'tree "$c"; done; }}; kill -s {signal} $(tree "$(cat {pid_file})") 2>/dev/null'
)


def wrapped(argv: list[str], pid_file: str, cwd: str, env: Mapping[str, str]) -> list[str]:
    pairs = [f"{name}={value}" for name, value in env.items()]
    command = ["env", *pairs, *argv] if pairs else argv
    return ["/bin/sh", "-c", LAUNCHER, pid_file, cwd, *command]


class PodProcess:
    """One exec'd command: its output as it comes, a signal, its exit code."""

    def __init__(self, client: Any, pid_file: str, kill: Callable[[str], Any]) -> None:
        self.pid = 0  # the pod's, not this host's: signals go through `kill`
        self._client = client
        self._pid_file = pid_file
        self._kill = kill
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._queues: dict[int, asyncio.Queue[bytes | None]] = {
            1: asyncio.Queue(),
            2: asyncio.Queue(),
        }
        self._exit: asyncio.Future[int] = loop.create_future()
        self._killers: set[asyncio.Future[Any]] = set()
        threading.Thread(target=self._pump, name="mbox-exec", daemon=True).start()

    async def stdout(self) -> AsyncIterator[bytes]:
        async for chunk in self._drain(1):
            yield chunk

    async def stderr(self) -> AsyncIterator[bytes]:
        async for chunk in self._drain(2):
            yield chunk

    def signal(self, signum: int) -> None:
        """The command and every process under it (a shell's children too): listed
        first, then signalled, so none is orphaned out of reach by its parent's death."""
        name = signals.Signals(signum).name.removeprefix("SIG")
        script = KILL_TREE.format(signal=name, pid_file=shlex.quote(self._pid_file))
        self._killers.add(killer := asyncio.ensure_future(self._kill(script)))
        killer.add_done_callback(self._killers.discard)

    async def write(self, data: bytes) -> None:
        await asyncio.to_thread(send_stdin, self._client, data)

    async def close_stdin(self) -> None:
        """v5.channel.k8s.io's close frame for stdin (v4 has none: the input stays open
        until the command ends)."""
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self._client.close_channel, STDIN_CHANNEL)

    async def wait(self) -> int:
        return await asyncio.shield(self._exit)

    async def close(self) -> None:
        """Stop reading: the connection closes (the command gets no more of our time).
        A signal sent just before is delivered first (a `kill` exec of its own): closing
        alone leaves a command that floods running in the pod, and its output coming."""
        if self._killers:
            await asyncio.wait(set(self._killers), timeout=KILL_SECONDS)
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self._client.close)

    async def _drain(self, channel: int) -> AsyncIterator[bytes]:
        queue = self._queues[channel]
        while (chunk := await queue.get()) is not None:
            yield chunk

    def _pump(self) -> None:
        """The command's thread: read channels until the stream ends."""
        client = self._client
        try:
            code = _read_until_closed(client, (1, 2), self._put)
        finally:
            with contextlib.suppress(Exception):
                client.close()
        for channel in (1, 2):
            self._put(channel, None)
        _on_loop(self._loop, _settle, self._exit, EXIT_UNKNOWN if code is None else code)

    def _put(self, channel: int, data: bytes | None) -> None:
        _on_loop(self._loop, self._queues[channel].put_nowait, data)


def _read_until_closed(
    client: Any, channels: tuple[int, ...], deliver: Callable[[int, bytes], None]
) -> int | None:
    """Read the exec socket until it closes, handing each channel's data on as it comes
    (the last frames too); the exit code, None when the connection broke."""
    try:
        while True:
            still_open = client.is_open()
            if still_open:
                client.update(timeout=1)
            for channel in channels:
                if data := client.read_channel(channel):
                    deliver(channel, data)
            if not still_open:
                return client.returncode
    except Exception:  # the connection broke: the command's fate is unknown
        return None


def _settle(future: asyncio.Future[int], code: int) -> None:
    if not future.done():
        future.set_result(code)


def _on_loop(loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], *args: Any) -> None:
    """Hand a result to the event loop (unless it has ended: nobody is waiting then)."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(fn, *args)


def open_exec(
    core: Any, namespace: str, pod: str, argv: list[str], *, tty: bool = False, stdin: bool = False
) -> Any:
    """The WebSocket of one exec (blocking: call it in a thread)."""
    return stream(
        core.connect_get_namespaced_pod_exec,
        pod,
        namespace,
        container=names.CONTAINER,
        command=argv,
        stdin=tty or stdin,
        stdout=True,
        stderr=not tty,
        tty=tty,
        binary=True,
        _preload_content=False,
    )


def pid_file() -> str:
    return f"/tmp/.mbox-exec-{uuid.uuid4().hex}"


class PodTerminal:
    """A command on a terminal in the pod (exec with tty): input on channel 0, output on
    channel 1, the window size on channel 4."""

    def __init__(self, client: Any) -> None:
        self._client = client
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._output: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._exit: asyncio.Future[int] = loop.create_future()
        self._writing = threading.Lock()  # the socket is not safe for concurrent writers
        threading.Thread(target=self._pump, name="mbox-pty", daemon=True).start()

    async def read(self) -> bytes:
        chunk = await self._output.get()
        if chunk is None:
            self._output.put_nowait(None)  # every later read sees the end too
            return b""
        return chunk

    async def write(self, data: bytes) -> None:
        await asyncio.to_thread(self._send, 0, data)

    def resize(self, rows: int, cols: int) -> None:
        size = json.dumps({"Width": cols, "Height": rows}).encode()
        with contextlib.suppress(Exception):
            self._send(RESIZE_CHANNEL, size)

    async def wait(self) -> int:
        return await asyncio.shield(self._exit)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self._client.close)

    def _send(self, channel: int, data: bytes) -> None:
        with self._writing:
            if self._client.is_open():
                self._client.write_channel(channel, data)

    def _pump(self) -> None:
        def output(_channel: int, data: bytes) -> None:
            _on_loop(self._loop, self._output.put_nowait, data)

        code = _read_until_closed(self._client, (1,), output)
        _on_loop(self._loop, self._output.put_nowait, None)
        _on_loop(self._loop, _settle, self._exit, EXIT_UNKNOWN if code is None else code)


def send_stdin(client: Any, data: bytes, chunk: int = 1 << 20) -> None:
    """Write `data` to the command's stdin (blocking: call it in a thread)."""
    for start in range(0, len(data), chunk):
        client.write_channel(0, data[start : start + chunk])
