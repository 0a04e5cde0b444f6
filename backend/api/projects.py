"""Project routes, and the per-project audit feed."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from backend.api.deps import Body, DbDep, PrincipalDep, ProjectId
from backend.api.openapi import body, deleted, returns, returns_list
from backend.api.responses import PageLimit, item, items, public
from backend.projects import service as projects
from backend.projects.models import Project, ProjectCreate, ProjectUpdate, ProjectUsage
from backend.reporting.usage import project_usage

router = APIRouter(tags=["projects"])


@router.get("/v1/projects", responses=returns_list(Project))
def list_projects(db: DbDep, limit: PageLimit) -> JSONResponse:
    return items(Project, projects.list_projects(db, limit=limit + 1), limit)


@router.post(
    "/v1/projects",
    status_code=201,
    responses=returns(Project, 201),
    openapi_extra=body(ProjectCreate),
)
def create_project(
    db: DbDep, principal: PrincipalDep, data: ProjectCreate = Body(ProjectCreate)
) -> JSONResponse:
    return item(Project, projects.create_project(db, principal=principal, data=data), 201)


@router.get("/v1/projects/{projectID}", responses=returns(Project))
def get_project(db: DbDep, project_id: ProjectId) -> JSONResponse:
    return item(Project, projects.get_project(db, project_id))


@router.patch(
    "/v1/projects/{projectID}", responses=returns(Project), openapi_extra=body(ProjectUpdate)
)
def update_project(
    db: DbDep,
    principal: PrincipalDep,
    project_id: ProjectId,
    data: ProjectUpdate = Body(ProjectUpdate),
) -> JSONResponse:
    row = projects.update_project(db, principal=principal, project_id=project_id, data=data)
    return item(Project, row)


@router.delete("/v1/projects/{projectID}", status_code=204, responses=deleted())
def delete_project(db: DbDep, principal: PrincipalDep, project_id: ProjectId) -> Response:
    projects.delete_project(db, principal=principal, project_id=project_id)
    return Response(status_code=204)


@router.get("/v1/projects/{projectID}/usage", responses=returns(ProjectUsage))
def get_project_usage(db: DbDep, project_id: ProjectId) -> JSONResponse:
    return public(project_usage(db, project_id=project_id))
