"""Sandbox page, Preview tab: the ports the sandbox serves, opened in the browser or shared
through expiring links, and the port declarations themselves.

Each TCP port has its own origin (`<port>-<sandbox id>.<preview host>`, see
backend/sandboxes/previews.py); a browser gets in with a preview link, whose secret is shown
only when it is created. Open makes a link of `OPEN_SECONDS` and opens it in a new tab;
Copy share link makes one that lasts as long as the chosen expiry, copies it (when the
browser allows) and shows it.
Adding or removing a port updates the sandbox's declared ports (the whole list) through the
sandboxes service.

`PreviewTab` is a tab of the sandbox page (state/sandbox.py); it reads the ports itself
(with their origins) and the page re-reads them every few seconds.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any, ClassVar

import reflex as rx

from backend.auth.models import Principal
from backend.db import utcnow
from backend.errors import ServiceError
from backend.sandboxes import previews
from backend.sandboxes import service as sandboxes
from backend.sandboxes.models import PreviewLinkCreate, PreviewLinkRow, SandboxUpdate
from state.base import acting, attempt, db_session, in_thread, services
from state.format import clock, relative, timestamp
from state.sandbox import SandboxState, SandboxTab
from state.sandbox_terminal import copy_to_clipboard

OPEN_SECONDS = 3600  # a link made by Open: this browser only, an hour
OPEN_LABEL = "Opened from the console"
EMBED_LABEL = "Embedded in the console"
SHARE_LABEL = "Shared from the console"
# The expiry choices of a share link (seconds, as the select's values) and their words.
EXPIRIES = (("3600", "1 hour"), ("86400", "1 day"), ("604800", "7 days"))
MAX_PORT_NAME = 63
SHOWN_LINKS = 100


@dataclasses.dataclass
class PreviewPortItem:
    name: str = ""
    port: int = 0
    protocol: str = ""
    origin: str = ""  # where the browser opens it ("" for UDP: not previewable)


@dataclasses.dataclass
class LinkItem:
    id: str = ""
    label: str = ""
    port: int = 0
    port_name: str = ""
    status: str = ""  # active | expired | revoked
    expires: str = ""  # "in 59 min", "1 h ago"
    expires_full: str = ""
    created: str = ""
    created_full: str = ""
    created_by: str = ""


def _link(row: PreviewLinkRow, names: dict[int, str], now: datetime) -> LinkItem:
    if row.revoked_at is not None:
        status = "revoked"
    elif row.expires_at <= now:
        status = "expired"
    else:
        status = "active"
    return LinkItem(
        id=str(row.id),
        label=row.label,
        port=row.port,
        port_name=names.get(row.port, ""),
        status=status,
        expires=relative(row.expires_at, now),
        expires_full=timestamp(row.expires_at),
        created=clock(row.created_at),
        created_full=timestamp(row.created_at),
        created_by=row.created_by,
    )


def read_previews(
    principal: Principal, sandbox_id: str
) -> tuple[list[PreviewPortItem], list[LinkItem]]:
    """The declared ports with their preview origins, and the links, newest first."""
    parsed = uuid.UUID(sandbox_id)
    with db_session(principal) as db:
        sandbox = sandboxes.get_sandbox(db, parsed)
        rows = previews.list_links(db, sandbox_id=parsed)[:SHOWN_LINKS]
    settings, now = services().settings, utcnow()
    ports = []
    for port in sandbox.ports:
        protocol = (port.get("protocol") or "TCP").upper()
        origin = (
            previews.preview_origin(settings, parsed, port["port"]) if protocol == "TCP" else ""
        )
        ports.append(PreviewPortItem(port["name"], port["port"], protocol, origin))
    names = {item.port: item.name for item in ports}
    return ports, [_link(row, names, now) for row in rows]


def create_link(
    principal: Principal, sandbox_id: str, port: int, seconds: int, label: str
) -> tuple[str, str]:
    """A new link to the port: (its URL, when it expires in words)."""
    data = PreviewLinkCreate.model_validate(
        {"port": port, "label": label, "expiresInSeconds": seconds}
    )
    with db_session(principal) as db:
        row, url = previews.create_link(
            db,
            principal=principal,
            settings=services().settings,
            sandbox_id=uuid.UUID(sandbox_id),
            data=data,
        )
        return url, timestamp(row.expires_at)


def revoke_link(principal: Principal, link_id: str) -> None:
    with db_session(principal) as db:
        previews.revoke_link(db, principal=principal, link_id=uuid.UUID(link_id))


def set_ports(principal: Principal, sandbox_id: str, change: Any) -> None:
    """Replace the declared ports with `change(current ports)`, read in the same session."""
    parsed = uuid.UUID(sandbox_id)
    with db_session(principal) as db:
        current = [dict(port) for port in sandboxes.get_sandbox(db, parsed).ports]
        data = SandboxUpdate.model_validate({"ports": change(current)})
        sandboxes.update_sandbox(db, principal=principal, sandbox_id=parsed, data=data)


def port_number(text: str) -> int | None:
    text = text.strip()
    if not text.isdigit() or len(text) > 5 or not 1 <= int(text) <= 65535:
        return None
    return int(text)


class PreviewTab(SandboxTab, SandboxState):
    TAB: ClassVar[str] = "preview"
    preview_ports: list[PreviewPortItem] = []
    links: list[LinkItem] = []
    share_expiry: str = EXPIRIES[0][0]
    share_url: str = ""
    share_note: str = ""
    port_dialog_open: bool = False
    port_error: str = ""
    embed_url: str = ""
    embed_port: int = 0

    @classmethod
    async def read(cls, principal: Principal, sandbox_id: str) -> dict[str, Any]:
        try:
            ports, links = await in_thread(read_previews, principal, sandbox_id)
        except ServiceError as exc:
            return {"error": exc.message, "loaded": True}
        return {"preview_ports": ports, "links": links, "loaded": True}

    def _reset(self) -> None:
        expiry = self.share_expiry  # the choice stays for the next sandbox
        self.reset()
        self.share_expiry = expiry

    async def _new_link(self, port: int, seconds: int, label: str) -> tuple[str, str] | None:
        principal = await acting(self)
        made = await attempt(
            self, in_thread(create_link, principal, self.view.id, port, seconds, label)
        )
        return made.value if made else None

    def _not_running(self) -> bool:
        if self.view.status != "running":
            self.error = "Previews open while the sandbox is running: start it first."
            return True
        return False

    @rx.event
    async def open_preview(self, port: int):
        if self._not_running():
            return None
        made = await self._new_link(port, OPEN_SECONDS, OPEN_LABEL)
        await self._refresh()
        if made is None:
            return None
        self.notice = f"Opened port {port} in a new tab."
        return rx.redirect(made[0], is_external=True)

    @rx.event
    async def embed_preview(self, port: int):
        """Show the port in a frame on this page (its own origin: it cannot reach the
        console), through a short-lived link like Open."""
        if self._not_running():
            return
        made = await self._new_link(port, OPEN_SECONDS, EMBED_LABEL)
        await self._refresh()
        if made is not None:
            self.embed_url, self.embed_port = made[0], port

    @rx.event
    def close_embed(self):
        self.embed_url, self.embed_port = "", 0

    @rx.event
    def set_share_expiry(self, value: str):
        if value in dict(EXPIRIES):
            self.share_expiry = value

    @rx.event
    async def share_preview(self, port: int):
        self.share_url = self.share_note = ""
        made = await self._new_link(port, int(self.share_expiry), SHARE_LABEL)
        await self._refresh()
        if made is None:
            return None
        self.share_url, expires = made
        self.share_note = (
            f"Anyone with this link can open port {port} until {expires}, unless it is "
            "revoked. It is shown only now."
        )
        return copy_to_clipboard(self.share_url, type(self).share_copied)

    @rx.event
    def copy_share_link(self):
        if self.share_url:
            return copy_to_clipboard(self.share_url, type(self).share_copied)
        return None

    @rx.event
    def share_copied(self, done: bool):
        self.error = ""
        if done:
            self.notice = "Share link copied to the clipboard."
        else:
            self.notice = "Share link made: copy it from the field below."

    @rx.event
    def close_share_link(self):
        self.share_url = self.share_note = ""

    @rx.event
    async def revoke_preview_link(self, link_id: str):
        await attempt(
            self,
            in_thread(revoke_link, await acting(self), link_id),
            done="Link revoked: it stops working within seconds.",
            busy=None,
            reload=self._refresh,
        )

    @rx.event
    def set_port_dialog_open(self, value: bool):
        self.port_dialog_open = value
        self.port_error = ""

    @rx.event
    async def add_port(self, form: dict[str, Any]):
        self.port_error = ""
        name = str(form.get("name") or "").strip()
        number = port_number(str(form.get("port") or ""))
        declared = {item.port: item.name for item in self.preview_ports}
        if not name:
            self.port_error = "Enter a name for the port, such as web."
        elif len(name) > MAX_PORT_NAME:
            self.port_error = f"The name is too long (at most {MAX_PORT_NAME} characters)."
        elif name in declared.values():
            self.port_error = f"A port named {name} is already declared."
        elif number is None:
            self.port_error = "The port is a whole number from 1 to 65535."
        elif number in declared:
            self.port_error = f"Port {number} is already declared (as {declared[number]})."
        if self.port_error:
            return
        entry = {"name": name, "port": number, "protocol": "TCP"}
        if await self._change_ports(lambda ports: [*ports, entry], error="port_error", clear=()):
            self.port_dialog_open = False
            self.notice = f"Added port {name} ({number})."

    @rx.event
    async def remove_port(self, port: int):
        name = next((item.name for item in self.preview_ports if item.port == port), "")
        done = f"Removed port {name or port} ({port}); links to it stop working."
        await self._change_ports(lambda ports: [p for p in ports if p["port"] != port], done=done)

    async def _change_ports(self, change: Any, **feedback: Any) -> bool:
        """Apply `change` to the declared ports, then read them again."""
        call = in_thread(set_ports, await acting(self), self.view.id, change)
        return bool(await attempt(self, call, reload=self._refresh, **feedback))
