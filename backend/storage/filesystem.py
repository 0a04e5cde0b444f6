"""Blobs as files under one root directory (the single-machine default's data dir, or a
shared volume). A blob appears under its name only once it is complete and on disk: it is
written to a private temp file, fsynced, then renamed into place."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import secrets
import stat
from collections.abc import AsyncIterable, AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

from backend.storage import settled
from backend.storage.base import CHUNK_BYTES, BlobMissing, StorageError, StorageFull, rechunk

T = TypeVar("T")
COMPONENT = re.compile(r"[A-Za-z0-9._-]+")


class FilesystemStore:
    provider = "filesystem"

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def path(self, key: str) -> Path:
        """Where `key` lives; StorageError for a key that could name anything else."""
        parts = key.split("/")
        if not key or any(not COMPONENT.fullmatch(p) or p in (".", "..") for p in parts):
            raise StorageError(f"invalid blob key {key!r}")
        path = self.root.joinpath(*parts)
        if not path.resolve().is_relative_to(self.root):  # a symlinked directory
            raise StorageError(f"blob key {key!r} leads outside the store")
        return path

    async def write(self, key: str, chunks: AsyncIterable[bytes]) -> int:
        path = self.path(key)
        temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        await _io(key, _make_dirs, path.parent)
        fd = await _io(key, _create, temp)
        total = 0
        try:
            try:
                async for piece in rechunk(chunks, CHUNK_BYTES):
                    await _io(key, _write_all, fd, piece)
                    total += len(piece)
                await _io(key, os.fsync, fd)
            finally:
                os.close(fd)
            await _io(key, _publish, temp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise
        return total

    async def size(self, key: str) -> int:
        try:
            info = await _io(key, os.stat, self.path(key))
        except FileNotFoundError:
            raise BlobMissing(key) from None
        if not stat.S_ISREG(info.st_mode):  # a key's directory is not a blob
            raise BlobMissing(key)
        return info.st_size

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        try:
            fd = await _io(key, os.open, self.path(key), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            raise BlobMissing(key) from None
        try:
            position = start
            while end is None or position < end:
                wanted = CHUNK_BYTES if end is None else min(CHUNK_BYTES, end - position)
                data = await _io(key, os.pread, fd, wanted, position)
                if not data:
                    return
                position += len(data)
                yield data
        finally:
            os.close(fd)  # no read is in flight: _io waits for its thread even when cancelled

    async def delete(self, key: str) -> None:
        await _io(key, _remove, self.path(key), self.root)


async def _io(key: str, fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking file operation off the event loop; a missing file stays
    FileNotFoundError (callers decide what it means), other OS errors become StorageError."""
    try:
        return await settled(asyncio.to_thread(fn, *args))
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFull(f"filesystem blob store: {key}: {exc.strerror}") from None
        raise StorageError(f"filesystem blob store: {key}: {exc.strerror or exc}") from None


def _make_dirs(directory: Path) -> None:
    """Create the missing directories, each 0700 (Path.mkdir(parents=True) would give the
    intermediate ones the umask's default mode)."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):  # a concurrent write made it first
            path.mkdir(mode=0o700)


def _create(temp: Path) -> int:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    return os.open(temp, flags, 0o600)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _publish(temp: Path, path: Path) -> None:
    """Rename into place, then fsync the directory so the rename survives a crash."""
    os.replace(temp, path)
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _remove(path: Path, root: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    if path.parent != root:  # blobs are grouped per artifact; drop the group once empty
        with contextlib.suppress(OSError):
            path.parent.rmdir()


__all__ = ["FilesystemStore"]
