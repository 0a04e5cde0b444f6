"""The runtime interface: what the product asks of any engine that runs sandboxes.

Services and engines speak only this protocol; `local.py` (bubblewrap on this host) and
`kubernetes.py` (agent-sandbox) implement it. Values crossing it are plain dataclasses,
so neither side leaks its types into the other.
"""

from __future__ import annotations

import signal
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from backend.runtime.inventory import ManagedResource, ResourceRef


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


# Where a sandbox finds its secrets: a project credential at <SECRETS_MOUNT_DIR>/<its slug>.
SECRETS_MOUNT_DIR = "/run/secrets/mbox"


@dataclass(frozen=True)
class CredentialMount:
    """A project credential projected into a sandbox, read-only at `path`: one key of the
    secret as a file when `key` is set, else the whole secret as a directory of its keys.
    Names only: the runtime finds the value (a cluster's Secret, the local secrets dir)."""

    slug: str
    secret: str
    key: str = ""

    @property
    def path(self) -> str:
        return f"{SECRETS_MOUNT_DIR}/{self.slug}"


@dataclass(frozen=True)
class RegistryCredential:
    """A project credential of type `registry`: how images from `registry` are pulled.
    Names only: the runtime finds the value (the local secrets dir holds `username` and
    `password`; a cluster gets the Secret as an imagePullSecret)."""

    registry: str
    secret: str


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
    template_id: uuid.UUID | None = None
    template_slug: str = ""
    # The template's Kubernetes quantities as written (cpu, memory, storage), for runtimes
    # that pass them on; storage_bytes and cpu_millis are the same, parsed.
    requests: Mapping[str, str] = field(default_factory=dict)
    expires_at: datetime | None = None  # the lease (TTL): a cluster can expire it by itself
    # Kubernetes only: the pod's RuntimeClass ("": the cluster's default), the template's
    # warm pool size (None: the server's), and Secrets as (name, key or "" for all keys),
    # projected into the pod as references (the cluster reads them, never mbox).
    runtime_class_name: str = ""
    warm_pool_size: int | None = None
    secret_refs: tuple[tuple[str, str], ...] = ()
    # The project's credentials for its sandboxes (usage "sandbox"), on every runtime.
    credentials: tuple[CredentialMount, ...] = ()
    # Pulling the image: Always | IfNotPresent | Never ("": Kubernetes' default for the
    # tag), and the project's registry credentials.
    image_pull_policy: str = ""
    registry_credentials: tuple[RegistryCredential, ...] = ()
    # The template's build recipe ({}: none): the local runtime builds and runs it instead
    # of pulling `image` (a cluster runs `image`).
    build: Mapping[str, Any] = field(default_factory=dict)

    @property
    def egress_allowed(self) -> bool:
        return self.network_policy in ("default", "open")


# `starting`: asked for and on its way (a cluster schedules, pulls, starts); `failed`: it
# cannot start and will not by itself (the message says why).
Phase = Literal["running", "starting", "exited", "failed", "missing"]


@dataclass(frozen=True)
class RuntimeStatus:
    """What really is. `missing`: nothing runs (never started, stopped, or lost)."""

    phase: Phase
    ref: dict[str, str] | None = None
    message: str = ""
    exit_code: int | None = None
    started_at: datetime | None = None
    scheduled_at: datetime | None = None  # placed (a cluster: on a node)
    ready_at: datetime | None = None
    failed_at: datetime | None = None  # when it failed for good (a start asked later replaces it)
    reason: str = ""  # a word for the state (e.g. "pulling", "image-not-found")


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
class ResourceSample:
    """What one sandbox uses right now, as its runtime measures it (`sample`). Counters
    (CPU time, network bytes) are cumulative since the sandbox started: rates come from
    two samples. A runtime that measures CPU as a rate (a cluster's metrics API) gives
    `cpu_millicores` instead. None: this runtime cannot tell."""

    at: datetime
    source: str  # "cgroups" | "metrics-api"
    cpu_usage_usec: int | None = None
    cpu_millicores: float | None = None
    cpu_limit_millicores: int | None = None
    memory_bytes: int | None = None
    memory_limit_bytes: int | None = None
    disk_bytes: int | None = None
    disk_limit_bytes: int | None = None
    processes: int | None = None
    process_limit: int | None = None
    network_rx_bytes: int | None = None
    network_tx_bytes: int | None = None


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


# -- what a runtime says about itself (RuntimeAdapter.describe) ---------------------------
# Structured facts: the domain decides on the fields (never on words), and renders its
# sentences from them; the few phrases here are the runtime naming its own mechanisms.


@dataclass(frozen=True)
class LimitEnforcer:
    """One mechanism and the per-sandbox limits it holds: `cgroup v2` (memory, processes)."""

    mechanism: str
    limits: tuple[str, ...]

    def text(self) -> str:
        return f"{self.mechanism} ({', '.join(self.limits)})"


