"""The syscall filter on every sandbox process, built with libseccomp (python3-seccomp).

What it denies (EPERM unless said otherwise) is what Docker's and Podman's default
profiles deny to a container without capabilities, plus io_uring and the whole x32/i386
(or AArch32) ABI: new namespaces of any kind (unshare, clone with a CLONE_NEW* flag;
clone3 answers ENOSYS, as in container runtimes, so libc falls back to clone, whose flags a
filter can read), mounts (old and new API), keys, bpf, perf, userfaultfd, io_uring,
kexec and modules, ptrace attach (PTRACE_TRACEME stays: debugging one's own children
works) and other processes' memory, clocks, swap, reboot, quotas, accounting, handle-based
opens (the "shocker" escape), raw I/O ports, NUMA policy, vsock sockets (not namespaced:
they reach the hypervisor) and personality flags that weaken the address space.

Everything else is allowed: sandboxes run arbitrary development tools, so this is a
deny list of the kernel's risky surface, not an allow list of one program's needs.

Two programs are built once per process:
- `init`, for bwrap's `--seccomp` (the sandbox's pid 1 and everything it starts): also
  denies setns;
- `join`, on every command that joins a running sandbox (`prlimit ... nsenter ...
  setpriv ... <command>`) from its birth (see `Launcher`): nsenter needs setns, so it
  stays allowed. That is safe because setns requires CAP_SYS_ADMIN over the target
  namespace's owner: the joined command holds no capabilities (nsenter drops them with
  --setuid, setpriv sets no_new_privs so no setuid binary gives them back) and cannot
  create a user namespace, the only way an unprivileged process gains capabilities.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import functools
import glob
import importlib.util
import os
import platform
import subprocess
import sysconfig
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.thread import BrokenThreadPool
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Self

from backend.runtime.base import RuntimeFailure

INSTALL_HINT = "apt-get install python3-seccomp"
DIST_PACKAGES = "/usr/lib/python3/dist-packages"

# Denied outright, by name; names the native architecture does not have are skipped.
DENIED = (
    # mounts and the new mount API
    "mount", "umount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    # the kernel keyring
    "keyctl", "add_key", "request_key",
    # kernel attack surface unprivileged code does not need
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register", "fanotify_init", "lookup_dcookie",
    # kernel code and machine state
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "create_module", "get_kernel_syms", "query_module", "reboot", "swapon", "swapoff",
    "acct", "syslog", "quotactl", "quotactl_fd", "nfsservctl", "uselib", "_sysctl",
    "sysfs", "ustat", "vhangup", "sethostname", "setdomainname",
    # clocks
    "settimeofday", "stime", "clock_settime", "clock_settime64", "adjtimex",
    "clock_adjtime", "clock_adjtime64",
    # other processes' memory and files
    "process_vm_writev", "process_madvise", "pidfd_getfd", "kcmp",
    # handles bypass path permissions ("shocker")
    "open_by_handle_at", "name_to_handle_at",
    # hardware and legacy modes
    "iopl", "ioperm", "vm86", "vm86old",
    # NUMA policy (Docker allows it only with CAP_SYS_NICE)
    "get_mempolicy", "set_mempolicy", "set_mempolicy_home_node", "mbind",
    "migrate_pages", "move_pages",
)  # fmt: skip
# clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc use clone.
NOT_IMPLEMENTED = ("clone3",)

CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
# clone's low byte is the exit signal, so CLONE_NEWTIME (0x80) is unshare/clone3 only.
CLONE_NAMESPACES = (
    CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
    CLONE_NEWNET,
)  # fmt: skip
PTRACE_ATTACH = 16
PTRACE_SEIZE = 0x4206
AF_VSOCK = 40
# personality(2) flags that weaken the address space (Docker allows none of them):
# MMAP_PAGE_ZERO, READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE, ADDR_COMPAT_LAYOUT,
# ADDR_LIMIT_32BIT, ADDR_LIMIT_3GB, FDPIC_FUNCPTRS, SHORT_INODE, WHOLE_SECONDS,
# STICKY_TIMEOUTS.
PERSONALITY_FLAGS = (
    0x0100000, 0x0400000, 0x0040000, 0x0200000, 0x0800000, 0x8000000, 0x0080000,
    0x1000000, 0x2000000, 0x4000000,
)  # fmt: skip
PERSONALITY_QUERY_BIT = 0x80000000  # set only in the query value 0xffffffff

STREAM_LIMIT = 2**16  # asyncio's default for subprocess streams
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


UNAVAILABLE = f"no syscall filter: libseccomp's Python binding is missing ({INSTALL_HINT})"


class SeccompUnavailable(Exception):
    """libseccomp's Python binding cannot be loaded; the message says what to install."""


