"""Live resource use of a sandbox: its samples over a window (backend/metrics)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from backend.api.deps import DatabaseDep, PrincipalDep, SandboxId, SettingsDep
from backend.api.openapi import returns
from backend.api.responses import public
from backend.metrics import service as metrics
from backend.metrics.models import SandboxMetrics
from backend.settings import Settings

router = APIRouter(tags=["sandboxes"])


@router.get("/v1/sandboxes/{sandboxID}/metrics", responses=returns(SandboxMetrics))
async def sandbox_metrics(
    database: DatabaseDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    sandbox_id: SandboxId,
    window: Annotated[
        str | None,
        Query(
            description="Seconds back from now (1 up to MBOX_METRICS_RETENTION_SECONDS, "
            f"default {metrics.DEFAULT_WINDOW_SECONDS})"
        ),
    ] = None,
) -> JSONResponse:
    """CPU, memory, disk, processes and network of the sandbox, sampled every
    `intervalSeconds`: the samples of the last `window` seconds, oldest first."""
    found = await database.read(
        metrics.sandbox_metrics,
        principal=principal,
        sandbox_id=sandbox_id,
        window_seconds=_seconds(window, settings),
        settings=settings,
    )
    return public(found)


def _seconds(window: str | None, settings: Settings) -> int:
    """The `window` query as a number; anything else is the service's 400."""
    if window is None or window == "":
        return min(metrics.DEFAULT_WINDOW_SECONDS, settings.metrics_retention_seconds)
    if window.isascii() and window.isdigit() and len(window) <= 9:
        return int(window)
    return metrics.check_window(window, settings)  # raises: not a whole number
