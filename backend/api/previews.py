"""Previews: open the web app running in a sandbox.

Two ways in, one relay (backend/api/proxy.py):

- the reference's route on the API origin, `/v1/sandboxes/{id}/ports/{port}/proxy/...`,
  for programs (bearer token). Its responses carry `Content-Security-Policy: sandbox ...`
  and lose every header that acts on the origin rather than on the response (Set-Cookie,
  Clear-Site-Data, HSTS, CORS, NEL...; API_ORIGIN_DROPPED): a page rendered there runs
  in an opaque origin and can neither use nor change the console's cookies, storage or
  policies.
- preview origins, one per sandbox port: `<port>-<sandbox id hex>.<preview host>`, for
  browsers. `PreviewHostMiddleware` sends every request for such a host to the preview
  app below, never to the API or the console. A preview link
  (`/.mbox/link?token=...&next=/`) sets a host-only `mbox_preview` cookie; every other
  request needs it, and it is stripped before relaying. The console's Open and Embed get
  the same cookie through a viewer grant instead (`/.mbox/open?code=...`, single-use,
  bound to the sign-in: backend/sandboxes/preview_grants.py), which makes no link.

And the routes that create, list and revoke preview links.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, Path, Request, WebSocket
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import Headers
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.api.deps import Body, DbDep, PrincipalDep, SandboxId, SettingsDep, get_principal
from backend.api.middleware import reject
from backend.api.openapi import body, returns, returns_list
from backend.api.proxy import Relay, RelayLimits
from backend.api.responses import PageLimit, items
from backend.auth import access
from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.db import Database
from backend.errors import Conflict, InvalidInput, NotFound, ServiceError
from backend.sandboxes import preview_grants, previews
from backend.sandboxes.lifetime import ActivityMeter
from backend.sandboxes.models import PreviewLink, PreviewLinkCreate
from backend.sandboxes.preview_grants import GRANT_PATH, ViewGrants
from backend.sandboxes.previews import LINK_PATH, PORT_NOT_PREVIEWABLE, PreviewDomain, PreviewGate
from backend.services import Services
from backend.settings import Settings
from backend.validation import parse_uuid

PROXY_PATH = "/v1/sandboxes/{sandboxID}/ports/{port}/proxy"
PROXY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
API_ORIGIN_CSP = b"sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads"
# Response headers of an app that would act on the API origin, which is the console's:
# its cookies and storage, transport and reporting policies, CORS, credential prompts,
# preloads and redirects, and what browsers store per origin (bound sessions, shared
# storage, attribution, ad auctions, topics, storage access). The app's own CSP goes too
# (the relay's sandbox replaces it). A name ending in "-" is a prefix.
API_ORIGIN_DROPPED = frozenset(
    {
        b"set-cookie",
        b"set-cookie2",
        b"clear-site-data",
        b"strict-transport-security",
        b"public-key-pins",
        b"public-key-pins-report-only",
        b"expect-ct",
        b"content-security-policy",
        b"content-security-policy-report-only",
        b"access-control-",
        b"timing-allow-origin",
        b"service-worker-allowed",
        b"refresh",
        b"link",
        b"nel",
        b"report-to",
        b"reporting-endpoints",
        b"alt-svc",
        b"www-authenticate",
        b"proxy-authenticate",
        b"set-login",
        b"accept-ch",
        b"critical-ch",
        b"origin-agent-cluster",
        b"speculation-rules",
        b"supports-loading-mode",
        b"secure-session-",
        b"sec-session-",
        b"shared-storage-write",
        b"attribution-reporting-",
        b"ad-auction-",
        b"observe-browsing-topics",
        b"activate-storage-access",
    }
)
PREVIEW_COOKIE = "mbox_preview"
TRAFFIC_HEADER = "e2b-traffic-access-token"
LINK_REFUSED = "preview link is missing, expired or revoked"
NOT_RUNNING = "sandbox must be running before opening preview"
UuidPath = Annotated[str, Path(json_schema_extra={"format": "uuid"})]
BINARY = {
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
}


@dataclass(frozen=True)
class Previews:
    """What the preview routes share, one per app (`app.state.previews`): the relay and its
    connection pool, which belong to the HTTP edge, the viewer grants' used codes, and from
    the services the link and sandbox caches (the gate) and the activity meter (idle
    timeout)."""

    relay: Relay
    gate: PreviewGate
    grants: ViewGrants
    activity: ActivityMeter
    database: Database
    settings: Settings

    @classmethod
    def of(cls, services: Services) -> Previews:
        relay = Relay(services.runtime, RelayLimits.of(services.settings))
        grants = ViewGrants(services.database, services.settings)
        return cls(
            relay,
            services.preview_gate,
            grants,
            services.activity,
            services.database,
            services.settings,
        )

    async def traffic_allowed(self, scope: Scope, sandbox_id: uuid.UUID) -> bool:
        """A program's own credential (E2B's `E2B-Traffic-Access-Token`, a sandbox access
        token): any port of that sandbox, as its caller could reach from inside it."""
        token = Headers(scope=scope).get(TRAFFIC_HEADER, "")
        if not token:
            return False
        return await self.database.call(previews.traffic_allowed, self.settings, token, sandbox_id)

    async def allows(self, scope: Scope, sandbox_id: uuid.UUID, port: int) -> bool:
        """Whether a `mbox_preview` cookie of the request (a link's or a viewer grant's)
        opens this sandbox port now."""
        for token in _cookies(scope, PREVIEW_COOKIE):
            check = self.grants if preview_grants.is_grant(token) else self.gate
            if await check.allows(token, sandbox_id, port):
                return True
        return False


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    await app.state.previews.relay.aclose()


router = APIRouter(tags=["sandboxes"], lifespan=_lifespan)


# -- preview links --------------------------------------------------------------------------


@router.post(
    "/v1/sandboxes/{sandboxID}/preview-links",
    status_code=201,
    responses=returns(PreviewLink, 201),
    openapi_extra=body(PreviewLinkCreate),
)
def create_preview_link(
    settings: SettingsDep,
    db: DbDep,
    principal: PrincipalDep,
    sandbox_id: SandboxId,
    data: PreviewLinkCreate = Body(PreviewLinkCreate),
) -> JSONResponse:
    """A link that opens one port's preview in a browser; its `url` is shown only here."""
    link, url = previews.create_link(
        db,
        principal=principal,
        settings=settings,
        sandbox_id=sandbox_id,
        data=data,
    )
    public = PreviewLink.from_row(link).model_copy(update={"url": url})
    return JSONResponse(public.to_json(), status_code=201)


