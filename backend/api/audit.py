"""Audit feeds: global and per project, with the reference's exact-match filters."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from sqlmodel import Session

from backend.api.deps import DbDep, PrincipalDep, ProjectId
from backend.api.openapi import returns_list, schema_only
from backend.api.responses import items
from backend.audit import service as audit
from backend.audit.models import AuditEvent, PolicyDeniedAuditMetadata
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


@router.get(
    "/v1/audit-events",
    responses={**returns_list(AuditEvent), **schema_only(PolicyDeniedAuditMetadata)},
)
def list_audit_events(
    db: DbDep,
    principal: PrincipalDep,
    filters: Filters,
    projectId: Filter = None,  # noqa: N803
) -> JSONResponse:
    return _events(db, principal, {**filters, "projectId": projectId})


@router.get("/v1/projects/{projectID}/audit-events", responses=returns_list(AuditEvent))
def list_project_audit_events(
    db: DbDep, principal: PrincipalDep, project_id: ProjectId, filters: Filters
) -> JSONResponse:
    projects.get_project(db, project_id)
    return _events(db, principal, filters, project_id)


def _events(
    db: Session,
    principal: Principal,
    filters: dict[str, str | None],
    project_id: uuid.UUID | None = None,
) -> JSONResponse:
    """One event more than the limit is read, so a cut feed says so."""
    limit = audit.event_limit(filters.get("limit"))
    events = audit.list_events(
        db, principal=principal, project_id=project_id, filters=filters, limit=limit + 1
    )
    return items(AuditEvent, events, limit)
