"""Credential reference routes: a project's named secrets (never their values)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from backend.api.deps import Body, CredentialId, DbDep, PrincipalDep, ProjectId
from backend.api.openapi import body, deleted, returns, returns_list
from backend.api.responses import PageLimit, item, items
from backend.credentials import service as credentials
from backend.credentials.models import ProjectCredential, ProjectCredentialCreate

router = APIRouter(tags=["credentials"])


@router.get("/v1/projects/{projectID}/credentials", responses=returns_list(ProjectCredential))
def list_credentials(db: DbDep, project_id: ProjectId, limit: PageLimit) -> JSONResponse:
    rows = credentials.list_credentials(db, project_id=project_id, limit=limit + 1)
    return items(ProjectCredential, rows, limit)


@router.post(
    "/v1/projects/{projectID}/credentials",
    status_code=201,
    responses=returns(ProjectCredential, 201),
    openapi_extra=body(ProjectCredentialCreate),
)
def create_credential(
    db: DbDep,
    principal: PrincipalDep,
    project_id: ProjectId,
    data: ProjectCredentialCreate = Body(ProjectCredentialCreate),
) -> JSONResponse:
    row = credentials.create_credential(db, principal=principal, project_id=project_id, data=data)
    return item(ProjectCredential, row, 201)


@router.get("/v1/credentials/{credentialID}", responses=returns(ProjectCredential))
def get_credential(db: DbDep, credential_id: CredentialId) -> JSONResponse:
    return item(ProjectCredential, credentials.get_credential(db, credential_id))


@router.delete("/v1/credentials/{credentialID}", status_code=204, responses=deleted())
def delete_credential(db: DbDep, principal: PrincipalDep, credential_id: CredentialId) -> Response:
    credentials.delete_credential(db, principal=principal, credential_id=credential_id)
    return Response(status_code=204)
