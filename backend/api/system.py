"""System routes: health, capability manifest, OpenAPI document."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from backend.api.openapi import build_openapi, returns
from backend.db import check_database
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
]


class Health(PublicModel):
    status: str
    error: str | None = None


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
    )


@router.get("/healthz", responses=returns(Health))
def healthz(request: Request) -> JSONResponse:
    """Liveness and readiness: answers 503 when the database cannot be reached."""
    try:
        check_database(request.app.state.database.engine)
    except Exception:
        body = Health(status="unavailable", error="database is unreachable")
        return JSONResponse(body.to_json(), status_code=503)
    return JSONResponse(Health(status="ok").to_json())


@router.get("/v1/info", responses=returns(APIInfo))
def info(request: Request) -> JSONResponse:
    """Public; the runtime's host details only for an authenticated caller."""
    known = request.scope.get("state", {}).get("principal") is not None
    found = api_info(request.app.state.settings, request.app.state.runtime, host_details=known)
    return JSONResponse(found.to_json())


@router.get("/v1/openapi.json", responses={200: {"description": "OpenAPI 3.1 document"}})
def openapi(request: Request) -> JSONResponse:
    return JSONResponse(build_openapi(request.app, server_url=str(request.base_url)))
