"""Artifact bytes in motion: upload, capture from a workspace, download, task collection.

Everything streams: bytes pass through in chunks, are counted and hashed on the way
(`Meter`), and never sit whole in memory. Database work happens in short transactions
around the transfer (see `backend.artifacts.service`), never during it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import mimetypes
import posixpath
import urllib.parse
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from backend.artifacts import service
from backend.artifacts.models import Artifact, ArtifactContentRow, ArtifactCreate, ArtifactRow
from backend.auth import access
from backend.auth.access import Permission
from backend.auth.models import SYSTEM, Principal
from backend.db import Database, commit
from backend.errors import (
    Conflict,
    InsufficientStorage,
    InvalidInput,
    RangeNotSatisfiable,
    ServiceError,
    StorageFailed,
    TooLarge,
)
from backend.runtime.base import RuntimeAdapter, WorkspaceStream
from backend.sandboxes.models import SandboxRow
from backend.sandboxes.runtime_access import call_runtime
from backend.settings import Settings
from backend.storage import BlobStores
from backend.storage.base import BlobMissing, BlobStore, StorageError, StorageFull
from backend.tasks.models import ExecutionTaskRow
from backend.templates.models import DEFAULT_WORKING_DIR, TemplateRow

log = logging.getLogger("mbox.artifacts")

WORKSPACE_SCHEME = "workspace://"
ARCHIVE_TYPE = "application/gzip"
# Content this small is verified before the first byte is sent (a clear JSON error);
# larger content is verified as it streams and the connection is cut on a mismatch.
VERIFY_AHEAD_BYTES = 1024 * 1024
MAX_TASK_ARTIFACTS = 100
TOO_LARGE = "artifact content exceeds retention limit"


class Meter:
    """Counts and hashes a stream as it passes; refuses to pass more than `limit` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self._hash = hashlib.sha256()

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    async def wrap(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            self.size += len(chunk)
            if self.size > self.limit:
                raise TooLarge(TOO_LARGE, limitBytes=self.limit)
            self._hash.update(chunk)
            yield chunk


async def _nothing() -> None:
    return None


@dataclass(frozen=True)
class ContentStream:
    """Artifact bytes ready to stream, and what is known about them (the HTTP layer turns
    this into a status and headers).

    `size` is the whole content's size (None: unknown, an archive made on the fly);
    `byte_range` the [start, end) part of it the chunks carry, if only a part; `sha256`
    and `captured_at` are set for retained content only; `path` for a live workspace read;
    `truncated` when a live read is cut at the retention limit; `not_modified` when the
    caller's If-None-Match names this content (no chunks)."""

    artifact_id: uuid.UUID
    chunks: AsyncIterator[bytes]
    content_type: str = "application/octet-stream"
    file_name: str = "artifact"
    size: int | None = None
    sha256: str | None = None
    captured_at: datetime | None = None
    byte_range: tuple[int, int] | None = None
    path: str | None = None
    truncated: bool = False
    not_modified: bool = False
    close: Callable[[], Awaitable[None]] = _nothing

    @property
    def retained(self) -> bool:
        return self.sha256 is not None

    @property
    def length(self) -> int | None:
        """How many bytes the chunks carry (None: unknown until they end)."""
        if self.not_modified:
            return 0
        if self.byte_range is not None:
            return self.byte_range[1] - self.byte_range[0]
        return None if self.truncated else self.size


class ArtifactContent:
    """The artifact content service: the stores, the runtime and the database together."""

    def __init__(
        self, database: Database, stores: BlobStores, runtime: RuntimeAdapter, settings: Settings
    ) -> None:
        self.database = database
        self.stores = stores
        self.runtime = runtime
        self.max_bytes = settings.artifact_content_max_bytes

    # -- upload --------------------------------------------------------------------------

    async def upload(
        self,
        *,
        principal: Principal,
        artifact_id: uuid.UUID,
        chunks: AsyncIterable[bytes],
        content_type: str = "",
        source_uri: str = "",
        declared_bytes: int | None = None,
    ) -> Artifact:
        artifact = await self.database.call(service.get_artifact, artifact_id)
        access.require(principal, Permission.OPERATE, artifact.project_id)
        if artifact.kind == "directory":
            raise InvalidInput("directory artifacts cannot store retained content")
        if declared_bytes is not None and declared_bytes > self.max_bytes:
            raise TooLarge(TOO_LARGE, limitBytes=self.max_bytes)
        content_type = artifact.content_type or content_type or "application/octet-stream"
        return await self._retain(
            principal,
            artifact,
            chunks,
            content_type=content_type,
            source_uri=source_uri or artifact.uri,
            action="artifact.content.uploaded",
        )

    async def _retain(
        self,
        principal: Principal,
        artifact: ArtifactRow,
        chunks: AsyncIterable[bytes],
        *,
        content_type: str,
        source_uri: str,
        action: str,
        **details: Any,
    ) -> Artifact:
        """Write the bytes to a new blob, then make it the artifact's content."""
        store = self.stores.writer
        blob = await self.database.call(
            service.open_blob, artifact_id=artifact.id, provider=store.provider
        )
        meter = Meter(self.max_bytes)
        try:
            await _write(store, blob.storage_key, meter.wrap(chunks))
            stored = service.Retained(blob.id, meter.size, meter.sha256, content_type, source_uri)
            row, content = await self.database.call(
                service.retain,
                principal=principal,
                artifact_id=artifact.id,
                stored=stored,
                action=action,
                **details,
            )
        except BaseException:
            await self._discard(store, blob.id, blob.storage_key)
            raise
        return Artifact.of(row, content)

    async def _discard(self, store: BlobStore, blob_id: uuid.UUID, key: str) -> None:
        """Best effort: the collector removes whatever this leaves behind."""
        with contextlib.suppress(Exception):
            await store.delete(key)
            await self.database.call(service.drop_blob, blob_id=blob_id)

    # -- capture -------------------------------------------------------------------------

    async def capture(self, *, principal: Principal, artifact_id: uuid.UUID) -> Artifact:
        """Retain the bytes at the artifact's workspace:// path (a directory as tar.gz)."""
        artifact, path, stream = await self._open_workspace(
            principal,
            Permission.OPERATE,
            artifact_id,
            "artifact capture",
            "capturing workspace artifact content",
        )
        async with stream:
            if stream.entry.type == "file" and stream.entry.size > self.max_bytes:
                raise TooLarge(TOO_LARGE, limitBytes=self.max_bytes, sizeBytes=stream.entry.size)
            first, chunks = await _peek(stream.chunks)
            return await self._retain(
                principal,
                artifact,
                chunks,
                content_type=artifact.content_type or _detect_type(stream, path, first),
                source_uri=artifact.uri,
                action="artifact.content.captured",
                archived=stream.entry.type == "directory",
            )

    async def _open_workspace(
        self,
        principal: Principal,
        permission: Permission,
        artifact_id: uuid.UUID,
        what: str,
        doing: str,
    ) -> tuple[ArtifactRow, str, WorkspaceStream]:
        """The artifact, its workspace path, and that path opened for reading (the sandbox
        must be running, and the principal allowed `permission`); `what` and `doing` name
        the operation in errors."""
        artifact, sandbox, working_dir = await self.database.call(_capture_target, artifact_id)
        access.require(principal, permission, artifact.project_id)
        path = workspace_path(artifact.uri, working_dir, what)
        _require_running(sandbox, doing)
        return artifact, path, await call_runtime(self.runtime.open_read(sandbox.id, path))

    # -- new references with their content ----------------------------------------------

    async def create_and_capture(
        self, *, principal: Principal, sandbox_id: uuid.UUID, data: ArtifactCreate
    ) -> Artifact:
        """A new workspace reference with its bytes captured: both, or neither."""

        async def capture(artifact_id: uuid.UUID) -> Artifact:
            return await self.capture(principal=principal, artifact_id=artifact_id)

        return await self._create_and_retain(principal, sandbox_id, data, capture)

    async def create_and_upload(
        self,
        *,
        principal: Principal,
        sandbox_id: uuid.UUID,
        data: ArtifactCreate,
        chunks: AsyncIterable[bytes],
        content_type: str = "",
        declared_bytes: int | None = None,
    ) -> Artifact:
        """A new reference with uploaded bytes: both, or neither."""

        async def upload(artifact_id: uuid.UUID) -> Artifact:
            return await self.upload(
                principal=principal,
                artifact_id=artifact_id,
                chunks=chunks,
                content_type=content_type,
                declared_bytes=declared_bytes,
            )

        return await self._create_and_retain(principal, sandbox_id, data, upload)

    async def _create_and_retain(
        self,
        principal: Principal,
        sandbox_id: uuid.UUID,
        data: ArtifactCreate,
        retain: Callable[[uuid.UUID], Awaitable[Artifact]],
    ) -> Artifact:
        row = await self.database.call(
            service.create_artifact, principal=principal, sandbox_id=sandbox_id, data=data
        )
        try:
            return await retain(row.id)
        except BaseException:  # nothing half-made stays behind
            with contextlib.suppress(ServiceError):
                await self.database.call(
                    service.delete_artifact, principal=principal, artifact_id=row.id
                )
            raise

    # -- download ------------------------------------------------------------------------

    async def download(
        self,
        *,
        principal: Principal,
        artifact_id: uuid.UUID,
        byte_range: ByteRange | None = None,
        if_none_match: str | None = None,
    ) -> ContentStream:
        """Retained bytes when there are any, else a live read of the workspace path."""
        artifact, content = await self.database.call(service.get_with_content, artifact_id)
        access.require(principal, Permission.READ_CONTENT, artifact.project_id)
        if content is None:
            return await self._live(principal, artifact.id)
        if if_none_match and content.sha256 in if_none_match:
            return ContentStream(artifact.id, _once(b""), sha256=content.sha256, not_modified=True)
        return await self._retained(artifact, content, byte_range)

    async def _retained(
        self, artifact: ArtifactRow, content: ArtifactContentRow, byte_range: ByteRange | None
    ) -> ContentStream:
        store = self._reader(content.storage_provider)
        size = await _stored_size(store, content)
        span = resolve_range(byte_range, size)
        if span is not None:
            chunks = _guarded(store.read(content.storage_key, *span))
        else:
            chunks = await self._verified(store, content)
        return ContentStream(
            artifact.id,
            chunks,
            content_type=content.content_type or "application/octet-stream",
            file_name=_file_name(artifact, content.content_type),
            size=size,
            sha256=content.sha256,
            captured_at=content.captured_at,
            byte_range=span,
        )

    def _reader(self, provider: str) -> BlobStore:
        try:
            return self.stores.get(provider)
        except StorageError as exc:
            raise StorageFailed(str(exc)) from None

    async def _verified(
        self, store: BlobStore, content: ArtifactContentRow
    ) -> AsyncIterator[bytes]:
        if content.size_bytes <= VERIFY_AHEAD_BYTES:
            data = b"".join([chunk async for chunk in _guarded(store.read(content.storage_key))])
            _check_hash(content, hashlib.sha256(data).hexdigest())
            return _once(data)
        return _verify_streaming(_guarded(store.read(content.storage_key)), content)

    async def _live(self, principal: Principal, artifact_id: uuid.UUID) -> ContentStream:
        artifact, path, stream = await self._open_workspace(
            principal,
            Permission.READ_CONTENT,
            artifact_id,
            "artifact content",
            "reading workspace artifact content",
        )
        directory = stream.entry.type == "directory"
        found = ContentStream(
            artifact.id,
            _capped(stream, None),
            content_type=artifact.content_type or _detect_type(stream, path, b""),
            file_name=_file_name(artifact, ARCHIVE_TYPE if directory else ""),
            path=path or ".",
            close=stream.close,
        )
        if directory:  # an archive made on the fly: size unknown
            return found
        limit = min(stream.entry.size, self.max_bytes)
        return dataclasses.replace(  # over the limit: the reference's rule, cut and say so
            found,
            chunks=_capped(stream, limit),
            size=stream.entry.size,
            truncated=stream.entry.size > self.max_bytes,
        )

    # -- tasks ---------------------------------------------------------------------------

    async def collect_for_task(self, task: ExecutionTaskRow) -> int:
        """Create and capture an artifact for each workspace path the task declared; a
        path that cannot be captured keeps its reference with the reason in metadata."""
        seen: set[str] = set()
        for pattern in task.artifact_paths:
            room = MAX_TASK_ARTIFACTS - len(seen)
            if room <= 0:
                break
            try:
                entries = await call_runtime(
                    self.runtime.match_files(task.sandbox_id, pattern, room)
                )
            except ServiceError as exc:
                log.warning("task %s: artifact pattern %r: %s", task.id, pattern, exc.message)
                continue
            for entry in entries:
                if entry.type in ("file", "directory") and not _covered(entry.path, seen):
                    seen.add(entry.path)
                    await self._collect(task, pattern, entry.path, entry.type)
        return len(seen)

    async def _collect(self, task: ExecutionTaskRow, pattern: str, path: str, kind: str) -> None:
        artifact = await self.database.call(_task_artifact, task, pattern, path, kind)
        try:
            await self.capture(principal=SYSTEM, artifact_id=artifact.id)
        except ServiceError as exc:
            await self.database.call(_note_error, artifact.id, exc.message)


def _covered(path: str, collected: set[str]) -> bool:
    """Collected already, itself or inside a collected directory's archive (`**` matches
    a directory and everything in it)."""
    return any(path == done or path.startswith(done + "/") for done in collected)


def artifact_content(
    settings: Settings, database: Database, runtime: RuntimeAdapter
) -> ArtifactContent:
    return ArtifactContent(database, BlobStores(settings, database), runtime, settings)


# -- workspace paths ------------------------------------------------------------------------


def workspace_path(uri: str, working_dir: str, what: str) -> str:
    """The workspace-relative path of a workspace:// URI. The reference's form is the
    absolute path in the sandbox (`workspace:///workspace/out/report.txt`); a path that
    is not under the workspace mount is taken relative to it (`workspace://out/report.txt`).
    """
    if not uri.startswith(WORKSPACE_SCHEME):
        raise InvalidInput(f"{what} is only available for workspace:// references")
    raw = urllib.parse.unquote(uri.removeprefix(WORKSPACE_SCHEME))
    if ".." in raw.split("/") or "\x00" in raw:
        raise InvalidInput("workspace paths cannot contain '..'")
    path = posixpath.normpath("/" + raw.lstrip("/"))
    root = posixpath.normpath(working_dir or DEFAULT_WORKING_DIR)
    if path == root:
        return ""
    if path.startswith(root + "/"):
        return path.removeprefix(root + "/")
    if raw.startswith("/") or path == "/":
        raise InvalidInput(f"workspace paths must be inside the workspace ({root})")
    return path.lstrip("/")


def _capture_target(db: Session, artifact_id: uuid.UUID) -> tuple[ArtifactRow, SandboxRow, str]:
    artifact = service.get_artifact(db, artifact_id)
    sandbox = db.get_one(SandboxRow, artifact.sandbox_id)
    return artifact, sandbox, _working_dir(db, sandbox.id)


def _require_running(sandbox: SandboxRow, doing: str) -> None:
    if sandbox.deleted_at is not None:
        raise Conflict("sandbox is deleted: its workspace is gone (retained content remains)")
    if sandbox.status != "running":
        raise Conflict(f"sandbox must be running before {doing}")
    if sandbox.runtime_ref is None:
        raise Conflict("sandbox runtime is not ready")


def _task_artifact(
    db: Session, task: ExecutionTaskRow, pattern: str, path: str, kind: str
) -> ArtifactRow:
    uri = f"{WORKSPACE_SCHEME}{posixpath.join(_working_dir(db, task.sandbox_id), path)}"
    data = ArtifactCreate.model_validate(
        {
            "kind": kind,
            "name": path,
            "uri": uri,
            "taskId": str(task.id),
            "metadata": {"collectedFrom": pattern},
        }
    )
    return service.create_artifact(db, principal=SYSTEM, sandbox_id=task.sandbox_id, data=data)


def _working_dir(db: Session, sandbox_id: uuid.UUID) -> str:
    sandbox = db.get_one(SandboxRow, sandbox_id)
    template = db.get(TemplateRow, sandbox.template_id) if sandbox.template_id else None
    return template.working_dir if template else DEFAULT_WORKING_DIR


def _note_error(db: Session, artifact_id: uuid.UUID, message: str) -> None:
    artifact = service.get_artifact(db, artifact_id)
    artifact.meta = {**(artifact.meta or {}), "captureError": message}
    db.add(artifact)
    commit(db)


# -- streaming helpers ----------------------------------------------------------------------


async def _write(store: BlobStore, key: str, chunks: AsyncIterable[bytes]) -> None:
    try:
        await store.write(key, chunks)
    except StorageFull as exc:  # what is already stored stays; this blob left nothing behind
        log.error("artifact blob %s: %s", key, exc)
        raise InsufficientStorage("no space left to store artifact content (disk full)") from None
    except StorageError as exc:
        log.error("artifact blob %s: %s", key, exc)
        raise StorageFailed("retained artifact content storage error") from None


async def _stored_size(store: BlobStore, content: ArtifactContentRow) -> int:
    try:
        size = await store.size(content.storage_key)
    except BlobMissing:
        raise StorageFailed("retained artifact content is missing from storage") from None
    except StorageError as exc:
        log.error("artifact %s: %s", content.artifact_id, exc)
        raise StorageFailed("retained artifact content storage error") from None
    if size != content.size_bytes:
        log.error(
            "artifact %s: stored %d bytes, expected %d",
            content.artifact_id,
            size,
            content.size_bytes,
        )
        raise StorageFailed("retained artifact content is corrupted (its size changed in storage)")
    return size


async def _guarded(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Store errors as service errors (in words, logged with their cause)."""
    try:
        async for chunk in chunks:
            yield chunk
    except BlobMissing:
        raise StorageFailed("retained artifact content is missing from storage") from None
    except StorageError as exc:
        log.error("artifact read: %s", exc)
        raise StorageFailed("retained artifact content storage error") from None


def _check_hash(content: ArtifactContentRow, actual: str) -> None:
    if actual != content.sha256:
        log.error(
            "artifact %s: sha256 %s, expected %s", content.artifact_id, actual, content.sha256
        )
        raise StorageFailed("retained artifact content is corrupted (sha256 mismatch)")


async def _verify_streaming(
    chunks: AsyncIterator[bytes], content: ArtifactContentRow
) -> AsyncIterator[bytes]:
    """Pass chunks on, holding the last one back until the hash is known: on a mismatch
    the body ends short of its Content-Length, so the client sees a failed download and
    never a complete-looking wrong file."""
    digest = hashlib.sha256()
    held: bytes | None = None
    async for chunk in chunks:
        digest.update(chunk)
        if held is not None:
            yield held
        held = chunk
    _check_hash(content, digest.hexdigest())
    if held is not None:
        yield held


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _capped(stream: WorkspaceStream, limit: int | None) -> AsyncIterator[bytes]:
    """At most `limit` bytes (None: all) of a workspace stream, closing it when done."""
    sent = 0
    try:
        async for chunk in stream.chunks:
            if limit is not None:
                chunk = chunk[: limit - sent]
            sent += len(chunk)
            if chunk:
                yield chunk
            if limit is not None and sent >= limit:
                break
    finally:
        await stream.close()


async def _peek(chunks: AsyncIterator[bytes]) -> tuple[bytes, AsyncIterator[bytes]]:
    """The first chunk (to sniff a type) and the whole stream, that chunk included."""
    first = await anext(chunks, b"")

    async def replay() -> AsyncIterator[bytes]:
        if first:
            yield first
        async for chunk in chunks:
            yield chunk

    return first, replay()


def _detect_type(stream: WorkspaceStream, path: str, head: bytes) -> str:
    if stream.entry.type == "directory":
        return ARCHIVE_TYPE
    guessed, _ = mimetypes.guess_type(path, strict=False)
    if guessed:
        return guessed
    if head and b"\x00" not in head[:8192]:
        with contextlib.suppress(UnicodeDecodeError):
            head[:8192].decode("utf-8")
            return "text/plain; charset=utf-8"
    return "application/octet-stream"


# -- HTTP details ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ByteRange:
    """A requested byte range: `first`..`last` inclusive (`last` None: to the end), or
    with `first` None, the last `last` bytes."""

    first: int | None
    last: int | None


def resolve_range(wanted: ByteRange | None, size: int) -> tuple[int, int] | None:
    """The [start, end) a requested range covers in `size` bytes; None for no range.
    Unsatisfiable ranges are a RangeNotSatisfiable."""
    if wanted is None:
        return None
    if wanted.first is None:  # the last N bytes
        start, end = max(0, size - (wanted.last or 0)), size
    else:
        start, end = wanted.first, (wanted.last + 1 if wanted.last is not None else size)
    end = min(end, size)
    if start < 0 or start >= end:
        raise RangeNotSatisfiable(size=size)
    return start, end


def _file_name(artifact: ArtifactRow, content_type: str) -> str:
    name = posixpath.basename(artifact.name.rstrip("/")) or "artifact"
    if content_type == ARCHIVE_TYPE and not name.endswith((".tar.gz", ".tgz")):
        return f"{name}.tar.gz"
    return name