@dataclass(frozen=True)
class Filters:
    init: bytes  # raw cBPF (struct sock_filter[]) for bwrap --seccomp
    join: bytes  # the same plus setns, for commands joined with nsenter
    denied: tuple[str, ...]  # syscalls denied outright (ENOSYS included)
    restricted: tuple[str, ...]  # syscalls denied for some arguments
    version: str  # libseccomp's

    def describe(self) -> str:
        return (
            f"seccomp filter (libseccomp {self.version}): {len(self.denied)} syscalls denied, "
            f"{len(self.restricted)} restricted by argument ({', '.join(self.restricted)})"
        )


def binding() -> ModuleType:
    """The `seccomp` module: importable, or Debian's python3-seccomp extension loaded by
    path (a virtualenv does not see dist-packages) when built for this interpreter."""
    try:
        import seccomp  # type: ignore[import-not-found]

        if hasattr(seccomp, "SyscallFilter"):  # not this module, run from its directory
            return seccomp
    except ImportError:
        pass
    wanted = f"seccomp.{sysconfig.get_config_var('SOABI')}.so"
    for path in glob.glob(f"{DIST_PACKAGES}/seccomp.cpython-3*.so"):
        if os.path.basename(path) == wanted:
            spec = importlib.util.spec_from_file_location("seccomp", path)
            if spec is not None and spec.loader is not None:
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                return module
    raise SeccompUnavailable(
        f"libseccomp's Python binding for Python {platform.python_version()} not found "
        f"({INSTALL_HINT})"
    )


@functools.cache
def filters() -> Filters:
    """Both programs for this machine's architecture (built once; raises
    SeccompUnavailable without the binding)."""
    seccomp = binding()
    native = seccomp.Arch.NATIVE
    names = (*DENIED, *NOT_IMPLEMENTED)
    denied = tuple(name for name in names if seccomp.resolve_syscall(native, name) >= 0)
    restricted = ("clone", "unshare", "ptrace", "personality", "socket")
    init = _build(seccomp, deny_setns=True)
    join = _build(seccomp, deny_setns=False)
    return Filters(init, join, (*denied, "setns"), restricted, _version())


def memfd(name: str, data: bytes) -> int:
    """An fd holding `data`, positioned at the start: how a filter program (bwrap's
    --seccomp), secrets and long option lists reach a child without its command line or
    environment."""
    fd = os.memfd_create(name, 0)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


@functools.cache
def bwrap_disables_userns() -> bool:
    """Whether bwrap has --disable-userns (0.8+); older ones rely on the filter alone."""
    try:
        found = subprocess.run(["bwrap", "--version"], capture_output=True, check=False)
    except OSError:
        return False
    version = found.stdout.decode().split()[-1:] or ["0"]
    parts = tuple(int(part) for part in version[0].split(".") if part.isdigit())
    return parts >= (0, 8)


def load() -> Filters | None:
    """The filters, or None when libseccomp's binding is missing (see UNAVAILABLE)."""
    try:
        return filters()
    except SeccompUnavailable:
        return None


def _build(seccomp: ModuleType, *, deny_setns: bool) -> bytes:
    # Only the native architecture is added: syscalls of any other ABI (i386 and x32 on
    # x86_64, AArch32 on aarch64) match no architecture and kill the process.
    deny = seccomp.ERRNO(errno.EPERM)
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    rules.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.KILL_PROCESS)
    for name in DENIED + (("setns",) if deny_setns else ()):
        if seccomp.resolve_syscall(seccomp.Arch.NATIVE, name) >= 0:
            rules.add_rule(deny, name)
    for name in NOT_IMPLEMENTED:
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), name)
    # One rule per flag: conditions within a rule are ANDed, separate rules ORed.
    for flag in CLONE_NAMESPACES:
        rules.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    for flag in (*CLONE_NAMESPACES, CLONE_NEWTIME):
        rules.add_rule(deny, "unshare", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    for request in (PTRACE_ATTACH, PTRACE_SEIZE):
        rules.add_rule(deny, "ptrace", seccomp.Arg(0, seccomp.EQ, request))
    for flag in PERSONALITY_FLAGS:
        mask = flag | PERSONALITY_QUERY_BIT  # the query (0xffffffff) stays allowed
        rules.add_rule(deny, "personality", seccomp.Arg(0, seccomp.MASKED_EQ, mask, flag))
    rules.add_rule(deny, "socket", seccomp.Arg(0, seccomp.EQ, AF_VSOCK))
    program = os.memfd_create("seccomp-bpf", 0)
    try:
        with os.fdopen(os.dup(program), "wb") as output:
            rules.export_bpf(output)
        size = os.lseek(program, 0, os.SEEK_END)
        return os.pread(program, size, 0)
    finally:
        os.close(program)


def _version() -> str:
    class Version(ctypes.Structure):
        _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]

    try:
        library = ctypes.CDLL("libseccomp.so.2")
        library.seccomp_version.restype = ctypes.POINTER(Version)
        found = library.seccomp_version().contents
    except (OSError, AttributeError, ValueError):
        return "unknown version"
    return f"{found.major}.{found.minor}.{found.micro}"


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class Installer:
    """Installs `program` in the calling thread (only: no TSYNC): no_new_privs, then the
    filter. Everything is prepared up front, so the call itself is two prctl calls."""

    def __init__(self, program: bytes) -> None:
        self._buffer = ctypes.create_string_buffer(program, len(program))
        self._fprog = _SockFprog(len(program) // 8, ctypes.addressof(self._buffer))
        self._fprog_address = ctypes.addressof(self._fprog)
        prctl = ctypes.CDLL(None, use_errno=True).prctl
        prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                          ctypes.c_ulong]  # fmt: skip
        prctl.restype = ctypes.c_int
        self._prctl = prctl

    def __call__(self) -> None:
        # no_new_privs first: it lets an unprivileged process install a filter, and a
        # filter is only safe with it (a setuid binary would run filtered otherwise).
        if self._prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if self._prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, self._fprog_address, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")