@dataclass(frozen=True, kw_only=True)
class Enforcement:
    """Something the runtime holds each sandbox to: by `mechanism`, or not at all
    (`missing` says why)."""

    mechanism: str = ""
    missing: str = ""  # "" when enforced

    @property
    def enforced(self) -> bool:
        return not self.missing


@dataclass(frozen=True, kw_only=True)
class DiskQuota(Enforcement):
    """Each sandbox's own disk, e.g. "own ext4 disk per sandbox (workspace and /tmp)"."""

    default_bytes: int = 0  # a sandbox's size unless its template's storageRequest says
    bytes_per_inode: int = 0
    caveat: str = ""  # e.g. "workspaces made before disk quotas have none"

    def text(self) -> str:
        if not self.enforced:
            return f"no disk quota ({self.missing}): workspaces share the data disk"
        caveat = f"; {self.caveat}" if self.caveat else ""
        return (
            f"{self.mechanism}: storageRequest or {self.default_bytes / 1024**3:g} GiB, one "
            f"inode per {self.bytes_per_inode} bytes{caveat}"
        )


@dataclass(frozen=True, kw_only=True)
class CpuQuota(Enforcement):
    """A CPU cap per sandbox, e.g. "cgroup CPU quota"."""

    default_millis: int = 0  # without the template's cpuRequest; 0: no limit

    def text(self) -> str:
        if not self.enforced:
            return f"no CPU limit ({self.missing})"
        default = self.default_millis
        fallback = f"{default / 1000:g} CPU" if default else "no limit"
        return f"{self.mechanism}: the template's cpuRequest, else {fallback}"


@dataclass(frozen=True, kw_only=True)
class SyscallFilter(Enforcement):
    """A filter on every process's syscalls, e.g. "seccomp filter (libseccomp 2.5.4)"."""

    denied: int = 0  # syscalls denied outright
    restricted: tuple[str, ...] = ()  # syscalls denied for some arguments

    def text(self) -> str:
        if not self.enforced:
            return f"no syscall filter: {self.missing}"
        return (
            f"{self.mechanism}: {self.denied} syscalls denied, {len(self.restricted)} "
            f"restricted by argument ({', '.join(self.restricted)})"
        )


@dataclass(frozen=True)
class Isolation:
    mechanism: str  # e.g. "bubblewrap"
    namespaces: tuple[str, ...]  # of its own, per sandbox
    read_only_paths: tuple[str, ...]  # host paths it sees read-only
    private_tmp: bool
    own_host_uid: bool  # each sandbox runs as a host uid of its own (else the server's)
    limits: tuple[LimitEnforcer, ...]
    disk: DiskQuota
    cpu: CpuQuota
    syscalls: SyscallFilter

    def limits_text(self) -> str:
        return "; ".join(enforcer.text() for enforcer in self.limits) or "none reported"

    def uids_text(self) -> str:
        return "one host uid per sandbox" if self.own_host_uid else "the server's uid"


Reach = Literal["loopback", "public-internet", "all-but-host", "all"]


@dataclass(frozen=True)
class Egress:
    """What one network policy class really gets. `loopback`: nothing leaves the sandbox;
    `public-internet`: public addresses only; `all-but-host`: everything except this host
    and link-local; `all`: everything, unfiltered."""

    reach: Reach
    via: str = ""  # how packets leave, e.g. "user-mode NAT"
    filtered_by: str = ""  # what refuses the rest, e.g. "nftables rules outside the sandbox"
    unfiltered_because: str = ""  # for `all`: why nothing filters it


@dataclass(frozen=True)
class Network:
    policies: Mapping[str, Egress]  # per network policy (default, restricted, open)
    filter: str  # the egress filter's name, "none" without one
    summary: str  # the runtime's one line about its network

    def egress(self, network_policy: str) -> Egress:
        return self.policies.get(network_policy, Egress("loopback"))


@dataclass(frozen=True)
class ImageHandling:
    pulled: bool  # the template's image is what the sandbox runs
    instead: str = ""  # when not pulled: what runs instead
    # The image name that means no image ("host" on the local runtime), and what runs then.
    host_image: str = ""
    host_root: str = ""
    # A cluster's container runtime runs it: pod-level fields (runtimeClassName, warm
    # pools) apply.
    pods: bool = False

    def runs_host(self, image: str) -> bool:
        return bool(self.host_image) and image.strip().lower() == self.host_image


@dataclass(frozen=True)
class CachedImageRecord:
    """One image in a runtime's cache, by manifest digest."""

    digest: str
    references: tuple[str, ...]
    size_bytes: int
    pulled_at: datetime
    last_used_at: datetime
    in_use: bool


@dataclass(frozen=True)
class BuildStatus:
    """A build recipe's image on this runtime: `built`, `building`, `failed`, `not-built`,
    or `unsupported` (a runtime that runs the template's image instead)."""

    state: str
    reference: str = ""
    digest: str = ""
    log: str = ""  # the build's output (its end, when long)
    message: str = ""


