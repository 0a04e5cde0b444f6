"""Boundary summaries: what a template or a sandbox may reach, and what is enforced."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from backend.api.deps import DbDep, RuntimeDep, SandboxId, TemplateId
from backend.api.openapi import returns
from backend.api.responses import public
from backend.reporting import boundary
from backend.reporting.boundary import BoundarySummary
from backend.validation import optional_uuid

router = APIRouter()


@router.get(
    "/v1/templates/{templateID}/boundary", tags=["templates"], responses=returns(BoundarySummary)
)
def template_boundary(
    runtime: RuntimeDep,
    db: DbDep,
    template_id: TemplateId,
    projectId: Annotated[str | None, Query()] = None,  # noqa: N803 - the contract's name
) -> JSONResponse:
    """The template's boundary; `projectId` places a global template in a project."""
    project_id = optional_uuid(projectId, "invalid projectId query")
    summary = boundary.template_boundary(
        db,
        template_id=template_id,
        project_id=project_id,
        runtime=runtime.describe(),
    )
    return public(summary)


@router.get(
    "/v1/sandboxes/{sandboxID}/boundary", tags=["sandboxes"], responses=returns(BoundarySummary)
)
def sandbox_boundary(runtime: RuntimeDep, db: DbDep, sandbox_id: SandboxId) -> JSONResponse:
    summary = boundary.sandbox_boundary(db, sandbox_id=sandbox_id, runtime=runtime)
    return public(summary)
