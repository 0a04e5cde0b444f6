"""Sandbox page, Events tab: what the runtime did with the sandbox, newest first, re-read
with the page's tick."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from backend.errors import ServiceError
from backend.sandboxes import runtime_access
from backend.server import get_runtime
from state.base import in_thread
from state.format import clock, parse_time, timestamp
from state.sandbox import SandboxState, SandboxTab, runtime_message, runtime_row


@dataclasses.dataclass
class EventItem:
    time: str
    at: str
    type: str
    reason: str
    message: str


async def read_events(sandbox_id: str) -> list[EventItem]:
    sandbox = await in_thread(runtime_row, sandbox_id)
    found = await runtime_access.events(get_runtime(), sandbox)
    items = []
    for event in reversed(found):  # newest first
        at = parse_time(event["firstTimestamp"])
        items.append(
            EventItem(clock(at), timestamp(at), event["type"], event["reason"], event["message"])
        )
    return items


class EventsTab(SandboxTab, SandboxState):
    TAB: ClassVar[str] = "events"
    events: list[EventItem] = []

    @classmethod
    async def read(cls, sandbox_id: str) -> dict[str, Any]:
        try:
            return {"events": await read_events(sandbox_id), "error": ""}
        except ServiceError as exc:
            return {"events": [], "error": runtime_message(exc, "events")}
