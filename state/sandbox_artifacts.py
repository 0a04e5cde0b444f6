"""Sandbox page, Artifacts tab: what the sandbox produced and kept — captured from its
workspace, uploaded from this browser, or declared by its tasks — with previews, downloads,
capture again, delete, and the project's retained usage.

References and usage are synchronous services (run in a worker thread); the bytes move
through the artifact content service (`ArtifactContent`: upload, capture, download), whose
coroutines the handlers await directly, like the Files tab. Capture and upload make the
reference and retain its bytes in one service call (both, or neither). Downloads and image
previews are plain same-origin links to the API (`/v1/artifacts/<id>/content`, like the
Sessions tab's recordings): the browser fetches them with the console's sign-in cookie,
the API streams them with Content-Disposition: attachment, and no bytes pass through the
state socket.

`ArtifactsTab` is a tab of the sandbox page (state/sandbox.py), read when it opens and on
Refresh.
"""

from __future__ import annotations

import contextlib
import dataclasses
import mimetypes
import posixpath
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, ClassVar

import reflex as rx

from backend.artifacts import service as artifacts
from backend.artifacts.content import WORKSPACE_SCHEME, ByteRange, ContentStream
from backend.artifacts.models import (
    Artifact,
    ArtifactContentRow,
    ArtifactCreate,
    ArtifactRow,
    ArtifactUsage,
)
from backend.auth.models import Principal
from backend.errors import ServiceError
from backend.sandboxes import service as sandboxes
from backend.tasks import service as tasks
from backend.tasks.events import complete_utf8
from backend.tasks.models import ExecutionTaskRow
from backend.validation import request_body
from state.base import acting, attempt, db_session, in_thread, services
from state.format import byte_size, clean_path, short_id, timestamp
from state.sandbox import SandboxState, SandboxTab
from state.sandbox_files import refused_words
from state.sandbox_tasks import command_text

PREVIEW_BYTES = 64 * 1024  # of a text artifact, shown in the preview
UPLOAD_CHUNK = 1024 * 1024  # an upload is read and stored this much at a time
UPLOAD_ID = "artifact-upload"
ALL_TASKS = "all"  # the filter's value for every artifact of the sandbox
CLIENT_SCHEME = "client://"
# The kinds the capture form offers (value, label); the service knows a few more.
CAPTURE_KINDS = (
    ("file", "File"),
    ("directory", "Directory"),
    ("report", "Report"),
    ("log", "Log"),
    ("screenshot", "Screenshot"),
    ("image", "Image"),
    ("other", "Other"),
)
TEXT_TYPES = (
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-yaml",
    "application/yaml",
    "application/toml",
    "application/x-sh",
    "application/sql",
)
TASK_LABEL_CHARS = 48

# "postgres" is the contract's name for "in the database", which may well be SQLite.
STORE_LABELS = {"postgres": "database", "filesystem": "filesystem", "s3": "S3"}


@dataclasses.dataclass
class ArtifactItem:
    """One row of the table."""

    id: str = ""
    name: str = ""
    kind: str = ""
    uri: str = ""
    task_id: str = ""
    task_short: str = ""
    retained: bool = False
    size: str = ""  # "12 B" (retained content)
    size_bytes: int = -1  # of the retained content (-1: none)
    sha256: str = ""
    sha_short: str = ""
    provider: str = ""
    content_type: str = ""
    url: str = ""  # the API's content URL (download, image preview)
    capturable: bool = False  # a workspace:// reference: Capture again applies
    capture_error: str = ""  # why a task's capture failed (kept in the metadata)
    created: str = ""
    created_full: str = ""


@dataclasses.dataclass
class TaskChoice:
    value: str = ""
    label: str = ""


@dataclasses.dataclass
class ArtifactPreview:
    """The artifact being previewed: `kind` is text, image or none ("" when closed)."""

    id: str = ""
    name: str = ""
    kind: str = ""
    text: str = ""
    note: str = ""  # "Showing the first 64 KiB of 3.1 MiB." when cut
    reason: str = ""  # why there is no preview, in words
    url: str = ""
    size: str = ""
    content_type: str = ""


@dataclasses.dataclass
class ArtifactListing:
    items: list[ArtifactItem]
    choices: list[TaskChoice]
    usage: str
    retention: str


def content_url(artifact_id: str) -> str:
    """Relative, so the browser asks the console's own origin (which also serves /v1)."""
    return f"/v1/artifacts/{artifact_id}/content"