@router.get("/v1/sandboxes/{sandboxID}/preview-links", responses=returns_list(PreviewLink))
def list_preview_links(db: DbDep, sandbox_id: SandboxId, limit: PageLimit) -> JSONResponse:
    rows = previews.list_links(db, sandbox_id=sandbox_id, limit=limit + 1)
    return items(PreviewLink, rows, limit)


@router.post("/v1/preview-links/{linkID}/revoke", responses=returns(PreviewLink))
def revoke_preview_link(
    db: DbDep,
    principal: PrincipalDep,
    linkID: UuidPath,  # noqa: N803
) -> JSONResponse:
    link_id = parse_uuid(linkID, "invalid preview link id")
    link = previews.revoke_link(db, principal=principal, link_id=link_id)
    return JSONResponse(PreviewLink.from_row(link).to_json())


# -- the reference's proxy route on the API origin -----------------------------------------


async def _open(
    app: Any, principal: Principal, sandbox_id: uuid.UUID, port: str
) -> tuple[Previews, int]:
    """The reference's checks, in its order: the sandbox (404), running (409), the port
    (400), declared and TCP (404). Using the app drives the sandbox (operate)."""
    shared = app.state.previews
    target = await shared.gate.target(sandbox_id)
    if target is None:
        raise NotFound()
    access.require(principal, Permission.OPERATE, target.project_id)
    if target.status != "running":
        raise Conflict(NOT_RUNNING)
    number = int(port) if port.isascii() and port.isdigit() and len(port) <= 5 else 0
    if not 1 <= number <= 65535:
        raise InvalidInput("invalid sandbox port")
    if number not in target.ports:
        raise NotFound(PORT_NOT_PREVIEWABLE)
    shared.activity.touch(sandbox_id)
    return shared, number


def _api_target(scope: Scope) -> tuple[bytes, str]:
    """(path after .../proxy plus the query string, as sent; the prefix before it)."""
    raw = (scope.get("raw_path") or scope["path"].encode()).split(b"?", 1)[0]
    parts = raw.split(b"/", 7)
    rest = b"/" + parts[7] if len(parts) > 7 else b"/"
    query = scope.get("query_string") or b""
    return rest + (b"?" + query if query else b""), b"/".join(parts[:7]).decode("latin-1")


class _Relayed(Response):
    """The response of the proxy route: the relay writes it."""

    def __init__(self, shared: Previews, sandbox_id: uuid.UUID, port: int) -> None:
        super().__init__()
        self.shared, self.sandbox_id, self.port = shared, sandbox_id, port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target, prefix = _api_target(scope)
        await self.shared.relay.http(
            scope,
            receive,
            send,
            sandbox_id=self.sandbox_id,
            port=self.port,
            target=target,
            prefix=prefix,
            add_headers=[(b"content-security-policy", API_ORIGIN_CSP)],
            drop_headers=API_ORIGIN_DROPPED,
        )


