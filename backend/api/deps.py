"""Dependencies shared by the routers: the services, database session, principal, ids,
JSON bodies."""

from __future__ import annotations

import inspect
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Path, Request
from pydantic import ValidationError
from sqlmodel import Session
from starlette.requests import HTTPConnection

from backend.artifacts.content import ArtifactContent
from backend.auth.models import Principal
from backend.db import Database
from backend.errors import InvalidInput, ServiceError, TooLarge
from backend.inventory.service import RuntimeInventory
from backend.runtime.base import RuntimeAdapter
from backend.sandboxes.files import WorkspaceFiles
from backend.sandboxes.runtime_access import RuntimeAccess
from backend.schemas import RequestModel
from backend.services import Services
from backend.sessions.terminals import TerminalHub
from backend.settings import Settings
from backend.tasks.output import OutputStore
from backend.validation import describe_errors, nul_path, parse_uuid

ModelT = TypeVar("ModelT", bound=RequestModel)
INVALID_BODY = "invalid JSON request body"


class NotJson(ServiceError):
    """A body sent as anything but JSON. Forms and text/plain are what another site can
    make a browser send without asking (no CORS preflight), so they are never parsed."""

    status_code = 415
    default_message = "request body must be JSON (Content-Type: application/json)"


def is_json_media_type(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def get_services(connection: HTTPConnection) -> Services:
    """The services the app was built with (HTTP and WebSocket routes alike)."""
    return connection.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def _service(name: str) -> Callable[[Services], Any]:
    def one(services: ServicesDep) -> Any:
        return getattr(services, name)

    return one


SettingsDep = Annotated[Settings, Depends(_service("settings"))]
DatabaseDep = Annotated[Database, Depends(_service("database"))]
RuntimeDep = Annotated[RuntimeAdapter, Depends(_service("runtime"))]
ArtifactsDep = Annotated[ArtifactContent, Depends(_service("artifacts"))]
FilesDep = Annotated[WorkspaceFiles, Depends(_service("files"))]
RuntimeAccessDep = Annotated[RuntimeAccess, Depends(_service("runtime_access"))]
TaskOutputDep = Annotated[OutputStore, Depends(_service("task_output"))]
TerminalsDep = Annotated[TerminalHub, Depends(_service("terminals"))]
InventoryDep = Annotated[RuntimeInventory, Depends(_service("inventory"))]


def get_principal(connection: HTTPConnection) -> Principal:
    return connection.scope["state"]["principal"]


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_db(services: ServicesDep, connection: HTTPConnection) -> Iterator[Session]:
    """A database session for the request: a project-scoped principal's sees only its
    projects' rows (backend/auth/access.py)."""
    principal = connection.scope.get("state", {}).get("principal")
    with services.database.session(principal.projects if principal else None) as db:
        yield db


DbDep = Annotated[Session, Depends(get_db)]


def _path_id(name: str, thing: str) -> Callable[..., uuid.UUID]:
    """A dependency that reads the path parameter `name` (the contract's spelling, e.g.
    projectID) and parses it as a UUID, answering 400 `invalid <thing> id` otherwise."""

    def parse(**params: str) -> uuid.UUID:
        return parse_uuid(params[name], f"invalid {thing} id")

    # FastAPI reads parameters from the signature: declare the one path parameter by name.
    parameter = inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[str, Path(json_schema_extra={"format": "uuid"})],
    )
    parse.__signature__ = inspect.Signature([parameter])  # type: ignore[attr-defined]
    return parse


ProjectId = Annotated[uuid.UUID, Depends(_path_id("projectID", "project"))]
TemplateId = Annotated[uuid.UUID, Depends(_path_id("templateID", "template"))]
SandboxId = Annotated[uuid.UUID, Depends(_path_id("sandboxID", "sandbox"))]
TaskId = Annotated[uuid.UUID, Depends(_path_id("taskID", "task"))]
RuntimeSessionId = Annotated[uuid.UUID, Depends(_path_id("sessionID", "session"))]
ArtifactId = Annotated[uuid.UUID, Depends(_path_id("artifactID", "artifact"))]
TokenId = Annotated[uuid.UUID, Depends(_path_id("tokenID", "token"))]
CredentialId = Annotated[uuid.UUID, Depends(_path_id("credentialID", "credential"))]


def json_body(model: type[ModelT], *, optional: bool = False) -> Callable[..., Any]:
    """Read a bounded JSON body and validate it strictly: unknown fields and wrong types are a
    400 `invalid JSON request body` whose `detail` says which field and why. An `optional`
    body may be empty (all defaults)."""

    async def parse(request: Request) -> ModelT:
        raw = await _read_bounded(request)
        if optional and not raw.strip():
            return model()
        if raw.strip() and not is_json_media_type(request.headers.get("content-type")):
            raise NotJson()
        try:
            document = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            reason = "empty body" if not raw.strip() else f"malformed JSON: {exc}"
            raise InvalidInput(INVALID_BODY, reason=reason) from None
        if not isinstance(document, dict):
            raise InvalidInput(INVALID_BODY, reason="the body must be a JSON object")
        nul = nul_path(document)  # Postgres cannot store U+0000: refused on both databases
        if nul is not None:
            reason = f"{nul} cannot contain NUL characters"
            raise InvalidInput(INVALID_BODY, reason=reason, field=nul)
        for field in getattr(model, "server_owned", ()):
            if field in document:
                raise InvalidInput(f"{field} is managed by the server and cannot be set by clients")
        try:
            return model.model_validate(document)
        except ValidationError as exc:
            reason, field = describe_errors(exc.errors(include_url=False))
            where = {"field": field} if field else {}
            raise InvalidInput(INVALID_BODY, reason=reason, **where) from None

    return parse


async def _read_bounded(request: Request) -> bytes:
    limit = request.app.state.services.settings.max_request_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"request body is larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"request body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def Body(model: type[ModelT], *, optional: bool = False) -> Any:  # noqa: N802 - like FastAPI's
    return Depends(json_body(model, optional=optional))
