"""Read access to a sandbox's runtime: where it runs, its log, lifecycle events, ports.

The reference's pre-checks, in order: the sandbox exists (404) and has a runtime (409
`sandbox runtime is not ready`); runtime errors become 502 with their message.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Any

from sqlmodel import Session

from backend.errors import Conflict, InsufficientStorage, InvalidInput, NotFound, RuntimeFailed
from backend.runtime.base import (
    DiskFull,
    FileMissing,
    PathRefused,
    RuntimeAdapter,
    RuntimeFailure,
    RuntimeTarget,
)
from backend.sandboxes.models import SandboxRow
from backend.sandboxes.previews import preview_origin
from backend.sandboxes.service import get_sandbox
from backend.settings import Settings


def runtime_sandbox(session: Session, sandbox_id: uuid.UUID) -> SandboxRow:
    sandbox = get_sandbox(session, sandbox_id)
    if sandbox.runtime_ref is None:
        raise Conflict("sandbox runtime is not ready")
    return sandbox


async def target(runtime: RuntimeAdapter, sandbox: SandboxRow) -> dict[str, Any]:
    if sandbox.status != "running":  # where the runtime places it, in its last known phase
        placement = runtime.describe().placement
        namespace = placement.namespace or sandbox.namespace
        phase = sandbox.status.capitalize()
        return _target_json(RuntimeTarget(namespace, str(sandbox.id), placement.container, phase))
    return _target_json(await call_runtime(runtime.target(sandbox.id)))


async def logs(runtime: RuntimeAdapter, sandbox: SandboxRow, lines: int) -> dict[str, Any]:
    return {
        "target": await target(runtime, sandbox),
        "logs": await call_runtime(runtime.logs(sandbox.id, lines)),
    }


async def events(runtime: RuntimeAdapter, sandbox: SandboxRow) -> list[dict[str, Any]]:
    found = await call_runtime(runtime.events(sandbox.id))
    return [
        {
            "type": event.type,
            "reason": event.reason,
            "message": event.message,
            "count": 1,
            "firstTimestamp": event.timestamp.isoformat().replace("+00:00", "Z"),
            "lastTimestamp": event.timestamp.isoformat().replace("+00:00", "Z"),
        }
        for event in found
    ]


async def ports(
    runtime: RuntimeAdapter, sandbox: SandboxRow, settings: Settings | None = None
) -> dict[str, Any]:
    """The declared ports; TCP ones also name their preview origin (given the settings)."""
    running = sandbox.status == "running"
    items = []
    for port in sandbox.ports:
        protocol = (port.get("protocol") or "TCP").upper()
        item: dict[str, Any] = {"name": port["name"], "port": port["port"], "protocol": protocol}
        url = port.get("previewUrl") or f"/v1/sandboxes/{sandbox.id}/ports/{port['port']}/proxy/"
        item["previewUrl"] = url
        if settings is not None and protocol == "TCP":
            item["previewOrigin"] = preview_origin(settings, sandbox.id, port["port"])
        item["available"] = running and protocol == "TCP"
        if protocol != "TCP":
            item["message"] = "only TCP ports can be opened in browser preview"
        elif not running:
            item["message"] = "sandbox must be running before preview is available"
        items.append(item)
    return {"target": await target(runtime, sandbox), "items": items}


def _target_json(found: RuntimeTarget) -> dict[str, Any]:
    body: dict[str, Any] = {
        "namespace": found.namespace,
        "podName": found.pod_name,
        "container": found.container,
        "phase": found.phase,
    }
    if found.selector:
        body["selector"] = found.selector
    if found.commands:
        body["commands"] = list(found.commands)
    return body


async def call_runtime(awaitable: Awaitable[Any]) -> Any:
    """Await a runtime call, turning its failures into service errors: a refused or
    wrong-kind path is 400, a missing one 404, a full disk 507, anything else from the
    runtime 502."""
    try:
        return await awaitable
    except DiskFull as exc:
        raise InsufficientStorage(str(exc)) from None
    except PathRefused as exc:
        raise InvalidInput(str(exc)) from None
    except FileMissing as exc:
        raise NotFound(str(exc)) from None
    except RuntimeFailure as exc:
        raise RuntimeFailed(str(exc)) from None
