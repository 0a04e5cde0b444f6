"""Sandbox page, Sessions tab: who and what attached to the sandbox (terminals, IDEs,
notebooks...), newest first, with their terminals' recordings.

Each terminal WebSocket is one session; a terminal outlives its last session for the
server's grace period, so a terminal session that is active, or ended within that time,
offers Attach (the Terminal tab picks the terminal up; if it has ended meanwhile, the server
starts a new shell under its id). Once a terminal has ended, its recording is listed on
each of its sessions. Only sessions that clients opened themselves can be ended here:
a terminal session ends with its socket.

`SessionsTab` is a tab of the sandbox page (state/sandbox.py); Attach is the Terminal
tab's (state/sandbox_terminal.py).
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from datetime import datetime
from typing import Any, ClassVar

import reflex as rx

from backend.auth.models import Principal
from backend.db import utcnow
from backend.errors import ServiceError
from backend.sessions import service as session_service
from backend.sessions.models import RuntimeSession
from state.base import acting, attempt, db_session, in_thread, services
from state.format import byte_size, clock, duration, short_id, timestamp
from state.sandbox import SandboxState, SandboxTab

SHOWN = 100  # newest sessions listed
BROWSERS = (
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Version/", "Safari"),
)
SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iOS"),
    ("iPad", "iOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


@dataclasses.dataclass
class SessionItem:
    id: str = ""
    type: str = ""
    client: str = ""
    status: str = ""
    error: str = ""
    started: str = ""
    started_full: str = ""
    duration: str = ""
    browser: str = ""  # "Chrome 131 on Linux", else the user agent's start
    user_agent: str = ""
    terminal_id: str = ""
    terminal_short: str = ""
    recording_url: str = ""
    recording_size: str = ""
    attachable: bool = False  # the newest session of a terminal that may still run
    endable: bool = False


def browser_name(user_agent: str) -> str:
    """`Chrome 131 on Linux` from a browser's user agent; other clients' as sent (short)."""
    if not user_agent:
        return ""
    for token, name in BROWSERS:
        found = re.search(re.escape(token) + r"(\d+)", user_agent)
        if found:
            system = next((label for key, label in SYSTEMS if key in user_agent), "")
            return f"{name} {found.group(1)}" + (f" on {system}" if system else "")
    return user_agent if len(user_agent) <= 40 else user_agent[:39] + "…"


def _may_run(found: RuntimeSession, now: datetime, grace: float) -> bool:
    """Whether the session's terminal may still be running (it has no recording yet, and
    the session is active or ended within the grace period)."""
    if found.type != "terminal" or found.terminal_id is None or found.recording is not None:
        return False
    if found.status == "active":
        return True
    return (
        found.status == "ended"
        and found.ended_at is not None
        and (now - found.ended_at).total_seconds() < grace
    )


def _item(found: RuntimeSession, now: datetime, attachable: bool) -> SessionItem:
    recording = found.recording
    terminal_id = str(found.terminal_id) if found.terminal_id else ""
    return SessionItem(
        id=str(found.id),
        type=found.type,
        client=found.client or "",
        status=found.status,
        error=found.error or "",
        started=clock(found.started_at),
        started_full=timestamp(found.started_at),
        duration=duration(((found.ended_at or now) - found.started_at).total_seconds()),
        browser=browser_name(found.user_agent or ""),
        user_agent=found.user_agent or "",
        terminal_id=terminal_id,
        terminal_short=short_id(terminal_id),
        recording_url=recording.url if recording else "",
        recording_size=byte_size(recording.size_bytes) if recording else "",
        attachable=attachable,
        endable=found.status == "active" and found.type != "terminal",
    )


def read_sessions(principal: Principal, sandbox_id: str) -> list[SessionItem]:
    with db_session(principal) as db:
        found = session_service.list_sessions(db, sandbox_id=uuid.UUID(sandbox_id))
    now, grace = utcnow(), services().settings.terminal_grace_seconds
    items, seen = [], set()
    for one in found[:SHOWN]:  # newest first: only a terminal's newest session attaches
        attachable = one.terminal_id not in seen and _may_run(one, now, grace)
        if one.terminal_id is not None:
            seen.add(one.terminal_id)
        items.append(_item(one, now, attachable))
    return items


def end_session(principal: Principal, session_id: str) -> None:
    with db_session(principal) as db:
        session_service.end_session(db, principal=principal, session_id=uuid.UUID(session_id))


class SessionsTab(SandboxTab, SandboxState):
    TAB: ClassVar[str] = "sessions"
    sessions: list[SessionItem] = []
    grace: str = ""  # how long a terminal outlives its last window

    @classmethod
    async def read(cls, principal: Principal, sandbox_id: str) -> dict[str, Any]:
        try:
            found = await in_thread(read_sessions, principal, sandbox_id)
        except ServiceError as exc:
            return {"sessions": [], "error": exc.message, "loaded": True}
        grace = duration(services().settings.terminal_grace_seconds)
        return {"sessions": found, "error": "", "loaded": True, "grace": grace}

    def _reset(self) -> None:
        grace = self.grace  # the server's: the same for every sandbox
        self.reset()
        self.grace = grace

    @rx.event
    async def end_runtime_session(self, session_id: str):
        await self._new_action()
        await attempt(
            self,
            in_thread(end_session, await acting(self), session_id),
            done="Session ended.",
            busy=None,
            reload=self._refresh,
        )
