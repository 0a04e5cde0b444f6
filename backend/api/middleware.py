"""Per-request plumbing. Outermost, `WebGuardMiddleware`: what other web sites cannot do
(unknown Host names, foreign Origins on writes and WebSockets, CORS). Then API paths, in the
reference's order: request id, bearer authentication, audit attribution labels. Console
paths (pages, the Reflex state socket): a sign-in cookie when MBOX_API_TOKEN is set, else
a redirect to /login."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.auth.models import Principal
from backend.auth.service import (
    SignIn,
    authenticate,
    bearer_token,
    console_principal,
    is_named_token,
    principal_of_sign_in,
    principal_of_token,
    revoke_sign_in,
    sign_in_cookie_name,
    sign_in_from_cookie,
    token_active,
)
from backend.db import Database
from backend.settings import Settings, is_loopback_address
from backend.validation import clean_label, clean_request_id

REQUEST_ID_HEADER = "x-mbox-request-id"
API_PREFIXES = ("/v1/", "/healthz")
PUBLIC_ROUTES = {("GET", "/healthz"), ("GET", "/v1/info")}
CONSOLE_PUBLIC_PATHS = {"/login", "/logout", "/favicon.svg"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
UPLOAD_PATH = "/_upload"
CROSS_ORIGIN_REFUSED = "cross-origin requests are refused"
SIGNED_OUT = 4401  # WebSocket close code: the sign-in ended (as for "sign in first")


def is_api_path(path: str) -> bool:
    return path == "/v1" or path.startswith(API_PREFIXES)


class WebGuardMiddleware:
    """What another web site cannot make a browser do here.

    - Host: only names this server answers to, so a DNS-rebinding page (its own name
      pointing at this machine) is refused (421). Loopback names and IP literals are
      always accepted (rebinding needs the attacker's DNS name in the Host), the preview
      domain and its subdomains, and MBOX_ALLOWED_HOSTS.
    - Origin: every write (any method but GET/HEAD/OPTIONS) and every WebSocket from a
      browser must come from the server's own origin or MBOX_ALLOWED_ORIGINS; a foreign
      Origin or `Sec-Fetch-Site: cross-site` is a 403, with or without credentials.
      Programs send no Origin and are unaffected.
    - CORS: only MBOX_ALLOWED_ORIGINS get CORS headers (Reflex's own are removed), and a
      preflight from any other origin gets a 403 without allow headers.
    - The console's /_upload is capped at MBOX_UPLOAD_MAX_BYTES (413).

    Preview hosts only get the Host check: the sandbox's app answers for its own origin.
    Installed by `create_api` and again around Reflex's whole app (outside Reflex's CORS
    layer); the inner copy sees the outer one's mark and passes through.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.allowed_origins = frozenset(settings.allowed_origin_list)
        self.allowed_hosts = settings.allowed_host_list
        self.preview_host = (urlsplit(settings.preview_base_url).hostname or "").lower()
        self.upload_max_bytes = settings.upload_max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("mbox.guarded"):
            await self.app(scope, receive, send)
            return
        scope["mbox.guarded"] = True
        headers = Headers(scope=scope)
        host = host_name(headers.get("host", ""))
        if not self.host_allowed(host):
            await _drain(scope, receive)
            await reject(scope, send, 421, f"this server does not answer to the host {host!r}")
            return
        if self.is_preview_host(host):
            await self.app(scope, receive, send)
            return
        origin = (headers.get("origin") or "").lower().rstrip("/")
        trusted = origin in self.allowed_origins
        if scope["type"] == "http" and _is_preflight(scope, headers):
            await self._preflight(scope, send, headers, origin if trusted else None)
            return
        writes = scope["type"] == "websocket" or scope["method"] not in SAFE_METHODS
        if writes and not trusted and cross_site(headers):
            await _drain(scope, receive)
            await reject(scope, send, 403, CROSS_ORIGIN_REFUSED)
            return
        if origin:
            send = _cors_headers(send, origin if trusted else None)
        if scope["type"] == "http" and scope["path"] == UPLOAD_PATH:
            await self._capped(scope, receive, send, headers)
            return
        await self.app(scope, receive, send)

    def host_allowed(self, host: str) -> bool:
        if not host:
            return False
        if is_loopback_address(host) or _is_ip_literal(host) or self.is_preview_host(host):
            return True
        return any(
            host == name or (name.startswith(".") and host.endswith(name))
            for name in self.allowed_hosts
        )

    def is_preview_host(self, host: str) -> bool:
        return bool(self.preview_host) and (
            host == self.preview_host or host.endswith("." + self.preview_host)
        )

    async def _preflight(
        self, scope: Scope, send: Send, headers: Headers, origin: str | None
    ) -> None:
        if origin is None:
            await reject(scope, send, 403, CROSS_ORIGIN_REFUSED)
            return
        allow = [
            (b"access-control-allow-origin", origin.encode()),
            (b"access-control-allow-credentials", b"true"),
            (b"access-control-allow-methods", b"GET, HEAD, POST, PUT, PATCH, DELETE"),
            (b"access-control-max-age", b"600"),
            (b"vary", b"Origin"),
        ]
        if requested := headers.get("access-control-request-headers"):
            allow.append((b"access-control-allow-headers", requested.encode("latin-1")))
        await send({"type": "http.response.start", "status": 204, "headers": allow})
        await send({"type": "http.response.body", "body": b""})

    async def _capped(self, scope: Scope, receive: Receive, send: Send, headers: Headers) -> None:
        """The console's uploads, bounded whether or not the client declares a length."""
        limit, received, started = self.upload_max_bytes, 0, False
        too_large = f"upload is larger than {limit} bytes"
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await reject(scope, send, 413, too_large)
            return

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise _BodyTooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _BodyTooLarge:
            if not started:
                await reject(scope, send, 413, too_large)


async def _drain(scope: Scope, receive: Receive, limit: int = 64 * 1024) -> None:
    """Read (and drop) a small refused body first: a server that answers before the body
    arrived resets the connection, and the client sees that instead of the refusal."""
    if scope["type"] != "http":
        return
    received, more = 0, True
    while more and received <= limit:
        message = await receive()
        received += len(message.get("body", b""))
        more = message.get("more_body", False) and message["type"] == "http.request"


class _BodyTooLarge(Exception):
    """Raised from `receive` to stop an upload past its cap (not a ValueError: Reflex's
    upload handler turns those into its own 400)."""


def host_name(host: str) -> str:
    """The name in a Host header: lower case, without port, brackets or final dot."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else ""
    return host.rpartition(":")[0].rstrip(".") if ":" in host else host.rstrip(".")


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def cross_site(headers: Headers) -> bool:
    """A browser says the request comes from another site: an Origin that is not this
    server as the client reached it (`null` included), or `Sec-Fetch-Site: cross-site`."""
    return not same_origin(headers) or headers.get("sec-fetch-site") == "cross-site"


def _is_preflight(scope: Scope, headers: Headers) -> bool:
    return (
        scope["method"] == "OPTIONS"
        and "origin" in headers
        and "access-control-request-method" in headers
    )


def _cors_headers(send: Send, origin: str | None) -> Send:
    """Drop whatever CORS headers the app set; an allowed origin gets its own."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            kept = [
                (name, value)
                for name, value in message.get("headers", [])
                if not name.lower().startswith(b"access-control-")
            ]
            if origin is not None:
                kept += [
                    (b"access-control-allow-origin", origin.encode()),
                    (b"access-control-allow-credentials", b"true"),
                    (b"access-control-expose-headers", REQUEST_ID_HEADER.encode()),
                    (b"vary", b"Origin"),
                ]
            message = {**message, "headers": kept}
        await send(message)

    return wrapped