def _item(row: ArtifactRow, content: ArtifactContentRow | None) -> ArtifactItem:
    task_id = str(row.task_id) if row.task_id else ""
    meta = row.meta if isinstance(row.meta, dict) else {}
    return ArtifactItem(
        id=str(row.id),
        name=row.name,
        kind=row.kind,
        uri=row.uri,
        task_id=task_id,
        task_short=short_id(task_id),
        retained=content is not None,
        size=byte_size(content.size_bytes) if content else "",
        size_bytes=content.size_bytes if content else -1,
        sha256=content.sha256 if content else "",
        sha_short=content.sha256[:12] if content else "",
        provider=STORE_LABELS.get(content.storage_provider, "") if content else "",
        content_type=(content.content_type if content else "") or row.content_type,
        url=content_url(str(row.id)),
        capturable=row.uri.startswith(WORKSPACE_SCHEME),
        capture_error=str(meta.get("captureError") or ""),
        created=row.created_at.strftime("%Y-%m-%d %H:%M"),
        created_full=timestamp(row.created_at),
    )


def _choice(task: ExecutionTaskRow) -> TaskChoice:
    command = command_text(task.command)
    if len(command) > TASK_LABEL_CHARS:
        command = command[: TASK_LABEL_CHARS - 1] + "…"
    return TaskChoice(str(task.id), f"Task {short_id(str(task.id))} · {command}")


def usage_words(found: ArtifactUsage) -> tuple[str, str]:
    """`1.2 MiB in 3 artifacts` and how long they are kept, in words."""
    count = found.retained_count
    usage = f"{byte_size(found.retained_bytes)} in {count} artifact{'' if count == 1 else 's'}"
    days = found.retention_days
    if days is None:
        return usage, "Kept until deleted."
    return usage, f"Kept {days} day{'' if days == 1 else 's'} after their last change."


def read_artifacts(
    principal: Principal, sandbox_id: str, task_id: str
) -> tuple[ArtifactListing, str]:
    """The sandbox's artifacts (or one task's), the tasks to filter by and the project's
    usage; and the filter that applies (a task without artifacts left falls back to all)."""
    parsed = uuid.UUID(sandbox_id)
    with db_session(principal) as db:
        project_id = sandboxes.get_sandbox(db, parsed).project_id
        every = artifacts.list_for_sandbox(db, sandbox_id=parsed)
        with_artifacts = {row.task_id for row, _ in every if row.task_id}
        found = tasks.list_tasks(db, sandbox_id=parsed)
        choices = [_choice(task) for task in found if task.id in with_artifacts]
        if task_id != ALL_TASKS and task_id not in {choice.value for choice in choices}:
            task_id = ALL_TASKS
        if task_id == ALL_TASKS:
            rows = every
        else:
            rows = artifacts.list_for_task(db, task_id=uuid.UUID(task_id))
        usage, retention = usage_words(artifacts.usage(db, project_id=project_id))
    items = [_item(row, content) for row, content in rows]
    return ArtifactListing(items, choices, usage, retention), task_id


def delete_reference(principal: Principal, artifact_id: str) -> None:
    with db_session(principal) as db:
        artifacts.delete_artifact(db, principal=principal, artifact_id=uuid.UUID(artifact_id))


def words(exc: ServiceError) -> str:
    """A service error as the end of a sentence, with the limit it names (if any)."""
    message = exc.message.rstrip(".")
    limit = exc.detail.get("limitBytes") if isinstance(exc.detail, dict) else None
    if isinstance(limit, int):
        message += f" (at most {byte_size(limit)})"
    return message + "."


def preview_kind(content_type: str, head: bytes) -> str:
    """image, text or none: text by its type, or by its bytes when the type says nothing."""
    base = content_type.split(";", 1)[0].strip().lower()
    if base.startswith("image/"):
        return "image"
    if base.startswith("text/") or base in TEXT_TYPES or base.endswith(("+json", "+xml")):
        return "text"
    if _unknown(base) and head and b"\x00" not in head:
        try:
            head[: complete_utf8(head)].decode("utf-8")
        except UnicodeDecodeError:
            return "none"
        return "text"
    return "none"


async def _head(download: ContentStream) -> bytes:
    """Up to `PREVIEW_BYTES` of a download's body; the rest is never read."""
    data = bytearray()
    try:
        async for chunk in download.chunks:
            data += chunk
            if len(data) >= PREVIEW_BYTES:
                break
    finally:
        with contextlib.suppress(Exception):
            await download.chunks.aclose()
        await download.close()
    return bytes(data[:PREVIEW_BYTES])


