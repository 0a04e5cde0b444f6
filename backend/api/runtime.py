"""Runtime inventory routes: what the runtime made, the orphan audit, gated cleanup."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from backend.api.deps import Body, InventoryDep, PrincipalDep, TemplateId
from backend.api.openapi import body, returns
from backend.inventory.models import (
    CachedImageList,
    RuntimeOrphanAudit,
    RuntimeOrphanCleanupRequest,
    RuntimeOrphanCleanupResult,
    RuntimeResourceList,
    TemplateBuild,
)

router = APIRouter(tags=["runtime"])

# Exact-match filters, applied after listing (the contract's names).
NamespaceFilter = Annotated[str | None, Query(alias="namespace", max_length=253)]
KindFilter = Annotated[str | None, Query(alias="kind", max_length=63)]


@router.get("/v1/runtime/resources", responses=returns(RuntimeResourceList))
async def list_resources(
    inventory: InventoryDep,
    principal: PrincipalDep,
    namespace: NamespaceFilter = None,
    kind: KindFilter = None,
) -> JSONResponse:
    found = await inventory.resources(principal=principal, namespace=namespace, kind=kind)
    return JSONResponse(found.to_json())


@router.get("/v1/runtime/orphans", responses=returns(RuntimeOrphanAudit))
async def list_orphans(
    inventory: InventoryDep,
    principal: PrincipalDep,
    namespace: NamespaceFilter = None,
    kind: KindFilter = None,
) -> JSONResponse:
    found = await inventory.orphans(principal=principal, namespace=namespace, kind=kind)
    return JSONResponse(found.to_json())


@router.post(
    "/v1/runtime/orphans/cleanup",
    responses=returns(RuntimeOrphanCleanupResult),
    openapi_extra=body(RuntimeOrphanCleanupRequest),
)
async def cleanup_orphan(
    inventory: InventoryDep,
    principal: PrincipalDep,
    namespace: NamespaceFilter = None,
    kind: KindFilter = None,
    data: RuntimeOrphanCleanupRequest = Body(RuntimeOrphanCleanupRequest),
) -> JSONResponse:
    done = await inventory.cleanup(principal=principal, data=data, namespace=namespace, kind=kind)
    return JSONResponse(done.to_json())


@router.get("/v1/images", responses=returns(CachedImageList))
async def list_images(inventory: InventoryDep, principal: PrincipalDep) -> JSONResponse:
    """The images the runtime keeps on its host, most recently used first."""
    found = await inventory.images(principal=principal)
    return JSONResponse(found.to_json())


@router.get("/v1/templates/{templateID}/build", responses=returns(TemplateBuild))
async def get_template_build(
    inventory: InventoryDep, principal: PrincipalDep, template_id: TemplateId
) -> JSONResponse:
    """The template's build recipe on the runtime: built, building or failed, and its log
    (a launch builds it; the log grows while it runs)."""
    found = await inventory.template_build(principal=principal, template_id=template_id)
    return JSONResponse(found.to_json())
