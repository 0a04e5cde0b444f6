"""The preview relay: HTTP and WebSocket traffic between a client and a port in a sandbox.

Upstream connections come from the runtime (`connect_port`: a connected socket inside the
sandbox's network namespace). HTTP goes through one httpcore connection pool per app,
keyed by (sandbox, port), so keep-alive connections are reused; bodies are streamed both
ways, never buffered whole. WebSockets are relayed frame by frame (text, binary, close
codes) with the subprotocol the app chose.

What crosses: the request line and query string as sent, the headers minus hop-by-hop
ones and the caller's credentials (Authorization, E2B-Traffic-Access-Token, the
mbox_session / mbox_preview cookies), `Host: localhost:<port>` (dev servers such as Vite
only answer localhost) and X-Forwarded-Proto/Host/For (and -Prefix when served under a
path), which the relay sets itself: the client's own forwarding headers (X-Forwarded-*,
Forwarded, X-Real-IP...) are dropped, never passed on as if the relay vouched for them.

Shared resources are bounded per sandbox: at most `preview_max_connections_per_sandbox`
upstream connections (HTTP and WebSocket) at once, more are refused with 503 at once; an
upstream silent for `preview_idle_timeout_seconds` between two reads is given up (504
before its headers, a truncated response after), so one sandbox's stalled app cannot
hold the relay's connections and workers that other sandboxes' previews need.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import anyio.abc
import httpcore
from httpcore._backends.anyio import AnyIOStream
from starlette.types import Message, Receive, Scope, Send
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException

from backend.api.middleware import reject
from backend.runtime.base import PortUnavailable, RuntimeFailure
from backend.settings import Settings

log = logging.getLogger("mbox.preview")

Headers = list[tuple[bytes, bytes]]
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Request headers never relayed: the caller's credentials, and what the relay sets itself
# or that claims to come from a proxy (the client's are spoofable: every x-forwarded-*
# name is dropped too).
DROPPED_REQUEST = frozenset(
    {
        b"host",
        b"authorization",
        b"e2b-traffic-access-token",  # a caller's access token, never the app's to see
        b"expect",
        b"forwarded",
        b"x-real-ip",
        b"x-client-ip",
        b"true-client-ip",
        b"x-cluster-client-ip",
        b"cf-connecting-ip",
        b"fastly-client-ip",
        b"x-original-forwarded-for",
    }
)
FORWARDED_PREFIX = b"x-forwarded-"
CREDENTIAL_COOKIES = frozenset({b"mbox_session", b"mbox_preview"})
# The WebSocket client sets these itself (and Host, from the URI).
WEBSOCKET_OWN = frozenset(
    {
        b"sec-websocket-key",
        b"sec-websocket-version",
        b"sec-websocket-extensions",
        b"sec-websocket-protocol",
        b"sec-websocket-accept",
    }
)
# httpcore's read timeout is per read: an idle limit between chunks, not a total.
WRITE_TIMEOUT = 60.0
POOL_TIMEOUT = 30.0
WATCH_DISCONNECT_ABOVE = 256 * 1024  # bodies larger or of unknown size: stop if the client leaves
WEBSOCKET_MAX_MESSAGE = 64 * 1024 * 1024
UNSENDABLE_CLOSE = {1005: 1000, 1006: 1011, 1015: 1011}


def not_listening(port: int) -> str:
    return f"nothing is listening on port {port} in the sandbox"


def not_answering(port: int) -> str:
    return f"port {port} in the sandbox did not answer"


@dataclass(frozen=True)
class RelayLimits:
    """The relay's bounds, from the settings (see the module's docstring)."""

    connections_per_sandbox: int
    connect_timeout: float
    idle_timeout: float

    @classmethod
    def of(cls, settings: Settings) -> RelayLimits:
        return cls(
            settings.preview_max_connections_per_sandbox,
            settings.preview_connect_timeout_seconds,
            settings.preview_idle_timeout_seconds,
        )

    def timeouts(self) -> dict[str, float]:
        return {
            "connect": self.connect_timeout,
            "read": self.idle_timeout,
            "write": WRITE_TIMEOUT,
            "pool": POOL_TIMEOUT,
        }


@dataclass(frozen=True)
class Upstream:
    """Where one relayed request or WebSocket goes: `target` (path and query) on the
    sandbox's port, served under `prefix`; and the bounds it runs under."""

    sandbox_id: uuid.UUID
    port: int
    target: bytes
    prefix: str
    limits: RelayLimits


class _TooManyConnections(Exception):
    """The sandbox already holds all the upstream connections it may."""