async def read_preview(
    principal: Principal, item: ArtifactItem, total: int | None
) -> ArtifactPreview:
    """The first 64 KiB of a text artifact, the URL of an image, else why not: retained
    bytes when there are any, else (a workspace reference) a live read of its path."""
    preview = ArtifactPreview(
        id=item.id, name=item.name, url=item.url, size=item.size, content_type=item.content_type
    )
    if total == 0:
        preview.kind, preview.text = "text", ""
        return preview
    if item.retained and item.content_type:
        known = preview_kind(item.content_type, b"")
        if known == "image":
            preview.kind = "image"
            return preview
        if known == "none" and not _unknown(item.content_type):
            preview.kind = "none"
            preview.reason = f"No preview for {item.content_type}: download it instead."
            return preview
    found = await services().artifacts.download(
        principal=principal,
        artifact_id=uuid.UUID(item.id),
        byte_range=ByteRange(0, PREVIEW_BYTES - 1) if item.retained else None,
    )
    content_type = found.content_type or item.content_type
    preview.content_type = content_type
    head = await _head(found)
    preview.kind = preview_kind(content_type, head)
    if preview.kind == "none":
        preview.reason = f"No preview for {content_type or 'this content'}: download it instead."
    elif preview.kind == "text":
        size = total if total is not None else found.length
        cut = len(head) >= PREVIEW_BYTES if size is None else size > len(head)
        text = head[: complete_utf8(head)] if cut else head
        preview.text = text.decode("utf-8", "replace")
        if cut:
            of = f" of {byte_size(size)}" if size is not None else ""
            preview.note = (
                f"Showing the first {byte_size(len(text))}{of}: download it for the rest."
            )
    return preview


