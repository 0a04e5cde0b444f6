# Generated from mbox/_async by scripts/generate_sync_client.py: do not edit.
"""A sandbox's terminal as an object: attach (or reattach by id), send keys, read output,
resize, and learn how the shell exited. The same WebSocket the console uses."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mbox import _io

if TYPE_CHECKING:
    from mbox._sync.sandbox import Sandbox


class Terminal:
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
    def open(
        cls,
        sandbox: Sandbox,
        *,
        terminal_id: str | None = None,
        shell: str | None = None,
        rows: int = 24,
        cols: int = 80,
        watch: bool = False,
        cursor: int | None = None,
        client: str = "mbox-sdk",
    ) -> Terminal:
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
        websocket = _io.connect_websocket(url, headers, http.request_timeout)
        terminal = cls(websocket, sandbox.id)
        if cursor is not None:
            terminal.cursor = cursor
        terminal._attached(http.request_timeout)
        return terminal

    def _attached(self, timeout: float) -> None:
        while not self.id:
            message = _io.receive(self._websocket, timeout)
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

    def send(self, data: str | bytes) -> None:
        """Keystrokes (text is sent as UTF-8)."""
        self._websocket.send(data.encode() if isinstance(data, str) else data)

    def resize(self, rows: int, cols: int) -> None:
        self._websocket.send(json.dumps({"type": "resize", "rows": rows, "cols": cols}))

    def take_control(self) -> None:
        """Become the terminal's driver (another client was typing)."""
        self._websocket.send(json.dumps({"type": "take-control"}))

    def read(self, timeout: float | None = None) -> bytes:
        """The next output; b"" when the terminal ended. TimeoutError after `timeout`."""
        from websockets.exceptions import ConnectionClosed

        while True:
            try:
                message = _io.receive(self._websocket, timeout)
            except ConnectionClosed:
                self.closed = True
                return b""
            if isinstance(message, bytes):
                self.cursor += len(message)
                return message
            self._event(json.loads(message))
            if self.exit_code is not None:
                return b""

    def read_until(self, expected: str | bytes, timeout: float = 10.0) -> bytes:
        """Output up to and including `expected`; TimeoutError if it does not come."""
        wanted = expected.encode() if isinstance(expected, str) else expected
        deadline = _io.monotonic() + timeout
        seen = b""
        while wanted not in seen:
            remaining = deadline - _io.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{expected!r} did not appear; got {seen[-200:]!r}")
            chunk = self.read(remaining)
            if not chunk:
                raise EOFError(f"the terminal ended before {expected!r}; got {seen[-200:]!r}")
            seen += chunk
        return seen

    def close(self) -> None:
        """Detach (the shell goes on; reattach with its `id`)."""
        self.closed = True
        self._websocket.close()

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