class SandboxNetwork(httpcore.AsyncNetworkBackend):
    """httpcore's network: the URL's host is the sandbox id (hex), its port the port."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                sock = await self.runtime.connect_port(uuid.UUID(hex=host), port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"connecting took more than {timeout} s") from None
        return AnyIOStream(await anyio.abc.SocketStream.from_socket(_tuned(sock)))

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise NotImplementedError

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


def _tuned(sock: socket.socket) -> socket.socket:
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class _ClientGone(Exception):
    """The client disconnected while its request body was being relayed."""


class Relay:
    """One per process (backend.services): the upstream connection pool, the connections
    each sandbox holds, and the two relays."""

    def __init__(self, runtime: Any, limits: RelayLimits) -> None:
        self.runtime = runtime
        self.limits = limits
        self._held: dict[uuid.UUID, int] = {}
        self.pool = httpcore.AsyncConnectionPool(
            network_backend=SandboxNetwork(runtime),
            max_connections=1024,
            max_keepalive_connections=256,
            # Below Node's default keep-alive (5 s): reuse a connection before the dev
            # server closes it.
            keepalive_expiry=4.0,
            retries=0,
        )

    async def aclose(self) -> None:
        await self.pool.aclose()

    def held(self, sandbox_id: uuid.UUID) -> int:
        """Upstream connections (requests in flight, WebSockets) the sandbox holds now."""
        return self._held.get(sandbox_id, 0)

    @contextlib.contextmanager
    def _slot(self, sandbox_id: uuid.UUID, limit: int) -> Iterator[None]:
        """One of the sandbox's connections, for as long as a request or WebSocket lasts
        (one event loop: no lock needed)."""
        held = self._held.get(sandbox_id, 0)
        if held >= limit:
            raise _TooManyConnections
        self._held[sandbox_id] = held + 1
        try:
            yield
        finally:
            left = self._held[sandbox_id] - 1
            if left:
                self._held[sandbox_id] = left
            else:
                del self._held[sandbox_id]

    async def _holding_a_slot(
        self, scope: Scope, send: Send, upstream: Upstream, relay: Callable[[], Awaitable[None]]
    ) -> None:
        """`relay()` while holding one of the sandbox's connections; 503 at once when the
        sandbox holds them all (one sandbox must not starve the others)."""
        limit = upstream.limits.connections_per_sandbox
        try:
            with self._slot(upstream.sandbox_id, limit):
                await relay()
        except _TooManyConnections:
            message = f"the sandbox already has {limit} open preview connections; try again later"
            await reject(scope, send, 503, message)

    # -- HTTP -------------------------------------------------------------------------------

    async def http(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        sandbox_id: uuid.UUID,
        port: int,
        target: bytes,
        prefix: str = "",
        add_headers: Iterable[tuple[bytes, bytes]] = (),
        drop_headers: frozenset[bytes] = frozenset(),
    ) -> None:
        """Relay one HTTP request to `target` (path and query) on the sandbox port."""
        upstream = Upstream(sandbox_id, port, target, prefix, self.limits)
        await self._holding_a_slot(
            scope,
            send,
            upstream,
            lambda: self._http(scope, receive, send, upstream, add_headers, drop_headers),
        )

    async def _http(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        upstream: Upstream,
        add_headers: Iterable[tuple[bytes, bytes]],
        drop_headers: frozenset[bytes],
    ) -> None:
        sandbox_id, port, target = upstream.sandbox_id, upstream.port, upstream.target
        headers = request_headers(scope, port, upstream.prefix)
        first = await receive()
        if first["type"] == "http.disconnect":
            return
        body, more = first.get("body", b""), first.get("more_body", False)
        content: bytes | AsyncIterator[bytes] = body
        if more:
            if not any(name == b"content-length" for name, _ in headers):
                headers.append((b"transfer-encoding", b"chunked"))
            content = _request_body(body, receive)
        elif body and not any(name == b"content-length" for name, _ in headers):
            headers.append((b"content-length", str(len(body)).encode()))
        request = httpcore.Request(
            scope["method"],
            httpcore.URL(scheme=b"http", host=sandbox_id.hex.encode(), port=port, target=target),
            headers=headers,
            content=content,
            extensions={"timeout": upstream.limits.timeouts()},
        )
        try:
            response = await self.pool.handle_async_request(request)
        except _ClientGone:
            return
        except PortUnavailable:
            await reject(scope, send, 502, not_listening(port))
            return
        except RuntimeFailure as exc:
            await reject(scope, send, 502, str(exc))
            return
        except httpcore.PoolTimeout:
            await reject(scope, send, 503, "every preview connection is busy; try again later")
            return
        except httpcore.TimeoutException as exc:
            log.info("preview %s:%s timed out: %r", sandbox_id, port, exc)
            await reject(scope, send, 504, f"{not_answering(port)} in time")
            return
        except (httpcore.NetworkError, httpcore.ProtocolError) as exc:
            log.info("preview %s:%s did not answer: %r", sandbox_id, port, exc)
            await reject(scope, send, 502, not_answering(port))
            return
        try:
            await self._respond(response, receive, send, add_headers, drop_headers)
        finally:
            await response.aclose()

    async def _respond(
        self,
        response: httpcore.Response,
        receive: Receive,
        send: Send,
        add_headers: Iterable[tuple[bytes, bytes]],
        drop_headers: frozenset[bytes],
    ) -> None:
        headers, length = response_headers(response.headers, drop_headers)
        headers.extend(add_headers)
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        stream: AsyncIterator[bytes] = response.stream.__aiter__()  # type: ignore[union-attr]
        if length is not None and length <= WATCH_DISCONNECT_ABOVE:
            finished = await _pump(stream, send)
        else:
            # A large or endless body: stop reading upstream as soon as the client leaves.
            pumping = asyncio.ensure_future(_pump(stream, send))
            watching = asyncio.ensure_future(_wait_disconnect(receive))
            try:
                await asyncio.wait({pumping, watching}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                watching.cancel()
                if not pumping.done():
                    pumping.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await pumping
            finished = pumping.result() if not pumping.cancelled() else True
        if not finished:
            # The app died mid-response: end without completing it, so the server closes
            # the connection and the client sees a truncated response, not a short one.
            log.warning("preview upstream closed mid-response")

    # -- WebSocket --------------------------------------------------------------------------

    async def websocket(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        sandbox_id: uuid.UUID,
        port: int,
        target: bytes,
        prefix: str = "",
        on_message: Callable[[], None] = lambda: None,
    ) -> None:
        """Relay a WebSocket to `target` on the sandbox port: accept with the subprotocol
        the app chose, then frames both ways until either side closes."""
        if (await receive())["type"] != "websocket.connect":
            return
        upstream = Upstream(sandbox_id, port, target, prefix, self.limits)
        await self._holding_a_slot(
            scope,
            send,
            upstream,
            lambda: self._websocket(scope, receive, send, upstream, on_message),
        )

    async def _websocket(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        upstream: Upstream,
        on_message: Callable[[], None],
    ) -> None:
        sandbox_id, port, limits = upstream.sandbox_id, upstream.port, upstream.limits
        try:
            async with asyncio.timeout(limits.connect_timeout):
                sock = await self.runtime.connect_port(sandbox_id, port)
        except TimeoutError:
            await reject(scope, send, 504, f"{not_answering(port)} in time")
            return
        except PortUnavailable:
            await reject(scope, send, 502, not_listening(port))
            return
        except RuntimeFailure as exc:
            await reject(scope, send, 502, str(exc))
            return
        try:
            app = await connect(
                f"ws://localhost:{port}{upstream.target.decode('latin-1')}",
                sock=_tuned(sock),
                subprotocols=list(scope.get("subprotocols") or ()) or None,
                additional_headers=websocket_headers(scope, upstream.prefix),
                user_agent_header=None,
                compression=None,
                max_size=WEBSOCKET_MAX_MESSAGE,
                ping_interval=None,
                close_timeout=2,
                open_timeout=limits.connect_timeout,
                proxy=None,
            )
        except InvalidStatus as exc:
            sock.close()
            status = exc.response.status_code
            await reject(scope, send, status, f"the app answered {status}")
            return
        except (WebSocketException, OSError, TimeoutError) as exc:
            sock.close()
            log.info("preview websocket %s:%s failed: %r", sandbox_id, port, exc)
            await reject(scope, send, 502, not_answering(port))
            return
        try:
            await send({"type": "websocket.accept", "subprotocol": app.subprotocol})
            await _relay_frames(app, receive, send, on_message)
        finally:
            await app.close()


# -- headers ------------------------------------------------------------------------------


def _connection_tokens(headers: Iterable[tuple[bytes, bytes]]) -> set[bytes]:
    named: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            named.update(token.strip().lower() for token in value.split(b","))
    return named


def strip_credentials(cookie: bytes) -> bytes:
    """The Cookie header without mbox's own cookies (the app's cookies are kept)."""
    if b"mbox_" not in cookie:
        return cookie
    kept = [
        part
        for part in cookie.split(b";")
        if part.split(b"=", 1)[0].strip() not in CREDENTIAL_COOKIES
    ]
    return b";".join(kept).strip()


def _relayed(scope: Scope, extra_dropped: frozenset[bytes] = frozenset()) -> Headers:
    raw: Headers = scope["headers"]
    named = _connection_tokens(raw)
    headers: Headers = []
    for name, value in raw:
        if (
            name in HOP_BY_HOP
            or name in DROPPED_REQUEST
            or name in extra_dropped
            or name in named
            or name.startswith((b"proxy-", FORWARDED_PREFIX))
        ):
            continue
        if name == b"cookie":
            value = strip_credentials(value)
            if not value:
                continue
        headers.append((name, value))
    return headers


def _forwarded(scope: Scope, prefix: str) -> Headers:
    """The relay's own forwarding headers: the client's address as the server saw it (a
    proxy in front is trusted by the server's own settings, not by a header the client
    sent), the scheme, the Host the client asked for, the path prefix."""
    original_host = b""
    for name, value in scope["headers"]:
        if name == b"host":
            original_host = value
    client = scope.get("client")
    forwarded_for = client[0].encode() if client else b""
    proto = {"ws": b"http", "wss": b"https"}.get(scope.get("scheme", "http"))
    headers = [(b"x-forwarded-proto", proto or scope.get("scheme", "http").encode())]
    if original_host:
        headers.append((b"x-forwarded-host", original_host))
    if forwarded_for:
        headers.append((b"x-forwarded-for", forwarded_for))
    if prefix:
        headers.append((b"x-forwarded-prefix", prefix.encode()))
    return headers


def request_headers(scope: Scope, port: int, prefix: str = "") -> Headers:
    """The headers the app receives: Host is localhost:<port>."""
    return [(b"host", b"localhost:%d" % port), *_relayed(scope), *_forwarded(scope, prefix)]


def websocket_headers(scope: Scope, prefix: str = "") -> list[tuple[str, str]]:
    headers = [*_relayed(scope, WEBSOCKET_OWN), *_forwarded(scope, prefix)]
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers]


def response_headers(
    raw: Iterable[tuple[bytes, bytes]], drop: frozenset[bytes] = frozenset()
) -> tuple[Headers, int | None]:
    """The app's response headers minus hop-by-hop ones and those in `drop` (a name
    ending in "-" drops every header it starts); and the Content-Length, if any."""
    raw = list(raw)
    named = _connection_tokens(raw)
    prefixes = tuple(name for name in drop if name.endswith(b"-"))
    headers: Headers = []
    length: int | None = None
    for name, value in raw:
        name = name.lower()
        if (
            name in HOP_BY_HOP
            or name in named
            or name in drop
            or name.startswith(b"proxy-")
            or (prefixes and name.startswith(prefixes))
        ):
            continue
        if name == b"content-length" and value.strip().isdigit():
            length = int(value)
        headers.append((name, value))
    return headers, length


# -- bodies -------------------------------------------------------------------------------


async def _request_body(first: bytes, receive: Receive) -> AsyncIterator[bytes]:
    if first:
        yield first
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        if chunk := message.get("body", b""):
            yield chunk
        if not message.get("more_body", False):
            return


async def _pump(stream: AsyncIterator[bytes], send: Send) -> bool:
    """Copy the response body; False when the app closed the connection mid-body."""
    try:
        async for chunk in stream:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.TimeoutException):
        return False
    await send({"type": "http.response.body", "body": b"", "more_body": False})
    return True


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


# -- WebSocket frames ---------------------------------------------------------------------


def _sendable(code: int | None) -> int:
    if code is None:
        return 1000
    code = UNSENDABLE_CLOSE.get(code, code)
    return code if 1000 <= code < 5000 else 1011


async def _relay_frames(
    upstream: ClientConnection, receive: Receive, send: Send, on_message: Callable[[], None]
) -> None:
    async def inward() -> Message | None:
        """Client to app, until the client leaves (its disconnect message) or the app
        closed (None)."""
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return message
            on_message()
            text = message.get("text")
            try:
                await upstream.send(text if text is not None else message.get("bytes") or b"")
            except ConnectionClosed:
                return None

    async def outward() -> None:
        """App to client, until the app closes (or the client is gone)."""
        with contextlib.suppress(ConnectionClosed, OSError):
            while True:
                data = await upstream.recv()
                on_message()
                if isinstance(data, str):
                    await send({"type": "websocket.send", "text": data})
                else:
                    await send({"type": "websocket.send", "bytes": data})

    from_client = asyncio.ensure_future(inward())
    from_app = asyncio.ensure_future(outward())
    try:
        await asyncio.wait({from_client, from_app}, return_when=asyncio.FIRST_COMPLETED)
        if from_client.done() and (left := from_client.result()) is not None:
            from_app.cancel()
            code = _sendable(left.get("code"))
            await upstream.close(code, (left.get("reason") or "")[:120])
            return
        from_client.cancel()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(from_app), 5)
        with contextlib.suppress(OSError, RuntimeError):
            await send(
                {
                    "type": "websocket.close",
                    "code": _sendable(upstream.close_code),
                    "reason": (upstream.close_reason or "")[:120],
                }
            )
    finally:
        for task in (from_client, from_app):
            if not task.done():
                task.cancel()
        await asyncio.gather(from_client, from_app, return_exceptions=True)