class SignIns:
    """Console sign-in cookies on this app: which sign-in a request proves (signed, not
    expired, not signed out) and the WebSockets open under each, so that signing out
    closes them: at once on this process, within POLL_SECONDS on every other one."""

    POLL_SECONDS = 5.0

    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database
        self._sign_outs: dict[uuid.UUID, set[asyncio.Event]] = {}

    def secure(self, scope: Scope) -> bool:
        return self.settings.secure_cookies or scope.get("scheme") in ("https", "wss")

    def cookie_name(self, scope: Scope) -> str:
        return sign_in_cookie_name(self.secure(scope))

    async def current(self, scope: Scope) -> SignIn | None:
        """The live sign-in the request's cookie proves, or None."""
        found = await self.principal(scope)
        return found[0] if found else None

    async def principal(self, scope: Scope) -> tuple[SignIn, Principal] | None:
        """The live sign-in the request's cookie proves and who it acts as now, or None
        (signed out, or its token since revoked or expired). A couple of primary-key reads
        per request (measured: a console request costs no more than /healthz on SQLite),
        so a sign-out or a revocation on any replica counts at once."""
        sign_in = sign_in_from_cookie(self.settings, _cookie(scope, self.cookie_name(scope)))
        if sign_in is None:
            return None
        principal = await self.database.call(principal_of_sign_in, sign_in)
        return (sign_in, principal) if principal is not None else None

    async def sign_out(self, sign_in: SignIn) -> None:
        await self.database.call(revoke_sign_in, sign_in=sign_in)
        for event in self._sign_outs.get(sign_in.sign_in_id, ()):
            event.set()

    async def hold(
        self, app: ASGIApp, scope: Scope, receive: Receive, send: Send, sign_in: SignIn
    ) -> None:
        """Serve a WebSocket that its sign-in cookie opened; close it (4401) when the
        sign-in signs out (or its token is revoked)."""
        await self.hold_while(
            app, scope, receive, send, key=sign_in.sign_in_id, ended=lambda: self._revoked(sign_in)
        )

    async def hold_token(
        self, app: ASGIApp, scope: Scope, receive: Receive, send: Send, token_id: uuid.UUID
    ) -> None:
        """Serve a WebSocket that a named token opened; close it (4401) once the token is
        revoked or expires, within POLL_SECONDS."""

        async def ended() -> bool:
            return not await self.database.call(token_active, token_id)

        await self.hold_while(app, scope, receive, send, key=token_id, ended=ended)

    async def hold_while(
        self,
        app: ASGIApp,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        key: uuid.UUID,
        ended: Callable[[], Awaitable[bool]],
    ) -> None:
        """Serve a WebSocket until `ended()` says its credential is gone (checked every
        POLL_SECONDS, or at once on a sign-out of `key` here): then close it (4401).
        Whatever the app sends after that goes nowhere."""
        signed_out = asyncio.Event()
        self._sign_outs.setdefault(key, set()).add(signed_out)
        closed = False

        async def guarded(message: Message) -> None:
            if not closed:
                await send(message)

        async def close_on_sign_out() -> None:
            nonlocal closed
            while not signed_out.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(signed_out.wait(), self.POLL_SECONDS)
                if not signed_out.is_set() and await ended():
                    break
            closed = True
            await send({"type": "websocket.close", "code": SIGNED_OUT, "reason": "signed out"})

        watcher = asyncio.create_task(close_on_sign_out())
        try:
            await app(scope, receive, guarded)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher
            events = self._sign_outs.get(key, set())
            events.discard(signed_out)
            if not events:
                self._sign_outs.pop(key, None)

    async def _revoked(self, sign_in: SignIn) -> bool:
        """Signed out, expired, or its token revoked or expired since."""
        if time.time() > sign_in.expires_at:
            return True
        return await self.database.call(principal_of_sign_in, sign_in) is None


class ApiRequestMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings, sign_ins: SignIns) -> None:
        self.app = app
        self.settings = settings
        self.sign_ins = sign_ins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if not is_api_path(scope["path"]):
            await self._console(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if _has_nul(scope):
            await reject(scope, send, 400, "the request path or query contains a NUL character")
            return
        request_id = clean_request_id(headers.get(REQUEST_ID_HEADER)) or str(uuid.uuid4())
        send = _with_request_id(send, request_id)
        principal = await self._bearer(headers)
        sign_in = None
        method = "GET" if scope["type"] == "websocket" else scope["method"]
        if principal is None and method in ("GET", "HEAD"):
            found = await self._sign_in(scope, headers)
            if found is not None:
                sign_in, principal = found
        if principal is None and (method, scope["path"]) not in PUBLIC_ROUTES:
            await reject(scope, send, 401, "missing or invalid bearer token")
            return
        if principal is not None:  # the caller's labels, else the principal's own
            principal = principal.with_labels(
                actor=clean_label(headers.get("x-mbox-audit-actor")) or principal.actor,
                source=clean_label(headers.get("x-mbox-audit-source")) or principal.source,
                request_id=request_id,
            )
        scope.setdefault("state", {})["principal"] = principal
        scope["state"]["request_id"] = request_id
        if sign_in is not None and scope["type"] == "websocket":
            await self.sign_ins.hold(self.app, scope, receive, send, sign_in)
            return
        if principal is not None and principal.token_id and scope["type"] == "websocket":
            await self.sign_ins.hold_token(self.app, scope, receive, send, principal.token_id)
            return
        await self.app(scope, receive, send)

    async def _console(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Console pages and the console's state socket need a sign-in when auth is on;
        a socket ends when its sign-in signs out."""
        if not self.settings.auth_required or scope["path"] in CONSOLE_PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        sign_in = await self.sign_ins.current(scope)
        if sign_in is not None and scope["type"] == "websocket":
            await self.sign_ins.hold(self.app, scope, receive, send, sign_in)
            return
        if sign_in is not None:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4401, "reason": "sign in first"})
            return
        target = quote(
            scope["path"] + ("?" + scope["query_string"].decode() if scope["query_string"] else "")
        )
        await RedirectResponse(f"/login?next={target}", status_code=303)(scope, receive, send)

    async def _bearer(self, headers: Headers) -> Principal | None:
        """The principal the bearer token proves: the shared token (or nobody, with
        authentication off) without the database, a named token with one read."""
        principal = authenticate(self.settings, headers.get("authorization"))
        token = bearer_token(headers.get("authorization"))
        if principal is None and is_named_token(token):
            principal = await self.sign_ins.database.call(principal_of_token, token)
        return principal

    async def _sign_in(self, scope: Scope, headers: Headers) -> tuple[SignIn, Principal] | None:
        """Browsers cannot set headers on WebSockets or downloads: the console's own pages
        use their sign-in cookie for reads (GET, the terminal socket), and only from the
        console's own origin, acting as whoever signed in. Writes always need the bearer
        header (no CSRF surface)."""
        if same_origin(headers) and headers.get("sec-fetch-site", "same-origin") in (
            "same-origin",
            "none",
        ):
            found = await self.sign_ins.principal(scope)
            if found is not None:
                sign_in, principal = found
                return sign_in, console_principal(principal)
        return None


def same_origin(headers: Headers) -> bool:
    """No Origin (a program), or the Origin is this server as the client reached it."""
    origin = headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == headers.get("host", "").lower()


def _cookie(scope: Scope, name: str) -> str | None:
    return HTTPConnection(scope).cookies.get(name)


def _with_request_id(send: Send, request_id: str) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] in ("http.response.start", "websocket.accept"):
            message.setdefault("headers", [])
            MutableHeaders(scope=message).append(REQUEST_ID_HEADER, request_id)
        await send(message)

    return wrapped


def _has_nul(scope: Scope) -> bool:
    return "\x00" in scope["path"] or b"%00" in scope["query_string"].lower()


async def reject(scope: Scope, send: Send, status: int, message: str) -> None:
    """A JSON error in the contract's shape. A WebSocket is refused before the upgrade with
    that HTTP response where the server supports it, else closed with 4000 + status."""
    prefix = "http"
    if scope["type"] == "websocket":
        if "websocket.http.response" not in scope.get("extensions", {}):
            await send({"type": "websocket.close", "code": 4000 + status, "reason": message})
            return
        prefix = "websocket.http"
    payload = json.dumps({"error": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": f"{prefix}.response.start", "status": status, "headers": headers})
    await send({"type": f"{prefix}.response.body", "body": payload})
