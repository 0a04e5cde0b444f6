"""envd's `filesystem.Filesystem` Connect service over the sandbox filesystem service: the
caller (principal, sandbox) comes from the E2B edge; refusals leave as Connect errors."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext
from protobuf import Oneof
from protobuf.wkt.google.protobuf.timestamp_pb import Timestamp

from backend.auth.models import Principal
from backend.e2b.envd.caller import as_connect_errors, connect_error, current_caller
from backend.e2b.envd.generated.filesystem.filesystem_connect import FilesystemASGIApplication
from backend.e2b.envd.generated.filesystem.filesystem_pb import (
    CreateWatcherRequest,
    CreateWatcherResponse,
    EntryInfo,
    EventType,
    FilesystemEvent,
    FileType,
    GetWatcherEventsRequest,
    GetWatcherEventsResponse,
    ListDirRequest,
    ListDirResponse,
    MakeDirRequest,
    MakeDirResponse,
    MoveRequest,
    MoveResponse,
    RemoveRequest,
    RemoveResponse,
    RemoveWatcherRequest,
    RemoveWatcherResponse,
    StatRequest,
    StatResponse,
    WatchDirRequest,
    WatchDirResponse,
)
from backend.errors import ServiceError
from backend.sandboxes import filesystem
from backend.sandboxes.filesystem import SandboxEntry, SandboxFilesystem
from backend.services import Services

FILE_TYPES = {"file": FileType.FILE, "directory": FileType.DIRECTORY, "symlink": FileType.SYMLINK}
EVENT_TYPES = {
    "create": EventType.CREATE,
    "write": EventType.WRITE,
    "remove": EventType.REMOVE,
    "chmod": EventType.CHMOD,
}
MAX_WATCHERS_PER_SANDBOX = 16
MAX_WATCHER_EVENTS = 10_000  # kept for a polling watcher; older ones dropped
WATCHER_IDLE_SECONDS = 60.0  # a polling watcher nobody asked for this long is removed
KEEPALIVE_SECONDS = 90.0  # envd's default; the SDK asks for less (Keepalive-Ping-Interval)


KEEPALIVE = WatchDirResponse.KeepAlive()


def entry_info(entry: SandboxEntry) -> EntryInfo:
    info = EntryInfo(
        name=entry.name,
        type=FILE_TYPES[entry.type],
        path=entry.path,
        size=entry.size,
        mode=entry.mode,
        permissions=entry.permissions,
        owner=entry.owner,
        group=entry.group,
        modified_time=Timestamp.from_datetime(entry.modified_at),
    )
    if entry.symlink_target is not None:
        info.symlink_target = entry.symlink_target
    return info


def event_message(event: filesystem.FilesystemEvent, include_entry: bool) -> FilesystemEvent:
    message = FilesystemEvent(name=event.name, type=EVENT_TYPES[event.type])
    if include_entry and event.entry is not None:
        message.entry = entry_info(event.entry)
    return message


@dataclass
class _Watcher:
    """A polling watcher (CreateWatcher): its changes gathered in the background."""

    sandbox_id: uuid.UUID
    include_entry: bool
    events: collections.deque = field(
        default_factory=lambda: collections.deque(maxlen=MAX_WATCHER_EVENTS)
    )
    failure: ServiceError | None = None
    polled_at: float = field(default_factory=time.monotonic)
    task: asyncio.Task | None = None


class EnvdFilesystem:
    """The `Filesystem` protocol of generated/filesystem/filesystem_connect.py."""

    def __init__(self, files: SandboxFilesystem) -> None:
        self._files = files
        self._watchers: dict[str, _Watcher] = {}

    async def stat(self, request: StatRequest, ctx: RequestContext) -> StatResponse:
        caller = current_caller()
        with as_connect_errors():
            entry = await self._files.stat(caller.principal, caller.sandbox_id, request.path)
        return StatResponse(entry=entry_info(entry))

    async def list_dir(self, request: ListDirRequest, ctx: RequestContext) -> ListDirResponse:
        caller = current_caller()
        with as_connect_errors():
            entries = await self._files.list(
                caller.principal, caller.sandbox_id, request.path, request.depth or 1
            )
        return ListDirResponse(entries=[entry_info(entry) for entry in entries])

    async def make_dir(self, request: MakeDirRequest, ctx: RequestContext) -> MakeDirResponse:
        caller = current_caller()
        with as_connect_errors():
            entry = await self._files.make_dir(caller.principal, caller.sandbox_id, request.path)
        return MakeDirResponse(entry=entry_info(entry))

    async def move(self, request: MoveRequest, ctx: RequestContext) -> MoveResponse:
        caller = current_caller()
        with as_connect_errors():
            entry = await self._files.move(
                caller.principal, caller.sandbox_id, request.source, request.destination
            )
        return MoveResponse(entry=entry_info(entry))

    async def remove(self, request: RemoveRequest, ctx: RequestContext) -> RemoveResponse:
        caller = current_caller()
        with as_connect_errors():
            await self._files.remove(caller.principal, caller.sandbox_id, request.path)
        return RemoveResponse()

    async def watch_dir(
        self, request: WatchDirRequest, ctx: RequestContext
    ) -> AsyncIterator[WatchDirResponse]:
        """`start` once the directory is known, then its changes as they are seen, and a
        keepalive after each interval of silence."""
        caller = current_caller()
        with as_connect_errors():
            changes = await self._files.watch(
                caller.principal, caller.sandbox_id, request.path, request.recursive
            )
        yield WatchDirResponse(event=Oneof("start", WatchDirResponse.StartEvent()))
        interval = _keepalive_seconds(ctx)
        quiet_since = time.monotonic()
        try:
            with as_connect_errors():
                async for events in changes:
                    for event in events:
                        message = event_message(event, request.include_entry)
                        yield WatchDirResponse(event=Oneof("filesystem", message))
                        quiet_since = time.monotonic()
                    if time.monotonic() - quiet_since >= interval:
                        yield WatchDirResponse(
                            event=Oneof("keepalive", WatchDirResponse.KeepAlive())
                        )
                        quiet_since = time.monotonic()
        finally:
            await changes.aclose()

    async def create_watcher(
        self, request: CreateWatcherRequest, ctx: RequestContext
    ) -> CreateWatcherResponse:
        caller = current_caller()
        self._forget_idle()
        mine = [w for w in self._watchers.values() if w.sandbox_id == caller.sandbox_id]
        if len(mine) >= MAX_WATCHERS_PER_SANDBOX:
            raise ConnectError(
                Code.RESOURCE_EXHAUSTED,
                f"a sandbox has at most {MAX_WATCHERS_PER_SANDBOX} watchers: remove one first",
            )
        with as_connect_errors():
            changes = await self._files.watch(
                caller.principal, caller.sandbox_id, request.path, request.recursive
            )
        watcher_id = secrets.token_urlsafe(16)
        watcher = _Watcher(caller.sandbox_id, request.include_entry)
        watcher.task = asyncio.get_running_loop().create_task(
            self._gather(watcher_id, watcher, changes, caller.principal)
        )
        self._watchers[watcher_id] = watcher
        return CreateWatcherResponse(watcher_id=watcher_id)

    async def get_watcher_events(
        self, request: GetWatcherEventsRequest, ctx: RequestContext
    ) -> GetWatcherEventsResponse:
        watcher = self._watcher(request.watcher_id)
        watcher.polled_at = time.monotonic()
        events = list(watcher.events)
        watcher.events.clear()
        if not events and watcher.failure is not None:
            self._drop(request.watcher_id)
            raise connect_error(watcher.failure)
        return GetWatcherEventsResponse(
            events=[event_message(event, watcher.include_entry) for event in events]
        )

    async def remove_watcher(
        self, request: RemoveWatcherRequest, ctx: RequestContext
    ) -> RemoveWatcherResponse:
        self._watcher(request.watcher_id)
        self._drop(request.watcher_id)
        return RemoveWatcherResponse()

    def close(self) -> None:
        for watcher_id in list(self._watchers):
            self._drop(watcher_id)

    def _watcher(self, watcher_id: str) -> _Watcher:
        """The caller's sandbox's watcher (another sandbox's is not found either)."""
        watcher = self._watchers.get(watcher_id)
        if watcher is None or watcher.sandbox_id != current_caller().sandbox_id:
            raise ConnectError(Code.NOT_FOUND, f"watcher '{watcher_id}' does not exist")
        return watcher

    def _drop(self, watcher_id: str) -> None:
        watcher = self._watchers.pop(watcher_id, None)
        if watcher is not None and watcher.task is not None:
            watcher.task.cancel()

    def _forget_idle(self) -> None:
        now = time.monotonic()
        for watcher_id, watcher in list(self._watchers.items()):
            if now - watcher.polled_at > WATCHER_IDLE_SECONDS:
                self._drop(watcher_id)

    async def _gather(
        self,
        watcher_id: str,
        watcher: _Watcher,
        changes: AsyncIterator[list[filesystem.FilesystemEvent]],
        principal: Principal,
    ) -> None:
        """Keep the changes until polled; stop when idle too long or on failure."""
        try:
            async for events in changes:
                watcher.events.extend(events)
                if time.monotonic() - watcher.polled_at > WATCHER_IDLE_SECONDS:
                    self._drop(watcher_id)
                    return
        except ServiceError as exc:
            watcher.failure = exc
        finally:
            with contextlib.suppress(Exception):
                await changes.aclose()


def _keepalive_seconds(ctx: RequestContext) -> float:
    asked = ctx.request_headers.get("keepalive-ping-interval")
    try:
        return min(max(float(asked), 1.0), KEEPALIVE_SECONDS) if asked else KEEPALIVE_SECONDS
    except ValueError:
        return KEEPALIVE_SECONDS


def filesystem_app(services: Services) -> FilesystemASGIApplication:
    """The Connect app for `/filesystem.Filesystem/*` (mounted by the E2B edge)."""
    return FilesystemASGIApplication(EnvdFilesystem(services.filesystem))
