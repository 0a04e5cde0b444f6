"""TCP connections inside another process's network namespace (needs root).

A socket belongs to the network namespace it was created in, whatever thread later uses
it. So one dedicated worker thread enters the target namespace (`setns`), creates the
socket, and returns to the server's own namespace; the connect then runs on the event
loop like any other. Only that thread ever changes namespace: the event loop and every
other thread stay where they are.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import socket
from concurrent.futures import ThreadPoolExecutor

CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)
_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mbox-netns")
_home: int | None = None  # fd of the server's own network namespace


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _home_namespace() -> int:
    """Opened once, from the event loop's thread (which never changes namespace)."""
    global _home
    if _home is None:
        _home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    return _home


def _socket_in(namespace: str, home: int) -> socket.socket:
    target = os.open(namespace, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(target)
        try:
            return socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        finally:
            try:
                _setns(home)
            except OSError:
                _retire_worker()  # this thread is stuck elsewhere: never use it again
                raise
    finally:
        os.close(target)


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
