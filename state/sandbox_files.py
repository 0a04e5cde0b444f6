"""Sandbox page, Files tab: browse the workspace, view a file, edit a text file in place,
write a new one, upload files into the folder shown, download a folder as tar.gz, delete.

The file services are async (the runtime owns the I/O) and run on the server's event loop,
so the handlers await them directly. `FilesTab` is a tab of the sandbox page
(state/sandbox.py).

Text typed in the browser (the New file dialog, the editor) reaches the server over the
state socket, which drops any message over ~1 MB — silently, so the page would just sit
there. The browser therefore measures the text first (`MEASURED_TEXT`) and sends only
the size when it is over `TYPED_BYTES`: the handler says so in words and writes nothing.
Uploads and downloads do not use the socket: uploads go to /_upload (signed in, capped by
the web guard, one file at a time, written atomically by the runtime), downloads are
same-origin links to the API (the console's sign-in cookie).
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
import urllib.parse
import uuid
from typing import Any, ClassVar

import reflex as rx

from backend.auth.models import Principal
from backend.errors import InvalidInput, ServiceError, TooLarge
from backend.sandboxes import files
from backend.settings import get_settings
from state.base import acting, attempt, refusal, services
from state.format import byte_size, clean_path, timestamp
from state.sandbox import SandboxState, SandboxTab

SHOWN_BYTES = 1024 * 1024  # larger files are not rendered in the page
# Text typed in the page and saved over the state socket (whose messages stop at ~1 MB,
# escapes included): the New file dialog's content and the editor's.
TYPED_BYTES = 512 * 1024
SOCKET_ROOM = 900_000  # the text as JSON, in bytes: what must fit in one socket message
NEW_FILE_FORM = {"path": "new-file-path", "content": "new-file-content"}
EDITOR_ID = "file-editor"
UPLOAD_PICKER = "files-upload-picker"
UPLOAD_DROP = "files-upload-drop"
UPLOAD_MARGIN = 64 * 1024  # the multipart envelope around an upload's bytes
UPLOAD_CHUNK = 1024 * 1024


def measured_text(source: str) -> str:
    """A browser expression: `{bytes, content}` of the text `source` (a JS expression)
    yields, `content` left out when the text is too big to send (> TYPED_BYTES, or its
    JSON > SOCKET_ROOM): then only its size travels."""
    return (
        "(() => { const raw = " + source + "; if (raw == null) return {missing: true};"
        " const content = String(raw);"
        " const size = (text) => new TextEncoder().encode(text).length;"
        " const bytes = size(content);"
        f" const fits = bytes <= {TYPED_BYTES} && size(JSON.stringify(content)) <= {SOCKET_ROOM};"
        " return fits ? {bytes, content} : {bytes}; })()"
    )


def _field_value(element_id: str) -> str:
    return f"document.getElementById({json.dumps(element_id)})?.value"


# The New file dialog's fields, read in the browser when it is submitted.
NEW_FILE_TEXT = (
    "Object.assign({path: String("
    + _field_value(NEW_FILE_FORM["path"])
    + " ?? '')}, "
    + measured_text(_field_value(NEW_FILE_FORM["content"]))
    + ")"
)
# The editor's current text (components/code_editor.jsx keeps it by editor id).
EDITOR_TEXT = measured_text(f"window.mboxEditorText?.({json.dumps(EDITOR_ID)})")


def too_big_to_type(path: str, size: int) -> str:
    return (
        f"{path or 'The file'} is {byte_size(size)}: text typed here is saved up to "
        f"{byte_size(TYPED_BYTES)}. Nothing was written; upload a larger file instead."
    )


def upload_target(folder: str, name: str) -> str:
    """Where an uploaded file goes: `name` (as the browser sent it: a plain name, or
    `./sub/name` from a dropped folder) under `folder`. A name that is absolute or climbs
    (`..`) is refused in words, before anything is read."""
    relative = name.replace("\\", "/")
    if not relative or relative.startswith("/") or "\x00" in relative:
        raise InvalidInput(f"'{name}' cannot be uploaded: file names must be relative")
    pieces = [piece for piece in relative.split("/") if piece not in ("", ".")]
    if not pieces or ".." in pieces:
        raise InvalidInput(f"'{name}' cannot be uploaded: a file name cannot climb out with '..'")
    return posixpath.join(folder, *pieces) if folder else "/".join(pieces)


async def read_upload(file: Any, limit: int, name: str) -> bytes:
    """The uploaded file's bytes, refused past `limit` (read a chunk at a time)."""
    data = bytearray()
    while chunk := await file.read(UPLOAD_CHUNK):
        data += chunk
        if len(data) > limit:
            raise TooLarge(f"{name} is larger than the {byte_size(limit)} an upload can write")
    return bytes(data)


def refused_words(rejected: list[dict[str, Any]], limit: int, what: str) -> str:
    """Why the browser refused a file, in words: `name is larger than the <limit> <what>`,
    or that only one file goes at a time."""
    first = rejected[0] if rejected and isinstance(rejected[0], dict) else {}
    name = str(first.get("name") or "The file")
    codes = set(first.get("codes") or [])
    if "too-many-files" in codes:
        return "Upload one file at a time."
    if "file-too-large" in codes:
        return f"{name} is larger than the {byte_size(limit)} {what}. Nothing was written."
    return f"{name} cannot be uploaded."


def archive_url(sandbox_id: str, path: str) -> str:
    """The API's tar.gz of a folder, relative (the console's origin serves /v1 too)."""
    query = urllib.parse.urlencode({"path": path})
    return f"/v1/sandboxes/{sandbox_id}/files/archive?{query}"


