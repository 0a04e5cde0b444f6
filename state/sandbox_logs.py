"""Sandbox page, Logs tab: the last lines the sandbox wrote, re-read with the page's tick."""

from __future__ import annotations

from typing import Any, ClassVar

from backend.auth.models import Principal
from backend.errors import ServiceError
from state.base import services
from state.sandbox import SandboxState, SandboxTab, runtime_message, sandbox_uuid

LOG_LINES = 200


async def read_logs(principal: Principal, sandbox_id: str) -> str:
    found = await services().runtime_access.logs(
        principal=principal, sandbox_id=sandbox_uuid(sandbox_id), lines=LOG_LINES
    )
    return found.text


class LogsTab(SandboxTab, SandboxState):
    TAB: ClassVar[str] = "logs"
    logs: str = ""

    @classmethod
    async def read(cls, principal: Principal, sandbox_id: str) -> dict[str, Any]:
        try:
            return {"logs": await read_logs(principal, sandbox_id), "error": ""}
        except ServiceError as exc:
            return {"logs": "", "error": runtime_message(exc, "logs")}
