"""The embedded runtime: each sandbox is a bubblewrap process tree on this host.

Isolation, per sandbox:
- its own user, PID, IPC, UTS, mount and network namespaces (loopback only: the host's
  services, the mbox server and its database are unreachable); `default`/`open` add a
  user-mode NAT (slirp4netns, unprivileged and sandboxed) behind nftables egress rules
  loaded first from outside (`egress.py`);
- its template's image as its root (`images.py` pulls or builds and caches it, `rootfs.py`
  mounts it with the sandbox's own writable layer), run as the image's user; image `host`
  is the host's read-only `/usr` and `/etc` instead, seen as uid 1000;
- a distinct unprivileged host uid when the server runs as root (`setpriv` before `bwrap`);
  `/tmp` is private, the workspace directory (owned by that uid, mode 0700) is the only
  writable host path;
- resource limits with setrlimit (`prlimit`): address space, processes, open files,
  file size;
- a seccomp filter on every process (`seccomp.py`): no nested user namespaces, mounts,
  keys, bpf, io_uring, ptrace attach and the rest of what container runtimes deny;
- project credentials (`SandboxSpec.credentials`): read-only copies at
  /run/secrets/mbox/<slug> of `<secrets dir>/<secret>/<key>` files the server opens and
  bwrap copies (`_open_credentials`); the sandbox never sees the secrets directory;
- `--die-with-parent`: if the server dies, the kernel kills every sandbox, so no process is
  ever orphaned; on restart the reconciler starts the sandboxes that should run again (the
  workspace persists, processes do not).

Commands (tasks, terminals) join a running sandbox with `nsenter` into all its namespaces
and drop to the sandbox user with no capabilities and no_new_privs; they are started
from a thread that holds the syscall filter, so they run under it from birth.

Terminals: the PTY is allocated in the sandbox's own devpts (`/proc/<init>/root/dev/pts/
ptmx`), its slave owned by the sandbox user; the command runs under `setsid --ctty`, so it
leads a session with that terminal (job control, Ctrl-C, SIGWINCH). Closing the terminal
kills the session; stopping the sandbox kills everything in its PID namespace anyway.

Ports: as root, a socket is created inside the sandbox's network namespace (`setns` in a
dedicated thread, see `netns.py`) and connected to 127.0.0.1:port there: the host's own
loopback listeners are never reached. Without root, a small relay run inside the sandbox
is bridged to a socket pair instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import json
import os
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from backend import changes
from backend.runtime import (
    disk,
    egress,
    images,
    inventory,
    netns,
    pty,
    rootfs,
    sampling,
    seccomp,
    workspace,
)
from backend.runtime.base import (
    SECRETS_MOUNT_DIR,
    Availability,
    BuildStatus,
    CachedImageRecord,
    CpuQuota,
    CredentialMount,
    DiskFull,
    DiskQuota,
    Egress,
    FileEntry,
    FileMissing,
    ImageCache,
    ImageHandling,
    Isolation,
    LimitEnforcer,
    Limits,
    Network,
    PathRefused,
    Persistence,
    Placement,
    PortUnavailable,
    RegistryCredential,
    ResourceSample,
    RuntimeDescription,
    RuntimeEvent,
    RuntimeFailure,
    RuntimeStatus,
    RuntimeTarget,
    SandboxSpec,
    SecretHandling,
    SyscallFilter,
    WorkspaceStream,
)
from backend.runtime.cgroups import Cgroups, join_prefix
from backend.runtime.images import CachedImage, ImageConfig, ImageFailure, ImageStore
from backend.runtime.inventory import ManagedResource, ResourceRef
from backend.runtime.pty import PtyProcess

ADAPTER = "local"
SANDBOX_UID = 1000  # the user inside every sandbox
UID_BASE = 200_000  # host uids for sandboxes: UID_BASE + n, one per sandbox
UID_SPAN = 100_000
UID_CLAIMS = ".uids"  # under the sandboxes' root: a symlink `<uid>` -> its sandbox's dir
TOOLS = ("bwrap", "setpriv", "nsenter", "prlimit")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
IDLE_COMMAND = ("sleep", "infinity")
LOG_NAME = "sandbox.log"
CONNECT_TIMEOUT = 10.0
# The non-root fallback for connect_port, run inside the sandbox: "+" once connected,
# then the connection's bytes on stdout; stdin goes to the connection.
RELAY = """
import os, socket, sys, threading
conn = socket.socket()
try:
    conn.connect(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(3)
os.write(1, b"+")
def inward():
    while data := os.read(0, 65536):
        conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)
threading.Thread(target=inward, daemon=True).start()
while data := conn.recv(65536):
    os.write(1, data)
"""
EVENTS_NAME = "events.jsonl"
# Credentials: a secret's keys are files of at most this size (a Kubernetes Secret's own
# limit), at most this many per secret; copied into the sandbox's memory at launch.
SECRET_MAX_BYTES = 1024**2
SECRET_MAX_KEYS = 64
SET_UP_POLL_SECONDS = 0.0002  # bwrap mounts for ~2 ms after it reports its pid
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)  # the sandbox's disk quota, or the data disk
SHM_BYTES = 64 * 1024**2  # /dev/shm's size (at most the memory limit)
# The whole environment of helpers the runtime starts on the host (slirp4netns): never
# the server's own, which holds its secrets.
HELPER_ENV = {"PATH": DEFAULT_PATH, "LANG": "C.UTF-8"}
# The first step inside a sandbox: the command's environment from a memfd (see
# `_environment_file`), the usual umask (the server's own is private), then the command.
ENTER_SCRIPT = 'umask 022 && . /proc/self/fd/{fd} && exec "$@"'
# The same in an image's sandbox (busybox's env has no -C): the working dir comes first.
IMAGE_ENTER_SCRIPT = 'cd -- "$1" && shift && umask 022 && . /proc/self/fd/{fd} && exec "$@"'
# A terminal's session: its own, with the terminal as its controlling terminal.
SETSID = ["setsid", "--ctty", "--wait"]
# Without cgroups, the process limit inside an image's sandbox (see `_launch_command`).
IMAGE_NPROC_SCRIPT = 'ulimit -u "$0" && exec "$@"'
# What this runtime's server process may do, how people reach a sandbox, and what cleanup
# means (the boundary summaries show these as they are).
CONTROLLER_PERMISSIONS = (
    "start and stop bubblewrap process trees on this host",
    "as root: run each sandbox under its own unprivileged host uid (setpriv)",
    "create and remove one cgroup per sandbox when cgroups are writable",
    "create and remove the sandbox's workspace directory under the data dir",
    "as root: make, loop-mount and unmount each sandbox's own disk image (workspace, /tmp)",
)
ACCESS = (
    "terminal: a PTY inside the sandbox's namespaces (nsenter), as the sandbox user, "
    "no capabilities, no_new_privs",
    "tasks: commands run the same way, with a timeout and a cancel",
    "files: read and written inside the workspace only (paths outside are refused)",
    "previews: connections to the sandbox's own ports inside its network namespace",
    "logs and events: the sandbox's output and lifecycle events",
)
CLEANUP = (
    "stop kills every process in the sandbox's PID namespace; the workspace is kept",
    "delete stops the sandbox and removes its workspace directory, disk image and cgroup",
    "if the server dies the kernel kills every sandbox (--die-with-parent); on restart the "
    "reconciler starts the ones meant to run",
)


def _now() -> datetime:
    return datetime.now(UTC)


def traversable_by_others(path: Path) -> bool:
    """Whether an unprivileged uid can reach `path` (every ancestor has o+x)."""
    for part in [path, *path.parents]:
        with contextlib.suppress(FileNotFoundError):
            if not os.stat(part).st_mode & stat.S_IXOTH:
                return False
    return True


def sandbox_root(data_dir: Path) -> Path:
    """Where workspaces live: under the data dir when sandbox uids can reach it, else in a
    system directory named after the data dir (e.g. a data dir inside /root)."""
    preferred = data_dir / "sandboxes"
    if os.geteuid() != 0 or traversable_by_others(data_dir):
        return preferred
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]
    return Path("/var/lib/mbox") / f"sandboxes-{digest}"


@dataclass
class _Box:
    """A sandbox this process started."""

    spec: SandboxSpec
    process: asyncio.subprocess.Process
    init_pid: int  # pid 1 of the sandbox's PID namespace, as seen from the host
    started_at: datetime
    exit_code: int | None = None
    stopping: bool = False
    waiter: asyncio.Task | None = field(default=None, repr=False)
    network: subprocess.Popen | None = None  # slirp4netns, when egress is allowed
    network_ready: asyncio.Task | None = field(default=None, repr=False)  # attaching it
    network_exit_fd: int | None = None  # closing it (or the server dying) ends slirp4netns
    image: ImageConfig | None = None  # None: the host's /usr
    digest: str = ""  # the image's manifest digest

    @property
    def running(self) -> bool:
        return self.exit_code is None

    @property
    def uid(self) -> int:
        """The user commands run as inside (the image's, else the sandbox user)."""
        return self.image.uid if self.image else SANDBOX_UID

    @property
    def gid(self) -> int:
        return self.image.gid if self.image else SANDBOX_UID


@dataclass
class _Pull:
    """A sandbox waiting for its image: the pull (then the launch) runs in the background,
    the reconciler sees `starting` with the progress, then `running` or `failed`."""

    reference: str
    progress: images.Progress
    task: asyncio.Task | None = None
    failure: ImageFailure | RuntimeFailure | None = None
    failed_at: datetime | None = None


class LocalProcess:
    """A command running inside a sandbox (nsenter), in its own process group."""

    def __init__(self, process: seccomp.FilteredProcess) -> None:
        self._process = process
        self.pid = process.pid
        self.stdin = process.stdin  # a writer when started with stdin=PIPE

    async def _chunks(self, stream: asyncio.StreamReader | None) -> AsyncIterator[bytes]:
        if stream is None:
            return
        while chunk := await stream.read(65536):
            yield chunk

    def stdout(self) -> AsyncIterator[bytes]:
        return self._chunks(self._process.stdout)

    def stderr(self) -> AsyncIterator[bytes]:
        return self._chunks(self._process.stderr)

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signum)

    async def write(self, data: bytes) -> None:
        if self.stdin is None or self.stdin.is_closing():
            raise RuntimeFailure("the command's input is closed")
        self.stdin.write(data)
        try:
            await self.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            raise RuntimeFailure("the command's input is closed") from None

    async def close_stdin(self) -> None:
        if self.stdin is not None and not self.stdin.is_closing():
            self.stdin.close()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                await self.stdin.wait_closed()

    async def wait(self) -> int:
        return await self._process.wait()

    async def close(self) -> None:
        self.signal(signal.SIGKILL)  # its whole process group: what it started too

    @property
    def returncode(self) -> int | None:
        return self._process.returncode


