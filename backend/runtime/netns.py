"""Work inside other namespaces, from threads of this process (needs root).

Namespaces (network, mount) belong to threads: a thread that enters or makes one changes
no other thread. So the event loop never changes namespace; work that does runs in a
thread kept for it:
- TCP connections inside a sandbox's network namespace (`connect`). A socket belongs to
  the network namespace it was created in, whatever thread later uses it: one dedicated
  worker thread enters the target namespace (`setns`), creates the socket, and returns
  to the server's own namespace; the connect then runs on the event loop like any other.
- Anything that may leave its thread in another namespace (`in_own_thread`): a thread
  started for that call alone, which ends with it (egress rules loaded into a sandbox's
  network namespace; slirp4netns started in a private mount namespace).
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import os
import socket
import stat
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
CLONE_FS = 0x00000200
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MS_REC, MS_PRIVATE = 0x4000, 0x40000
TUN_DEVICE = (10, 200)  # /dev/net/tun's major and minor

Result = TypeVar("Result")

_libc = ctypes.CDLL(None, use_errno=True)
_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mbox-netns")
_home: int | None = None  # fd of the server's own network namespace


def _setns(fd: int) -> None:
    _check(_libc.setns(fd, CLONE_NEWNET))


def enter_network(path: str) -> None:
    """Move the calling thread into the network namespace at `path`."""
    target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(target)
    finally:
        os.close(target)


async def in_own_thread(function: Callable[..., Result], *args: Any, **kwargs: Any) -> Result:
    """`function(...)` in a thread started for it alone, which ends with it: whatever
    namespace it moves its thread into, no other thread of the server ever runs there."""
    thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mbox-ns")
    call = functools.partial(function, *args, **kwargs)
    try:
        return await asyncio.get_running_loop().run_in_executor(thread, call)
    finally:
        thread.shutdown(wait=False)  # its one thread ends once `function` returns


def start_with_own_tun(uid: int, argv: list[str], **popen: Any) -> subprocess.Popen:
    """Start `argv` (for `in_own_thread`) in a private mount namespace whose /dev/net/tun
    the host uid `uid` may open: the host's may be root's only. Done in-process (unshare
    in this thread, mount, mknod): five programs fewer per sandbox than `unshare sh -c
    'mount && mknod && chown'`, and each exec costs about a millisecond on a VM."""
    _check(_libc.unshare(CLONE_NEWNS | CLONE_FS))  # CLONE_FS: threads share their root
    _check(_libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None))
    flags = MS_NOSUID | MS_NOEXEC
    _check(_libc.mount(b"mbox-tun", b"/dev/net", b"tmpfs", flags, b"mode=0755,size=16k"))
    os.mknod("/dev/net/tun", stat.S_IFCHR | 0o600, os.makedev(*TUN_DEVICE))
    os.chown("/dev/net/tun", uid, uid)
    return subprocess.Popen(argv, **popen)


def _check(result: int) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _home_namespace() -> int:
    """Opened once, from the event loop's thread (which never changes namespace)."""
    global _home
    if _home is None:
        _home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    return _home


def _socket_in(namespace: str, home: int) -> socket.socket:
    enter_network(namespace)
    try:
        return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    finally:
        try:
            _setns(home)
        except OSError:
            _retire_worker()  # this thread is stuck elsewhere: never use it again
            raise


def _retire_worker() -> None:
    global _worker
    old, _worker = _worker, ThreadPoolExecutor(max_workers=1, thread_name_prefix="mbox-netns")
    old.shutdown(wait=False)


async def connect(pid: int, port: int, host: str = "127.0.0.1") -> socket.socket:
    """A connected, non-blocking TCP socket to host:port in the network namespace of
    `pid`. Raises ConnectionRefusedError when nothing listens, FileNotFoundError or
    ProcessLookupError when the process is gone."""
    loop = asyncio.get_running_loop()
    home = _home_namespace()
    sock = await loop.run_in_executor(_worker, _socket_in, f"/proc/{pid}/ns/net", home)
    try:
        sock.setblocking(False)
        await loop.sock_connect(sock, (host, port))
    except BaseException:
        sock.close()
        raise
    return sock
