"""The `Idempotency-Key` request header, in one place for every create route.

A POST that creates something (CREATE_PATHS) may carry `Idempotency-Key: <1..128
printable ASCII>`. The first request with a key leaves a pending record (the principal's
subject, the key, method, path and the SHA-256 of the body) before the route runs, and
the route's answer is kept once it has one. A retry with the same key and the same request
gets the kept status and JSON body again with `Idempotent-Replayed: true`, and nothing else
happens (no second resource, no second audit event). A retry while the first is still
running is a 409, the key on a different request a 422. Only a success is kept: a
refusal (4xx) changed nothing, so it runs again (and may succeed once what refused it
changed), and a principal that may write nothing leaves nothing behind; a 5xx or an error
forgets the key too, so that the client may retry. Keys are per principal and last 24 hours
(backend/idempotency/service.py).

Routes whose answer holds a secret shown once (a new API token, a share link's URL)
refuse the header: only the secret's hash is stored, and a kept answer would keep the
secret. Other routes ignore it (start, stop, renew are idempotent by nature).
Installed inside ApiRequestMiddleware: the principal is known.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.api.middleware import reject
from backend.db import Database
from backend.idempotency import service as idempotency
from backend.settings import Settings

HEADER = "idempotency-key"
REPLAYED_HEADER = b"idempotent-replayed"
KEY = re.compile(r"^[\x20-\x7e]{1,128}$")
CREATE_PATHS = re.compile(
    r"^/v1/(projects|templates|sandboxes"
    r"|projects/[^/]+/credentials"
    r"|templates/[^/]+/validation-runs"
    r"|sandboxes/[^/]+/(tasks|artifacts|sessions))$"
)
SECRET_ANSWERS = re.compile(r"^/v1/(tokens|sandboxes/[^/]+/preview-links)$")
BAD_KEY = "Idempotency-Key must be 1 to 128 printable ASCII characters"
REFUSED = "Idempotency-Key is not accepted here: the answer holds a secret that is never stored"
IN_PROGRESS = "a request with this Idempotency-Key is still in progress"
MISMATCH = "this Idempotency-Key was used for a different request"


def _kept(status: int) -> bool:
    """Answers a retry gets again: what the request did (2xx)."""
    return 200 <= status < 300


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp, database: Database, settings: Settings) -> None:
        self.app = app
        self.database = database
        self.max_body = settings.max_request_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        key = Headers(scope=scope).get(HEADER)
        path = scope["path"]
        principal = scope.get("state", {}).get("principal")
        if key is None or principal is None:
            await self.app(scope, receive, send)
            return
        if SECRET_ANSWERS.match(path):
            await reject(scope, send, 400, REFUSED)
            return
        if not CREATE_PATHS.match(path):
            await self.app(scope, receive, send)
            return
        if not KEY.match(key):
            await reject(scope, send, 400, BAD_KEY)
            return
        received, body, whole = await self._read_body(receive)
        replay = _replaying(received, receive)
        if not whole:  # too large (the route answers 413) or the client went away
            await self.app(scope, replay, send)
            return
        begun = await self.database.call(
            idempotency.begin,
            subject=principal.subject,
            key=key,
            method="POST",
            path=path,
            request_sha256=hashlib.sha256(body).hexdigest(),
        )
        if begun.outcome == "mismatch":
            await reject(scope, send, 422, MISMATCH)
        elif begun.outcome == "in_progress":
            await reject(scope, send, 409, IN_PROGRESS)
        elif begun.outcome == "replay":
            await _send_replay(send, begun.status_code or 200, begun.body)
        else:
            await self._run(scope, replay, send, begun.record_id)

    async def _run(self, scope: Scope, receive: Receive, send: Send, record_id: Any) -> None:
        """Run the route with the answer held back until it is kept (a retry that comes
        the moment the client has it is replayed, never refused as in progress)."""
        start: Message | None = None
        chunks: list[bytes] = []
        others: list[Message] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            else:
                others.append(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.shield(self.database.call(idempotency.discard, record_id=record_id))
            raise
        raw = b"".join(chunks)
        status = start["status"] if start is not None else 500
        kept = _json(raw)
        if start is None or not _kept(status) or kept is _NOT_JSON:
            await self.database.call(idempotency.discard, record_id=record_id)
        else:
            await self.database.call(
                idempotency.complete, record_id=record_id, status_code=status, body=kept
            )
        if start is not None:
            await send(start)
            await send({"type": "http.response.body", "body": raw, "more_body": bool(others)})
            for message in others:
                await send(message)

    async def _read_body(self, receive: Receive) -> tuple[list[Message], bytes, bool]:
        """The request's messages and body; whole: False past the body limit or on a
        disconnect (the route then sees exactly what came)."""
        received: list[Message] = []
        size = 0
        while True:
            message = await receive()
            received.append(message)
            if message["type"] != "http.request":
                return received, b"", False
            size += len(message.get("body", b""))
            if size > self.max_body:
                return received, b"", False
            if not message.get("more_body", False):
                body = b"".join(m.get("body", b"") for m in received)
                return received, body, True


def _replaying(received: list[Message], receive: Receive) -> Receive:
    pending = list(received)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


_NOT_JSON = object()


def _json(raw: bytes) -> Any:
    """The answer's JSON (None: no body), or _NOT_JSON (never kept: it could not be
    replayed as it was)."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _NOT_JSON


async def _send_replay(send: Send, status: int, body: Any) -> None:
    headers = [(REPLAYED_HEADER, b"true")]
    payload = b""
    if body is not None:
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        headers.append((b"content-type", b"application/json"))
    headers.append((b"content-length", str(len(payload)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
