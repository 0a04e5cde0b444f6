"""Per-request plumbing. API paths, in the reference's order: request id, bearer
authentication, audit attribution labels. Console paths (pages, the Reflex state socket):
a signed session cookie when MBOX_API_TOKEN is set, else a redirect to /login."""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote, urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.auth.models import Principal
from backend.auth.service import SESSION_COOKIE, authenticate, console_session_valid
from backend.settings import Settings
from backend.validation import clean_label, clean_request_id

REQUEST_ID_HEADER = "x-mbox-request-id"
API_PREFIXES = ("/v1/", "/healthz")
PUBLIC_ROUTES = {("GET", "/healthz"), ("GET", "/v1/info")}
CONSOLE_PUBLIC_PATHS = {"/login", "/logout", "/favicon.svg"}


def is_api_path(path: str) -> bool:
    return path == "/v1" or path.startswith(API_PREFIXES)


class ApiRequestMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

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
        principal = authenticate(self.settings, headers.get("authorization"))
        method = "GET" if scope["type"] == "websocket" else scope["method"]
        if principal is None and method in ("GET", "HEAD"):
            principal = _console_principal(self.settings, scope, headers)
        if principal is None and (method, scope["path"]) not in PUBLIC_ROUTES:
            await reject(scope, send, 401, "missing or invalid bearer token")
            return
        principal = (
            principal.with_labels(
                actor=clean_label(headers.get("x-mbox-audit-actor")),
                source=clean_label(headers.get("x-mbox-audit-source")) or "http-api",
                request_id=request_id,
            )
            if principal
            else None
        )
        scope.setdefault("state", {})["principal"] = principal
        scope["state"]["request_id"] = request_id
        await self.app(scope, receive, send)

    async def _console(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Console pages and the console's state socket need a session when auth is on."""
        if (
            not self.settings.auth_required
            or scope["path"] in CONSOLE_PUBLIC_PATHS
            or console_session_valid(self.settings, _cookie(scope, SESSION_COOKIE))
        ):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4401, "reason": "sign in first"})
            return
        target = quote(
            scope["path"] + ("?" + scope["query_string"].decode() if scope["query_string"] else "")
        )
        await RedirectResponse(f"/login?next={target}", status_code=303)(scope, receive, send)


def same_origin(headers: Headers) -> bool:
    """No Origin (a program), or the Origin is this server as the client reached it."""
    origin = headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == headers.get("host", "").lower()


def _console_principal(settings: Settings, scope: Scope, headers: Headers) -> Principal | None:
    """Browsers cannot set headers on WebSockets or downloads: the console's own pages
    use their session cookie for reads (GET, the terminal socket), and only from the
    console's own origin. Writes always need the bearer header (no CSRF surface)."""
    if (
        same_origin(headers)
        and headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")
        and console_session_valid(settings, _cookie(scope, SESSION_COOKIE))
    ):
        return Principal(subject="console", source="console")
    return None


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