class Launcher:
    """Starts processes that run under `program` from birth: from one thread of the
    server that holds the filter, since a child inherits the filter of the thread that
    creates it. Why not a preexec_fn: it makes Popen fork the whole server (page tables,
    then copy-on-write faults) and run every at-fork hook in the child, which measured
    +150 % on a task's exec; from the filtered thread Popen still uses vfork."""

    def __init__(self, program: bytes | None) -> None:
        """`program` None (no libseccomp binding): every spawn is refused."""
        self._thread = (
            ThreadPoolExecutor(1, "mbox-seccomp", initializer=Installer(program))
            if program is not None
            else None
        )

    async def spawn(self, *argv: str, **popen: Any) -> FilteredProcess:
        """Like asyncio.create_subprocess_exec(*argv, **popen), filtered. If the thread
        could not install the filter, nothing starts."""
        if self._thread is None:
            raise RuntimeFailure(UNAVAILABLE)
        loop = asyncio.get_running_loop()
        try:
            # Popen blocks until the child has exec'd, as asyncio's own spawn does.
            child = self._thread.submit(subprocess.Popen, argv, bufsize=0, **popen).result()
        except BrokenThreadPool:
            raise RuntimeFailure("the syscall filter could not be installed") from None
        try:
            return await FilteredProcess.adopt(child, loop)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            raise


class FilteredProcess:
    """What the runtime uses of asyncio.subprocess.Process (pid, returncode, stdin,
    stdout, stderr, wait), for a child the Launcher started. As asyncio's (3.11), wait()
    returns once the child has exited *and* its pipes are closed: a task's grandchildren
    that still hold its output keep it running (the task runner then escalates)."""

    def __init__(self, child: subprocess.Popen, finished: asyncio.Future[int]) -> None:
        self._child = child
        self._finished = finished
        self.pid = child.pid
        self.stdin: asyncio.StreamWriter | None = None
        self.stdout: asyncio.StreamReader | None = None
        self.stderr: asyncio.StreamReader | None = None

    @classmethod
    async def adopt(cls, child: subprocess.Popen, loop: asyncio.AbstractEventLoop) -> Self:
        exited: asyncio.Future[int] = loop.create_future()
        pidfd = os.pidfd_open(child.pid)

        def reap() -> None:  # the pidfd turns readable once the child has exited
            if child.poll() is None:
                return
            loop.remove_reader(pidfd)
            os.close(pidfd)
            if not exited.done():
                exited.set_result(child.returncode)

        loop.add_reader(pidfd, reap)
        closings: list[asyncio.Future[None]] = []

        def pipe(stream: asyncio.StreamReader) -> _Pipe:
            closings.append(loop.create_future())
            return _Pipe(stream, loop, closings[-1])

        async def reader(output: Any) -> asyncio.StreamReader | None:
            if output is None:
                return None
            stream = asyncio.StreamReader(limit=STREAM_LIMIT, loop=loop)
            await loop.connect_read_pipe(lambda: pipe(stream), output)
            return stream

        stdout, stderr = await reader(child.stdout), await reader(child.stderr)
        writer = None
        if child.stdin is not None:
            unused = asyncio.StreamReader(loop=loop)
            transport, protocol = await loop.connect_write_pipe(lambda: pipe(unused), child.stdin)
            writer = asyncio.StreamWriter(transport, protocol, None, loop)

        async def finished() -> int:
            code = await exited
            await asyncio.gather(*closings)
            return code

        process = cls(child, asyncio.ensure_future(finished()))
        process.stdin, process.stdout, process.stderr = writer, stdout, stderr
        return process

    @property
    def returncode(self) -> int | None:
        return self._child.returncode

    async def wait(self) -> int:
        return await asyncio.shield(self._finished)


class _Pipe(asyncio.StreamReaderProtocol):
    """A pipe's protocol that says when the pipe is closed."""

    def __init__(
        self, stream: asyncio.StreamReader, loop: asyncio.AbstractEventLoop, closed: asyncio.Future
    ) -> None:
        super().__init__(stream, loop=loop)
        # Not `_closed`: StreamReaderProtocol's own future of that name gets the
        # connection's error (a broken stdin pipe), which `wait()` would raise.
        self._pipe_closed = closed

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if not self._pipe_closed.done():
            self._pipe_closed.set_result(None)