class LocalRuntime:
    name = ADAPTER

    def __init__(
        self,
        root: Path,
        limits: Limits,
        secrets_dir: Path | None = None,
        image_store: ImageStore | None = None,
    ) -> None:
        self.root = root
        self.limits = limits
        self.secrets_dir = secrets_dir  # credentials' values: <secret>/<key> files
        # Template images (pulled, unpacked, cached); default: next to the sandboxes.
        self.images_store = image_store or ImageStore(root.parent / "images")
        self._pulls: dict[uuid.UUID, _Pull] = {}
        self._boxes: dict[uuid.UUID, _Box] = {}
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}
        self._privileged = os.geteuid() == 0
        self._uids: dict[Path, int] = {}  # sandbox dir -> its host uid (when root)
        self._next_uid = 0  # where the search for a free uid starts
        self._join_netns = self._privileged  # else connect_port relays through the sandbox
        self._relays: set[asyncio.Task] = set()
        self._cgroups = Cgroups.detect()
        if self._cgroups:
            self._cgroups.prune()
        # Each sandbox's own disk (workspace + /tmp), when loop mounts are possible (root);
        # one of the default size is kept ready.
        self._volumes = (
            disk.Volumes(root, limits.bytes_per_inode, limits.workspace_bytes)
            if disk.supported()
            else None
        )
        # The syscall filters (seccomp), built once; None without python3-seccomp.
        self._syscalls = seccomp.load()
        self._launcher = seccomp.Launcher(self._syscalls.join if self._syscalls else None)
        _unignore_job_signals()

    # -- availability -------------------------------------------------------------------

    def availability(self) -> Availability:
        return self.describe()

    def describe(self) -> RuntimeDescription:
        missing = [tool for tool in TOOLS if not _installed(tool)]
        message = ""
        if missing:
            hint = "apt-get install bubblewrap util-linux"
            message = f"local runtime unavailable: {', '.join(missing)} not found ({hint})"
        elif self._syscalls is None:
            message = f"local runtime unavailable: {seccomp.UNAVAILABLE}"
        return RuntimeDescription(
            available=not message,
            adapter=ADAPTER,
            message=message,
            isolation=Isolation(
                mechanism="bubblewrap",
                namespaces=("user", "PID", "IPC", "UTS", "mount", "network"),
                read_only_paths=("/usr", "/etc"),
                private_tmp=True,
                own_host_uid=self._privileged,
                limits=self._limit_enforcers(),
                disk=self._disk_quota(),
                cpu=self._cpu_quota(),
                syscalls=self._syscall_filter(),
            ),
            network=self._network(),
            image=ImageHandling(
                pulled=True,
                host_image=images.HOST_IMAGE,
                host_root="this machine's own read-only /usr and /etc",
            ),
            persistence=Persistence(workspace_kept_on_stop=True),
            secrets=SecretHandling(
                mounted=False,
                credentials="read-only files copied at launch from the server's secrets "
                "directory (MBOX_SECRETS_DIR), which no sandbox can see",
            ),
            placement=Placement(namespace="local", container="sandbox"),
            controller_permissions=CONTROLLER_PERMISSIONS,
            access=ACCESS,
            cleanup=CLEANUP,
        )

    def _filters_egress(self) -> bool:
        """Whether egress rules can be loaded: they need root (and libnftables)."""
        return self._privileged and egress.supported()

    def _limit_enforcers(self) -> tuple[LimitEnforcer, ...]:
        if not self._cgroups:
            return (
                LimitEnforcer(
                    "setrlimit", ("address space", "processes", "open files", "file size")
                ),
            )
        held = (
            ("memory", "processes", "CPU") if self._cgroups.cpu_parent else ("memory", "processes")
        )
        return (
            LimitEnforcer(f"cgroup v{self._cgroups.version}", held),
            LimitEnforcer("setrlimit", ("open files", "file size")),
        )

    def _network(self) -> Network:
        """Per policy: `restricted` is always loopback only; with egress rules (root)
        `default` reaches the public internet only and `open` all but this host and
        link-local; without them `default` fails closed and `open` is unfiltered."""
        nat, rules = "user-mode NAT", "nftables rules outside the sandbox"
        loopback = Egress("loopback")
        filtering = self._filters_egress()
        if not _installed("slirp4netns"):
            summary = "loopback only (install slirp4netns for egress)"
            default, open_ = loopback, loopback
        elif filtering:
            summary = (
                "egress through slirp4netns behind nftables rules: default reaches the public "
                "internet only, open everything but this host and link-local; restricted "
                "loopback only"
            )
            default = Egress("public-internet", nat, rules)
            open_ = Egress("all-but-host", nat, rules)
        else:
            summary = (
                "egress through slirp4netns for open only, unfiltered (egress rules need root "
                "and nft); default and restricted loopback only"
            )
            default = loopback
            open_ = Egress(
                "all", nat, unfiltered_because="egress rules need a server running as root"
            )
        policies = {"default": default, "restricted": loopback, "open": open_}
        return Network(policies, "nftables" if filtering else "none", summary)

    def _disk_quota(self) -> DiskQuota:
        if self._volumes is None:
            return DiskQuota(missing="loop mounts need root")
        return DiskQuota(
            mechanism="own ext4 disk per sandbox (workspace and /tmp)",
            default_bytes=self.limits.workspace_bytes,
            bytes_per_inode=self.limits.bytes_per_inode,
            caveat="workspaces made before disk quotas have none",
        )

    def _cpu_quota(self) -> CpuQuota:
        if not (self._cgroups and self._cgroups.cpu_parent):
            return CpuQuota(missing="needs root and the cgroup cpu controller")
        return CpuQuota(mechanism="cgroup CPU quota", default_millis=self.limits.cpu_millis)

    def _syscall_filter(self) -> SyscallFilter:
        if self._syscalls is None:
            return SyscallFilter(missing=seccomp.UNAVAILABLE.removeprefix("no syscall filter: "))
        found = self._syscalls
        return SyscallFilter(
            mechanism=f"seccomp filter (libseccomp {found.version})",
            denied=len(found.denied),
            restricted=found.restricted,
        )

    # -- lifecycle ----------------------------------------------------------------------

    def _lock(self, sandbox_id: uuid.UUID) -> asyncio.Lock:
        return self._locks.setdefault(sandbox_id, asyncio.Lock())

    async def ensure(self, spec: SandboxSpec) -> RuntimeStatus:
        """Start the sandbox. An image not cached yet is pulled in the background first:
        meanwhile this (and `status`) says `starting` with the pull's progress."""
        async with self._lock(spec.sandbox_id):
            box = self._boxes.get(spec.sandbox_id)
            if box is not None and box.running:
                return self._status(box)
            pulling = self._pulls.get(spec.sandbox_id)
            if pulling is not None and pulling.failure is None:
                return self._pull_status(pulling)
            if images.is_host(spec.image) and not spec.build:
                return self._status(await self._started(spec, None))
            image = self._cached_image(spec)
            if image is not None:
                return self._status(await self._started(spec, image))
            progress = images.Progress(step="building" if spec.build else "resolving")
            pulling = self._pulls[spec.sandbox_id] = _Pull(_source(spec), progress)
            pulling.task = asyncio.create_task(self._pull_then_start(spec, pulling))
            return self._pull_status(pulling)

    async def _started(self, spec: SandboxSpec, image: CachedImage | None) -> _Box:
        """Start it now (the lock held), undoing the disk mount if that fails."""
        try:
            return await self._start(spec, image)
        except BaseException:
            if self._volumes:
                await self._volumes.stop(self._home(spec.sandbox_id))
            raise

    def _cached_image(self, spec: SandboxSpec) -> CachedImage | None:
        """The image, when the pull policy lets the cache answer without a registry."""
        if spec.build:
            return self.images_store.cached(images.build_reference(spec.build))
        policy = spec.image_pull_policy or images.default_policy(spec.image)
        return self.images_store.cached(spec.image) if policy != "Always" else None

    async def _pull_then_start(self, spec: SandboxSpec, pulling: _Pull) -> None:
        try:
            self._check_available()
            self.root.mkdir(parents=True, exist_ok=True, mode=0o711)  # for its events
            self._home(spec.sandbox_id).mkdir(exist_ok=True, mode=0o711)
            self._event(spec.sandbox_id, "Normal", *_acquiring(spec))
            image = await self._acquire(spec, pulling.progress)
            done = "Built" if spec.build else "Pulled"
            self._event(spec.sandbox_id, "Normal", done, f"{_source(spec)} ({image.digest})")
            async with self._lock(spec.sandbox_id):
                if self._pulls.get(spec.sandbox_id) is pulling:
                    await self._started(spec, image)
                    del self._pulls[spec.sandbox_id]
        except (ImageFailure, RuntimeFailure) as exc:
            pulling.failure, pulling.failed_at = exc, _now()
            self._event(spec.sandbox_id, "Warning", "Failed", str(exc))
        except Exception as exc:  # said as a failure of the sandbox, never lost
            pulling.failure, pulling.failed_at = RuntimeFailure(f"start failed: {exc}"), _now()
        finally:
            changes.notify("sandboxes", str(spec.sandbox_id))

    async def _acquire(self, spec: SandboxSpec, progress: images.Progress) -> CachedImage:
        """The sandbox's image: built from its template's recipe, or pulled."""
        if spec.build:
            return await self.images_store.build(
                spec.build, progress=progress, in_use=self._images_in_use
            )
        return await self.images_store.pull(
            spec.image,
            policy=spec.image_pull_policy,
            auth=self._registry_auth(spec),
            progress=progress,
            in_use=self._images_in_use,
        )

    def running_image(self, sandbox_id: uuid.UUID) -> str:
        box = self._boxes.get(sandbox_id)
        return box.digest if box is not None and box.running else ""

    async def build_status(self, recipe: Mapping[str, Any]) -> BuildStatus:
        store = self.images_store
        reference = images.build_reference(recipe)
        log = await asyncio.to_thread(_tail_lines, store.build_log(recipe), 400)
        if (image := store.cached(reference)) is not None:
            return BuildStatus("built", reference, image.digest, log)
        if store.running(reference):
            return BuildStatus("building", reference, log=log)
        return BuildStatus("failed" if log else "not-built", reference, log=log)

    def _pull_status(self, pulling: _Pull) -> RuntimeStatus:
        if pulling.failure is not None:
            reason = getattr(pulling.failure, "reason", "start-failed")
            reason = f"image-{reason}" if isinstance(pulling.failure, ImageFailure) else reason
            message = str(pulling.failure)
            return RuntimeStatus(
                "failed", message=message, failed_at=pulling.failed_at, reason=reason
            )
        reason = "building" if pulling.progress.step == "building" else "pulling"
        return RuntimeStatus(
            "starting", message=pulling.progress.text(pulling.reference), reason=reason
        )

    def _images_in_use(self) -> set[str]:
        return {box.digest for box in self._boxes.values() if box.digest}

    def _registry_auth(self, spec: SandboxSpec) -> images.RegistryAuth | None:
        """The project's credential for the image's registry, read from the secrets dir
        (`username` and `password` files of its secret)."""
        registry = images.registry_of(spec.image)
        for credential in spec.registry_credentials:
            if credential.registry.strip().lower() == registry.lower():
                return _read_registry_secret(self.secrets_dir, credential, registry)
        return None

    def _check_available(self) -> None:
        availability = self.availability()
        if not availability.available:
            raise RuntimeFailure(availability.message)

    async def _start(self, spec: SandboxSpec, image: CachedImage | None) -> _Box:
        self._check_available()
        # Opened first: a missing secret fails the launch before anything is made.
        secrets = _open_credentials(self.secrets_dir, spec.credentials)
        try:
            return await self._launch(spec, secrets, image)
        finally:
            secrets.close()

    async def _launch(
        self, spec: SandboxSpec, secrets: _Secrets, image: CachedImage | None
    ) -> _Box:
        home = self._home(spec.sandbox_id)
        if image is not None and not self._privileged:
            raise RuntimeFailure(
                f"running the image {spec.image} needs the server to run as root (it mounts "
                f"the image's filesystem); image \"host\" runs this machine's own /usr"
            )
        config = image.config() if image else None
        with _when_disk_full(DiskFull("no space left on the server's data disk for the sandbox")):
            uid = self._prepare(home)
            _write_labels(home, spec)
            await self._attach_disk(spec, home, uid)
            if image is not None and config is not None:
                self._prepare_root(spec, home, image, config, uid, bool(secrets.arguments()))
        if self._cgroups:
            cpu_millis = self.limits.cpu_millis if spec.cpu_millis is None else spec.cpu_millis
            self._cgroups.create(spec.sandbox_id, self.limits, cpu_millis)
        read_info, write_info = os.pipe()
        syscall_filter = seccomp.memfd("mbox-seccomp", self._syscalls.init)  # type: ignore[union-attr]
        options = self._bwrap_arguments(spec, home, write_info, syscall_filter, config)
        arguments = _argument_file(options + secrets.arguments())
        try:
            with (home / LOG_NAME).open("ab") as log:
                process = await asyncio.create_subprocess_exec(
                    *self._launch_command(spec, uid, arguments, image, config),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=HELPER_ENV,
                    pass_fds=(write_info, arguments, syscall_filter, *secrets.fds()),
                    start_new_session=True,
                )
        finally:
            os.close(write_info)
            os.close(arguments)
            os.close(syscall_filter)
        info = await _read_all(read_info)
        if not info:
            code = await process.wait()
            tail = _tail_lines(home / LOG_NAME, 5).strip()
            self._event(spec.sandbox_id, "Warning", "Failed", f"exit {code}: {tail}")
            raise RuntimeFailure(f"sandbox did not start (exit {code}): {tail}")
        box = _Box(spec, process, json.loads(info)["child-pid"], _now(), image=config)
        box.digest = image.digest if image else ""
        await self._until_set_up(box, self.workspace(spec.sandbox_id))
        if self._volumes:
            self._volumes.set_up(home)
        if spec.egress_allowed and box.process.returncode is None:
            # Attached while the caller goes on (rules, then slirp4netns: ~25 ms); every
            # command entering the sandbox waits for it (`_enter`).
            box.network_ready = asyncio.create_task(self._attach_network(box))
        box.waiter = asyncio.create_task(self._watch(box))
        self._boxes[spec.sandbox_id] = box
        command = " ".join(spec.command) or "idle"
        self._event(spec.sandbox_id, "Normal", "Started", f"started: {command}")
        return box

    async def _until_set_up(self, box: _Box, workspace: Path, timeout: float = 5.0) -> None:
        """bwrap reports its pid before it finishes mounting: wait until the sandbox's root
        shows the workspace, so commands never enter a half-built mount namespace."""
        expected = os.stat(workspace)
        inside = f"/proc/{box.init_pid}/root{box.spec.working_dir}"
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            with contextlib.suppress(OSError):
                seen = os.stat(inside)
                if (seen.st_dev, seen.st_ino) == (expected.st_dev, expected.st_ino):
                    return
            if box.process.returncode is not None:
                return  # it already ended: the watcher records how
            await asyncio.sleep(SET_UP_POLL_SECONDS)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(box.process.pid, signal.SIGKILL)
        await box.process.wait()
        raise RuntimeFailure("sandbox did not finish setting up its filesystem")

    async def _attach_network(self, box: _Box) -> None:
        try:
            box.network = await self._connect_network(box)
        except Exception as exc:  # in the background: say why in the sandbox's events
            self._event(box.spec.sandbox_id, "Warning", "NoEgress", f"no egress: {exc}")

    async def _networked(self, box: _Box) -> None:
        """Until the sandbox's network is attached (or has failed to), so that a command
        never sees the sandbox without the network its policy gives it."""
        if box.network_ready is not None:
            await asyncio.shield(box.network_ready)

    async def _connect_network(self, box: _Box) -> subprocess.Popen | None:
        """Give the sandbox's network namespace a user-mode NAT (slirp4netns), behind the
        egress rules of its policy (`egress.py`), loaded first. Without slirp4netns, or when
        the rules cannot be loaded, the sandbox keeps loopback only (fail closed) and says
        so in its events; only `open` runs unfiltered when rules need a root it lacks."""
        if not _installed("slirp4netns"):
            message = "no egress: slirp4netns is not installed (apt-get install slirp4netns)"
            self._event(box.spec.sandbox_id, "Warning", "NoEgress", message)
            return None
        if not await self._filter_egress(box):
            return None
        netns_fd = os.open(f"/proc/{box.init_pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        ready_read, ready_write = os.pipe()
        exit_read, exit_write = os.pipe()
        box.network_exit_fd = exit_write  # held by the server only: if it dies, slirp exits
        try:
            userns_fd = egress.owner_userns(netns_fd)
            try:
                command = self._slirp_command(box, userns_fd, netns_fd, ready_write, exit_read)
                fds = (ready_write, exit_read, userns_fd, netns_fd)
                network = await self._start_slirp(box, command, fds)
            finally:
                os.close(userns_fd)
        finally:
            os.close(netns_fd)
            os.close(ready_write)
            os.close(exit_read)
        ready = await _read_all(ready_read)
        if ready != b"1":
            self._event(box.spec.sandbox_id, "Warning", "NoEgress", "slirp4netns did not start")
        return network

    async def _start_slirp(
        self, box: _Box, command: list[str], fds: tuple[int, ...]
    ) -> subprocess.Popen:
        """As root, from a private mount namespace whose /dev/net/tun the sandbox's host
        uid may open (`netns.start_with_own_tun`); it drops to that uid itself."""
        quiet = subprocess.DEVNULL
        popen = {"pass_fds": fds, "env": HELPER_ENV, "stdin": quiet, "stdout": quiet,
                 "stderr": quiet}  # fmt: skip
        if not self._privileged:
            return subprocess.Popen(command, **popen)
        uid = self._uid(self._home(box.spec.sandbox_id))
        return await netns.in_own_thread(netns.start_with_own_tun, uid, command, **popen)

    async def _filter_egress(self, box: _Box) -> bool:
        """Load the sandbox's egress rules into its network namespace; False: no egress."""
        spec = box.spec
        if not self._filters_egress():
            if spec.network_policy != "open":
                message = "no egress: egress rules need root and nft; loopback only"
                self._event(spec.sandbox_id, "Warning", "NoEgress", message)
                return False
            message = "egress unfiltered (egress rules need root and nft)"
            self._event(spec.sandbox_id, "Warning", "EgressUnfiltered", message)
            return True
        rules = egress.ruleset(
            spec.network_policy,
            host_addresses=egress.host_addresses(),
            allow=spec.egress_allow,
            deny=spec.egress_deny,
        )
        try:
            await egress.load(f"/proc/{box.init_pid}/ns/net", rules)
        except egress.EgressError as exc:
            message = f"no egress: the egress rules could not be loaded ({exc}); loopback only"
            self._event(spec.sandbox_id, "Warning", "NoEgress", message)
            return False
        return True

    def _slirp_command(
        self, box: _Box, userns_fd: int, netns_fd: int, ready_fd: int, exit_fd: int
    ) -> list[str]:
        """slirp4netns, unprivileged and sandboxed: it runs inside the user namespace that
        owns the sandbox's network namespace (bwrap's outer one, where the sandbox's host
        uid is root; the sandbox itself lives in a nested one), so it may create tap0 there
        and its own mount namespace for --enable-sandbox, while its sockets stay in the
        host's network namespace. As root, it first drops to the sandbox's host uid."""
        slirp = [
            "slirp4netns", "--configure", "--mtu=65520", "--disable-host-loopback",
            "--enable-sandbox", "--enable-seccomp",
            f"--ready-fd={ready_fd}", f"--exit-fd={exit_fd}",
            "--netns-type=path", f"/proc/self/fd/{netns_fd}", "tap0",
        ]  # fmt: skip
        enter = ["nsenter", "--preserve-credentials", f"--user=/proc/self/fd/{userns_fd}", "--"]
        if not self._privileged:
            return [*enter, *slirp]
        uid = str(self._uid(self._home(box.spec.sandbox_id)))
        drop = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"]
        return [*drop, *enter, *slirp]

    async def _watch(self, box: _Box) -> None:
        box.exit_code = await box.process.wait()
        if box.stopping:
            self._event(box.spec.sandbox_id, "Normal", "Stopped", "all processes stopped")
        else:
            reason = "Exited" if box.exit_code == 0 else "Crashed"
            self._event(box.spec.sandbox_id, "Warning", reason, f"exit code {box.exit_code}")

    async def stop(self, sandbox_id: uuid.UUID) -> None:
        async with self._lock(sandbox_id):
            pulling = self._pulls.pop(sandbox_id, None)
            if pulling is not None and pulling.task is not None:
                pulling.task.cancel()  # the image's pull goes on (shared), not the launch
            box = self._boxes.pop(sandbox_id, None)
            if box is None:
                return
            box.stopping = box.running
            await self._networked(box)  # nothing half-attached is left behind
            # Killing the namespace's pid 1 makes the kernel kill every process in it.
            with contextlib.suppress(ProcessLookupError):
                os.kill(box.init_pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(box.process.pid, signal.SIGKILL)
            if box.waiter is not None:
                await box.waiter
            if box.network_exit_fd is not None:
                os.close(box.network_exit_fd)
            if box.network is not None:
                box.network.kill()
                await asyncio.to_thread(box.network.wait)
            if self._cgroups:
                self._cgroups.remove(sandbox_id)
            if self._volumes:
                await self._volumes.stop(self._home(sandbox_id))

    async def delete(self, sandbox_id: uuid.UUID) -> None:
        await self.stop(sandbox_id)
        if self._volumes:  # unmounted first: rmtree must not walk into a mounted disk
            await self._volumes.discard(self._home(sandbox_id))
        home = self._home(sandbox_id)
        uid = self._known_uid(home)
        await asyncio.to_thread(shutil.rmtree, home, True)
        if uid is not None:  # after: a crash in between leaks a uid, never shares one
            self._release_uid(uid, home)

    async def status(self, sandbox_id: uuid.UUID) -> RuntimeStatus:
        box = self._boxes.get(sandbox_id)
        if box is not None:
            return self._status(box)
        pulling = self._pulls.get(sandbox_id)
        return RuntimeStatus("missing") if pulling is None else self._pull_status(pulling)

    def _status(self, box: _Box) -> RuntimeStatus:
        sandbox_id = box.spec.sandbox_id
        ref = {"adapter": ADAPTER, "kind": "Sandbox", "namespace": "local", "name": str(sandbox_id)}
        if box.running:
            # Nothing places it: it runs here the moment it starts.
            started = box.started_at
            return RuntimeStatus(
                "running", ref, started_at=started, scheduled_at=started, ready_at=started
            )
        message = f"main process exited with code {box.exit_code}"
        if box.exit_code:  # say why, in the program's own last words
            last = _tail_lines(self._home(sandbox_id) / LOG_NAME, 1).strip()
            message += f": {last[:500]}" if last else ""
        return RuntimeStatus("exited", ref, message, box.exit_code)

    async def close(self) -> None:
        for sandbox_id in list(self._pulls):
            await self.stop(sandbox_id)
        for sandbox_id in list(self._boxes):
            await self.stop(sandbox_id)
        if self._volumes:  # no mount and no loop device outlives the runtime
            await self._volumes.close()

    async def target(self, sandbox_id: uuid.UUID) -> RuntimeTarget:
        box = self._running(sandbox_id)
        return RuntimeTarget(
            namespace="local",
            pod_name=str(sandbox_id),
            container="sandbox",
            phase="Running",
            commands=("/bin/bash", "/bin/sh", "sh"),
            details={
                "pid": str(box.process.pid),
                "workingDir": box.spec.working_dir,
                "image": box.spec.image,
                **({"imageDigest": box.digest} if box.digest else {}),
            },
        )

    # -- commands -----------------------------------------------------------------------

    async def exec(
        self,
        sandbox_id: uuid.UUID,
        argv: list[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: bool = False,
    ) -> LocalProcess:
        box = self._running(sandbox_id)
        process = await self._enter(
            box,
            argv,
            env,
            cwd,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        return LocalProcess(process)

    async def _enter(
        self,
        box: _Box,
        argv: list[str],
        env: Mapping[str, str] | None,
        cwd: str | None,
        **stdio: Any,
    ) -> seccomp.FilteredProcess:
        """Start `argv` inside the running sandbox (see `_enter_command`), under the
        syscall filter from its birth (prlimit is already filtered)."""
        await self._networked(box)
        environment = _environment_file(self._sandbox_env(box.spec, env, box.image))
        try:
            return await self._launcher.spawn(
                *self._enter_command(box, argv, cwd, environment),
                env=HELPER_ENV,
                pass_fds=(environment,),
                start_new_session=True,
                **stdio,
            )
        finally:
            os.close(environment)

    def _enter_command(
        self, box: _Box, argv: list[str], cwd: str | None, environment: int
    ) -> list[str]:
        """Run `argv` inside the running sandbox, as its user, within its limits, with the
        environment in the fd `environment` (see `_environment_file`). The steps on the
        host (prlimit, nsenter) run as root with `HELPER_ENV`: a sandbox's variables
        (LD_PRELOAD=<a file in its workspace>) must never reach a root process; they are
        read by a shell already inside the sandbox, and never shown on a command line."""
        enter = [
            "nsenter", f"--target={box.init_pid}",
            "--user", "--mount", "--pid", "--net", "--ipc", "--uts",
            f"--setuid={box.uid}", f"--setgid={box.gid}", "--wd", "--",
        ]  # fmt: skip
        cwd = cwd or box.spec.working_dir
        if box.image is None:  # the host's tools, at their usual places
            inside = [
                "setpriv", "--no-new-privs", "--", "env", "-i", "-C", cwd,
                "/bin/sh", "-c", ENTER_SCRIPT.format(fd=environment), "mbox-env", *argv,
            ]  # fmt: skip
        else:  # an image may lack them all: the static busybox bound into every one
            script = IMAGE_ENTER_SCRIPT.format(fd=environment)
            inside = [
                rootfs.TOOLBOX, "setpriv", "--nnp", "--", rootfs.TOOLBOX, "env", "-i",
                rootfs.TOOLBOX, "sh", "-c", script, "mbox-env", cwd, *argv,
            ]  # fmt: skip
        return self._limited(enter + inside, box.spec.sandbox_id)

    # -- terminals and ports ------------------------------------------------------------

    async def open_pty(
        self,
        sandbox_id: uuid.UUID,
        argv: list[str],
        *,
        rows: int,
        cols: int,
        env: Mapping[str, str] | None = None,
    ) -> PtyProcess:
        box = self._running(sandbox_id)
        master, slave = self._pty_pair(box)
        try:
            pty.set_size(master, rows, cols)
            # `setsid --ctty`: a new session inside the sandbox with the terminal as its
            # controlling terminal (job control, Ctrl-C, SIGWINCH).
            session = [rootfs.TOOLBOX, "setsid", "-c"] if box.image else SETSID
            argv = [*session, *argv]
            process = await self._enter(
                box, argv, env, None, stdin=slave, stdout=slave, stderr=slave
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        terminal = PtyProcess(process, master)
        await terminal.started()
        return terminal

    def _pty_pair(self, box: _Box) -> tuple[int, int]:
        """A terminal from the sandbox's own devpts (so `tty` and `ps` inside name it),
        owned by the sandbox user; the host's devpts if that one cannot be reached."""
        try:
            master, slave = pty.open_pair(f"/proc/{box.init_pid}/root")
        except OSError:
            return os.openpty()
        if self._privileged:
            uid = self._uid(self._home(box.spec.sandbox_id))
            try:
                os.fchown(slave, uid, uid)
            except OSError:
                os.close(master)
                os.close(slave)
                raise
        return master, slave

    async def connect_port(self, sandbox_id: uuid.UUID, port: int) -> socket.socket:
        box = self._running(sandbox_id)
        if not 0 < port < 1 << 16:
            raise PortUnavailable(f"invalid port {port}")
        if not self._join_netns:
            return await self._relay(sandbox_id, port)
        try:
            return await asyncio.wait_for(netns.connect(box.init_pid, port), CONNECT_TIMEOUT)
        except ConnectionRefusedError:
            raise PortUnavailable(f"nothing is listening on port {port} in the sandbox") from None
        except TimeoutError:
            raise PortUnavailable(f"port {port} in the sandbox does not answer") from None
        except (FileNotFoundError, ProcessLookupError):
            raise RuntimeFailure("sandbox is not running") from None

    async def _relay(self, sandbox_id: uuid.UUID, port: int) -> socket.socket:
        """Without root, the server cannot enter the sandbox's network namespace: a relay
        inside it connects, and its stdin/stdout are bridged to one end of a socket pair
        (an AF_UNIX stream socket, not TCP)."""
        process = await self.exec(sandbox_id, ["python3", "-c", RELAY, str(port)], stdin=True)
        output = process.stdout()
        first = await anext(output, b"")
        if not first.startswith(b"+"):
            await process.wait()  # it could not connect, and exits
            raise PortUnavailable(f"nothing is listening on port {port} in the sandbox")
        outer, inner = socket.socketpair()
        outer.setblocking(False)
        inner.setblocking(False)
        bridge = asyncio.create_task(_bridge(process, first[1:], output, inner))
        self._relays.add(bridge)
        bridge.add_done_callback(self._relays.discard)
        return outer

    def _running(self, sandbox_id: uuid.UUID) -> _Box:
        box = self._boxes.get(sandbox_id)
        if box is None or not box.running:
            raise RuntimeFailure("sandbox is not running")
        return box

    # -- resource use -------------------------------------------------------------------

    async def sample(self, sandbox_ids: list[uuid.UUID]) -> dict[uuid.UUID, ResourceSample]:
        """Per running sandbox: its cgroups' counters, its disk against its quota and its
        network namespace's byte counters; all of them read in one worker thread."""
        boxes = [box for i in sandbox_ids if (box := self._boxes.get(i)) and box.running]
        if not boxes:
            return {}
        samples = await asyncio.to_thread(lambda: [self._sample(box) for box in boxes])
        return {box.spec.sandbox_id: found for box, found in zip(boxes, samples, strict=True)}

    def _sample(self, box: _Box) -> ResourceSample:
        sandbox_id, home = box.spec.sandbox_id, self._home(box.spec.sandbox_id)
        at = _now()
        groups = self._cgroups.usage(sandbox_id) if self._cgroups else None
        quota = None
        with contextlib.suppress(OSError):
            quota = disk.quota_bytes(home) if disk.has_image(home) else None
        used = sampling.disk_used(disk.volume_path(home)) if quota else None
        network = sampling.network_bytes(box.init_pid)
        return ResourceSample(
            at=at,
            source="cgroups" if groups else "none",
            cpu_usage_usec=groups.cpu_usage_usec if groups else None,
            cpu_limit_millicores=groups.cpu_limit_millicores if groups else None,
            memory_bytes=groups.memory_bytes if groups else None,
            memory_limit_bytes=groups.memory_limit_bytes if groups else None,
            disk_bytes=used,
            disk_limit_bytes=quota,
            processes=groups.processes if groups else None,
            process_limit=groups.process_limit if groups else None,
            network_rx_bytes=network[0] if network else None,
            network_tx_bytes=network[1] if network else None,
        )

    # -- logs and events ----------------------------------------------------------------

    async def logs(self, sandbox_id: uuid.UUID, tail_lines: int) -> str:
        return await asyncio.to_thread(_tail_lines, self._home(sandbox_id) / LOG_NAME, tail_lines)

    async def events(self, sandbox_id: uuid.UUID) -> list[RuntimeEvent]:
        path = self._home(sandbox_id) / EVENTS_NAME
        if not path.exists():
            return []
        lines = (await asyncio.to_thread(path.read_text)).splitlines()
        events = [json.loads(line) for line in lines if line.strip()]
        return [
            RuntimeEvent(e["type"], e["reason"], e["message"], datetime.fromisoformat(e["at"]))
            for e in events
        ]

    def _event(self, sandbox_id: uuid.UUID, kind: str, reason: str, message: str) -> None:
        record = {"type": kind, "reason": reason, "message": message, "at": _now().isoformat()}
        with (
            contextlib.suppress(FileNotFoundError),
            _when_disk_full(None),  # a full data disk loses the event, not the action
            (self._home(sandbox_id) / EVENTS_NAME).open("a") as file,
        ):
            file.write(json.dumps(record) + "\n")

    # -- workspace files ----------------------------------------------------------------

    def workspace(self, sandbox_id: uuid.UUID) -> Path:
        """The workspace on the host: on the sandbox's disk (mounted only while in use, see
        `disk.Volumes`), or a plain directory (no quota: without root, or made before)."""
        home = self._home(sandbox_id)
        return disk.workspace_path(home) if disk.has_image(home) else home / "workspace"

    async def list_files(self, sandbox_id: uuid.UUID, path: str) -> list[FileEntry]:
        return await self._files(workspace.list_directory, sandbox_id, path)

    async def read_file(self, sandbox_id: uuid.UUID, path: str, limit: int) -> bytes:
        return await self._files(workspace.read_file, sandbox_id, path, limit)

    async def write_file(self, sandbox_id: uuid.UUID, path: str, data: bytes) -> None:
        home = self._home(sandbox_id)
        # No home: the sandbox never started (or is gone); _files says so.
        owner = self._uid(home) if self._privileged and home.is_dir() else None
        await self._files(workspace.write_file, sandbox_id, path, data, owner)

    async def delete_file(self, sandbox_id: uuid.UUID, path: str) -> None:
        await self._files(workspace.delete, sandbox_id, path)

    async def open_read(self, sandbox_id: uuid.UUID, path: str) -> WorkspaceStream:
        disk_use = contextlib.AsyncExitStack()  # the sandbox's disk stays mounted until closed
        await disk_use.enter_async_context(self._disk_in_use(sandbox_id))
        try:
            opening = asyncio.ensure_future(self._files(workspace.open_path, sandbox_id, path))
            try:
                fd, entry = await asyncio.shield(opening)
            except asyncio.CancelledError:
                opening.add_done_callback(_close_opened)  # the caller is gone: no fd left open
                raise
            stream = workspace.stream(fd, entry)
        except BaseException:
            await disk_use.aclose()
            raise
        close_stream = stream.closer

        async def closer() -> None:
            try:
                await close_stream()
            finally:
                await disk_use.aclose()

        stream.closer = closer
        return stream

    async def match_files(self, sandbox_id: uuid.UUID, pattern: str, limit: int) -> list[FileEntry]:
        return await self._files(workspace.match, sandbox_id, pattern, limit)

    async def _files(self, operation: Any, sandbox_id: uuid.UUID, *args: Any) -> Any:
        """Run a workspace file operation off the event loop; OS errors become words."""
        async with self._disk_in_use(sandbox_id):
            root = self.workspace(sandbox_id)
            if not root.is_dir():
                raise RuntimeFailure("the sandbox has no workspace (it was deleted)")
            return await self._file_operation(operation, sandbox_id, root, *args)

    def _disk_in_use(self, sandbox_id: uuid.UUID) -> contextlib.AbstractAsyncContextManager:
        if self._volumes is None:
            return contextlib.nullcontext()
        return self._volumes.using(self._home(sandbox_id))

    async def _file_operation(
        self, operation: Any, sandbox_id: uuid.UUID, root: Path, *args: Any
    ) -> Any:
        try:
            return await asyncio.to_thread(operation, root, *args)
        except FileNotFoundError:
            raise FileMissing(f"no such file or directory: {args[0]}") from None
        except IsADirectoryError:
            raise PathRefused(f"'{args[0]}' is a directory") from None
        except NotADirectoryError:
            raise PathRefused(f"'{args[0]}' is not a directory") from None
        except OSError as exc:
            if exc.errno in DISK_FULL:
                raise self._disk_full(sandbox_id, args[0]) from None
            raise RuntimeFailure(f"{args[0]}: {exc.strerror}") from None

    def _disk_full(self, sandbox_id: uuid.UUID, path: str) -> DiskFull:
        home = self._home(sandbox_id)
        if disk.has_image(home):
            quota = disk.quota_bytes(home) / 1024**2
            return DiskFull(
                f"the sandbox's disk quota is full ({quota:g} MiB, or its inodes are all "
                f"used): cannot write {path}; delete files in the sandbox to make room"
            )
        return DiskFull(f"no space left on the server's data disk: cannot write {path}")

    # -- inventory (runtime inventory, orphan audit) ---------------------------------------

    async def images(self) -> ImageCache:
        in_use = self._images_in_use()
        records = tuple(
            CachedImageRecord(
                digest=image.digest,
                references=image.references,
                size_bytes=image.size_bytes,
                pulled_at=_at(image.pulled_at),
                last_used_at=_at(image.last_used_at),
                in_use=image.digest in in_use,
            )
            for image in await asyncio.to_thread(self.images_store.images)
        )
        return ImageCache(kept=True, max_bytes=self.images_store.max_bytes, images=records)

    async def inventory(self) -> list[ManagedResource]:
        """Per sandbox directory its workspace; per running sandbox its process tree; per
        cgroup of a sandbox the group (a dead server's may be left)."""
        return await asyncio.to_thread(self._inventory)

    def _inventory(self) -> list[ManagedResource]:
        found = []
        for home in sorted(self.root.iterdir()) if self.root.is_dir() else ():
            sandbox_id = _sandbox_id(home.name)
            if sandbox_id is None or not home.is_dir():
                continue  # the uid claims, spare disks
            labels = _read_labels(home, sandbox_id)
            box = self._boxes.get(sandbox_id)
            found.append(self._workspace_resource(home, labels, box))
            if box is not None and box.running:
                found.append(self._process_resource(box, labels))
        for name, modified in self._cgroups.groups() if self._cgroups else ():
            labels = inventory.labels(sandbox_id=_sandbox_id(name))
            ref = ResourceRef(ADAPTER, "Cgroup", ADAPTER, name)
            found.append(ManagedResource(ref, "sandbox", labels, _at(modified)))
        return found

    def _workspace_resource(
        self, home: Path, labels: Mapping[str, str], box: _Box | None
    ) -> ManagedResource:
        running = box is not None and box.running
        capacity = ""
        if disk.has_image(home):
            capacity = str(disk.quota_bytes(home))
        mount = inventory.StorageMount(
            name="workspace",
            mount_path=box.spec.working_dir if box else "",
            phase="Mounted" if running and capacity else "Bound" if capacity else "Directory",
            capacity=capacity,
            storage_class="ext4 disk image" if capacity else "data dir",
        )
        observation = inventory.Observation(
            runtime_name=home.name,
            pod_phase="Running" if running else "Stopped",
            storage=(mount,),
        )
        ref = ResourceRef(ADAPTER, "Workspace", ADAPTER, home.name)
        created = _at(home.stat().st_ctime)
        return ManagedResource(ref, "sandbox", labels, created, observation=observation)

    def _process_resource(self, box: _Box, labels: Mapping[str, str]) -> ManagedResource:
        spec = box.spec
        observation = inventory.Observation(
            runtime_name=str(spec.sandbox_id),
            pod_count=1,
            running_pod_count=1,
            pod_name=f"pid {box.init_pid}",
            pod_phase="Running",
            containers_ready=1,
            containers_total=1,
            requests={name: value for name, value in spec.requests.items() if value},
            ready_condition="True",
        )
        ref = ResourceRef(ADAPTER, "ProcessTree", ADAPTER, str(spec.sandbox_id))
        own_ref = self._status(box).ref
        return ManagedResource(
            ref, "sandbox", labels, box.started_at, sandbox_ref=own_ref, observation=observation
        )

    async def delete_resource(self, ref: ResourceRef) -> None:
        sandbox_id = _sandbox_id(ref.name)
        if ref.adapter != ADAPTER or ref.namespace != ADAPTER or sandbox_id is None:
            raise RuntimeFailure(f"not a resource of the local runtime: {ref.kind} {ref.name}")
        if ref.kind == "Workspace":
            await self.delete(sandbox_id)
        elif ref.kind == "ProcessTree":
            await self.stop(sandbox_id)
        elif ref.kind == "Cgroup" and self._cgroups:
            if sandbox_id in self._boxes:
                raise RuntimeFailure("the cgroup is in use: delete the sandbox's process tree")
            self._cgroups.remove(sandbox_id)
        elif ref.kind != "Cgroup":
            raise RuntimeFailure(f"the local runtime makes no {ref.kind}")

    # -- building blocks ----------------------------------------------------------------

    def _home(self, sandbox_id: uuid.UUID) -> Path:
        return self.root / str(sandbox_id)

    def _prepare(self, home: Path) -> int:
        """Create the sandbox's directory and workspace; return its host uid."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o711)
        home.mkdir(exist_ok=True, mode=0o711)
        uid = self._uid(home)
        workspace = home / "workspace"
        if self._volumes and not workspace.exists():
            return uid  # on its own disk (`_attach_disk`)
        workspace.mkdir(exist_ok=True, mode=0o700)
        if self._privileged:
            os.chown(workspace, uid, uid)
        return uid

    async def _attach_disk(self, spec: SandboxSpec, home: Path, uid: int) -> None:
        """Make (once) and mount the sandbox's own disk; it stays mounted until it stops.
        A workspace directory from before disk quotas is kept as it is, without quota."""
        if self._volumes is None:
            return
        if (home / "workspace").exists():
            message = "no disk quota: this workspace was made before disk quotas"
            self._event(spec.sandbox_id, "Warning", "NoDiskQuota", message)
            return
        try:
            await self._volumes.create(home, spec.storage_bytes or self.limits.workspace_bytes)
            await self._volumes.start(home, uid)
        except disk.DiskError as exc:
            raise RuntimeFailure(f"sandbox disk: {exc}") from None
        except OSError as exc:
            if exc.errno in DISK_FULL:
                raise  # said in words by the caller
            raise RuntimeFailure(f"sandbox disk: {exc.strerror}") from None

    def _tmp_mounts(self, home: Path) -> list[str]:
        """/tmp on the sandbox's disk (its quota), else a tmpfs no larger than its memory
        limit; /dev/shm a small tmpfs (its pages count as the sandbox's memory)."""
        memory = self.limits.memory_bytes
        shm = ["--perms", "1777", "--size", str(min(memory, SHM_BYTES)), "--tmpfs", "/dev/shm"]
        if self._volumes and disk.has_image(home):
            return [*shm, "--bind", str(disk.tmp_path(home)), "/tmp"]
        return [*shm, "--size", str(memory), "--tmpfs", "/tmp"]

    def _uid(self, home: Path) -> int:
        """A host uid no other sandbox uses, remembered next to the workspace."""
        if not self._privileged:
            return os.geteuid()
        uid = self._known_uid(home)
        if uid is None:
            uid = self._uids[home] = self._claim_uid(home.name)
            (home / "uid").write_text(str(uid))
        return uid

    def _known_uid(self, home: Path) -> int | None:
        if home not in self._uids and self._privileged:
            with contextlib.suppress(FileNotFoundError, ValueError):
                self._uids[home] = int((home / "uid").read_text())
        return self._uids.get(home)

    def _claim_uid(self, owner: str) -> int:
        """The next unclaimed uid, claimed for the sandbox dir `owner`: a symlink only one
        creator gets, so a launch reads no other sandbox's files (it read all: O(n))."""
        claims = self.root / UID_CLAIMS
        if not claims.is_dir():  # first use of this root: claim the uids already given
            claims.mkdir(mode=0o700, exist_ok=True)
            for marker in self.root.glob("*/uid"):
                with contextlib.suppress(OSError, ValueError):
                    os.symlink(marker.parent.name, claims / str(int(marker.read_text())))
        for n in range(UID_SPAN):
            uid = UID_BASE + (self._next_uid + n) % UID_SPAN
            with contextlib.suppress(FileExistsError):
                os.symlink(owner, claims / str(uid))
                self._next_uid = uid - UID_BASE + 1
                return uid
        raise RuntimeFailure(f"no free host uid: {UID_SPAN} sandboxes exist")

    def _release_uid(self, uid: int, home: Path) -> None:
        """Give back the uid of a deleted sandbox dir (if its claim names that dir)."""
        self._uids.pop(home, None)
        claim = self.root / UID_CLAIMS / str(uid)
        with contextlib.suppress(OSError):
            if os.readlink(claim) == home.name:
                claim.unlink()

    def _sandbox_env(
        self,
        spec: SandboxSpec,
        extra: Mapping[str, str] | None = None,
        image: ImageConfig | None = None,
    ) -> dict[str, str]:
        """The whole environment of a sandbox process, built from nothing: the server's
        own (tokens, database URL, cloud keys) must never reach a sandbox. An image's own
        variables come before the template's (as Kubernetes does)."""
        own = {"PATH": DEFAULT_PATH, "HOME": spec.working_dir, "USER": "sandbox"}
        if image is not None:
            own = {"PATH": DEFAULT_PATH, "HOME": _image_home(image), **image.env}
        return {
            "LANG": "C.UTF-8",
            "TERM": "xterm-256color",
            **own,
            "MBOX_SANDBOX_ID": str(spec.sandbox_id),
            **spec.env,
            **(extra or {}),
        }

    def _limited(
        self, command: list[str], sandbox_id: uuid.UUID, *, nproc: bool = True
    ) -> list[str]:
        """Apply the limits: the sandbox's cgroups (memory, processes) when available, else
        setrlimit for those too; open files and file size always by setrlimit."""
        limits = self.limits
        rlimits = [f"--nofile={limits.open_files}", f"--fsize={limits.file_size_bytes}"]
        if self._cgroups is None:
            rlimits += [f"--as={limits.memory_bytes}"]
            rlimits += [f"--nproc={limits.processes}"] if nproc else []
            return ["prlimit", *rlimits, "--", *command]
        join = join_prefix(self._cgroups.join_files(sandbox_id))
        return ["prlimit", *rlimits, "--", *join, *command]

    def _launch_command(
        self,
        spec: SandboxSpec,
        uid: int,
        arguments: int,
        image: CachedImage | None = None,
        config: ImageConfig | None = None,
    ) -> list[str]:
        """bwrap, as the sandbox's host uid, reading its options from `arguments` (the
        sandbox's pid 1 is bwrap, and every process in it can read pid 1's command line:
        host paths stay out of it). bwrap takes the command itself only on its argv. An
        image's root is mounted first, as root, in a mount namespace of the sandbox's own.
        """
        drop = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"]
        # Without cgroups, RLIMIT_NPROC is set inside the sandbox's user namespace, where it
        # counts that sandbox's processes (ucounts, Linux >= 5.14); set before bwrap makes
        # the namespace, it would bound every process of the uid: one budget for all.
        limit = str(self.limits.processes)
        if image is None or config is None:
            nproc = [] if self._cgroups else ["prlimit", f"--nproc={limit}", "--"]
            command, mount = [*nproc, *(spec.command or IDLE_COMMAND)], []
        else:
            nproc = [] if self._cgroups else [rootfs.TOOLBOX, "sh", "-c", IMAGE_NPROC_SCRIPT, limit]
            idle = (rootfs.TOOLBOX, *IDLE_COMMAND)
            command = [*nproc, *(spec.command or config.args or idle)]
            home = self._home(spec.sandbox_id)
            mount = rootfs.mount_command(image.rootfs, self._layer_base(home), home)
        bwrap = ["bwrap", "--args", str(arguments), "--", *command]
        launch = mount + (drop if self._privileged else []) + bwrap
        return self._limited(launch, spec.sandbox_id, nproc=False)

    def _layer_base(self, home: Path) -> Path:
        """Where the sandbox's writable layer lives: on its own disk when it has one."""
        volume = disk.volume_path(home) if self._volumes and disk.has_image(home) else home
        return volume / "layer"

    def _prepare_root(
        self,
        spec: SandboxSpec,
        home: Path,
        image: CachedImage,
        config: ImageConfig,
        uid: int,
        has_secrets: bool,
    ) -> None:
        """The writable layer, with what bwrap mounts on made in it (see rootfs.py)."""
        base = self._layer_base(home)
        base.mkdir(mode=0o700, exist_ok=True)
        os.chown(base, 0, 0)
        mount_points = [spec.working_dir, "/proc", "/dev", "/tmp", rootfs.TOOLBOX_DIR]
        mount_points += [SECRETS_MOUNT_DIR] if has_secrets else []
        rootfs.prepare(
            image.rootfs,
            base,
            mount_points=mount_points,
            files=[rootfs.TOOLBOX],
            home=self._sandbox_env(spec, image=config)["HOME"],
            owner=uid,
        )

    def _bwrap_arguments(
        self,
        spec: SandboxSpec,
        home: Path,
        info_fd: int,
        syscall_filter: int,
        image: ImageConfig | None = None,
    ) -> list[str]:
        """bwrap's options, the sandbox's environment among them (bwrap itself runs with
        `HELPER_ENV`: the steps before it run as root on the host). The root: the host's
        /usr and /etc read-only, or the image's overlay (mounted at `<home>/root`) with
        the static busybox."""
        env = [
            arg
            for key, value in self._sandbox_env(spec, image=image).items()
            for arg in ("--setenv", key, value)
        ]
        uid, gid = (image.uid, image.gid) if image else (SANDBOX_UID, SANDBOX_UID)
        root = [
            "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc",
            "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
            "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
        ]  # fmt: skip
        if image is not None:
            busybox = rootfs.static_busybox()
            root = ["--bind", str(home / rootfs.MERGED), "/", "--ro-bind", busybox, rootfs.TOOLBOX]
        return [
            "--unshare-user", "--uid", str(uid), "--gid", str(gid),
            # no nested user namespaces (bwrap 0.8+; the filter denies them too)
            *(["--disable-userns"] if seccomp.bwrap_disables_userns() else []),
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net",
            "--hostname", spec.slug[:63] or "sandbox",
            "--die-with-parent", "--new-session", *root,
            "--proc", "/proc", "--dev", "/dev", *self._tmp_mounts(home),
            "--dir", spec.working_dir,
            "--bind", str(self.workspace(spec.sandbox_id)), spec.working_dir,
            "--chdir", spec.working_dir,
            "--seccomp", str(syscall_filter),  # bwrap's pid 1 gets it too
            "--clearenv", *env,
            "--info-fd", str(info_fd),
        ]  # fmt: skip


async def _bridge(
    process: LocalProcess, first: bytes, output: AsyncIterator[bytes], inner: socket.socket
) -> None:
    """Copy between the relay's stdout/stdin and `inner` until both directions end or
    either side fails; then the relay is stopped."""
    loop = asyncio.get_running_loop()
    assert process.stdin is not None

    async def outward() -> None:
        if first:
            await loop.sock_sendall(inner, first)
        async for chunk in output:
            await loop.sock_sendall(inner, chunk)
        inner.shutdown(socket.SHUT_WR)

    async def inward() -> None:
        while data := await loop.sock_recv(inner, 65536):
            process.stdin.write(data)
            await process.stdin.drain()
        process.stdin.close()

    directions = [asyncio.create_task(outward()), asyncio.create_task(inward())]
    try:
        await asyncio.wait(directions, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for direction in directions:
            direction.cancel()
        await asyncio.gather(*directions, return_exceptions=True)
        inner.close()
        if process.returncode is None:
            process.signal(signal.SIGKILL)
        await process.wait()


_FOUND: set[tuple[str, str]] = set()  # (tool, PATH it was found on)


LABELS_NAME = "labels.json"  # in a sandbox's directory: the mbox ids it was made for


def _source(spec: SandboxSpec) -> str:
    """Where its image comes from, in words."""
    return (
        f"the build recipe of template {spec.template_slug or spec.template_id}"
        if spec.build
        else spec.image
    )


def _acquiring(spec: SandboxSpec) -> tuple[str, str]:
    return ("Building", _source(spec)) if spec.build else ("Pulling", f"image {spec.image}")


def _image_home(image: ImageConfig) -> str:
    """The image's HOME, else root's or `/` (as runc does from the image's passwd)."""
    return image.env.get("HOME") or ("/root" if image.uid == 0 else "/")


def _read_registry_secret(
    secrets_dir: Path | None, credential: RegistryCredential, registry: str
) -> images.RegistryAuth:
    """The `username` and `password` keys of the credential's secret (read by the server:
    skopeo needs the values; never logged, never shown)."""
    if secrets_dir is None:
        raise images.ImageFailure(
            "unauthorized",
            f"registry credential for {registry}: no secrets directory is set (MBOX_SECRETS_DIR)",
        )
    values = {}
    for key in ("username", "password"):
        if not _plain_name(credential.secret):
            raise images.ImageFailure(
                "unauthorized",
                f"registry credential for {registry}: invalid secret name {credential.secret!r}",
            )
        try:
            values[key] = (secrets_dir / credential.secret / key).read_text().strip()
        except OSError:
            raise images.ImageFailure(
                "unauthorized",
                f"registry credential for {registry}: secret {credential.secret!r} has no "
                f"{key!r} key in the secrets directory",
            ) from None
    return images.RegistryAuth(registry, values["username"], values["password"])


def _write_labels(home: Path, spec: SandboxSpec) -> None:
    ids = inventory.labels(
        project_id=spec.project_id, sandbox_id=spec.sandbox_id, template_id=spec.template_id
    )
    (home / LABELS_NAME).write_text(json.dumps(ids))


def _read_labels(home: Path, sandbox_id: uuid.UUID) -> dict[str, str]:
    """The labels written at its first start (the directory's name, for one from before)."""
    with contextlib.suppress(OSError, ValueError):
        found = json.loads((home / LABELS_NAME).read_text())
        if isinstance(found, dict):
            return {str(key): str(value) for key, value in found.items()}
    return inventory.labels(sandbox_id=sandbox_id)


def _sandbox_id(name: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(name)
    except ValueError:
        return None


def _at(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _installed(tool: str) -> bool:
    """shutil.which, remembered once found (each launch asks; a PATH walk costs ~0.3 ms)."""
    found = (tool, os.environ.get("PATH", ""))
    if found not in _FOUND and shutil.which(tool):
        _FOUND.add(found)
    return found in _FOUND


def _unignore_job_signals() -> None:
    """A server started in the background (`scripts/run &`, nohup) ignores SIGINT and
    SIGQUIT, and an ignored signal stays ignored across exec: Ctrl-C in a sandbox's
    terminal and a task's cancel would do nothing. A no-op handler keeps the server as
    deaf as it was, while children start with the default action (handlers reset on
    exec)."""
    for signum in (signal.SIGINT, signal.SIGQUIT):
        if signal.getsignal(signum) is signal.SIG_IGN:
            with contextlib.suppress(ValueError):  # only the main thread may set handlers
                signal.signal(signum, _ignore)


def _ignore(signum: int, frame: object) -> None:
    """Handle and drop the signal (see `_unignore_job_signals`)."""


def _close_opened(opening: asyncio.Future) -> None:
    if not opening.cancelled() and opening.exception() is None:
        os.close(opening.result()[0])


@dataclass
class _Secrets:
    """Credentials' files, opened by the server for bwrap to copy into the sandbox: the
    sandbox's uid could not open them, and never sees where they are."""

    dirs: list[str] = field(default_factory=list)  # whole secrets: directories to make
    files: list[tuple[int, str]] = field(default_factory=list)  # (fd, path in the sandbox)

    def fds(self) -> list[int]:
        return [fd for fd, _ in self.files]

    def arguments(self) -> list[str]:
        """A tmpfs at SECRETS_MOUNT_DIR holding read-only copies (--ro-bind-data), then
        remounted read-only: nothing under it can be changed or added."""
        if not self.dirs and not self.files:
            return []
        arguments = ["--perms", "0755", "--tmpfs", SECRETS_MOUNT_DIR]
        for path in self.dirs:
            arguments += ["--perms", "0755", "--dir", path]
        for fd, path in self.files:
            arguments += ["--perms", "0400", "--ro-bind-data", str(fd), path]
        return [*arguments, "--remount-ro", SECRETS_MOUNT_DIR]

    def close(self) -> None:
        for fd in self.fds():
            os.close(fd)
        self.files.clear()


def _open_credentials(secrets_dir: Path | None, mounts: tuple[CredentialMount, ...]) -> _Secrets:
    """Open every file the credentials name (never read here: bwrap copies them), or fail
    the launch saying which secret is missing where."""
    opened = _Secrets()
    try:
        for mount in mounts:
            _open_credential(secrets_dir, mount, opened)
    except BaseException:
        opened.close()
        raise
    return opened


def _open_credential(secrets_dir: Path | None, mount: CredentialMount, opened: _Secrets) -> None:
    if secrets_dir is None:
        raise _secret_failure(mount, "no secrets directory is set (MBOX_SECRETS_DIR)")
    if not _plain_name(mount.secret) or (mount.key and not _plain_name(mount.key)):
        raise _secret_failure(mount, "the secret's name or key is not a plain name")
    root = Path(os.path.realpath(secrets_dir))
    secret = root / mount.secret
    if not secret.is_dir():
        raise _secret_failure(mount, f'secret "{mount.secret}" not found in {secrets_dir}')
    if mount.key:
        opened.files.append((_open_secret_file(root, secret, mount.key, mount), mount.path))
        return
    keys = sorted(
        entry.name
        for entry in os.scandir(secret)
        if _plain_name(entry.name) and not entry.name.startswith("..") and entry.is_file()
    )
    if len(keys) > SECRET_MAX_KEYS:
        raise _secret_failure(mount, f"more than {SECRET_MAX_KEYS} keys in {secret}")
    opened.dirs.append(mount.path)
    for key in keys:
        fd = _open_secret_file(root, secret, key, mount)
        opened.files.append((fd, f"{mount.path}/{key}"))


def _open_secret_file(root: Path, secret: Path, key: str, mount: CredentialMount) -> int:
    """One key's file: regular, at most SECRET_MAX_BYTES, and (links resolved) inside the
    secrets directory, so a link cannot hand a sandbox some other host file."""
    try:
        fd = os.open(secret / key, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY)
    except (FileNotFoundError, NotADirectoryError):
        raise _secret_failure(
            mount, f'secret "{secret.name}" has no key "{key}" in {root}'
        ) from None
    except OSError as exc:
        raise _secret_failure(mount, f"cannot open {secret / key}: {exc.strerror}") from None
    try:
        real = os.readlink(f"/proc/self/fd/{fd}")
        info = os.fstat(fd)
        if not real.startswith(f"{root}/"):
            raise _secret_failure(mount, f"{secret / key} leads outside {root}")
        if not stat.S_ISREG(info.st_mode):
            raise _secret_failure(mount, f"{secret / key} is not a regular file")
        if info.st_size > SECRET_MAX_BYTES:
            raise _secret_failure(mount, f"{secret / key} is larger than 1 MiB")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _plain_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\0" not in name


def _secret_failure(mount: CredentialMount, why: str) -> RuntimeFailure:
    return RuntimeFailure(f'credential "{mount.slug}" cannot be mounted: {why}')


def _environment_file(environment: Mapping[str, str]) -> int:
    """`environment` as shell exports, for the shell that starts a command inside a
    sandbox (names are validated identifiers; values are quoted)."""
    lines = "".join(f"export {key}={shlex.quote(value)}\n" for key, value in environment.items())
    return seccomp.memfd("mbox-env", lines.encode())


def _argument_file(arguments: list[str]) -> int:
    """NUL-separated arguments (bwrap's `--args`)."""
    return seccomp.memfd(
        "bwrap-args", b"".join(argument.encode() + b"\0" for argument in arguments)
    )


@contextlib.contextmanager
def _when_disk_full(instead: Exception | None) -> Iterator[None]:
    """On ENOSPC or EDQUOT: raise `instead` (an error in words), or drop the write when
    None; other errors propagate."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in DISK_FULL:
            raise
        if instead is not None:
            raise instead from None


async def _read_all(fd: int) -> bytes:
    """What the pipe `fd` carries until its writers close it; then `fd` is closed. Read on
    the event loop: a thread would cost a hop each way on the launch's path."""
    loop = asyncio.get_running_loop()
    closed: asyncio.Future[None] = loop.create_future()
    chunks: list[bytes] = []

    def readable() -> None:
        try:
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
        except BlockingIOError:
            return
        except OSError as exc:
            closed.set_exception(exc)
            return
        closed.set_result(None)

    os.set_blocking(fd, False)
    loop.add_reader(fd, readable)
    try:
        await closed
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    return b"".join(chunks)


def _tail_lines(path: Path, count: int, max_bytes: int = 1 << 20) -> str:
    """The last `count` lines of a file, reading at most `max_bytes` from its end."""
    if not path.exists():
        return ""
    with path.open("rb") as file:
        file.seek(0, os.SEEK_END)
        size = file.tell()
        file.seek(max(0, size - max_bytes))
        data = file.read()
    lines = data.decode("utf-8", "replace").splitlines(keepends=True)
    return "".join(lines[-count:])
