"""Where E2B's requests enter: one origin serves the control plane and every sandbox's
envd, as E2B's own `sandbox.<domain>` edge does (point `E2B_API_URL` and
`E2B_SANDBOX_URL` at the server).

- A request naming a sandbox (`E2b-Sandbox-Id`) goes to that sandbox's envd (port 49983)
  or code interpreter (49999), once its `X-Access-Token` proves a caller for it.
- A request for the control plane's paths with an `X-API-KEY` (any `/v2/sandboxes...`, or
  `/sandboxes...` with a key or a write) goes to the control plane, the key being an mbox
  API token. A browser on another site cannot send either header without a CORS
  preflight, which the web guard refuses.
- Everything else (the console's own /sandboxes pages among it) passes through.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from urllib.parse import parse_qs

from sqlmodel import Session
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.auth import sandbox_access
from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.auth.service import authenticate, is_named_token, principal_of_token
from backend.e2b.control import control_app
from backend.e2b.envd.caller import DEFAULT_USER, Caller, calling
from backend.e2b.envd.files import files_app
from backend.e2b.envd.filesystem import filesystem_app
from backend.e2b.envd.process import process_app
from backend.e2b.interpreter import interpreter_app
from backend.errors import ServiceError
from backend.sandboxes import service as sandboxes
from backend.services import Services
from backend.settings import Settings

ENVD_PORT = "49983"
INTERPRETER_PORT = "49999"


class E2BEdge:
    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services
        self.control = control_app(services)
        self.process = process_app(services)
        self.filesystem = filesystem_app(services)
        self.files = files_app(services)
        self.interpreter = interpreter_app(services)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if "e2b-sandbox-id" in headers:
            await self._sandbox(scope, receive, send, headers)
        elif _is_control_plane(scope, headers):
            await self._control(scope, receive, send, headers)
        else:
            await self.app(scope, receive, send)

    async def _control(self, scope: Scope, receive: Receive, send: Send, headers: Headers) -> None:
        principal = await self._api_key(headers.get("x-api-key", ""))
        if principal is None:
            await _error(401, "Invalid API key: use an mbox API token")(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal.with_labels(source="e2b-api")
        await self.control(scope, receive, send)

    async def _api_key(self, key: str) -> Principal | None:
        principal = authenticate(self.services.settings, f"Bearer {key.strip()}")
        if principal is None and is_named_token(key.strip()):
            principal = await self.services.database.call(principal_of_token, key.strip())
        return principal

    async def _sandbox(self, scope: Scope, receive: Receive, send: Send, headers: Headers) -> None:
        port = headers.get("e2b-sandbox-port", ENVD_PORT)
        try:
            sandbox_id = uuid.UUID(headers["e2b-sandbox-id"])
        except ValueError:
            await _not_found(headers["e2b-sandbox-id"])(scope, receive, send)
            return
        # The code interpreter's context calls carry only the traffic access token: the
        # same kind of token, for the same caller and sandbox.
        token = headers.get("x-access-token") or headers.get("e2b-traffic-access-token", "")
        principal, running = await self.services.database.call(
            _admit, self.services.settings, token, sandbox_id
        )
        if principal is None:
            await _error(401, "invalid or missing X-Access-Token for this sandbox")(
                scope, receive, send
            )
            return
        user = _user(headers, scope)
        if user != DEFAULT_USER:  # one user per sandbox: envd's other users are not there
            message = f"user {user[:64]!r} is not available: mbox sandboxes have one user, 'user'"
            await _refusal(scope, 403, "permission_denied", message)(scope, receive, send)
            return
        if not running:  # the SDK's words for a sandbox gone: SandboxNotRunning / is_running
            await _not_found(str(sandbox_id))(scope, receive, send)
            return
        caller = Caller(principal.with_labels(source="e2b-envd"), sandbox_id, user)
        with calling(caller):
            await self._envd(port, scope, receive, send)

    async def _envd(self, port: str, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if port == INTERPRETER_PORT:
            await self.interpreter(scope, receive, send)
        elif port != ENVD_PORT:
            message = f"The sandbox is running but port {port} is not open"
            await _error(502, message)(scope, receive, send)
        elif path == "/health":
            await Response(status_code=204)(scope, receive, send)
        elif path == "/files":
            await self.files(scope, receive, send)
        elif path.startswith("/process.Process/"):
            await self.process(scope, receive, send)
        elif path.startswith("/filesystem.Filesystem/"):
            await self.filesystem(scope, receive, send)
        else:
            await _error(404, f"{path} is not an envd path")(scope, receive, send)


def _admit(
    db: Session, settings: Settings, token: str, sandbox_id: uuid.UUID
) -> tuple[Principal | None, bool]:
    """Whom the access token lets act on the sandbox, and whether it runs (for them)."""
    principal = sandbox_access.principal_of(db, settings, token, sandbox_id)
    if principal is None:
        return None, False
    try:
        sandbox = sandboxes.operable(db, principal, sandbox_id, Permission.READ)
    except ServiceError:
        return principal, False
    return principal, sandbox.status == "running"


def _is_control_plane(scope: Scope, headers: Headers) -> bool:
    path = scope["path"]
    if path.startswith("/v2/sandboxes"):
        return True
    if path != "/sandboxes" and not path.startswith("/sandboxes/"):
        return False
    return "x-api-key" in headers or scope["method"] not in ("GET", "HEAD")


def _user(headers: Headers, scope: Scope) -> str:
    """E2B's `user=`: Basic auth's user name on RPCs, `username=` on /files."""
    authorization = headers.get("authorization", "")
    if authorization.startswith("Basic "):
        try:
            decoded = base64.b64decode(authorization[6:], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[0]
    query = parse_qs(scope.get("query_string", b"").decode(errors="replace"))
    return (query.get("username") or [DEFAULT_USER])[0] or DEFAULT_USER


def _error(status: int, message: str) -> Response:
    return JSONResponse({"code": status, "message": message}, status_code=status)


def _refusal(scope: Scope, status: int, code: str, message: str) -> Response:
    """In the Connect protocol's error shape for RPCs, else in envd's."""
    if scope["path"].startswith(("/process.Process/", "/filesystem.Filesystem/")):
        return JSONResponse({"code": code, "message": message}, status_code=status)
    return _error(status, message)


def _not_found(sandbox_id: str) -> Response:
    return _error(502, f"The sandbox {sandbox_id[:64]} was not found")