async def proxy_root_redirect(
    request: Request,
    sandboxID: UuidPath,  # noqa: N803 - documented path parameters
    port: str,
) -> RedirectResponse:
    """`.../proxy` without a slash: 301 to `.../proxy/`."""
    query = request.url.query
    return RedirectResponse(request.url.path + "/" + ("?" + query if query else ""), 301)


async def proxy(
    request: Request,
    sandboxID: UuidPath,  # noqa: N803 - the contract's name
    port: str,
    path: str,  # the relay reads the raw path itself
) -> Response:
    """The app on a declared TCP port of the running sandbox: any method, bodies streamed
    both ways; a WebSocket on the same path is relayed too. Responses carry a sandboxing
    Content-Security-Policy and no header that acts on the origin, such as Set-Cookie
    (browsers use preview origins instead)."""
    # Parsed here rather than by a (threaded) sync dependency: this is the hot path.
    sandbox_id = parse_uuid(sandboxID, "invalid sandbox id")
    shared, number = await _open(request.app, get_principal(request), sandbox_id, port)
    return _Relayed(shared, sandbox_id, number)


# One route per method, so each has its own OpenAPI operation id. HEAD is relayed too, but
# not documented (its errors have no body to show).
router.add_api_route(
    PROXY_PATH,
    proxy_root_redirect,
    methods=["GET"],
    tags=["runtime"],
    status_code=301,
    responses={301: {"description": "Redirect to the proxy path with a trailing slash"}},
)
for _method in PROXY_METHODS:
    router.add_api_route(
        PROXY_PATH + "/{path:path}",
        proxy,
        methods=[_method],
        name=f"proxy_{_method.lower()}",
        tags=["runtime"],
        responses={200: {"description": "The app's response", **BINARY}},
    )


async def _proxy_head(request: Request) -> Response:
    params = request.path_params
    if "path" not in params:
        return await proxy_root_redirect(request, params["sandboxID"], params["port"])
    return await proxy(request, params["sandboxID"], params["port"], params["path"])


router.routes.append(Route(PROXY_PATH, _proxy_head, methods=["HEAD"], include_in_schema=False))
router.routes.append(
    Route(PROXY_PATH + "/{path:path}", _proxy_head, methods=["HEAD"], include_in_schema=False)
)


@router.websocket(PROXY_PATH + "/{path:path}")
async def proxy_websocket(websocket: WebSocket, sandboxID: str, port: str) -> None:  # noqa: N803
    scope = websocket.scope
    try:
        sandbox_id = parse_uuid(sandboxID, "invalid sandbox id")
        shared, number = await _open(websocket.app, get_principal(websocket), sandbox_id, port)
    except ServiceError as exc:
        await reject(scope, websocket.send, exc.status_code, exc.message)
        return
    target, prefix = _api_target(scope)
    await shared.relay.websocket(
        scope,
        websocket.receive,
        websocket.send,
        sandbox_id=sandbox_id,
        port=number,
        target=target,
        prefix=prefix,
        on_message=lambda: shared.activity.touch(sandbox_id),
    )


# -- preview origins ------------------------------------------------------------------------


