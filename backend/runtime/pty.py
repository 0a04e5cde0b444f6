"""A process on a pseudo-terminal, driven from the event loop without threads.

`PtyProcess` is generic: it takes a started process whose stdin/stdout/stderr are the
slave side of a PTY, and the master fd. The process is expected to make the terminal its
controlling terminal in a new session (`setsid --ctty`); the session is what `close()`
hangs up and kills, so background jobs go too. Runtimes that reach terminals another way
(a Kubernetes exec stream) implement `PtySession` themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import fcntl
import os
import signal
import stat
import struct
import termios

READ_CHUNK = 65536
TIOCGSID = 0x5429  # the session of the terminal (on a master: of its slave)
TIOCSPTLCK = 0x40045431  # lock/unlock the slave (unlockpt)
TIOCGPTPEER = 0x5441  # open the slave from the master, without a path (Linux 4.13)
PTMX_MAJOR = 5  # /dev/pts/ptmx is 5:2 in every devpts instance
SYS_OPENAT2 = 437  # the same number on x86_64 and aarch64 (Linux 5.6)
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_IN_ROOT = 0x10
_libc = ctypes.CDLL(None, use_errno=True)


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def _open_inside(root: str, path: str, flags: int) -> int:
    """Open `path` as if `root` were `/`, following no symlink at all (openat2 with
    RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS): what lies under a sandbox's root is the
    sandbox's to change, and a link there must never lead the server to a host file."""
    directory = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        how = _OpenHow(flags, 0, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS)
        fd = _libc.syscall(SYS_OPENAT2, directory, path.encode(), ctypes.byref(how), 24)
    finally:
        os.close(directory)
    if fd < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), path)
    return fd


def open_pair(root: str) -> tuple[int, int]:
    """A (master, slave) pair from the devpts instance of the filesystem tree at `root`
    (a sandbox's `/proc/<pid>/root`): its `dev/pts/ptmx`, which must be the ptmx device
    (non-blocking open: a FIFO planted there cannot hang the server)."""
    flags = os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC
    master = _open_inside(root, "dev/pts/ptmx", flags | os.O_NONBLOCK)
    try:
        device = os.fstat(master)
        if not stat.S_ISCHR(device.st_mode) or os.major(device.st_rdev) != PTMX_MAJOR:
            raise OSError(errno.ENODEV, "not a ptmx device", "dev/pts/ptmx")
        fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
        slave = fcntl.ioctl(master, TIOCGPTPEER, flags)
    except OSError:
        os.close(master)
        raise
    return master, slave


def set_size(fd: int, rows: int, cols: int) -> None:
    if not (0 < rows < 1 << 16 and 0 < cols < 1 << 16):
        raise ValueError(f"invalid terminal size {rows}x{cols}")
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def session_members(sid: int, pid_ns: tuple[int, int]) -> list[int]:
    """Host pids of the processes in session `sid` that live in the PID namespace
    `pid_ns` (device, inode): the namespace check guards against a reused session id."""
    members = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as file:
                fields = file.read().rsplit(b")", 1)[1].split()
            if int(fields[3]) != sid:  # state, ppid, pgrp, session
                continue
            ns = os.stat(f"/proc/{name}/ns/pid")
        except (OSError, IndexError, ValueError):
            continue
        if (ns.st_dev, ns.st_ino) == pid_ns:
            members.append(int(name))
    return members


class PtyProcess:
    """`PtySession` over a master fd and the process on its slave."""

    def __init__(
        self, process: asyncio.subprocess.Process, master: int, *, grace: float = 0.5
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._process = process
        self._master = master
        self._grace = grace
        self._exit = asyncio.ensure_future(process.wait())
        self._waiters: dict[bool, asyncio.Future[None]] = {}  # writable? -> fd ready
        self._write_lock = asyncio.Lock()
        self._session: tuple[int, tuple[int, int]] | None = None  # sid, its PID namespace
        self._closing: asyncio.Future[None] | None = None
        self.pid = process.pid
        os.set_blocking(master, False)

    async def started(self, timeout: float = 5.0) -> None:
        """Wait until the process has taken the terminal in its own session (or ended)."""
        deadline = self._loop.time() + timeout
        while self._session is None and not self._exit.done() and self._loop.time() < deadline:
            self._note_session()
            if self._session is None:
                await asyncio.sleep(0.005)

    async def read(self) -> bytes:
        while self._master >= 0:
            try:
                data = os.read(self._master, READ_CHUNK)
            except BlockingIOError:
                if self._exit.done():
                    return b""  # exited, and everything it wrote has been read
                await self._ready(writable=False)
                continue
            except OSError as exc:
                if exc.errno == errno.EIO:  # every slave fd is closed
                    return b""
                raise
            self._note_session()
            return data
        return b""

    async def write(self, data: bytes) -> None:
        """Send input; dropped once the process has exited or the session is closed."""
        async with self._write_lock:
            view = memoryview(data)
            while view and self._master >= 0:
                try:
                    view = view[os.write(self._master, view) :]
                except BlockingIOError:
                    if self._exit.done():
                        return
                    await self._ready(writable=True)
                except OSError as exc:
                    if exc.errno == errno.EIO:
                        return
                    raise

    def resize(self, rows: int, cols: int) -> None:
        if self._master >= 0:
            set_size(self._master, rows, cols)  # the kernel sends SIGWINCH to the foreground

    async def wait(self) -> int:
        return await asyncio.shield(self._exit)

    async def close(self) -> None:
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._hang_up())
        await asyncio.shield(self._closing)

    async def _hang_up(self) -> None:
        """SIGHUP to the session and close the master (the kernel hangs the terminal up);
        whatever survives the grace period, or the process itself, gets SIGKILL."""
        self._note_session()
        self._signal(signal.SIGHUP)
        self._release()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._exit), self._grace)
        self._signal(signal.SIGKILL)
        if not self._exit.done():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
        await asyncio.shield(self._exit)

    def _signal(self, signum: int) -> None:
        if self._session is None:
            return
        for pid in session_members(*self._session):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def _note_session(self) -> None:
        """Remember the terminal's session (host pid of its leader) while it has one: after
        the leader exits, its background jobs still need finding at close()."""
        if self._session is not None or self._master < 0:
            return
        try:
            (sid,) = struct.unpack("i", fcntl.ioctl(self._master, TIOCGSID, bytes(4)))
            ns = os.stat(f"/proc/{sid}/ns/pid")
        except OSError:
            return  # no session yet, or its leader is gone
        self._session = (sid, (ns.st_dev, ns.st_ino))

    async def _ready(self, *, writable: bool) -> None:
        """Until the master is readable/writable, or the process has exited."""
        waiter = self._waiters.get(writable)
        if waiter is None:
            waiter = self._waiters[writable] = self._loop.create_future()
            watch = self._loop.add_writer if writable else self._loop.add_reader
            watch(self._master, self._wake, writable)
        await asyncio.wait({waiter, self._exit}, return_when=asyncio.FIRST_COMPLETED)

    def _wake(self, writable: bool) -> None:
        waiter = self._waiters.pop(writable, None)
        if waiter is None:
            return
        unwatch = self._loop.remove_writer if writable else self._loop.remove_reader
        unwatch(self._master)
        if not waiter.done():
            waiter.set_result(None)

    def _release(self) -> None:
        if self._master < 0:
            return
        self._wake(False)
        self._wake(True)
        master, self._master = self._master, -1
        os.close(master)
