"""E2B's control plane (`POST /v2/sandboxes`, `GET /sandboxes/{id}`, ...) over mbox's
sandbox services, in E2B's shapes: the SDK's models, its status codes (a create is 201,
a kill of an unknown sandbox 404) and errors as `{"code": int, "message": str}`.

An E2B sandbox is an mbox sandbox: its id is the sandbox's UUID, its template an mbox
template (`base` and `code-interpreter-v1` are built-ins), its timeout the sandbox's lease
and pausing stops it (the workspace is kept; a paused sandbox resumes by starting).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session, col, select

from backend.api import waits
from backend.auth import sandbox_access
from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PolicyDenied,
    RuntimeFailed,
    ServiceError,
)
from backend.idempotency import service as idempotency
from backend.metrics import service as metrics
from backend.projects.models import ProjectRow
from backend.quantities import quantity_value
from backend.sandboxes import lifetime
from backend.sandboxes import service as sandboxes
from backend.sandboxes.lifetime import SandboxRenew
from backend.sandboxes.models import SandboxCreate, SandboxRow
from backend.sandboxes.previews import PreviewDomain
from backend.services import Services
from backend.templates.models import TemplateRow
from backend.validation import slugify

log = logging.getLogger("mbox.e2b")
ENVD_VERSION = "0.5.7"  # the highest envd whose features mbox implements (docs/e2b.md)
CLIENT_ID = "mbox"
DEFAULT_TIMEOUT = 300  # seconds, E2B's
MAX_TIMEOUT = lifetime.MAX_LEASE_SECONDS
# E2B's own template names, for the mbox built-ins that play them.
TEMPLATE_ALIASES = {"base": "python", "code-interpreter-v1": "code-interpreter"}
STATES = {"running": "running", "stopped": "paused"}
MAX_LIST = 100
IDEMPOTENCY_KEY = re.compile(r"[a-z0-9-]{1,255}")


class NewSandbox(BaseModel):
    """`NewSandboxV2` (and v1's `NewSandbox`): what mbox uses of it; the rest (autoPause,
    network, mcp, ...) is accepted and ignored, see docs/e2b.md."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    template_id: str = Field(alias="templateID", min_length=1, max_length=200)
    timeout: int = Field(default=DEFAULT_TIMEOUT, ge=1, le=MAX_TIMEOUT)
    metadata: dict[str, str] | None = None
    env_vars: dict[str, str] | None = Field(default=None, alias="envVars")


class Timeout(BaseModel):
    timeout: int = Field(ge=1, le=MAX_TIMEOUT)


# E2B's routes (v1 and v2 spellings alike) and what serves them.
ROUTES = (
    ("POST", ("/v2/sandboxes", "/sandboxes"), "create"),
    ("GET", ("/v2/sandboxes", "/sandboxes"), "list"),
    ("GET", ("/sandboxes/{sandbox_id}",), "get"),
    ("DELETE", ("/sandboxes/{sandbox_id}",), "kill"),
    ("POST", ("/sandboxes/{sandbox_id}/timeout",), "set_timeout"),
    ("POST", ("/v2/sandboxes/{sandbox_id}/connect", "/sandboxes/{sandbox_id}/connect"), "connect"),
    ("POST", ("/sandboxes/{sandbox_id}/resume",), "connect"),
    ("POST", ("/sandboxes/{sandbox_id}/pause",), "pause"),
    ("GET", ("/sandboxes/{sandbox_id}/metrics",), "metrics"),
)