class PreviewHostMiddleware:
    """Requests whose Host is a preview origin go to the preview app; all others pass
    through untouched (one substring test on the Host header)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.domain = PreviewDomain.of(settings)
        self._needle = ("." + self.domain.host).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            host = _host(scope)
            if self._needle in host.lower():
                await self._preview(scope, receive, send, host.decode("latin-1"))
                return
        await self.app(scope, receive, send)

    async def _preview(self, scope: Scope, receive: Receive, send: Send, host: str) -> None:
        found = previews.parse_host(self.domain, host)
        if found is None:
            await _refuse(scope, send, 404, "no such preview")
            return
        sandbox_id, port = found
        shared = scope["app"].state.previews
        if scope["path"] in (LINK_PATH, GRANT_PATH) and scope["type"] == "http":
            if scope["method"] not in ("GET", "HEAD"):
                await _refuse(scope, send, 405, "preview links are opened with GET")
            elif scope["path"] == LINK_PATH:
                await self._exchange(scope, send, shared, sandbox_id, port)
            else:
                await self._open_grant(scope, send, shared, sandbox_id, port)
            return
        any_port = await shared.traffic_allowed(scope, sandbox_id)
        if not any_port and not await shared.allows(scope, sandbox_id, port):
            await _refuse(scope, send, 401, LINK_REFUSED)
            return
        target = await shared.gate.target(sandbox_id)
        if target is None:
            await _refuse(scope, send, 404, "sandbox not found")
            return
        if target.status != "running":
            await _refuse(scope, send, 409, NOT_RUNNING)
            return
        if port not in target.ports and not any_port:
            await _refuse(scope, send, 404, PORT_NOT_PREVIEWABLE)
            return
        shared.activity.touch(sandbox_id)
        raw = (scope.get("raw_path") or scope["path"].encode()).split(b"?", 1)[0]
        query = scope.get("query_string") or b""
        path = raw + (b"?" + query if query else b"")
        if scope["type"] == "websocket":
            await shared.relay.websocket(
                scope,
                receive,
                send,
                sandbox_id=sandbox_id,
                port=port,
                target=path,
                on_message=lambda: shared.activity.touch(sandbox_id),
            )
        else:
            await shared.relay.http(
                scope, receive, send, sandbox_id=sandbox_id, port=port, target=path
            )

    async def _exchange(
        self, scope: Scope, send: Send, shared: Previews, sandbox_id: uuid.UUID, port: int
    ) -> None:
        """`/.mbox/link?token=...&next=/path`: verify the link, set the cookie, go on."""
        query = _query(scope)
        token = (query.get("token") or [""])[0]
        link = await shared.gate.exchange(token) if token else None
        if link is None or link.sandbox_id != sandbox_id or link.port != port:
            await _refuse(scope, send, 401, LINK_REFUSED)
            return
        max_age = max(0, int(link.expires_at.timestamp() - time.time()))
        await self._enter(scope, send, query, token, max_age)

    async def _open_grant(
        self, scope: Scope, send: Send, shared: Previews, sandbox_id: uuid.UUID, port: int
    ) -> None:
        """`/.mbox/open?code=...&next=/path`: trade a viewer grant's code (once) for a view
        cookie, go on. A browser that already holds a working cookie here (a page reloaded
        with a used code) just goes on."""
        query = _query(scope)
        code = (query.get("code") or [""])[0]
        view = await shared.grants.exchange(code, sandbox_id, port) if code else None
        if view is not None:
            await self._enter(scope, send, query, *view)
        elif await shared.allows(scope, sandbox_id, port):
            await self._enter(scope, send, query, None, 0)
        else:
            await _refuse(scope, send, 401, LINK_REFUSED)

    async def _enter(
        self, scope: Scope, send: Send, query: dict[str, list[str]], token: str | None, age: int
    ) -> None:
        """303 to `next` on this origin, setting the preview cookie to `token` (if any)."""
        headers = [
            (b"location", _next_path((query.get("next") or ["/"])[0]).encode()),
            (b"referrer-policy", b"no-referrer"),
            (b"cache-control", b"no-store"),
            (b"content-length", b"0"),
        ]
        if token is not None:
            cookie = f"{PREVIEW_COOKIE}={token}; Max-Age={max(0, age)}; Path=/; HttpOnly; "
            cookie += _embeddable_cookie if self.domain.secure_context else "SameSite=Lax"
            headers.append((b"set-cookie", cookie.encode()))
        await send({"type": "http.response.start", "status": 303, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


def _query(scope: Scope) -> dict[str, list[str]]:
    return parse_qs((scope.get("query_string") or b"").decode("latin-1"))


# In a secure context (https, or *.localhost, which browsers treat as one) the cookie can
# be partitioned: it then also works inside the console's embedded preview frame (a
# third-party context), and only there and at its own top level.
_embeddable_cookie = "SameSite=None; Secure; Partitioned"


def _host(scope: Scope) -> bytes:
    for name, value in scope["headers"]:
        if name == b"host":
            return value
    return b""


def _cookies(scope: Scope, wanted: str) -> list[str]:
    """Every value of the cookie `wanted` (a page on a sibling origin could plant a
    second one with a wider Domain; any valid one opens the preview)."""
    values = []
    for name, value in scope["headers"]:
        if name != b"cookie" or wanted.encode() not in value:
            continue
        for part in value.decode("latin-1").split(";"):
            key, _, found = part.strip().partition("=")
            if key == wanted and found:
                values.append(found.strip('"'))
    return values


def _next_path(value: str) -> str:
    """A relative path on this origin: starts with one "/" (never "//" or "/\\"), printable
    ASCII only; anything else is "/"."""
    if (
        not value.startswith("/")
        or value.startswith(("//", "/\\"))
        or not all(33 <= ord(ch) < 127 for ch in value)
    ):
        return "/"
    return value


async def _refuse(scope: Scope, send: Send, status: int, message: str) -> None:
    accept = dict(scope["headers"]).get(b"accept", b"")
    if status == 401 and scope["type"] == "http" and b"text/html" in accept:
        page = (
            b"<!doctype html><meta charset=utf-8><title>Preview unavailable</title>"
            b"<body style='font-family:system-ui;margin:3rem'><h1>Preview unavailable</h1>"
            b"<p>This preview link is missing, expired or revoked. Ask for a new link, or "
            b"open the preview again from the console (what Open gives lasts 15 minutes "
            b"and ends when you sign out).</p>"
        )
        headers = [
            (b"content-type", b"text/html; charset=utf-8"),
            (b"content-length", str(len(page)).encode()),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": page})
        return
    await reject(scope, send, status, message)
