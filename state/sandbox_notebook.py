"""Sandbox page, Run code tab: a notebook of Python cells run in the sandbox's Jupyter
kernel (the kernel hub, backend/sessions/kernels.py; the code-interpreter template has
Jupyter), each cell's output shown under it as it comes.

Everything a cell gives came from the sandbox and is untrusted: text is shown as text,
ANSI colours are taken out of tracebacks, HTML goes only into a sandboxed iframe (no
scripts, nothing fetched: a CSP), images only as data: URLs of checked base64.

The console's cells share one context (kernel) per sandbox in this server process, made
on the first run and kept (the module's `_CONTEXTS`): the SDK's default context stays
the SDK's, and reloading the page finds its variables again. Restart starts it afresh.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import reflex as rx

from backend.auth.models import Principal
from backend.errors import NotFound
from backend.sessions.code_models import wire_event
from state.base import (
    acting,
    attempt,
    in_thread,
    principal_of_cookie,
    services,
    sign_in_cookie,
)
from state.sandbox import SandboxState, SandboxTab, failure_words

MAX_CELLS = 50
MAX_TEXT = 256 * 1024  # characters of one output block shown
MAX_IMAGE = 8 * 1024 * 1024  # base64 characters of one image
MAX_OUTPUTS = 200  # blocks of one cell
RUN_TIMEOUT = 600  # seconds before the kernel is interrupted
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
BASE64 = re.compile(r"^[A-Za-z0-9+/=\s]*$")
# Before a result's HTML: nothing may be fetched or run (the iframe's sandbox stops
# scripts too); inline styles and data: images are the table and chart look.
HTML_POLICY = (
    '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
    "style-src 'unsafe-inline'; img-src data:\">"
    "<style>body{font:13px system-ui,sans-serif;margin:4px}"
    "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 6px}</style>"
)
# sandbox_id -> the console's context in that sandbox's kernel driver
_CONTEXTS: dict[str, str] = {}


@dataclasses.dataclass
class CellOutput:
    """One block under a cell: kind stdout, stderr, text, html, image or error."""

    kind: str = ""
    text: str = ""  # the text; html: the iframe's document; image: its data: URL
    label: str = ""  # error: "Name: value"; image: its alt text


@dataclasses.dataclass
class Cell:
    id: str = ""
    code: str = ""
    outputs: list[CellOutput] = dataclasses.field(default_factory=list)
    count: str = " "  # the execution count, "*" while running
    running: bool = False
    problem: str = ""  # a refusal in words (sandbox not running, no Jupyter)


def new_cell(code: str = "") -> Cell:
    return Cell(id=uuid.uuid4().hex[:12], code=code)


def add_output(outputs: list[CellOutput], event: dict[str, Any]) -> str | None:
    """A kernel event into the cell's blocks (output of one stream runs together); the
    execution count when the event is one."""
    line = wire_event(event)
    if line is None:
        return None
    kind = line["type"]
    if kind == "executionCount":
        count = line.get("executionCount")
        return str(count) if count is not None else None
    if len(outputs) >= MAX_OUTPUTS:
        return None
    if kind in ("stdout", "stderr"):
        if outputs and outputs[-1].kind == kind:
            outputs[-1].text = _cut(outputs[-1].text + line["text"])
        else:
            outputs.append(CellOutput(kind, _cut(line["text"])))
    elif kind == "error":
        label = f"{line['name']}: {line['value']}"
        outputs.append(CellOutput("error", _cut(ANSI.sub("", line["traceback"])), label))
    elif kind == "result":
        outputs.append(result_output(line))
    return None


def result_output(result: dict[str, Any]) -> CellOutput:
    """A result as one block: an image, HTML, else its text."""
    for name, mime in (("png", "image/png"), ("jpeg", "image/jpeg"), ("svg", "image/svg+xml")):
        url = image_url(result.get(name), mime)
        if url:
            return CellOutput("image", url, result.get("text") or "a chart")
    if result.get("html"):
        return CellOutput("html", HTML_POLICY + _cut(result["html"]))
    text = result.get("text") or result.get("markdown") or result.get("latex") or ""
    return CellOutput("text", _cut(text))


def image_url(data: Any, mime: str) -> str:
    """A data: URL of the image, or "" when it is not one an <img> may show."""
    if not isinstance(data, str) or not data or len(data) > MAX_IMAGE:
        return ""
    if mime == "image/svg+xml":  # markup, not base64: encoded here (an <img> runs no script)
        return "data:image/svg+xml;base64," + base64.b64encode(data.encode()).decode()
    if not BASE64.match(data):
        return ""
    try:
        base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        return ""
    return f"data:{mime};base64,{''.join(data.split())}"


def _cut(text: str) -> str:
    if len(text) <= MAX_TEXT:
        return text
    return text[:MAX_TEXT] + f"\n[... cut: the console shows {MAX_TEXT} characters of it]"


async def notebook_context(principal: Principal, sandbox_id: str) -> str:
    """The console's context in the sandbox (made on first use, or again when the
    sandbox's kernels started afresh)."""
    known = _CONTEXTS.get(sandbox_id)
    kernels = services().kernels
    if known is not None:
        listed = await kernels.contexts(principal, uuid.UUID(sandbox_id))
        if any(context["id"] == known for context in listed):
            return known
    made = await kernels.create_context(principal, uuid.UUID(sandbox_id))
    _CONTEXTS[sandbox_id] = made["id"]
    return made["id"]


