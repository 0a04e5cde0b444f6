"""Audit feeds (global and per project, with the reference's exact-match filters and a
cursor), the NDJSON export and the chain's verification."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, StreamingResponse
from sqlmodel import Session

from backend.api.deps import DatabaseDep, DbDep, PrincipalDep, ProjectId, SettingsDep
from backend.api.openapi import returns, returns_list, schema_only
from backend.api.responses import TRUNCATED_HEADER, public
from backend.audit import service as audit
from backend.audit.models import (
    AuditChainReport,
    AuditEvent,
    AuditEventRow,
    AuditExportEvent,
    PolicyDeniedAuditMetadata,
)
from backend.auth.models import Principal
from backend.projects import service as projects

router = APIRouter(tags=["audit"])

Filter = Annotated[str | None, Query()]


def event_filters(
    action: Filter = None,
    resourceType: Filter = None,  # noqa: N803 - the contract's query names
    resourceId: Filter = None,  # noqa: N803
    actor: Filter = None,
    source: Filter = None,
    requestId: Filter = None,  # noqa: N803
    operation: Filter = None,
    since: Filter = None,
    until: Filter = None,
    limit: Filter = None,
) -> dict[str, str | None]:
    return {
        "action": action,
        "resourceType": resourceType,
        "resourceId": resourceId,
        "actor": actor,
        "source": source,
        "requestId": requestId,
        "operation": operation,
        "since": since,
        "until": until,
        "limit": limit,
    }


Filters = Annotated[dict[str, str | None], Depends(event_filters)]


def _export_schema() -> dict[str, str]:
    return {"$ref": "#/components/schemas/AuditExportEvent"}


Cursor = Annotated[
    str | None,
    Query(description="Where the previous page ended: its `nextCursor` (opaque)"),
]
EXPORT_LINES = 500  # lines per chunk of the export stream


@router.get(
    "/v1/audit-events",
    responses={**returns_list(AuditEvent), **schema_only(PolicyDeniedAuditMetadata)},
)
def list_audit_events(
    db: DbDep,
    principal: PrincipalDep,
    filters: Filters,
    cursor: Cursor = None,
    projectId: Filter = None,  # noqa: N803
) -> JSONResponse:
    return _events(db, principal, {**filters, "projectId": projectId}, cursor)


@router.get("/v1/projects/{projectID}/audit-events", responses=returns_list(AuditEvent))
def list_project_audit_events(
    db: DbDep,
    principal: PrincipalDep,
    project_id: ProjectId,
    filters: Filters,
    cursor: Cursor = None,
) -> JSONResponse:
    projects.get_project(db, project_id)
    return _events(db, principal, filters, cursor, project_id)


def _events(
    db: Session,
    principal: Principal,
    filters: dict[str, str | None],
    cursor: str | None,
    project_id: uuid.UUID | None = None,
) -> JSONResponse:
    """One event more than the limit is read, so a cut feed says so and where it goes on."""
    limit = audit.event_limit(filters.get("limit"))
    events = audit.list_events(
        db,
        principal=principal,
        project_id=project_id,
        filters=filters,
        limit=limit + 1,
        cursor=cursor,
    )
    documents = [AuditEvent.from_row(event).to_json() for event in events[:limit]]
    if len(events) <= limit:
        return JSONResponse({"items": documents})
    return JSONResponse(
        {"items": documents, "nextCursor": audit.next_cursor(events[limit - 1])},
        headers={TRUNCATED_HEADER: "true"},
    )


@router.get("/v1/audit-events/verify", responses=returns(AuditChainReport))
def verify_audit_chain(db: DbDep, principal: PrincipalDep, settings: SettingsDep) -> JSONResponse:
    """Walk the hash chain (unscoped principals with the audit permission)."""
    return public(audit.verify_chain(db, principal=principal, settings=settings))


@router.get(
    "/v1/audit-events/export",
    responses={
        200: {
            "description": "NDJSON: every matching event, oldest first (chain order)",
            "content": {"application/x-ndjson": {"schema": _export_schema()}},
        },
        **schema_only(AuditExportEvent),
    },
)
def export_audit_events(
    database: DatabaseDep,
    principal: PrincipalDep,
    filters: Filters,
    projectId: Filter = None,  # noqa: N803
) -> StreamingResponse:
    db = database.session(principal.projects)
    try:  # refusals and bad filters answer before the stream starts
        events = audit.export_events(
            db, principal=principal, filters={**filters, "projectId": projectId}
        )
    except Exception:
        db.close()
        raise
    return StreamingResponse(_lines(db, events), media_type="application/x-ndjson")


def _lines(db: Session, events: Iterable[AuditEventRow]) -> Iterator[str]:
    """Chunks of lines (one thread hop per chunk, not per event); the session closes with
    the stream."""
    with db:
        chunk: list[str] = []
        for event in events:
            chunk.append(json.dumps(AuditExportEvent.from_row(event).to_json()) + "\n")
            if len(chunk) == EXPORT_LINES:
                yield "".join(chunk)
                chunk = []
        if chunk:
            yield "".join(chunk)
