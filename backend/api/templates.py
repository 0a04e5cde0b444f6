"""Environment template routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from backend.api.deps import Body, DbDep, PrincipalDep, SandboxId, TemplateId
from backend.api.openapi import body, deleted, returns, returns_list
from backend.api.responses import PageLimit, item, items, public
from backend.sandboxes import validation_runs
from backend.sandboxes.models import Sandbox, SandboxRow, TemplateValidationRun
from backend.templates import service as templates
from backend.templates.models import (
    EnvironmentTemplate,
    TemplateCreate,
    TemplateRow,
    TemplateUpdate,
    TemplateValidationRunCreate,
    TemplateValidationRunDecision,
)
from backend.validation import optional_uuid

router = APIRouter(tags=["templates"])


@router.get("/v1/templates", responses=returns_list(EnvironmentTemplate))
def list_templates(
    db: DbDep,
    limit: PageLimit,
    projectId: Annotated[str | None, Query()] = None,  # noqa: N803 - the contract's name
) -> JSONResponse:
    project_id = optional_uuid(projectId, "invalid projectId query")
    rows = templates.list_templates(db, project_id=project_id, limit=limit + 1)
    return items(EnvironmentTemplate, rows, limit)


@router.post(
    "/v1/templates",
    status_code=201,
    responses=returns(EnvironmentTemplate, 201),
    openapi_extra=body(TemplateCreate),
)
def create_template(
    db: DbDep, principal: PrincipalDep, data: TemplateCreate = Body(TemplateCreate)
) -> JSONResponse:
    row = templates.create_template(db, principal=principal, data=data)
    return item(EnvironmentTemplate, row, 201)


@router.get("/v1/templates/{templateID}", responses=returns(EnvironmentTemplate))
def get_template(db: DbDep, template_id: TemplateId) -> JSONResponse:
    return item(EnvironmentTemplate, templates.get_template(db, template_id))


@router.patch(
    "/v1/templates/{templateID}",
    responses=returns(EnvironmentTemplate),
    openapi_extra=body(TemplateUpdate),
)
def update_template(
    db: DbDep,
    principal: PrincipalDep,
    template_id: TemplateId,
    data: TemplateUpdate = Body(TemplateUpdate),
) -> JSONResponse:
    row = templates.update_template(db, principal=principal, template_id=template_id, data=data)
    return item(EnvironmentTemplate, row)


@router.delete("/v1/templates/{templateID}", status_code=204, responses=deleted())
def delete_template(db: DbDep, principal: PrincipalDep, template_id: TemplateId) -> Response:
    templates.delete_template(db, principal=principal, template_id=template_id)
    return Response(status_code=204)


@router.post(
    "/v1/templates/{templateID}/validation-runs",
    status_code=201,
    responses=returns(TemplateValidationRun, 201),
    openapi_extra=body(TemplateValidationRunCreate),
)
def start_validation_run(
    db: DbDep,
    principal: PrincipalDep,
    template_id: TemplateId,
    data: TemplateValidationRunCreate = Body(TemplateValidationRunCreate),
) -> JSONResponse:
    """Launch a sandbox that tries the template out; the template turns `testing`."""
    run = validation_runs.start_run(db, principal=principal, template_id=template_id, data=data)
    return public(_run(*run), 201)


@router.post(
    "/v1/templates/{templateID}/validation-runs/{sandboxID}/decision",
    responses=returns(TemplateValidationRun),
    openapi_extra=body(TemplateValidationRunDecision),
)
def decide_validation_run(
    db: DbDep,
    principal: PrincipalDep,
    template_id: TemplateId,
    sandbox_id: SandboxId,
    data: TemplateValidationRunDecision = Body(TemplateValidationRunDecision),
) -> JSONResponse:
    """Record that the run passed or failed, on the run and on its template."""
    run = validation_runs.decide_run(
        db, principal=principal, template_id=template_id, sandbox_id=sandbox_id, data=data
    )
    return public(_run(*run))


def _run(template: TemplateRow, sandbox: SandboxRow) -> TemplateValidationRun:
    return TemplateValidationRun(
        template=EnvironmentTemplate.from_row(template), sandbox=Sandbox.from_row(sandbox)
    )