def control_app(services: Services) -> FastAPI:
    """The control plane's routes (the edge authenticated the caller first)."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    plane = ControlPlane(services)
    for method, paths, name in ROUTES:
        for path in paths:
            app.add_api_route(path, getattr(plane, name), methods=[method])
    app.add_api_route("/{path:path}", _unsupported, methods=["GET", "POST", "PUT", "DELETE"])

    @app.exception_handler(ServiceError)
    async def refused(_request: Request, exc: ServiceError) -> JSONResponse:
        return error(_status(exc), exc.message)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled E2B control-plane error")
        return error(500, "internal server error")

    return app


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"code": status, "message": message}, status_code=status)


def _status(exc: ServiceError) -> int:
    """E2B's SDK names a few statuses: 429 is its RateLimitException (a quota, or too many
    sandboxes), 404 a missing sandbox, 401 a bad key."""
    if isinstance(exc, PolicyDenied) and any(rule.limit is not None for rule in exc.rules):
        return 429
    return exc.status_code


async def _unsupported(path: str) -> JSONResponse:
    return error(404, f"/{path} is not supported by mbox's E2B API (see docs/e2b.md)")


class ControlPlane:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._database = services.database
        self._settings = services.settings

    async def create(self, request: Request) -> JSONResponse:
        principal = _principal(request)
        data = await _body(request, NewSandbox)
        key = request.headers.get("idempotency-key")
        claim = await self._claim(principal, key, await request.body()) if key else None
        if claim is not None and claim.outcome == "replay":
            sandbox_id = uuid.UUID(claim.body["sandboxID"])
        else:
            sandbox_id = await self._create(principal, data, claim)
        row = await self._until_running(principal, sandbox_id)
        return JSONResponse(self._sandbox(principal, row, data.template_id), status_code=201)

    async def _create(
        self, principal: Principal, data: NewSandbox, claim: idempotency.Begun | None
    ) -> uuid.UUID:
        try:
            sandbox_id = await self._database.call(
                _create, principal, data, self._settings.e2b_project
            )
        except BaseException:
            if claim is not None:  # refused or failed: a retry runs again
                await self._database.call(idempotency.discard, record_id=claim.record_id)
            raise
        if claim is not None:  # the sandbox's id only: a replay mints its own token
            kept = {"sandboxID": sandbox_id.hex}
            await self._database.call(
                idempotency.complete, record_id=claim.record_id, status_code=201, body=kept
            )
        self._services.processes.set_env(sandbox_id, data.env_vars or {})
        return sandbox_id

    async def _claim(self, principal: Principal, key: str, raw: bytes) -> idempotency.Begun:
        """E2B's `Idempotency-Key` (the SDK's `idempotency_key=`): a retried create gets
        the sandbox the first one made, per caller, for 24 hours."""
        if not IDEMPOTENCY_KEY.fullmatch(key):
            raise InvalidInput("Idempotency-Key must be 1..255 lowercase letters, digits or -")
        claim = await self._database.call(
            idempotency.begin,
            subject=principal.subject,
            key=f"e2b:{key}",
            method="POST",
            path="/v2/sandboxes",
            request_sha256=hashlib.sha256(raw).hexdigest(),
        )
        if claim.outcome == "in_progress":
            raise Conflict("a create with this Idempotency-Key is still running")
        if claim.outcome == "mismatch":
            raise InvalidInput("this Idempotency-Key was used for a different create")
        return claim

    async def connect(self, request: Request, sandbox_id: str) -> JSONResponse:
        principal = _principal(request)
        data = await _body(request, ConnectBody, optional=True)
        row = await self._database.call(_resume, principal, _id(sandbox_id), data.timeout)
        row = await self._until_running(principal, row.id)
        alias = await self._database.read(_alias, row)
        status = 201 if request.url.path.endswith("/resume") else 200
        return JSONResponse(self._sandbox(principal, row, alias), status_code=status)

    async def get(self, request: Request, sandbox_id: str) -> JSONResponse:
        principal = _principal(request)
        row, template = await self._database.read(_detail, principal, _id(sandbox_id))
        return JSONResponse({**_listed(row, template), **self._access(principal, row)})

    async def list(self, request: Request) -> JSONResponse:
        principal = _principal(request)
        query = request.query_params
        limit = _limit(query.get("limit"))
        after = _cursor(query.get("nextToken"))
        states = {s for s in (query.get("state") or "").split(",") if s}
        wanted = _metadata_filter(query.get("metadata"))
        rows = await self._database.read(_listing, principal, after, limit + 1, states, wanted)
        page = rows[:limit]
        headers = {"X-Next-Token": _next_cursor(page[-1][0])} if len(rows) > limit else {}
        return JSONResponse([_listed(row, template) for row, template in page], headers=headers)

    async def kill(self, request: Request, sandbox_id: str) -> Response:
        principal = _principal(request)
        await self._database.call(
            sandboxes.delete_sandbox, principal=principal, sandbox_id=_id(sandbox_id)
        )
        self._services.processes.forget(_id(sandbox_id))
        return Response(status_code=204)

    async def set_timeout(self, request: Request, sandbox_id: str) -> Response:
        principal = _principal(request)
        data = await _body(request, Timeout)
        await self._database.call(_renew, principal, _id(sandbox_id), data.timeout)
        return Response(status_code=204)

    async def pause(self, request: Request, sandbox_id: str) -> Response:
        principal = _principal(request)
        await self._database.call(_pause, principal, _id(sandbox_id))
        return Response(status_code=204)

    async def metrics(self, request: Request, sandbox_id: str) -> JSONResponse:
        principal = _principal(request)
        window = self._settings.metrics_retention_seconds
        found = await self._database.read(
            metrics.sandbox_metrics,
            principal=principal,
            sandbox_id=_id(sandbox_id),
            window_seconds=window,
            settings=self._settings,
        )
        return JSONResponse([_metric(sample) for sample in found.samples])

    async def _until_running(self, principal: Principal, sandbox_id: uuid.UUID) -> SandboxRow:
        """The sandbox once it runs: E2B's SDK talks to envd as soon as create answers."""

        async def load() -> SandboxRow:
            return await self._database.read(
                sandboxes.operable, principal, sandbox_id, Permission.READ
            )

        with waits.watching("sandboxes", "sandbox-status") as wakeup:
            row = await load()
            row = await waits.until(
                wakeup,
                row,
                seconds=self._settings.e2b_start_timeout_seconds,
                key=str(sandbox_id),
                done=lambda row: row.status in ("running", "failed", "stopped"),
                load=load,
            )
        if row.status != "running":
            why = row.status_message or row.status_reason or row.status
            raise RuntimeFailed(f"sandbox {row.id} did not start: {why}")
        return row

    def _sandbox(self, principal: Principal, row: SandboxRow, alias: str) -> dict[str, Any]:
        return {
            "templateID": alias,
            "sandboxID": row.id.hex,
            "clientID": CLIENT_ID,
            "envdVersion": ENVD_VERSION,
            **self._access(principal, row),
        }

    def _access(self, principal: Principal, row: SandboxRow) -> dict[str, Any]:
        """The caller's access token for envd, and for the sandbox's ports on the preview
        origin, whose domain makes the SDK's `get_host(port)` that port's preview origin
        (`{port}-{sandboxID}.{domain}`)."""
        token = sandbox_access.issue(self._settings, principal, row.id)
        preview = PreviewDomain.of(self._settings)
        domain = f"{preview.host}:{preview.port}" if preview.port else preview.host
        return {"envdAccessToken": token, "trafficAccessToken": token, "domain": domain}


class ConnectBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    timeout: int | None = Field(default=None, ge=1, le=MAX_TIMEOUT)


def _principal(request: Request) -> Principal:
    return request.scope["state"]["principal"]


async def _body(request: Request, model: type[Any], *, optional: bool = False) -> Any:
    raw = await request.body()
    if optional and not raw.strip():
        return model()
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "body"
        raise InvalidInput(f"{where}: {first.get('msg', 'invalid')}") from None


def _id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise NotFound(f"sandbox {text} not found") from None


# -- what each call does, in one database transaction ----------------------------------


def _create(
    db: Session, principal: Principal, data: NewSandbox, configured_project: str
) -> uuid.UUID:
    project = _project(db, principal, configured_project)
    template = _template(db, project, data.template_id)
    name = f"e2b-{data.template_id.rsplit('/', 1)[-1].split(':')[0]}"[:40]
    slug = f"{slugify(name)}-{uuid.uuid4().hex[:8]}"
    metadata = {"e2b": {"templateID": data.template_id, "metadata": data.metadata or {}}}
    request = SandboxCreate.model_validate({
        "projectId": str(project.id), "templateId": str(template.id), "name": name,
        "slug": slug, "metadata": metadata,
    })  # fmt: skip
    row = sandboxes.create_sandbox(db, principal=principal, data=request)
    lifetime.renew(db, principal=principal, sandbox_id=row.id, data=_lease(data.timeout))
    return row.id