@dataclass(frozen=True)
class ImageCache:
    """A runtime's image cache: its images and its size limit (0: none; `kept`: False
    where the runtime keeps no images itself)."""

    kept: bool
    max_bytes: int = 0
    images: tuple[CachedImageRecord, ...] = ()


@dataclass(frozen=True)
class SecretHandling:
    """How a template's secret references reach a sandbox: `mounted` by the runtime as
    references it never reads (Kubernetes Secret env vars and volumes), else recorded."""

    mounted: bool
    how: str = ""  # e.g. "keyed refs as env vars (secretKeyRef), whole Secrets as volumes"
    # How project credentials reach <SECRETS_MOUNT_DIR>/<slug> ("": they are not mounted).
    credentials: str = ""


@dataclass(frozen=True)
class Persistence:
    workspace_kept_on_stop: bool


@dataclass(frozen=True)
class Placement:
    """Where a sandbox that is not running is reported to live (`/runtime`)."""

    namespace: str  # "" for the sandbox's own namespace
    container: str


@dataclass(frozen=True, kw_only=True)
class RuntimeDescription(Availability):
    """Availability plus what the runtime enforces. `details` (the words /v1/info shows)
    are rendered from the facts."""

    isolation: Isolation
    network: Network
    image: ImageHandling
    persistence: Persistence
    secrets: SecretHandling
    placement: Placement
    controller_permissions: tuple[str, ...]  # what the server may do to run sandboxes
    access: tuple[str, ...]  # how people and programs reach a sandbox
    cleanup: tuple[str, ...]  # what stop, delete and a server crash leave behind

    def __post_init__(self) -> None:
        isolation = self.isolation
        details = {
            "isolation": isolation.mechanism,
            "limits": isolation.limits_text(),
            "uids": isolation.uids_text(),
            "syscalls": isolation.syscalls.text(),
            "disk": isolation.disk.text(),
            "cpu": isolation.cpu.text(),
            "network": self.network.summary,
            "egress": self.network.filter,
        }
        object.__setattr__(self, "details", details)


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
    """A command running in a sandbox: streams, signals, exit; stdin when started with
    `stdin=True` (otherwise it reads nothing)."""

    pid: int

    def stdout(self) -> AsyncIterator[bytes]: ...

    def stderr(self) -> AsyncIterator[bytes]: ...

    async def write(self, data: bytes) -> None:
        """To the command's stdin (awaits while its pipe is full)."""

    async def close_stdin(self) -> None:
        """End of input (idempotent)."""

    def signal(self, signum: int) -> None: ...

    async def wait(self) -> int: ...

    async def close(self) -> None:
        """Give the command no more of our time: it is killed, or its output connection
        closed (Kubernetes), so wait() returns even if it meant to write forever."""


async def read_at_most(
    process: ExecProcess, limit: int, chunks: AsyncIterator[bytes] | None = None
) -> bytes | None:
    """All of the command's stdout (or `chunks`, another of its streams), or None once it
    has written more than `limit` bytes: then it is killed and no more is read (what a
    sandbox writes is not the server's to buffer)."""
    output = bytearray()
    async for chunk in process.stdout() if chunks is None else chunks:
        output += chunk
        if len(output) > limit:
            process.signal(signal.SIGKILL)
            await process.close()  # a pod's command may have children the kill missed
            return None
    return bytes(output)


class RuntimeAdapter(Protocol):
    name: str

    def availability(self) -> Availability:
        """Whether sandboxes can run here, and why not (a RuntimeDescription is one)."""

    def describe(self) -> RuntimeDescription:
        """Availability and the structured facts of what this runtime enforces: the boundary
        summaries and /v1/info render these, so the domain knows no adapter by name."""

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
        stdin: bool = False,
    ) -> ExecProcess: ...

    async def logs(self, sandbox_id: uuid.UUID, tail_lines: int) -> str: ...

    async def sample(self, sandbox_ids: list[uuid.UUID]) -> dict[uuid.UUID, ResourceSample]:
        """What each of these sandboxes uses now, for those running here; never raises for
        one sandbox (what cannot be read is None), so one sandbox cannot fail the others."""
        ...

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

    async def inventory(self) -> list[ManagedResource]:
        """Every resource this runtime made that is still there (for the runtime inventory
        and the orphan audit); read-only. RuntimeFailure if it cannot be listed."""

    async def delete_resource(self, ref: ResourceRef) -> None:
        """Delete one managed resource (gated orphan cleanup; the caller has checked it is
        an orphan). Gone already is done; a kind it never makes is RuntimeFailure."""

    async def images(self) -> ImageCache:
        """The images this runtime keeps on its host (none where a cluster pulls them)."""

    def running_image(self, sandbox_id: uuid.UUID) -> str:
        """The manifest digest of the image a running sandbox runs ("": unknown here)."""

    async def build_status(self, recipe: Mapping[str, Any]) -> BuildStatus:
        """Where the image of a template's build recipe stands, with its build log."""

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