def _unknown(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() in ("", "application/octet-stream")


async def _upload_chunks(file: Any) -> AsyncIterator[bytes]:
    """The uploaded file, `UPLOAD_CHUNK` at a time (never whole in memory)."""
    while chunk := await file.read(UPLOAD_CHUNK):
        yield chunk


async def _created(step: Callable[..., Awaitable[Artifact]], data: dict, **kwargs: Any) -> Artifact:
    """`step` (create and capture, or create and upload) with its request body built inside
    the attempted call: a bad name or kind is refused in words like any other refusal."""
    return await step(data=request_body(ArtifactCreate, data), **kwargs)


def _retained_words(found: Artifact) -> str:
    content = found.retained_content
    if content is None:
        return found.name
    return f"{found.name} ({byte_size(content.size_bytes)})"


def _could_not(what: str) -> Callable[[ServiceError], str]:
    """`Could not <what>: <the refusal>`."""
    return lambda exc: f"Could not {what}: {words(exc)}"


class ArtifactsTab(SandboxTab, SandboxState):
    TAB: ClassVar[str] = "artifacts"
    artifacts: list[ArtifactItem] = []
    task_choices: list[TaskChoice] = []
    task_filter: str = ALL_TASKS  # the filter: every artifact, or one task's
    usage: str = ""
    retention: str = ""
    limit: int = 0  # the largest retained content, in bytes (0: not read yet)
    preview: ArtifactPreview = ArtifactPreview()
    capture_open: bool = False
    capture_error: str = ""
    upload_busy: bool = False
    upload_progress: int = 0  # percent of the file sent to the server
    upload_name: str = ""

    @rx.var
    def upload_status(self) -> str:
        """What the upload is doing, in words ("" when none runs)."""
        if not self.upload_busy:
            return ""
        if self.upload_progress < 100:
            return f"Sending {self.upload_name or 'the file'}… {self.upload_progress}%"
        return f"Storing {self.upload_name or 'the file'}…"

    @rx.var
    def limit_words(self) -> str:
        return byte_size(self.limit) if self.limit else ""

    def _reset(self) -> None:
        self.reset()
        self.limit = services().settings.artifact_content_max_bytes

    async def _list_artifacts(self, principal: Principal | None = None) -> None:
        self.limit = services().settings.artifact_content_max_bytes
        principal = principal or await acting(self)
        try:
            listing, self.task_filter = await in_thread(
                read_artifacts, principal, self.view.id, self.task_filter
            )
        except ServiceError as exc:
            self.artifacts, self.error = [], exc.message
        else:
            if listing.items != self.artifacts:
                self.artifacts = listing.items
            self.task_choices = listing.choices
            self.usage, self.retention = listing.usage, listing.retention
            self.error = ""
        self.loaded = True

    async def _open(self) -> None:
        """The tab opened (or Refresh): list the artifacts (an open preview stays while its
        artifact is listed)."""
        await self._list_artifacts()
        if self.preview.id and self._found(self.preview.id) is None:
            self.preview = ArtifactPreview()

    def _found(self, artifact_id: str) -> ArtifactItem | None:
        return next((item for item in self.artifacts if item.id == artifact_id), None)

    async def _preview(self, item: ArtifactItem, principal: Principal | None = None) -> None:
        total = item.size_bytes if item.retained else None
        principal = principal or await acting(self)
        try:
            self.preview = await read_preview(principal, item, total)
        except ServiceError as exc:
            self.preview = ArtifactPreview(
                id=item.id,
                name=item.name,
                kind="none",
                url=item.url,
                size=item.size,
                reason=f"No preview: {words(exc)}",
            )

    @rx.event
    async def set_task_filter(self, value: str):
        self.task_filter = value or ALL_TASKS
        self.notice = ""
        await self._open()

    @rx.event
    async def preview_artifact(self, artifact_id: str):
        item = self._found(artifact_id)
        if item is not None:
            await self._preview(item)

    @rx.event
    def close_preview(self):
        self.preview = ArtifactPreview()

    @rx.event
    async def recapture_artifact(self, artifact_id: str):
        item = self._found(artifact_id)
        if item is None:
            return
        principal = await acting(self)
        call = services().artifacts.capture(principal=principal, artifact_id=uuid.UUID(artifact_id))
        found = await attempt(self, call, failed=_could_not(f"capture {item.name} again"))
        if not found:
            return
        self.notice = f"Captured {_retained_words(found.value)} again."
        await self._list_artifacts(principal)
        item = self._found(artifact_id)
        if item is not None and self.preview.id == artifact_id:
            await self._preview(item, principal)

    @rx.event
    async def delete_artifact(self, artifact_id: str):
        item = self._found(artifact_id)
        name = item.name if item else "the artifact"
        principal = await acting(self)
        call = in_thread(delete_reference, principal, artifact_id)
        if not await attempt(self, call, failed=_could_not(f"delete {name}")):
            return
        if self.preview.id == artifact_id:
            self.preview = ArtifactPreview()
        self.notice = f"Deleted {name}."
        await self._list_artifacts(principal)

    @rx.event
    def set_capture_open(self, value: bool):
        self.capture_open = value
        self.capture_error = ""

    @rx.event
    async def capture_from_workspace(self, form: dict[str, Any]):
        self.capture_error = ""
        path = clean_path(str(form.get("path") or ""))
        name = str(form.get("name") or "").strip() or posixpath.basename(path)
        kind = str(form.get("kind") or "file")
        if not path:
            self.capture_error = "Enter a path in the workspace, such as out/report.txt."
            return
        if self.view.status != "running":
            self.capture_error = "Start the sandbox first: capturing reads its workspace."
            return
        data = {"kind": kind, "name": name, "uri": f"{WORKSPACE_SCHEME}{path}"}
        principal = await acting(self)
        call = _created(
            services().artifacts.create_and_capture,
            data,
            principal=principal,
            sandbox_id=uuid.UUID(self.view.id),
        )
        failed = _could_not(f"capture {path}")
        found = await attempt(self, call, error="capture_error", failed=failed)
        if not found:
            return
        self.capture_open = False
        self.notice = f"Captured {_retained_words(found.value)} from the workspace."
        await self._list_artifacts(principal)

    @rx.event
    def upload_progressed(self, progress: dict[str, Any]):
        """The browser's progress sending the file. The last report (all sent) is left out:
        it may arrive after the upload was stored, and would show it busy again."""
        share = float(progress.get("progress") or 0)
        if share < 1:
            self.upload_busy = True
            self.upload_progress = min(99, int(share * 100))

    @rx.event
    async def upload_artifact(self, files: list[rx.UploadFile]):
        """Make a `client://<name>` reference, then stream the file into its content."""
        if not files:  # all refused by the browser: `upload_refused` said why
            return
        self.error = self.notice = ""
        if len(files) != 1:
            self.upload_busy = False
            self.error = "Choose one file to upload."
            return
        file = files[0]
        filename = file.name or "upload"
        content_type = (file.content_type or "").strip()
        if _unknown(content_type):
            content_type = mimetypes.guess_type(filename, strict=False)[0] or content_type
        self.upload_name, self.upload_busy, self.upload_progress = filename, True, 100
        self.busy = True
        yield
        data = {"kind": "file", "name": filename, "uri": f"{CLIENT_SCHEME}{filename}"}
        principal = await acting(self)
        call = _created(
            services().artifacts.create_and_upload,
            data,
            principal=principal,
            sandbox_id=uuid.UUID(self.view.id),
            chunks=_upload_chunks(file),
            content_type=content_type,
            declared_bytes=file.size,
        )
        try:
            found = await attempt(self, call, clear=(), failed=_could_not(f"upload {filename}"))
        finally:
            self.upload_busy, self.upload_progress = False, 0
        if not found:
            return
        self.notice = f"Uploaded {_retained_words(found.value)}."
        await self._list_artifacts(principal)

    @rx.event
    def upload_refused(self, rejected: list[dict[str, Any]]):
        """The browser refused the file before sending it (too large, or more than one):
        `[{name, size, codes}]` (components/files.refusals)."""
        self.notice = ""
        self.upload_busy = False
        self.error = refused_words(rejected, self.limit, "an artifact can retain")