def content_url(sandbox_id: str, path: str) -> str:
    """The API's bytes of a file, relative like `archive_url`."""
    query = urllib.parse.urlencode({"path": path})
    return f"/v1/sandboxes/{sandbox_id}/files/content?{query}"


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
    url: str = ""  # its download: the API's content route (any size, streamed)
    editable: bool = False  # text small enough to edit in place


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
    view.url = content_url(sandbox_id, path)
    if size > SHOWN_BYTES:
        view.kind = "large"
        return view
    data = await services().files.read(
        principal=principal, sandbox_id=uuid.UUID(sandbox_id), path=path
    )
    view.size = byte_size(len(data))
    if _is_text(data):
        view.kind, view.text = "text", data.decode("utf-8")
        view.editable = len(data) <= TYPED_BYTES
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
    editing: bool = False  # the open file is in the editor
    edit_error: str = ""
    upload_busy: bool = False

    @rx.var
    def upload_limit(self) -> int:
        """The largest file an upload takes, in bytes: what a write may be, and what fits
        in /_upload's cap with the multipart envelope around it. (Settings only: Reflex
        computes vars while it compiles, and services built then would start the
        runtime, its Kubernetes informer included, outside the server's event loop.)"""
        settings = get_settings()
        return min(files.MAX_WRITE_BYTES, settings.upload_max_bytes - UPLOAD_MARGIN)

    @rx.var
    def upload_limit_words(self) -> str:
        return byte_size(self.upload_limit)

    @rx.var
    def typed_limit_words(self) -> str:
        return byte_size(TYPED_BYTES)

    @rx.var
    def folder_archive_url(self) -> str:
        """The folder shown, as a tar.gz download."""
        return archive_url(self.view.id, self.path) if self.view.id else ""

    @rx.var
    def folder_archive_name(self) -> str:
        return f"{self.path.rpartition('/')[2] or 'workspace'}.tar.gz"

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
        self.path, self.file, self.editing = path, FileView(), False
        await self._list_files()

    async def _open_file(self, path: str, size: int) -> None:
        self.editing, self.edit_error = False, ""
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
        self.file, self.editing = FileView(), False

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
    async def save_new_file(self, measured: dict[str, Any]):
        self.new_file_error = ""
        measured = measured if isinstance(measured, dict) else {"missing": True}
        path = clean_path(str(measured.get("path") or ""))
        if not path:
            self.new_file_error = "Enter a path for the file, such as notes/todo.txt."
            return
        if "content" not in measured:
            self.new_file_error = too_big_to_type(path, int(measured.get("bytes") or 0))
            return
        data = str(measured["content"]).encode()
        call = services().files.write(**await self._as_console(path), data=data)
        if not await attempt(self, call, error="new_file_error", clear=()):
            return
        self.new_file_open = False
        self.notice = f"Saved {path} ({byte_size(len(data))})."
        await self._list_files()

    @rx.event
    def edit_file(self):
        self.editing, self.edit_error = self.file.editable, ""

    @rx.event
    def cancel_edit(self):
        self.editing, self.edit_error = False, ""

    @rx.event
    async def save_edit(self, measured: dict[str, Any]):
        path = self.file.path
        if not (self.editing and path):
            return
        measured = measured if isinstance(measured, dict) else {"missing": True}
        if measured.get("missing"):
            self.edit_error = "The editor is still loading: try Save again in a moment."
            return
        if "content" not in measured:
            self.edit_error = too_big_to_type(path, int(measured.get("bytes") or 0))
            return
        data = str(measured["content"]).encode()
        call = services().files.write(**await self._as_console(path), data=data)
        if not await attempt(self, call, error="edit_error", clear=("edit_error", "notice")):
            return
        self.notice = f"Saved {path} ({byte_size(len(data))})."
        await self._open_file(path, len(data))
        await self._list_files()

    @rx.event
    async def upload_files(self, uploaded: list[rx.UploadFile]):
        """Files chosen or dropped (one at a time), written into the folder shown."""
        if not uploaded:  # all refused by the browser: `upload_refused` said why
            return
        self.error = self.notice = ""
        if len(uploaded) != 1:
            self.error = "Upload one file at a time."
            return
        file = uploaded[0]
        self.upload_busy = True
        yield
        try:
            outcome = await attempt(self, self._upload(file), clear=())
        finally:
            self.upload_busy = False
        if outcome:
            self.notice = f"Uploaded {outcome.value}."
            await self._list_files()

    async def _upload(self, file: Any) -> str:
        # Reflex hands over the multipart name cleaned (no '..', no leading '/'), as a
        # relative path (a dropped folder's file keeps its folders); checked again here.
        path = upload_target(self.path, str(file.path or file.name or ""))
        data = await read_upload(file, self.upload_limit, path)
        await services().files.write(**await self._as_console(path), data=data)
        return f"{path} ({byte_size(len(data))})"

    @rx.event
    def upload_refused(self, rejected: list[dict[str, Any]]):
        """The browser refused the file before sending it (too large, or several):
        `[{name, size, codes}]` (components/files.refusals)."""
        self.notice = ""
        self.error = refused_words(rejected, self.upload_limit, "an upload can write")


def submit_new_file() -> rx.event.EventSpec:
    """The New file form's submit, run in the browser: its text is measured there and sent
    only when it fits (the form's own submit would send it whatever its size)."""
    return rx.call_script(NEW_FILE_TEXT, callback=FilesTab.save_new_file)


def submit_edit() -> rx.event.EventSpec:
    """The editor's Save, run in the browser: nothing is sent while typing."""
    return rx.call_script(EDITOR_TEXT, callback=FilesTab.save_edit)
