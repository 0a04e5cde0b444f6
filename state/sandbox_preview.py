"""Sandbox page, Preview tab: the ports the sandbox serves, opened in the browser or shared
through expiring links, and the port declarations themselves.

Each TCP port has its own origin (`<port>-<sandbox id>.<preview host>`, see
backend/sandboxes/previews.py). Open and Embed get in with a viewer grant for whoever is
signed in here (backend/sandboxes/preview_grants.py: a single-use code, no link, nothing
listed); Copy share link makes a preview link that lasts as long as the chosen expiry,
copies it (when the browser allows) and shows it once. The Links list shows those links.
Adding or removing a port updates the sandbox's declared ports (the whole list) through the
sandboxes service; a port some process listens on but that is not declared is offered
with a name to declare it in one click.

`PreviewTab` is a tab of the sandbox page (state/sandbox.py); it reads the ports itself
(with their origins, and the listening ones while the sandbox runs) and the page re-reads
them every few seconds.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from datetime import datetime
from typing import Any, ClassVar

import reflex as rx

from backend.auth.models import Principal
from backend.auth.service import sign_in_from_cookie
from backend.db import utcnow
from backend.errors import ServiceError
from backend.sandboxes import preview_grants, previews
from backend.sandboxes import service as sandboxes
from backend.sandboxes.models import PreviewLinkCreate, PreviewLinkRow, SandboxUpdate
from state.base import acting, attempt, db_session, in_thread, services, sign_in_cookie
from state.format import clock, relative, timestamp
from state.sandbox import SandboxState, SandboxTab
from state.sandbox_terminal import copy_to_clipboard

SHARE_LABEL = "Shared from the console"
# The expiry choices of a share link (seconds, as the select's values) and their words.
EXPIRIES = (("3600", "1 hour"), ("86400", "1 day"), ("604800", "7 days"))
# A Kubernetes port name (IANA_SVC_NAME): at most 15 characters, lower-case letters,
# digits and single inner dashes, at least one letter.
MAX_PORT_NAME = 15
PORT_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
PORT_NAME_RULE = (
    "A port name has at most 15 characters: lower-case letters, digits and inner "
    "dashes, with at least one letter (such as web or api-2)."
)
SHOWN_LINKS = 100


@dataclasses.dataclass
class PreviewPortItem:
    name: str = ""
    port: int = 0
    protocol: str = ""
    origin: str = ""  # where the browser opens it ("" for UDP: not previewable)


@dataclasses.dataclass
class ListeningItem:
    """A port some process in the sandbox listens on that is not declared."""

    port: int = 0
    name: str = ""  # the name Declare suggests


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
) -> tuple[list[PreviewPortItem], list[LinkItem], bool]:
    """The declared ports with their preview origins, the links, newest first, and
    whether the sandbox runs."""
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
    return ports, [_link(row, names, now) for row in rows], sandbox.status == "running"


def suggested_name(port: int, taken: set[str]) -> str:
    """A free, valid port name for a listening port: web, else web-<port>, else
    port-<port>."""
    for name in ("web", f"web-{port}", f"port-{port}"):
        if name not in taken:
            return name
    return f"p{port}"


async def read_listening(sandbox_id: str, declared: list[PreviewPortItem]) -> list[ListeningItem]:
    """The ports processes in the (running) sandbox listen on that are not declared, each
    with a free name to declare it under."""
    found = await previews.listening_ports(services().runtime, uuid.UUID(sandbox_id))
    numbers = {item.port for item in declared}
    taken = {item.name for item in declared}
    items = []
    for port in sorted(found - numbers):
        name = suggested_name(port, taken)
        taken.add(name)
        items.append(ListeningItem(port, name))
    return items


def port_name_problem(name: str) -> str:
    """Why `name` cannot name a port ("" if it can)."""
    if not name:
        return "Enter a name for the port, such as web."
    if len(name) > MAX_PORT_NAME or not PORT_NAME.match(name) or name.isdigit():
        return PORT_NAME_RULE
    return ""


def grant_view(principal: Principal, sandbox_id: str, port: int, cookie_header: str) -> str:
    """The single-use URL that opens the port for this browser's sign-in (no link made)."""
    settings = services().settings
    sign_in = sign_in_from_cookie(settings, sign_in_cookie(cookie_header))
    with db_session(principal) as db:
        return preview_grants.mint_code(
            db,
            principal=principal,
            settings=settings,
            sandbox_id=uuid.UUID(sandbox_id),
            port=port,
            sign_in=sign_in,
        )


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
    listening: list[ListeningItem] = []
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
            ports, links, running = await in_thread(read_previews, principal, sandbox_id)
        except ServiceError as exc:
            return {"error": exc.message, "loaded": True}
        listening = await read_listening(sandbox_id, ports) if running else []
        return {"preview_ports": ports, "listening": listening, "links": links, "loaded": True}

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

    async def _grant(self, port: int) -> str | None:
        """A viewer grant's single-use URL for this browser's sign-in, or None (said)."""
        if self._not_running():
            return None
        principal = await acting(self)
        cookie = self.router.headers.cookie
        made = await attempt(self, in_thread(grant_view, principal, self.view.id, port, cookie))
        return made.value if made else None

    @rx.event
    async def open_preview(self, port: int):
        """Open the port in a new tab, for whoever is signed in here (no link is made)."""
        url = await self._grant(port)
        if url is None:
            return None
        self.notice = f"Opened port {port} in a new tab."
        return rx.redirect(url, is_external=True)

    @rx.event
    async def embed_preview(self, port: int):
        """Show the port in a frame on this page (its own origin: it cannot reach the
        console), through a viewer grant like Open."""
        url = await self._grant(port)
        if url is not None:
            self.embed_url, self.embed_port = url, port

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

    def _port_problem(self, name: str, number: int | None) -> str:
        declared = {item.port: item.name for item in self.preview_ports}
        if problem := port_name_problem(name):
            return problem
        if name in declared.values():
            return f"A port named {name} is already declared."
        if number is None:
            return "The port is a whole number from 1 to 65535."
        if number in declared:
            return f"Port {number} is already declared (as {declared[number]})."
        return ""

    @rx.event
    async def add_port(self, form: dict[str, Any]):
        name = str(form.get("name") or "").strip()
        number = port_number(str(form.get("port") or ""))
        self.port_error = self._port_problem(name, number)
        if self.port_error:
            return
        entry = {"name": name, "port": number, "protocol": "TCP"}
        if await self._change_ports(lambda ports: [*ports, entry], error="port_error", clear=()):
            self.port_dialog_open = False
            self.notice = f"Added port {name} ({number})."

    @rx.event
    async def declare_port(self, form: dict[str, Any]):
        """Declare a port a process listens on, under the (suggested or edited) name."""
        name = str(form.get("name") or "").strip()
        number = port_number(str(form.get("port") or ""))
        self.notice = ""
        self.error = self._port_problem(name, number)
        if self.error:
            return
        entry = {"name": name, "port": number, "protocol": "TCP"}
        done = f"Declared port {name} ({number}): it can be opened and shared now."
        await self._change_ports(lambda ports: [*ports, entry], done=done)

    @rx.event
    async def remove_port(self, port: int):
        name = next((item.name for item in self.preview_ports if item.port == port), "")
        done = f"Removed port {name or port} ({port}); links to it stop working."
        await self._change_ports(lambda ports: [p for p in ports if p["port"] != port], done=done)

    async def _change_ports(self, change: Any, **feedback: Any) -> bool:
        """Apply `change` to the declared ports, then read them again."""
        call = in_thread(set_ports, await acting(self), self.view.id, change)
        return bool(await attempt(self, call, reload=self._refresh, **feedback))
