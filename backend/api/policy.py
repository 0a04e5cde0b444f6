"""Project policy routes: read and replace the launch policy and the quota policy, and
preview what a launch policy would deny before writing it."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from backend.api.deps import Body, DbDep, PrincipalDep, ProjectId
from backend.api.openapi import body, returns
from backend.api.responses import item, public
from backend.policy import service as policies
from backend.policy.models import (
    PolicyPreview,
    ProjectPolicy,
    ProjectPolicyUpsert,
    ProjectQuotaPolicy,
    ProjectQuotaPolicyUpsert,
)

router = APIRouter(tags=["projects"])


@router.get("/v1/projects/{projectID}/policy", responses=returns(ProjectPolicy))
def get_policy(db: DbDep, project_id: ProjectId) -> JSONResponse:
    return item(ProjectPolicy, policies.get_launch_policy(db, project_id))


@router.put(
    "/v1/projects/{projectID}/policy",
    responses=returns(ProjectPolicy),
    openapi_extra=body(ProjectPolicyUpsert),
)
def put_policy(
    db: DbDep,
    principal: PrincipalDep,
    project_id: ProjectId,
    data: ProjectPolicyUpsert = Body(ProjectPolicyUpsert),
) -> JSONResponse:
    row = policies.put_launch_policy(db, principal=principal, project_id=project_id, data=data)
    return item(ProjectPolicy, row)


@router.post(
    "/v1/projects/{projectID}/policy/preview",
    responses=returns(PolicyPreview),
    openapi_extra=body(ProjectPolicyUpsert),
)
def preview_policy(
    db: DbDep,
    principal: PrincipalDep,
    project_id: ProjectId,
    data: ProjectPolicyUpsert = Body(ProjectPolicyUpsert),
) -> JSONResponse:
    preview = policies.preview_launch_policy(
        db, principal=principal, project_id=project_id, data=data
    )
    return public(preview)


@router.get("/v1/projects/{projectID}/quota-policy", responses=returns(ProjectQuotaPolicy))
def get_quota_policy(db: DbDep, project_id: ProjectId) -> JSONResponse:
    return item(ProjectQuotaPolicy, policies.get_quota_policy(db, project_id))


@router.put(
    "/v1/projects/{projectID}/quota-policy",
    responses=returns(ProjectQuotaPolicy),
    openapi_extra=body(ProjectQuotaPolicyUpsert),
)
def put_quota_policy(
    db: DbDep,
    principal: PrincipalDep,
    project_id: ProjectId,
    data: ProjectQuotaPolicyUpsert = Body(ProjectQuotaPolicyUpsert),
) -> JSONResponse:
    row = policies.put_quota_policy(db, principal=principal, project_id=project_id, data=data)
    return item(ProjectQuotaPolicy, row)
