"""Sandbox page, Logs tab: the last lines the sandbox wrote, re-read with the page's tick."""

from __future__ import annotations

from typing import Any, ClassVar

from backend.errors import ServiceError
from backend.sandboxes import runtime_access
from backend.server import get_runtime
from state.base import in_thread
from state.sandbox import SandboxState, SandboxTab, runtime_message, runtime_row

LOG_LINES = 200


async def read_logs(sandbox_id: str) -> str:
    sandbox = await in_thread(runtime_row, sandbox_id)
    return (await runtime_access.logs(get_runtime(), sandbox, LOG_LINES))["logs"]


class LogsTab(SandboxTab, SandboxState):
    TAB: ClassVar[str] = "logs"
    logs: str = ""

    @classmethod
    async def read(cls, sandbox_id: str) -> dict[str, Any]:
        try:
            return {"logs": await read_logs(sandbox_id), "error": ""}
        except ServiceError as exc:
            return {"logs": "", "error": runtime_message(exc, "logs")}
