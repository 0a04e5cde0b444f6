"""API tokens and who am I: principals mint, list and revoke their tokens; admins manage
everyone's. (Principals are the names tokens are bound to: there is no separate
principal resource.)"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from backend.api.deps import Body, DbDep, PrincipalDep, SettingsDep, TokenId
from backend.api.openapi import body, returns, returns_list
from backend.api.responses import PageLimit, item, items
from backend.auth import access
from backend.principals import service as tokens
from backend.principals.models import ApiToken, ApiTokenCreate, ApiTokenCreated, WhoAmI

router = APIRouter(tags=["tokens"])


@router.get("/v1/whoami", responses=returns(WhoAmI))
def whoami(principal: PrincipalDep, settings: SettingsDep) -> JSONResponse:
    found = WhoAmI(
        principal=principal.subject,
        role=principal.role,
        project_ids=sorted(principal.projects) if principal.projects is not None else None,
        token_id=principal.token_id,
        permissions=sorted(access.permissions(principal.role)),
        authentication_required=settings.auth_required,
    )
    return JSONResponse(found.to_json())


@router.get("/v1/tokens", responses=returns_list(ApiToken))
def list_tokens(db: DbDep, principal: PrincipalDep, limit: PageLimit) -> JSONResponse:
    return items(ApiToken, tokens.list_tokens(db, principal=principal, limit=limit + 1), limit)


@router.post(
    "/v1/tokens",
    status_code=201,
    responses=returns(ApiTokenCreated, 201),
    openapi_extra=body(ApiTokenCreate),
)
def create_token(
    db: DbDep, principal: PrincipalDep, data: ApiTokenCreate = Body(ApiTokenCreate)
) -> JSONResponse:
    row, secret = tokens.create_token(db, principal=principal, data=data)
    created = ApiTokenCreated(**ApiToken.from_row(row).model_dump(), token=secret)
    return JSONResponse(created.to_json(), status_code=201, headers={"Cache-Control": "no-store"})


@router.get("/v1/tokens/{tokenID}", responses=returns(ApiToken))
def get_token(db: DbDep, principal: PrincipalDep, token_id: TokenId) -> JSONResponse:
    return item(ApiToken, tokens.get_token(db, principal=principal, token_id=token_id))


@router.delete("/v1/tokens/{tokenID}", responses=returns(ApiToken))
def revoke_token(db: DbDep, principal: PrincipalDep, token_id: TokenId) -> JSONResponse:
    """Revoke the token (kept, marked revoked, so its history stays readable)."""
    return item(ApiToken, tokens.revoke_token(db, principal=principal, token_id=token_id))