def _lease(seconds: int) -> SandboxRenew:
    return SandboxRenew.model_validate({"ttlSeconds": seconds})


def _project(db: Session, principal: Principal, configured: str) -> ProjectRow:
    """The token's one project, else the configured one, else the only project there is."""
    if principal.projects is not None and len(principal.projects) == 1:
        (only,) = principal.projects
        return _found_project(db.get(ProjectRow, only), str(only))
    if configured:
        query = select(ProjectRow).where(ProjectRow.slug == configured)
        row = db.exec(query).first()
        if row is None:
            try:
                row = db.get(ProjectRow, uuid.UUID(configured))
            except ValueError:
                row = None
        return _found_project(row, configured)
    rows = list(db.exec(select(ProjectRow).limit(2)))
    if len(rows) == 1:
        return rows[0]
    raise InvalidInput(
        "which project? use an API key scoped to one project, or set MBOX_E2B_PROJECT"
    )


def _found_project(row: ProjectRow | None, name: str) -> ProjectRow:
    if row is None:
        raise NotFound(f"project {name} not found (MBOX_E2B_PROJECT or the key's scope)")
    return row


def _template(db: Session, project: ProjectRow, template_id: str) -> TemplateRow:
    """An E2B template name as an mbox template of the project (or a global one): by id,
    by slug (E2B's `team/name:tag` by its name), or a built-in by E2B's name."""
    name = template_id.rsplit("/", 1)[-1].split(":", 1)[0]
    slug = TEMPLATE_ALIASES.get(name, name)
    visible = (TemplateRow.project_id == project.id) | col(TemplateRow.project_id).is_(None)
    try:
        by_id = db.get(TemplateRow, uuid.UUID(template_id))
    except ValueError:
        by_id = None
    if by_id is not None and by_id.project_id in (None, project.id):
        return by_id
    query = select(TemplateRow).where(visible, TemplateRow.slug == slug)
    query = query.order_by(col(TemplateRow.project_id).is_(None))  # the project's first
    row = db.exec(query).first()
    if row is None:
        raise NotFound(f"template '{template_id}' not found")
    return row


def _resume(
    db: Session, principal: Principal, sandbox_id: uuid.UUID, timeout: int | None
) -> SandboxRow:
    sandbox = sandboxes.operable(db, principal, sandbox_id)
    if sandbox.status == "stopped":
        sandbox = sandboxes.start_sandbox(db, principal=principal, sandbox_id=sandbox_id)
    if timeout is not None:
        lifetime.renew(db, principal=principal, sandbox_id=sandbox_id, data=_lease(timeout))
    return sandbox


def _renew(db: Session, principal: Principal, sandbox_id: uuid.UUID, seconds: int) -> None:
    lifetime.renew(db, principal=principal, sandbox_id=sandbox_id, data=_lease(seconds))


def _pause(db: Session, principal: Principal, sandbox_id: uuid.UUID) -> None:
    sandbox = sandboxes.operable(db, principal, sandbox_id)
    if sandbox.status == "stopped" or sandbox.desired_state == "stopped":
        raise Conflict(f"sandbox {sandbox_id} is already paused")
    sandboxes.stop_sandbox(db, principal=principal, sandbox_id=sandbox_id)


def _alias(db: Session, row: SandboxRow) -> str:
    given = (
        ((row.meta or {}).get("e2b") or {}).get("templateID")
        if isinstance(row.meta, dict)
        else None
    )
    if given:
        return given
    template = db.get(TemplateRow, row.template_id) if row.template_id else None
    return template.slug if template else ""


def _detail(
    db: Session, principal: Principal, sandbox_id: uuid.UUID
) -> tuple[SandboxRow, TemplateRow | None]:
    row = sandboxes.operable(db, principal, sandbox_id, Permission.READ)
    return row, db.get(TemplateRow, row.template_id) if row.template_id else None


