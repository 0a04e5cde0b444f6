"""Runtime session routes: list and create a sandbox's sessions, get, end, recording."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse

from backend.api.deps import (
    Body,
    DbDep,
    PrincipalDep,
    RuntimeSessionId,
    SandboxId,
    SettingsDep,
)
from backend.api.openapi import body, returns, returns_list
from backend.api.responses import PageLimit, page, public
from backend.sessions import service as sessions
from backend.sessions.models import RuntimeSession, RuntimeSessionCreate

router = APIRouter(tags=["sessions"])


@router.get("/v1/sandboxes/{sandboxID}/sessions", responses=returns_list(RuntimeSession))
def list_sessions(db: DbDep, sandbox_id: SandboxId, limit: PageLimit) -> JSONResponse:
    return page(sessions.list_sessions(db, sandbox_id=sandbox_id, limit=limit + 1), limit)


@router.post(
    "/v1/sandboxes/{sandboxID}/sessions",
    status_code=201,
    responses=returns(RuntimeSession, 201),
    openapi_extra=body(RuntimeSessionCreate),
)
def create_session(
    request: Request,
    db: DbDep,
    principal: PrincipalDep,
    sandbox_id: SandboxId,
    data: RuntimeSessionCreate = Body(RuntimeSessionCreate),
) -> JSONResponse:
    created = sessions.create_session(
        db,
        principal=principal,
        sandbox_id=sandbox_id,
        data=data,
        user_agent=request.headers.get("user-agent", ""),
    )
    return public(created, 201)


@router.get("/v1/sessions/{sessionID}", responses=returns(RuntimeSession))
def get_session(db: DbDep, session_id: RuntimeSessionId) -> JSONResponse:
    return public(sessions.get_session(db, session_id))


@router.post("/v1/sessions/{sessionID}/end", responses=returns(RuntimeSession))
def end_session(db: DbDep, principal: PrincipalDep, session_id: RuntimeSessionId) -> JSONResponse:
    return public(sessions.end_session(db, principal=principal, session_id=session_id))


@router.get(
    "/v1/sessions/{sessionID}/recording",
    responses={200: {"description": "asciicast v2", "content": {"application/x-asciicast": {}}}},
)
def get_recording(
    settings: SettingsDep, db: DbDep, principal: PrincipalDep, session_id: RuntimeSessionId
):
    """The terminal recording listed on a session (asciicast v2, output only)."""
    path, name = sessions.recording_file(db, settings, principal=principal, session_id=session_id)
    return FileResponse(path, media_type="application/x-asciicast", filename=name)
