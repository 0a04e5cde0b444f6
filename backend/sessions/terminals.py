"""Terminals: a shell on a PTY in a sandbox, shared by the WebSockets attached to it.

A terminal outlives its WebSockets for a grace period (a closed laptop lid), so a client
that comes back reattaches and gets what it missed from the scrollback. Several clients
can attach; one drives (its input and size reach the shell), the others watch, and any of
them can take control.

Backpressure: the PTY is always read at full speed into the scrollback ring; each client
reads the ring from its own cursor and sends as fast as its socket drains. A client that
falls further behind than the ring holds skips ahead (and is told how much it missed), so
a slow client never stalls the shell, the other clients or the server, and holds no more
memory than its cursor.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

from backend.runtime.base import InteractiveRuntime, PtySession

log = logging.getLogger("mbox.terminals")
READ_CHUNK = 256 * 1024  # the most one WebSocket frame carries
# Why a reattach to a terminal whose shell exited is refused; browsers read it as the
# close reason, so it is the news of the exit when the close with 1000 was lost.
TERMINAL_ENDED = "this terminal has ended: open a new one"
Role = Literal["driver", "watcher"]


class Scrollback:
    """The last `capacity` bytes of output, addressed by absolute offsets since start."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._data = bytearray()
        self.end = 0  # offset just past the newest byte

    @property
    def start(self) -> int:
        return self.end - len(self._data)

    def append(self, chunk: bytes) -> None:
        self._data += chunk
        self.end += len(chunk)
        if len(self._data) > self.capacity + self.capacity // 4:  # trim in bulk (amortized)
            del self._data[: len(self._data) - self.capacity]

    def read(self, cursor: int, limit: int = READ_CHUNK) -> tuple[bytes, int, int]:
        """(bytes from `cursor`, the cursor after them, bytes skipped because they are no
        longer held)."""
        oldest = max(self.start, self.end - self.capacity)
        skipped = max(0, oldest - cursor)
        cursor = max(cursor, oldest)
        offset = cursor - self.start
        data = bytes(self._data[offset : offset + limit])
        return data, cursor + len(data), skipped


class Recorder:
    """An asciicast v2 recording of the output, capped in size."""

    def __init__(self, path: Path, *, cols: int, rows: int, max_bytes: int, shell: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        self.max_bytes = max_bytes
        self.truncated = False
        self._started = time.monotonic()
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._file: IO[bytes] | None = path.open("wb", buffering=64 * 1024)
        path.chmod(0o600)
        header = {
            "version": 2,
            "width": cols,
            "height": rows,
            "timestamp": int(time.time()),
            "env": {"TERM": "xterm-256color", "SHELL": shell},
        }
        self.size = 0
        self._write(header)

    def output(self, data: bytes) -> None:
        self._event("o", self._decoder.decode(data))

    def resize(self, cols: int, rows: int) -> None:
        self._event("r", f"{cols}x{rows}")

    def _event(self, kind: str, data: str) -> None:
        if data:
            self._write([round(time.monotonic() - self._started, 6), kind, data])

    def _write(self, value: object) -> None:
        if self._file is None:
            return
        line = (json.dumps(value, ensure_ascii=False) + "\n").encode()
        if self.size + len(line) > self.max_bytes:
            self.truncated = True
            self.close()
            return
        self._file.write(line)
        self.size += len(line)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass(eq=False)
class Attachment:
    """One client attached to a terminal, reading the output from its own cursor."""

    terminal: Terminal
    cursor: int
    role: Role
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    on_role: Callable[[Role], None] | None = None  # told when control moves

    async def output(self) -> AsyncIterator[tuple[bytes, int]]:
        """(chunk, bytes skipped before it) as output arrives; ends when the terminal has
        ended and everything was read."""
        ring = self.terminal.scrollback
        while True:
            data, self.cursor, skipped = ring.read(self.cursor)
            if data or skipped:
                yield data, skipped
                continue
            if self.terminal.ended:
                return
            self.wake.clear()
            if self.cursor == ring.end and not self.terminal.ended:
                await self.wake.wait()

    def _set_role(self, role: Role) -> None:
        if role != self.role:
            self.role = role
            if self.on_role is not None:
                self.on_role(role)


class Terminal:
    def __init__(
        self,
        terminal_id: uuid.UUID,
        sandbox_id: uuid.UUID,
        pty: PtySession,
        *,
        scrollback_bytes: int,
        grace_seconds: float,
        recorder: Recorder | None,
        on_end: Callable[[Terminal], None],
    ) -> None:
        self.id = terminal_id
        self.sandbox_id = sandbox_id
        self.scrollback = Scrollback(scrollback_bytes)
        self.recorder = recorder
        self.attachments: list[Attachment] = []
        self.driver: Attachment | None = None
        self.ended = False
        self.exit_code: int | None = None
        self._pty = pty
        self._grace_seconds = grace_seconds
        self._on_end = on_end
        self._pump = asyncio.create_task(self._read_output(), name=f"terminal {terminal_id}")
        # Nobody is attached yet: if nobody ever attaches, it ends like an abandoned one.
        self._grace: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            grace_seconds, self.hang_up
        )

    # -- clients --------------------------------------------------------------------------

    def attach(self, *, watch: bool, cursor: int | None) -> Attachment:
        """Attach a client; it drives when it asks to and nobody else does. Without a cursor
        it starts from the oldest output held (a reattaching browser redraws everything)."""
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        start = self.scrollback.start if cursor is None else cursor
        attachment = Attachment(self, max(0, min(start, self.scrollback.end)), "watcher")
        self.attachments.append(attachment)
        if not watch and self.driver is None:
            self.take_control(attachment)
        return attachment

    def detach(self, attachment: Attachment) -> None:
        with contextlib.suppress(ValueError):
            self.attachments.remove(attachment)
        if self.driver is attachment:
            self.driver = None
        if not self.attachments and not self.ended:
            loop = asyncio.get_running_loop()
            self._grace = loop.call_later(self._grace_seconds, self.hang_up)

    def take_control(self, attachment: Attachment) -> None:
        if self.driver is not None and self.driver is not attachment:
            self.driver._set_role("watcher")
        self.driver = attachment
        attachment._set_role("driver")

    async def input(self, attachment: Attachment, data: bytes) -> bool:
        """Send keystrokes to the shell; False (and nothing sent) unless `attachment` drives."""
        if attachment is not self.driver or self.ended:
            return False
        await self._pty.write(data)
        return True

    def resize(self, attachment: Attachment, rows: int, cols: int) -> bool:
        if attachment is not self.driver or self.ended:
            return False
        self._pty.resize(rows, cols)
        if self.recorder is not None:
            self.recorder.resize(cols, rows)
        return True

    # -- life -----------------------------------------------------------------------------

    def hang_up(self) -> None:
        """End the terminal: its shell gets SIGHUP (the pump then sees the end)."""
        asyncio.get_running_loop().create_task(self._pty.close())

    async def _read_output(self) -> None:
        try:
            while chunk := await self._pty.read():
                self.scrollback.append(chunk)
                if self.recorder is not None:
                    self.recorder.output(chunk)
                for attachment in self.attachments:
                    attachment.wake.set()
            self.exit_code = await self._pty.wait()
        except Exception:
            log.exception("terminal %s failed", self.id)
        finally:
            await self._end()

    async def _end(self) -> None:
        self.ended = True
        if self._grace is not None:
            self._grace.cancel()
        with contextlib.suppress(Exception):
            await self._pty.close()
        if self.recorder is not None:
            self.recorder.close()
        for attachment in self.attachments:
            attachment.wake.set()
        self._on_end(self)


