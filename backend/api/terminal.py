"""The terminal WebSocket: `GET /v1/sandboxes/{sandboxID}/terminal`.

Query: `shell` (sh | bash | login: the sandbox user's login shell, see
backend/runtime/shells.py), `client` (a label), `terminal` (a terminal id: reattach to it,
or start it under that id), `cursor` (output offset to resume from; without it a
reattaching client gets the whole scrollback, after a terminal reset), `mode` (drive |
watch), `rows`/`cols` (initial size), `events=1` (JSON text frames about the terminal).

Frames in: binary = keystrokes; text = keystrokes too, except JSON control messages
`{"type": "resize", "rows", "cols"}`, `{"type": "take-control"}`, `{"type": "ping"}`.
Frames out: binary = terminal output. With `events=1` also JSON text frames:
`attached` {terminalId, sessionId, role, cursor, created}, `role` {role}, `skipped`
{bytes}, `exit` {code}, `pong`.

Authentication is the API's (bearer header), or, for browsers, the console sign-in cookie;
either way the Origin, when sent, must be this server's own (no cross-site WebSockets).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from backend.api.deps import PrincipalDep, ServicesDep
from backend.api.middleware import reject, same_origin
from backend.api.openapi import websocket
from backend.auth import access
from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.db import Database
from backend.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceError,
    TooManyRequests,
)
from backend.runtime.base import RuntimeFailure
from backend.runtime.shells import login_shell_argv
from backend.sandboxes import service as sandboxes
from backend.sandboxes.lifetime import ActivityMeter
from backend.services import Services
from backend.sessions import service as sessions
from backend.sessions.terminals import TERMINAL_ENDED, Attachment, Terminal, TerminalHub
from backend.validation import parse_uuid

router = APIRouter(tags=["sandboxes"])
websocket(
    "/v1/sandboxes/{sandboxID}/terminal",
    tag="sandboxes",
    summary="Open terminal",
    query={
        "shell": "sh (default), bash, or login (the user's login shell, else bash, else sh)",
        "client": "a label for the session record",
        "terminal": "terminal id: attach to it, or start one under that id",
        "cursor": "output offset to resume from",
        "mode": "drive (default) or watch",
        "rows": "initial rows",
        "cols": "initial columns",
        "events": "1: also send JSON text frames about the terminal",
    },
)
SHELLS = {"": "/bin/sh", "sh": "/bin/sh", "bash": "/bin/bash", "login": "login"}
RESET = b"\x1bc"  # full terminal reset, before replaying a whole scrollback
MAX_INPUT_FRAME = 64 * 1024
MAX_TERMINALS = 16  # live terminals per sandbox


@dataclass(frozen=True)
class TerminalRequest:
    sandbox_id: uuid.UUID
    shell: str
    client: str
    terminal_id: uuid.UUID | None
    cursor: int | None
    watch: bool
    rows: int
    cols: int
    events: bool

    @classmethod
    def parse(cls, sandbox_id: str, query: Any) -> TerminalRequest:
        shell = query.get("shell", "")
        if shell not in SHELLS:
            raise InvalidInput("shell must be sh, bash or login")
        mode = query.get("mode", "drive")
        if mode not in ("drive", "watch"):
            raise InvalidInput("mode must be drive or watch")
        terminal = query.get("terminal")
        return cls(
            sandbox_id=parse_uuid(sandbox_id, "invalid sandbox id"),
            shell=SHELLS[shell],
            client=sessions.clean_client(query.get("client"), "web-terminal"),
            terminal_id=parse_uuid(terminal, "invalid terminal id") if terminal else None,
            cursor=_integer(query.get("cursor"), "cursor", 0, 2**62),
            watch=mode == "watch",
            rows=_integer(query.get("rows"), "rows", 1, 1000) or 24,
            cols=_integer(query.get("cols"), "cols", 1, 1000) or 80,
            events=query.get("events") in ("1", "true"),
        )


def shell_argv(shell: str) -> list[str]:
    """What the terminal runs: bash as a login shell, sh as it is, or the login shell."""
    if shell == "login":
        return login_shell_argv()
    return [shell, "-l"] if shell.endswith("bash") else [shell]


def _integer(value: str | None, name: str, low: int, high: int) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit() or not low <= int(value) <= high:
        raise InvalidInput(f"{name} must be an integer between {low} and {high}")
    return int(value)


@router.websocket("/v1/sandboxes/{sandboxID}/terminal")
async def terminal_socket(
    websocket: WebSocket,
    services: ServicesDep,
    principal: PrincipalDep,
    sandboxID: str,  # noqa: N803 - the contract's name
) -> None:
    try:
        request = TerminalRequest.parse(sandboxID, websocket.query_params)
        if not same_origin(websocket.headers):
            raise Forbidden("cross-origin terminal connections are refused")
        # Watching a terminal reads it; attaching to type into it drives the sandbox.
        permission = Permission.READ_CONTENT if request.watch else Permission.OPERATE
        sandbox = await services.database.call(
            sandboxes.operable, principal, request.sandbox_id, permission
        )
        if sandbox.status != "running":
            raise Conflict("sandbox must be running before opening terminal")
        if not hasattr(services.runtime, "open_pty"):
            raise Conflict(f"the {services.runtime.name} runtime has no terminals")
        if request.terminal_id is not None:
            await _check_reattach(services, request)
        if services.terminals.get(request.terminal_id) is None:  # it would start one more
            # Starting a shell drives the sandbox, even for a client that only watches.
            access.require(principal, Permission.OPERATE, sandbox.project_id)
            _check_capacity(services.terminals, request.sandbox_id)
            await services.database.call(
                sessions.check_terminal_quota, principal=principal, sandbox_id=request.sandbox_id
            )
    except ServiceError as exc:
        await _refuse(websocket, exc)
        return
    await websocket.accept()
    await TerminalConnection(websocket, request, services, principal).run()


async def _refuse(websocket: WebSocket, exc: ServiceError) -> None:
    """Programs get the HTTP error before the upgrade. Browsers cannot read that (they see
    a bare 1006), so a same-origin page gets the socket and at once a close with code
    4000 + status and the message as reason (cross-origin ones never get a socket)."""
    if "origin" in websocket.headers and exc.status_code != 403:
        await websocket.accept()
        await websocket.close(code=4000 + exc.status_code, reason=exc.message[:120])
        return
    await reject(websocket.scope, websocket.send, exc.status_code, exc.message)


def _check_capacity(hub: TerminalHub, sandbox_id: uuid.UUID) -> None:
    """Each terminal holds a shell and its scrollback: a sandbox gets a bounded number."""
    if hub.count(sandbox_id) >= MAX_TERMINALS:
        raise TooManyRequests(f"too many terminals in this sandbox (at most {MAX_TERMINALS})")


async def _check_reattach(services: Services, request: TerminalRequest) -> None:
    """A terminal id names this sandbox's live terminal, or a new one: an id used before
    whose shell has ended is refused (the client should open a new terminal)."""
    live = services.terminals.get(request.terminal_id)
    if live is not None:
        if live.sandbox_id != request.sandbox_id:
            raise NotFound("terminal not found")
        return
    if await services.database.call(sessions.terminal_used, terminal_id=request.terminal_id):
        raise Conflict(TERMINAL_ENDED)


class TerminalConnection:
    """One WebSocket attached to one terminal, recorded as one runtime session."""

    def __init__(
        self,
        websocket: WebSocket,
        request: TerminalRequest,
        services: Services,
        principal: Principal,
    ) -> None:
        self.websocket = websocket
        self.principal = principal
        self.request = request
        self.database: Database = services.database
        self.hub: TerminalHub = services.terminals
        self.activity: ActivityMeter = services.activity

    async def run(self) -> None:
        terminal_id = self.request.terminal_id or uuid.uuid4()
        try:
            session_id = await self.database.call(
                sessions.open_terminal_session,
                principal=self.principal,
                sandbox_id=self.request.sandbox_id,
                terminal_id=terminal_id,
                client=self.request.client,
                user_agent=self.websocket.headers.get("user-agent", ""),
                metadata={"shell": self.request.shell, "watch": self.request.watch},
                new_terminal=self.hub.get(terminal_id) is None,
            )
        except ServiceError as exc:  # the quota filled up since the check before the upgrade
            await self.websocket.close(code=4000 + exc.status_code, reason=exc.message[:120])
            return
        error = ""
        try:
            terminal = await self._terminal(terminal_id)
            await self._serve(terminal, session_id)
        except (RuntimeFailure, ServiceError) as exc:  # after the upgrade: say it in the terminal
            error = str(exc) if isinstance(exc, RuntimeFailure) else exc.message
            await self._send_text_output(f"\r\nterminal closed: {error}\r\n")
        except Exception as exc:  # the session must not stay "active" forever
            error = f"terminal failed: {exc.__class__.__name__}"
            raise
        finally:
            await self.database.call(
                sessions.close_terminal_session,
                principal=self.principal,
                session_id=session_id,
                error=error,
            )
            await self._close()

    async def _terminal(self, terminal_id: uuid.UUID) -> Terminal:
        request = self.request
        terminal, created = await self.hub.open(
            sandbox_id=request.sandbox_id,
            terminal_id=terminal_id,
            argv=shell_argv(request.shell),
            rows=request.rows,
            cols=request.cols,
        )
        if created and terminal.recorder is not None:
            await self.database.call(
                sessions.start_recording, terminal_id=terminal_id, sandbox_id=request.sandbox_id
            )
        return terminal

    async def _serve(self, terminal: Terminal, session_id: uuid.UUID) -> None:
        attachment = terminal.attach(watch=self.request.watch, cursor=self.request.cursor)
        attachment.on_role = lambda role: asyncio.get_running_loop().create_task(
            self._event({"type": "role", "role": role})
        )
        replaying = self.request.cursor is None and attachment.cursor < terminal.scrollback.end
        await self._event(
            {
                "type": "attached",
                "terminalId": str(terminal.id),
                "sessionId": str(session_id),
                "role": attachment.role,
                "cursor": attachment.cursor,
            }
        )
        try:
            if replaying:
                await self.websocket.send_bytes(RESET)
            sender = asyncio.create_task(self._send_output(attachment))
            receiver = asyncio.create_task(self._receive_input(attachment))
            done, pending = await asyncio.wait(
                {sender, receiver}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect):
                    await task
            for task in done:
                with contextlib.suppress(WebSocketDisconnect):
                    task.result()
        finally:
            terminal.detach(attachment)

    async def _send_output(self, attachment: Attachment) -> None:
        async for data, skipped in attachment.output():
            if skipped:
                await self._event({"type": "skipped", "bytes": skipped})
            if data:
                await self.websocket.send_bytes(data)
        code = attachment.terminal.exit_code
        await self._event({"type": "exit", "code": code})
        if not self.request.events:
            await self._send_text_output(f"\r\n[process exited with code {code}]\r\n")

    async def _receive_input(self, attachment: Attachment) -> None:
        terminal = attachment.terminal
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data: bytes | None = message.get("bytes")
            text: str | None = message.get("text")
            if text is not None and text.startswith('{"type"') and self._control(attachment, text):
                continue
            payload = data if data is not None else (text or "").encode()
            if payload and await terminal.input(attachment, payload[:MAX_INPUT_FRAME]):
                self.activity.touch(terminal.sandbox_id)

    def _control(self, attachment: Attachment, text: str) -> bool:
        """Handle a JSON control message; False when the text is not one (it is input)."""
        try:
            message = json.loads(text)
        except ValueError:
            return False
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "resize":
            rows, cols = message.get("rows"), message.get("cols")
            if all(isinstance(n, int) and 1 <= n <= 1000 for n in (rows, cols)):
                attachment.terminal.resize(attachment, rows, cols)
        elif kind == "take-control":
            attachment.terminal.take_control(attachment)
        elif kind == "ping":
            asyncio.get_running_loop().create_task(self._event({"type": "pong"}))
        else:
            return False
        return True

    async def _event(self, event: dict[str, Any]) -> None:
        """A JSON event frame (only for clients that asked for events)."""
        if self.request.events and self.websocket.client_state == WebSocketState.CONNECTED:
            await self._send_quietly(text=json.dumps(event))

    async def _send_text_output(self, text: str) -> None:
        await self._send_quietly(data=text.encode())

    async def _send_quietly(self, *, text: str | None = None, data: bytes | None = None) -> None:
        with contextlib.suppress(Exception):
            if text is not None:
                await self.websocket.send_text(text)
            else:
                await self.websocket.send_bytes(data or b"")

    async def _close(self) -> None:
        with contextlib.suppress(Exception):
            if self.websocket.client_state == WebSocketState.CONNECTED:
                await self.websocket.close(1000)