def _listing(
    db: Session,
    principal: Principal,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
    states: set[str],
    wanted: Mapping[str, str],
) -> list[tuple[SandboxRow, TemplateRow | None]]:
    """The caller's live sandboxes, newest first, from after the cursor."""
    query = select(SandboxRow, TemplateRow).join(
        TemplateRow, col(SandboxRow.template_id) == col(TemplateRow.id), isouter=True
    )
    query = query.where(col(SandboxRow.deleted_at).is_(None))
    if principal.projects is not None:
        query = query.where(col(SandboxRow.project_id).in_(principal.projects))
    if after is not None:
        created, last = after
        query = query.where(
            (col(SandboxRow.created_at) < created)
            | ((col(SandboxRow.created_at) == created) & (col(SandboxRow.id) < last))
        )
    query = query.order_by(col(SandboxRow.created_at).desc(), col(SandboxRow.id).desc())
    found = []
    for row, template in db.exec(query):
        if states and _state(row) not in states:
            continue
        if any(_user_metadata(row).get(k) != v for k, v in wanted.items()):
            continue
        found.append((row, template))
        if len(found) >= limit:
            break
    return found


# -- E2B's shapes ------------------------------------------------------------------------


def _listed(row: SandboxRow, template: TemplateRow | None) -> dict[str, Any]:
    e2b = (row.meta or {}).get("e2b", {}) if isinstance(row.meta, dict) else {}
    started = row.started_at or row.created_at
    return {
        "templateID": e2b.get("templateID") or (template.slug if template else ""),
        "alias": template.slug if template else None,
        "sandboxID": row.id.hex,
        "clientID": CLIENT_ID,
        "startedAt": _time(started),
        "endAt": _time(row.expires_at or started + timedelta(days=3650)),
        "cpuCount": _cpus(template),
        "memoryMB": _megabytes(template.memory_request if template else ""),
        "diskSizeMB": _megabytes(template.storage_request if template else ""),
        "state": _state(row),
        "envdVersion": ENVD_VERSION,
        "metadata": _user_metadata(row),
    }


def _user_metadata(row: SandboxRow) -> dict[str, str]:
    e2b = (row.meta or {}).get("e2b", {}) if isinstance(row.meta, dict) else {}
    return dict(e2b.get("metadata") or {})


def _state(row: SandboxRow) -> str:
    return STATES.get(row.status, "paused" if row.desired_state == "stopped" else "running")


def _cpus(template: TemplateRow | None) -> int:
    value = quantity_value(template.cpu_request) if template else None
    return max(1, int(value)) if value else 1


def _megabytes(text: str) -> int:
    value = quantity_value(text) if text else None
    return int(value / (1024 * 1024)) if value else 0


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _metric(sample: Any) -> dict[str, Any]:
    at = sample.at
    limit = sample.cpu_limit_millicores or 1000
    return {
        "timestamp": _time(at),
        "timestampUnix": int(at.timestamp()),
        "cpuCount": max(1, limit // 1000),
        "cpuUsedPct": round(100 * (sample.cpu_millicores or 0.0) / limit, 2),
        "memUsed": sample.memory_bytes or 0,
        "memTotal": sample.memory_limit_bytes or 0,
        "memCache": 0,
        "diskUsed": sample.disk_bytes or 0,
        "diskTotal": sample.disk_limit_bytes or 0,
    }


def _limit(text: str | None) -> int:
    if not text:
        return MAX_LIST
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIST:
        raise InvalidInput(f"limit must be 1..{MAX_LIST}")
    return int(text)


def _cursor(token: str | None) -> tuple[datetime, uuid.UUID] | None:
    if not token:
        return None
    try:
        created, _, last = base64.urlsafe_b64decode(token.encode()).decode().partition("|")
        return datetime.fromisoformat(created), uuid.UUID(last)
    except ValueError:
        raise InvalidInput("nextToken is not a token this server gave") from None


def _next_cursor(row: SandboxRow) -> str:
    return base64.urlsafe_b64encode(f"{row.created_at.isoformat()}|{row.id}".encode()).decode()


def _metadata_filter(text: str | None) -> dict[str, str]:
    return dict(parse_qsl(text or ""))
