"""Sandbox page, Files tab: browse the workspace, view a file, write a new one, delete.

The file services are async (the runtime owns the I/O) and run on the server's event loop,
so the handlers await them directly. `FilesTab` is a tab of the sandbox page
(state/sandbox.py).
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any, ClassVar

import reflex as rx

from backend.auth.models import Principal
from backend.errors import ServiceError
from backend.sandboxes import files
from state.base import acting, attempt, refusal, services
from state.format import byte_size, clean_path, timestamp
from state.sandbox import SandboxState, SandboxTab

SHOWN_BYTES = 1024 * 1024  # larger files are not rendered in the page
DOWNLOAD_BYTES = files.MAX_READ_BYTES


@dataclasses.dataclass
class FileItem:
    path: str = ""
    name: str = ""
    type: str = ""  # file | directory | symlink | other
    bytes: int = 0
    size: str = ""
    modified: str = ""
    modified_full: str = ""


@dataclasses.dataclass
class Crumb:
    label: str
    path: str


@dataclasses.dataclass
class FileView:
    """The open file: `kind` is text, binary or large (not rendered), or "" when none."""

    path: str = ""
    name: str = ""
    kind: str = ""
    text: str = ""
    size: str = ""
    downloadable: bool = False


def _item(entry: files.WorkspaceEntry) -> FileItem:
    is_file = entry.type == "file"
    return FileItem(
        path=entry.path,
        name=entry.name,
        type=entry.type,
        bytes=entry.size,
        size=byte_size(entry.size) if is_file else "",
        modified=entry.modified_at.strftime("%Y-%m-%d %H:%M"),
        modified_full=timestamp(entry.modified_at),
    )


def _order(item: FileItem) -> tuple[bool, str]:
    return item.type != "directory", item.name.lower()


async def read_listing(principal: Principal, sandbox_id: str, path: str) -> list[FileItem]:
    entries = await services().files.list(
        principal=principal, sandbox_id=uuid.UUID(sandbox_id), path=path
    )
    return sorted((_item(e) for e in entries), key=_order)


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


async def read_view(principal: Principal, sandbox_id: str, path: str, size: int) -> FileView:
    name = path.rsplit("/", 1)[-1]
    view = FileView(path=path, name=name, size=byte_size(size))
    view.downloadable = size <= DOWNLOAD_BYTES
    if size > SHOWN_BYTES:
        view.kind = "large"
        return view
    data = await services().files.read(
        principal=principal, sandbox_id=uuid.UUID(sandbox_id), path=path
    )
    view.size = byte_size(len(data))
    if _is_text(data):
        view.kind, view.text = "text", data.decode("utf-8")
    else:
        view.kind = "binary"
    return view


class FilesTab(SandboxTab, SandboxState):
    TAB: ClassVar[str] = "files"
    path: str = ""  # the directory shown, relative to the workspace ("" = root)
    files: list[FileItem] = []
    file: FileView = FileView()
    new_file_open: bool = False
    new_file_error: str = ""

    @rx.var
    def crumbs(self) -> list[Crumb]:
        """Workspace / notes / todo.txt: the folders (and the open file) down to here."""
        shown = self.file.path or self.path
        trail = [Crumb("Workspace", "")]
        pieces = [piece for piece in shown.split("/") if piece]
        trail += [Crumb(p, "/".join(pieces[: i + 1])) for i, p in enumerate(pieces)]
        return trail

    @rx.var
    def new_file_folder(self) -> str:
        """Where the New file form starts: the folder shown, with a trailing slash."""
        return f"{self.path}/" if self.path else ""

    async def _as_console(self, path: str) -> dict[str, Any]:
        """Who changes which file: the signed-in principal through the console, at `path`
        in this sandbox's workspace."""
        principal = await acting(self)
        return {"principal": principal, "sandbox_id": uuid.UUID(self.view.id), "path": path}

    async def _list_files(self) -> None:
        try:
            listing = await read_listing(await acting(self), self.view.id, self.path)
        except ServiceError as exc:
            self.files, self.error = [], refusal(exc)
        else:
            self.error = ""
            if listing != self.files:
                self.files = listing
        self.loaded = True

    async def _open(self) -> None:
        """The tab opened: show the folder (the open file stays open)."""
        await self._list_files()

    async def _open_folder(self, path: str) -> None:
        self.path, self.file = path, FileView()
        await self._list_files()

    async def _open_file(self, path: str, size: int) -> None:
        try:
            self.file = await read_view(await acting(self), self.view.id, path, size)
        except ServiceError as exc:
            self.file, self.error = FileView(), refusal(exc)
        else:
            self.error = ""

    @rx.event
    async def open_folder(self, path: str):
        self.notice = ""
        await self._open_folder(path)

    @rx.event
    async def open_entry(self, path: str, kind: str, size: int):
        self.notice = ""
        if kind == "directory":
            await self._open_folder(path)
        else:
            await self._open_file(path, size)

    @rx.event
    def close_file(self):
        self.file = FileView()

    @rx.event
    async def refresh_files(self):
        self.notice = ""
        await self._list_files()
        if self.file.path and not self.error:
            sizes = {item.path: item.bytes for item in self.files}
            if self.file.path in sizes:
                await self._open_file(self.file.path, sizes[self.file.path])
            else:
                self.file = FileView()
                self.error = "The file you had open is no longer there."

    @rx.event
    async def delete_entry(self, path: str):
        call = services().files.delete(**await self._as_console(path))
        if not await attempt(self, call, clear=("notice",)):
            return
        if self.file.path == path:
            self.file = FileView()
        self.notice = f"Deleted {path}."
        await self._list_files()

    @rx.event
    def set_new_file_open(self, value: bool):
        self.new_file_open = value
        self.new_file_error = ""

    @rx.event
    async def save_new_file(self, form: dict[str, Any]):
        self.new_file_error = ""
        path = clean_path(str(form.get("path") or ""))
        if not path:
            self.new_file_error = "Enter a path for the file, such as notes/todo.txt."
            return
        data = str(form.get("content") or "").encode()
        call = services().files.write(**await self._as_console(path), data=data)
        if not await attempt(self, call, error="new_file_error", clear=()):
            return
        self.new_file_open = False
        self.notice = f"Saved {path} ({byte_size(len(data))})."
        await self._list_files()

    @rx.event
    async def download_file(self, path: str):
        try:
            data = await services().files.read(**await self._as_console(path))
        except ServiceError as exc:
            self.error = refusal(exc)
            return None
        return rx.download(data=data, filename=path.rsplit("/", 1)[-1])
