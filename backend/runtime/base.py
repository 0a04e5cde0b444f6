"""The runtime interface: what the product asks of any engine that runs sandboxes.

Services and engines speak only this protocol; `local.py` (bubblewrap on this host) and
`kubernetes.py` (agent-sandbox) implement it. Values crossing it are plain dataclasses,
so neither side leaks its types into the other.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol


class RuntimeFailure(Exception):
    """The runtime could not do what was asked; the message is shown to the user."""


class FileMissing(RuntimeFailure):
    """A workspace path does not exist."""


class PathRefused(RuntimeFailure):
    """A workspace path that is not allowed or does not fit (escapes, links, wrong kind)."""


class PortUnavailable(RuntimeFailure):
    """Nothing accepts connections on that port in the sandbox."""


class DiskFull(RuntimeFailure):
    """A write found no room: the sandbox's disk quota, or the data disk, is full."""


@dataclass(frozen=True)
class PortSpec:
    name: str
    port: int
    protocol: str = "TCP"


@dataclass(frozen=True)
class Limits:
    """Per-sandbox resource limits (how they are enforced is the runtime's business)."""

    memory_bytes: int
    processes: int
    open_files: int
    file_size_bytes: int
    workspace_bytes: int = 10 * 1024**3  # a sandbox's disk, unless its template says
    bytes_per_inode: int = 16 * 1024  # its inode limit: one per this many bytes of disk
    cpu_millis: int = 1000  # thousandths of a CPU, unless its template says; 0: no limit


@dataclass(frozen=True)
class SandboxSpec:
    """Everything a runtime needs to run one sandbox, resolved from its template."""

    sandbox_id: uuid.UUID
    project_id: uuid.UUID
    slug: str
    image: str
    command: tuple[str, ...]
    working_dir: str
    env: Mapping[str, str]
    network_policy: str
    ports: tuple[PortSpec, ...]
    namespace: str
    service_account: str
    storage_bytes: int | None = None  # the workspace's size (storageRequest); None: default
    cpu_millis: int | None = None  # the CPU cap (cpuRequest); None: the runtime's default
    egress_allow: tuple[str, ...] = ()  # CIDRs the network policy denies, opened
    egress_deny: tuple[str, ...] = ()  # CIDRs closed whatever the policy (always wins)

    @property
    def egress_allowed(self) -> bool:
        return self.network_policy in ("default", "open")


Phase = Literal["running", "exited", "missing"]


@dataclass(frozen=True)
class RuntimeStatus:
    """What really is. `missing`: nothing runs (never started, stopped, or lost)."""

    phase: Phase
    ref: dict[str, str] | None = None
    message: str = ""
    exit_code: int | None = None
    started_at: datetime | None = None
    ready_at: datetime | None = None


@dataclass(frozen=True)
class RuntimeEvent:
    type: str  # Normal | Warning
    reason: str
    message: str
    timestamp: datetime


@dataclass(frozen=True)
class RuntimeTarget:
    """Where a sandbox runs, as the reference's `/runtime` route reports it."""

    namespace: str
    pod_name: str
    container: str
    phase: str
    selector: str = ""
    commands: tuple[str, ...] = ()
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FileEntry:
    path: str
    type: Literal["file", "directory", "symlink", "other"]
    size: int
    modified_at: datetime


@dataclass(frozen=True)
class Availability:
    available: bool
    adapter: str
    message: str = ""
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass
class WorkspaceStream:
    """An open workspace path being read: a regular file as it is, or a directory as a
    tar.gz archive made on the fly (symlinks stored as links, never followed; other
    special files skipped). `entry.size` is the file's size (0 for a directory).
    Always close it (`async with`), even after reading to the end."""

    entry: FileEntry
    chunks: AsyncIterator[bytes]
    closer: Callable[[], Awaitable[None]]

    async def close(self) -> None:
        await self.closer()

    async def __aenter__(self) -> WorkspaceStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class ExecProcess(Protocol):
    """A command running in a sandbox: streams, signals, exit."""

    pid: int

    def stdout(self) -> AsyncIterator[bytes]: ...

    def stderr(self) -> AsyncIterator[bytes]: ...

    def signal(self, signum: int) -> None: ...

    async def wait(self) -> int: ...


class RuntimeAdapter(Protocol):
    name: str

    def availability(self) -> Availability: ...

    async def ensure(self, spec: SandboxSpec) -> RuntimeStatus:
        """Create or resume the sandbox; idempotent (a running sandbox is left alone)."""

    async def stop(self, sandbox_id: uuid.UUID) -> None:
        """Stop every process; keep the workspace."""

    async def delete(self, sandbox_id: uuid.UUID) -> None:
        """Stop and remove everything, workspace included; idempotent."""

    async def status(self, sandbox_id: uuid.UUID) -> RuntimeStatus: ...

    async def target(self, sandbox_id: uuid.UUID) -> RuntimeTarget: ...

    async def exec(
        self,
        sandbox_id: uuid.UUID,
        argv: list[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> ExecProcess: ...

    async def logs(self, sandbox_id: uuid.UUID, tail_lines: int) -> str: ...

    async def events(self, sandbox_id: uuid.UUID) -> list[RuntimeEvent]: ...

    async def list_files(self, sandbox_id: uuid.UUID, path: str) -> list[FileEntry]: ...

    async def read_file(self, sandbox_id: uuid.UUID, path: str, limit: int) -> bytes: ...

    async def write_file(self, sandbox_id: uuid.UUID, path: str, data: bytes) -> None: ...

    async def delete_file(self, sandbox_id: uuid.UUID, path: str) -> None: ...

    async def open_read(self, sandbox_id: uuid.UUID, path: str) -> WorkspaceStream:
        """Open a workspace file or directory (relative path) for streaming; the path is
        resolved once, without following links (PathRefused, FileMissing)."""
        ...

    async def match_files(self, sandbox_id: uuid.UUID, pattern: str, limit: int) -> list[FileEntry]:
        """Workspace paths matching a glob (`*` within a name, `**` across directories),
        sorted, at most `limit`; symlinks are never followed while walking."""
        ...

    async def close(self) -> None:
        """Release what the adapter holds (the local runtime stops its sandboxes)."""


class PtySession(Protocol):
    """A process on a pseudo-terminal inside a sandbox."""

    async def read(self) -> bytes:
        """The next output chunk (up to 64 KiB); b"" once the process has exited and its
        output is drained."""

    async def write(self, data: bytes) -> None:
        """Input to the terminal (awaits only if the kernel buffer is full)."""

    def resize(self, rows: int, cols: int) -> None:
        """TIOCSWINSZ; the foreground process gets SIGWINCH."""

    async def wait(self) -> int:
        """The exit code of the process."""

    async def close(self) -> None:
        """Hang up: SIGHUP then SIGKILL to its process group after a short grace, close the
        fds; idempotent."""


class InteractiveRuntime(RuntimeAdapter, Protocol):
    """What terminals and previews need on top: a PTY in the sandbox, and a connection to
    one of its ports."""

    async def open_pty(
        self,
        sandbox_id: uuid.UUID,
        argv: list[str],
        *,
        rows: int,
        cols: int,
        env: Mapping[str, str] | None = None,
    ) -> PtySession: ...

    async def connect_port(self, sandbox_id: uuid.UUID, port: int) -> socket.socket:
        """A connected, non-blocking TCP socket to 127.0.0.1:port inside the sandbox's network
        namespace. Raises RuntimeFailure('sandbox is not running') /
        PortUnavailable(f'nothing is listening on port {port} in the sandbox')."""
