"""A sandbox's terminal as an object: attach (or reattach by id), send keys, read output,
resize, and learn how the shell exited. The same WebSocket the console uses."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mbox import _aio

if TYPE_CHECKING:
    from mbox._async.sandbox import AsyncSandbox


class AsyncTerminal:
    """Use as a context manager, or call `close()`. `read()` returns output bytes as they
    come, b"" once the shell has exited (then `exit_code` is set)."""

    def __init__(self, websocket: Any, sandbox_id: str) -> None:
        self._websocket = websocket
        self.sandbox_id = sandbox_id
        self.id: str = ""
        self.session_id: str = ""
        self.role: str = ""
        self.cursor: int = 0  # output bytes seen: reattach from here loses nothing
        self.exit_code: int | None = None
        self.closed = False

    @classmethod
    async def open(
        cls,
        sandbox: AsyncSandbox,
        *,
        terminal_id: str | None = None,
        shell: str | None = None,
        rows: int = 24,
        cols: int = 80,
        watch: bool = False,
        cursor: int | None = None,
        client: str = "mbox-sdk",
    ) -> AsyncTerminal:
        http = sandbox.client.transport
        url = http.websocket_url(
            f"/v1/sandboxes/{sandbox.id}/terminal",
            {
                "shell": shell,
                "client": client,
                "terminal": terminal_id,
                "cursor": cursor,
                "mode": "watch" if watch else None,
                "rows": rows,
                "cols": cols,
                "events": 1,
            },
        )
        headers = {k: v for k, v in http.headers().items() if k != "Accept"}
        websocket = await _aio.connect_websocket(url, headers, http.request_timeout)
        terminal = cls(websocket, sandbox.id)
        if cursor is not None:
            terminal.cursor = cursor
        await terminal._attached(http.request_timeout)
        return terminal

    async def _attached(self, timeout: float) -> None:
        while not self.id:
            message = await _aio.receive(self._websocket, timeout)
            if isinstance(message, str):
                self._event(json.loads(message))

    def _event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "attached":
            self.id = str(event.get("terminalId", ""))
            self.session_id = str(event.get("sessionId", ""))
            self.role = str(event.get("role", ""))
            self.cursor = int(event.get("cursor") or self.cursor)
        elif kind == "role":
            self.role = str(event.get("role", ""))
        elif kind == "skipped":
            self.cursor += int(event.get("bytes") or 0)
        elif kind == "exit":
            self.exit_code = event.get("code")

    async def send(self, data: str | bytes) -> None:
        """Keystrokes (text is sent as UTF-8)."""
        await self._websocket.send(data.encode() if isinstance(data, str) else data)

    async def resize(self, rows: int, cols: int) -> None:
        await self._websocket.send(json.dumps({"type": "resize", "rows": rows, "cols": cols}))

    async def take_control(self) -> None:
        """Become the terminal's driver (another client was typing)."""
        await self._websocket.send(json.dumps({"type": "take-control"}))

    async def read(self, timeout: float | None = None) -> bytes:
        """The next output; b"" when the terminal ended. TimeoutError after `timeout`."""
        from websockets.exceptions import ConnectionClosed

        while True:
            try:
                message = await _aio.receive(self._websocket, timeout)
            except ConnectionClosed:
                self.closed = True
                return b""
            if isinstance(message, bytes):
                self.cursor += len(message)
                return message
            self._event(json.loads(message))
            if self.exit_code is not None:
                return b""

    async def read_until(self, expected: str | bytes, timeout: float = 10.0) -> bytes:
        """Output up to and including `expected`; TimeoutError if it does not come."""
        wanted = expected.encode() if isinstance(expected, str) else expected
        deadline = _aio.monotonic() + timeout
        seen = b""
        while wanted not in seen:
            remaining = deadline - _aio.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{expected!r} did not appear; got {seen[-200:]!r}")
            chunk = await self.read(remaining)
            if not chunk:
                raise EOFError(f"the terminal ended before {expected!r}; got {seen[-200:]!r}")
            seen += chunk
        return seen

    async def close(self) -> None:
        """Detach (the shell goes on; reattach with its `id`)."""
        self.closed = True
        await self._websocket.close()

    async def __aenter__(self) -> AsyncTerminal:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