async def run_events(principal: Principal, sandbox_id: str, code: str) -> AsyncIterator[dict]:
    context_id = await notebook_context(principal, sandbox_id)
    kernels = services().kernels
    events = kernels.execute(
        principal, uuid.UUID(sandbox_id), code, context_id=context_id, timeout=RUN_TIMEOUT
    )
    async for event in events:
        yield event


async def restart_kernel(principal: Principal, sandbox_id: str) -> None:
    known = _CONTEXTS.get(sandbox_id)
    if known is None:
        return  # nothing ran yet: it starts fresh anyway
    try:
        await services().kernels.restart_context(principal, uuid.UUID(sandbox_id), known)
    except NotFound:
        _CONTEXTS.pop(sandbox_id, None)  # gone with the sandbox's kernels: a new one next


class NotebookTab(SandboxTab, SandboxState):
    TAB: ClassVar[str] = "notebook"
    cells: list[Cell] = [new_cell()]

    def _cell(self, cell_id: str) -> Cell | None:
        return next((cell for cell in self.cells if cell.id == cell_id), None)

    @rx.event
    def add_cell(self):
        if len(self.cells) < MAX_CELLS:
            self.cells = [*self.cells, new_cell()]

    @rx.event
    def remove_cell(self, cell_id: str):
        kept = [cell for cell in self.cells if cell.id != cell_id or cell.running]
        self.cells = kept or [new_cell()]

    @rx.event
    def clear_outputs(self):
        self.cells = [dataclasses.replace(cell, outputs=[], problem="") for cell in self.cells]

    @rx.event
    async def run_cell(self, form: dict[str, Any]):
        """Run the cell's code (the form's `code`), then follow its output."""
        cell = self._cell(str(form.get("cell") or ""))
        code = form.get("code")
        if cell is None or cell.running or not isinstance(code, str):
            return None
        await self._new_action()
        self.error = self.notice = ""
        cell.code, cell.outputs, cell.problem = code, [], ""
        cell.running, cell.count = True, "*"
        if cell.id == self.cells[-1].id and code.strip() and len(self.cells) < MAX_CELLS:
            self.cells = [*self.cells, new_cell()]  # a fresh cell below, as notebooks do
        else:
            self.cells = list(self.cells)
        return type(self).follow_run(cell.id)

    @rx.event(background=True)
    async def follow_run(self, cell_id: str):
        async with self:
            cell = self._cell(cell_id)
            if cell is None:
                return
            code, sandbox_id = cell.code, self.view.id
            cookie = sign_in_cookie(self.router.headers.cookie)
        outputs: list[CellOutput] = []
        count, problem = " ", ""
        try:
            principal = await in_thread(principal_of_cookie, cookie)
            async for event in run_events(principal, sandbox_id, code):
                count = add_output(outputs, event) or count
                async with self:
                    self._show(cell_id, outputs, count, running=True)
        except Exception as exc:  # a refusal in words (a bug logged): the cell says it
            problem = failure_words(exc, "The code did not run")
        async with self:
            self._show(cell_id, outputs, count, running=False, problem=problem)

    def _show(
        self, cell_id: str, outputs: list[CellOutput], count: str, *, running: bool, problem=""
    ) -> None:
        cell = self._cell(cell_id)
        if cell is None:
            return
        cell.outputs = [dataclasses.replace(output) for output in outputs]
        cell.count = "*" if running else count
        cell.running, cell.problem = running, problem
        self.cells = list(self.cells)

    @rx.event
    async def restart(self):
        await self._new_action()
        principal = await acting(self)
        done = "The kernel restarted: its variables and imports are gone."
        await attempt(self, restart_kernel(principal, self.view.id), done=done)
        self.cells = [dataclasses.replace(cell, count=" ") for cell in self.cells]
