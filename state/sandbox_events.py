"""Sandbox page, Events tab: what the runtime did with the sandbox, newest first, re-read
with the page's tick."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from backend.auth.models import Principal
from backend.errors import ServiceError
from state.base import services
from state.format import clock, timestamp
from state.sandbox import SandboxState, SandboxTab, runtime_message, sandbox_uuid


@dataclasses.dataclass
class EventItem:
    time: str
    at: str
    type: str
    reason: str
    message: str


async def read_events(principal: Principal, sandbox_id: str) -> list[EventItem]:
    found = await services().runtime_access.events(
        principal=principal, sandbox_id=sandbox_uuid(sandbox_id)
    )
    return [
        EventItem(clock(e.timestamp), timestamp(e.timestamp), e.type, e.reason, e.message)
        for e in reversed(found)  # newest first
    ]


class EventsTab(SandboxTab, SandboxState):
    TAB: ClassVar[str] = "events"
    events: list[EventItem] = []

    @classmethod
    async def read(cls, principal: Principal, sandbox_id: str) -> dict[str, Any]:
        try:
            return {"events": await read_events(principal, sandbox_id), "error": ""}
        except ServiceError as exc:
            return {"events": [], "error": runtime_message(exc, "events")}
