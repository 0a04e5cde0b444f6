"""Safe file access to a sandbox's workspace from the host (where the server runs as root).

Paths are relative to the workspace; `..`, absolute paths and NUL are refused up front, and
every component is opened relative to its parent with O_NOFOLLOW, so a symlink, however
it was planted (even while we walk), can never lead outside. Symlinks are not followed at
all: the sandbox itself sees them, the API reports them as such.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from backend.runtime.base import FileEntry, PathRefused

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def parts(path: str) -> list[str]:
    """The components of a workspace-relative path; refuses escapes."""
    if "\x00" in path:
        raise PathRefused("path cannot contain NUL")
    if path.startswith("/"):
        raise PathRefused("path must be relative to the workspace")
    pieces = [piece for piece in path.split("/") if piece not in ("", ".")]
    if ".." in pieces:
        raise PathRefused("path cannot contain '..'")
    return pieces


@contextlib.contextmanager
def _directory(
    root: Path, pieces: list[str], create: bool = False, owner: int | None = None
) -> Iterator[int]:
    """An fd of the directory at `pieces` under `root`, walked without following links."""
    fd = os.open(root, DIR_FLAGS)
    try:
        for piece in pieces:
            try:
                child = os.open(piece, DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                os.mkdir(piece, 0o755, dir_fd=fd)
                if owner is not None:
                    os.chown(piece, owner, owner, dir_fd=fd, follow_symlinks=False)
                child = os.open(piece, DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                _refuse_links(exc, piece)
                raise
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def _refuse_links(exc: OSError, piece: str) -> None:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
        raise PathRefused(f"'{piece}' is a symlink or not a directory") from None


def _entry(fd: int, name: str, relative: str) -> FileEntry:
    info = os.stat(name, dir_fd=fd, follow_symlinks=False)
    kind = (
        "directory" if stat.S_ISDIR(info.st_mode)
        else "file" if stat.S_ISREG(info.st_mode)
        else "symlink" if stat.S_ISLNK(info.st_mode)
        else "other"
    )  # fmt: skip
    modified = datetime.fromtimestamp(info.st_mtime, UTC)
    return FileEntry(relative, kind, info.st_size if kind == "file" else 0, modified)


def list_directory(root: Path, path: str) -> list[FileEntry]:
    pieces = parts(path)
    with _directory(root, pieces) as fd:
        names = sorted(os.listdir(fd))
        return [_entry(fd, name, "/".join([*pieces, name])) for name in names]


def read_file(root: Path, path: str, limit: int) -> bytes:
    pieces = parts(path)
    if not pieces:
        raise PathRefused("path must name a file")
    with _directory(root, pieces[:-1]) as fd:
        try:
            file_fd = os.open(pieces[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        except OSError as exc:
            _refuse_links(exc, pieces[-1])
            raise
        with os.fdopen(file_fd, "rb") as file:
            if not stat.S_ISREG(os.fstat(file_fd).st_mode):
                raise PathRefused(f"'{path}' is not a regular file")
            return file.read(limit)


def write_file(root: Path, path: str, data: bytes, owner: int | None) -> None:
    """Write atomically (temp file + rename) as the sandbox's user."""
    pieces = parts(path)
    if not pieces:
        raise PathRefused("path must name a file")
    with _directory(root, pieces[:-1], create=True, owner=owner) as fd:
        temp = f".{pieces[-1]}.mbox-upload"
        file_fd = os.open(
            temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644, dir_fd=fd
        )
        try:
            with os.fdopen(file_fd, "wb") as file:
                if owner is not None:
                    os.fchown(file.fileno(), owner, owner)
                file.write(data)
            os.rename(temp, pieces[-1], src_dir_fd=fd, dst_dir_fd=fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=fd)
            raise


def delete(root: Path, path: str) -> None:
    """Delete a file, a symlink (not its target) or a directory tree."""
    pieces = parts(path)
    if not pieces:
        raise PathRefused("the workspace itself cannot be deleted")
    with _directory(root, pieces[:-1]) as fd:
        _delete_at(fd, pieces[-1])


def _delete_at(fd: int, name: str) -> None:
    info = os.stat(name, dir_fd=fd, follow_symlinks=False)
    if not stat.S_ISDIR(info.st_mode):
        os.unlink(name, dir_fd=fd)
        return
    child = os.open(name, DIR_FLAGS, dir_fd=fd)
    try:
        for entry in os.listdir(child):
            _delete_at(child, entry)
    finally:
        os.close(child)
    os.rmdir(name, dir_fd=fd)
