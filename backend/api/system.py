"""System routes: health, capability manifest, OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import SerializerFunctionWrapHandler, model_serializer

from backend.api.deps import DatabaseDep, RuntimeDep, SettingsDep
from backend.api.openapi import build_openapi, returns
from backend.db import check_database
from backend.engines import health as engine_health
from backend.runtime.base import RuntimeAdapter
from backend.schemas import PublicModel
from backend.settings import API_VERSION, Settings

router = APIRouter(tags=["system"])

# In the reference's order; only what this server really implements is reported.
CAPABILITIES = [
    "projects",
    "openapi",
    "project-usage",
    "audit-events",
    "audit-attribution",
    "project-policies",
    "project-quota-policies",
    "project-credential-references",
    "templates",
    "template-validation-runs",
    "boundary-summaries",
    "sandboxes",
    "sandbox-lifecycle",
    "runtime-sessions",
    "execution-tasks",
    "task-events",
    "preview-ports",
    "artifacts",
    "artifact-retained-content",
    "artifact-client-upload",
    "lifecycle-ttl",
    "project-delete-cleanup-guard",
    "runtime-orphan-audit",
    "runtime-orphan-cleanup",
]


class EngineState(PublicModel):
    """Beyond the reference: an engine's last failure and its time, both null when fine."""

    last_error: str | None = None
    last_error_at: datetime | None = None

    @model_serializer(mode="wrap")
    def _with_nulls(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {"lastError": None, "lastErrorAt": None} | handler(self)


def engine_states() -> dict[str, EngineState]:
    return {
        name: EngineState(last_error=error, last_error_at=at)
        for name, (error, at) in engine_health.report().items()
    }


class Health(PublicModel):
    status: str
    error: str | None = None
    engines: dict[str, EngineState] | None = None


class RuntimeInfo(PublicModel):
    enabled: bool
    adapter: str | None = None
    # Beyond the reference: why the runtime is unavailable, and how it isolates and limits.
    message: str | None = None
    details: dict[str, str] | None = None


class ArtifactInfo(PublicModel):
    retained_content_enabled: bool
    storage_provider: str
    max_bytes: int


class Compatibility(PublicModel):
    minimum_cli_api_version: str
    minimum_sdk_api_version: str


class APIInfo(PublicModel):
    name: str
    api_version: str
    server_version: str
    runtime_controller: RuntimeInfo
    runtime_access: RuntimeInfo
    artifact_content: ArtifactInfo
    capabilities: list[str]
    compatibility: Compatibility
    authentication_required: bool
    engines: dict[str, EngineState] | None = None


def api_info(settings: Settings, runtime: RuntimeAdapter, *, host_details: bool = True) -> APIInfo:
    """The manifest. Without `host_details` (an anonymous caller on a server that has a
    token), only what a client checks compatibility with: how the runtime is set up on
    this host (uids, whether the server is root, why it is unavailable) is left out."""
    described = runtime.describe()
    runtime_info = RuntimeInfo(enabled=described.available, adapter=described.adapter)
    if host_details:
        runtime_info = runtime_info.model_copy(
            update={"message": described.message or None, "details": dict(described.details)}
        )
    return APIInfo(
        name="mbox",
        api_version=API_VERSION,
        server_version=settings.server_version,
        runtime_controller=runtime_info,
        runtime_access=runtime_info,
        artifact_content=ArtifactInfo(
            retained_content_enabled=True,
            storage_provider=settings.artifact_content_backend,
            max_bytes=settings.artifact_content_max_bytes,
        ),
        capabilities=CAPABILITIES,
        compatibility=Compatibility(
            minimum_cli_api_version=API_VERSION, minimum_sdk_api_version=API_VERSION
        ),
        authentication_required=settings.auth_required,
        engines=engine_states() if host_details else None,
    )


def _known(request: Request) -> bool:
    """Whether the caller may see this host's details (authenticated, or no token set)."""
    return request.scope.get("state", {}).get("principal") is not None


@router.get("/healthz", responses=returns(Health))
def healthz(request: Request, database: DatabaseDep) -> JSONResponse:
    """Liveness and readiness: answers 503 when the database cannot be reached. The engines'
    last errors are a detail for authenticated callers; they never change the status."""
    engines = engine_states() if _known(request) else None
    try:
        check_database(database.engine)
    except Exception:
        body = Health(status="unavailable", error="database is unreachable", engines=engines)
        return JSONResponse(body.to_json(), status_code=503)
    return JSONResponse(Health(status="ok", engines=engines).to_json())


@router.get("/v1/info", responses=returns(APIInfo))
def info(request: Request, settings: SettingsDep, runtime: RuntimeDep) -> JSONResponse:
    """Public; the runtime's host details and the engines' errors only for an
    authenticated caller."""
    found = api_info(settings, runtime, host_details=_known(request))
    return JSONResponse(found.to_json())


@router.get("/v1/openapi.json", responses={200: {"description": "OpenAPI 3.1 document"}})
def openapi(request: Request) -> JSONResponse:
    return JSONResponse(build_openapi(request.app, server_url=str(request.base_url)))