class TerminalHub:
    """The terminals of this server process, by id."""

    def __init__(
        self,
        runtime: InteractiveRuntime,
        *,
        scrollback_bytes: int,
        grace_seconds: float,
        recordings: Callable[[uuid.UUID, uuid.UUID], Path] | None,
        recording_max_bytes: int,
        on_end: Callable[[Terminal], None] = lambda terminal: None,
    ) -> None:
        self.runtime = runtime
        self.terminals: dict[uuid.UUID, Terminal] = {}
        self._scrollback_bytes = scrollback_bytes
        self._grace_seconds = grace_seconds
        self._recordings = recordings
        self._recording_max_bytes = recording_max_bytes
        self._on_end = on_end
        self._opening: dict[uuid.UUID, asyncio.Lock] = {}

    def get(self, terminal_id: uuid.UUID) -> Terminal | None:
        terminal = self.terminals.get(terminal_id)
        return terminal if terminal is not None and not terminal.ended else None

    async def open(
        self,
        *,
        sandbox_id: uuid.UUID,
        terminal_id: uuid.UUID,
        argv: list[str],
        rows: int,
        cols: int,
    ) -> tuple[Terminal, bool]:
        """The terminal with this id, started if it does not run yet: (terminal, created)."""
        async with self._opening.setdefault(terminal_id, asyncio.Lock()):
            if (terminal := self.get(terminal_id)) is not None:
                return terminal, False
            pty = await self.runtime.open_pty(sandbox_id, argv, rows=rows, cols=cols)
            recorder = None
            if self._recordings is not None:
                path = self._recordings(sandbox_id, terminal_id)
                recorder = Recorder(
                    path, cols=cols, rows=rows, max_bytes=self._recording_max_bytes, shell=argv[0]
                )
            terminal = Terminal(
                terminal_id,
                sandbox_id,
                pty,
                scrollback_bytes=self._scrollback_bytes,
                grace_seconds=self._grace_seconds,
                recorder=recorder,
                on_end=self._ended,
            )
            self.terminals[terminal_id] = terminal
            return terminal, True

    def count(self, sandbox_id: uuid.UUID) -> int:
        """Live terminals of a sandbox."""
        return sum(1 for t in self.terminals.values() if t.sandbox_id == sandbox_id and not t.ended)

    def _ended(self, terminal: Terminal) -> None:
        self.terminals.pop(terminal.id, None)
        self._opening.pop(terminal.id, None)
        self._on_end(terminal)

    async def close(self) -> None:
        for terminal in list(self.terminals.values()):
            terminal.hang_up()
