"""Read access to a sandbox's runtime: where it runs, its log, lifecycle events, ports.

The reference's pre-checks, in order: the sandbox exists (404) and has a runtime (409
`sandbox runtime is not ready`); runtime errors become 502 with their message.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.db import Database
from backend.errors import Conflict, InsufficientStorage, InvalidInput, NotFound, RuntimeFailed
from backend.runtime.base import (
    DiskFull,
    FileMissing,
    PathRefused,
    RuntimeAdapter,
    RuntimeEvent,
    RuntimeFailure,
    RuntimeTarget,
)
from backend.sandboxes.models import SandboxRow
from backend.sandboxes.previews import preview_origin
from backend.sandboxes.service import operable
from backend.settings import Settings

NO_RUNTIME = "sandbox runtime is not ready"


@dataclass(frozen=True)
class SandboxLogs:
    target: RuntimeTarget
    text: str


@dataclass(frozen=True)
class PortView:
    """A declared port as the preview needs it."""

    name: str
    port: int
    protocol: str  # TCP | UDP | SCTP
    preview_url: str  # the reference's proxy route on the API origin (or the port's own)
    preview_origin: str | None  # the port's own origin, for TCP ports
    available: bool  # can be opened now
    message: str  # why not, when it cannot


@dataclass(frozen=True)
class SandboxPorts:
    target: RuntimeTarget
    ports: list[PortView]


class RuntimeAccess:
    """Reads of a sandbox's runtime. Each call first checks that the sandbox exists and
    has a runtime, whoever calls (API route or console)."""

    def __init__(self, database: Database, runtime: RuntimeAdapter, settings: Settings) -> None:
        self._database = database
        self._runtime = runtime
        self._settings = settings

    async def target(self, *, principal: Principal, sandbox_id: uuid.UUID) -> RuntimeTarget:
        return await self._target(await self._sandbox(principal, sandbox_id, Permission.READ))

    async def logs(self, *, principal: Principal, sandbox_id: uuid.UUID, lines: int) -> SandboxLogs:
        sandbox = await self._sandbox(principal, sandbox_id, Permission.READ_CONTENT)
        text = await call_runtime(self._runtime.logs(sandbox.id, lines))
        return SandboxLogs(await self._target(sandbox), text)

    async def events(self, *, principal: Principal, sandbox_id: uuid.UUID) -> list[RuntimeEvent]:
        """Oldest first."""
        sandbox = await self._sandbox(principal, sandbox_id, Permission.READ_CONTENT)
        return list(await call_runtime(self._runtime.events(sandbox.id)))

    async def ports(self, *, principal: Principal, sandbox_id: uuid.UUID) -> SandboxPorts:
        sandbox = await self._sandbox(principal, sandbox_id, Permission.READ)
        running = sandbox.status == "running"
        views = [self._port(sandbox, port, running) for port in sandbox.ports]
        return SandboxPorts(await self._target(sandbox), views)

    def _port(self, sandbox: SandboxRow, port: dict[str, Any], running: bool) -> PortView:
        protocol = (port.get("protocol") or "TCP").upper()
        number = port["port"]
        url = port.get("previewUrl") or f"/v1/sandboxes/{sandbox.id}/ports/{number}/proxy/"
        tcp = protocol == "TCP"
        message = ""
        if not tcp:
            message = "only TCP ports can be opened in browser preview"
        elif not running:
            message = "sandbox must be running before preview is available"
        origin = preview_origin(self._settings, sandbox.id, number) if tcp else None
        return PortView(port["name"], number, protocol, url, origin, running and tcp, message)

    async def _sandbox(
        self, principal: Principal, sandbox_id: uuid.UUID, permission: Permission
    ) -> SandboxRow:
        return await self._database.call(_runtime_sandbox, principal, sandbox_id, permission)

    async def _target(self, sandbox: SandboxRow) -> RuntimeTarget:
        if sandbox.status != "running":  # where the runtime places it, in its last known phase
            placement = self._runtime.describe().placement
            namespace = placement.namespace or sandbox.namespace
            phase = sandbox.status.capitalize()
            return RuntimeTarget(namespace, str(sandbox.id), placement.container, phase)
        return await call_runtime(self._runtime.target(sandbox.id))


def _runtime_sandbox(
    db: Session, principal: Principal, sandbox_id: uuid.UUID, permission: Permission
) -> SandboxRow:
    sandbox = operable(db, principal, sandbox_id, permission)
    if sandbox.runtime_ref is None:
        raise Conflict(NO_RUNTIME)
    return sandbox


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
