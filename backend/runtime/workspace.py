"""Safe file access to a sandbox's workspace from the host (where the server runs as root).

Paths are relative to the workspace; `..`, absolute paths and NUL are refused up front, and
every component is opened relative to its parent with O_NOFOLLOW, so a symlink, however
it was planted (even while we walk), can never lead outside. Symlinks are not followed at
all: the sandbox itself sees them, the API reports them as such.

Files and directories can also be streamed out (`open_path` then `stream`): a file in
1 MiB chunks, a directory as a tar.gz made on the fly by one thread a few chunks ahead of
its reader, so memory stays flat however big the tree. `match` finds paths by glob.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fnmatch
import os
import secrets
import stat
import tarfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from backend.runtime.base import FileEntry, PathRefused, RuntimeFailure, WorkspaceStream

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO the sandbox planted must not wait for a writer.
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
# An upload's temp file: always a new file (O_EXCL: never a FIFO, link or file the sandbox
# planted; O_NONBLOCK in case one is opened anyway), under a name nobody can predict.
TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
CHUNK = 1 << 20  # streamed files and archives come in chunks of at most 1 MiB
AHEAD = 4  # chunks an archive may be made ahead of its reader
MAX_DEPTH = 256  # nesting walked; deeper trees are refused (each level holds an fd)
# An entry that vanished or was swapped for a link between listing and opening it: the
# sandbox changed it while we walked; it is left out, like `tar` does.
CHANGED = (errno.ENOENT, errno.ELOOP, errno.ENOTDIR)


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
                child = _make_directory(fd, piece, owner)
            except OSError as exc:
                _refuse_links(exc, piece)
                raise
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def _make_directory(fd: int, piece: str, owner: int | None) -> int:
    """Make `piece` in the directory `fd` and open it. Opened first, then owned and moded
    through the fd: whatever the sandbox swaps in meanwhile is refused (O_NOFOLLOW |
    O_DIRECTORY), never chowned; one it made itself just before is used as found."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(piece, 0o755, dir_fd=fd)
    try:
        child = os.open(piece, DIR_FLAGS, dir_fd=fd)
    except OSError as exc:
        _refuse_links(exc, piece)
        raise
    try:
        os.fchmod(child, 0o755)
        if owner is not None:
            os.fchown(child, owner, owner)
    except BaseException:
        os.close(child)
        raise
    return child


def _refuse_links(exc: OSError, piece: str) -> None:
    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
        raise PathRefused(f"'{piece}' is a symlink or not a directory") from None


def _entry(fd: int, name: str, relative: str) -> FileEntry:
    return _describe(os.stat(name, dir_fd=fd, follow_symlinks=False), relative)


def _describe(info: os.stat_result, relative: str) -> FileEntry:
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
    if not parts(path):
        raise PathRefused("path must name a file")
    fd, entry = open_path(root, path)
    if entry.type != "file":
        os.close(fd)
        raise PathRefused(f"'{path}' is not a regular file")
    with os.fdopen(fd, "rb") as file:
        return file.read(limit)


def open_path(root: Path, path: str) -> tuple[int, FileEntry]:
    """An fd of the regular file or directory at `path` ("" or "." is the workspace) and
    its entry, decided by fstat of that very fd: what is read is what was checked."""
    pieces = parts(path)
    fd = _open_last(root, pieces)
    info = os.fstat(fd)
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode)):
        os.close(fd)
        raise PathRefused(f"'{path}' is not a regular file or directory")
    return fd, _describe(info, "/".join(pieces))


def _open_last(root: Path, pieces: list[str]) -> int:
    if not pieces:
        return os.open(root, DIR_FLAGS)
    with _directory(root, pieces[:-1]) as fd:
        try:
            return os.open(pieces[-1], FILE_FLAGS, dir_fd=fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise PathRefused(f"'{pieces[-1]}' is a symlink") from None
            if exc.errno == errno.ENXIO:  # a socket
                raise PathRefused(f"'{pieces[-1]}' is not a regular file or directory") from None
            raise


def write_file(root: Path, path: str, data: bytes, owner: int | None) -> None:
    """Write atomically (a new temp file, then rename over the target, which replaces
    whatever is there without following it) as the sandbox's user."""
    pieces = parts(path)
    if not pieces:
        raise PathRefused("path must name a file")
    with _directory(root, pieces[:-1], create=True, owner=owner) as fd:
        # Beside the target (a rename cannot cross file systems), in a directory the
        # sandbox also writes: hence the random name and O_EXCL.
        temp = f".mbox-upload-{secrets.token_hex(16)}"
        file_fd = os.open(temp, TEMP_FLAGS, 0o600, dir_fd=fd)
        try:
            with os.fdopen(file_fd, "wb") as file:
                if owner is not None:
                    os.fchown(file.fileno(), owner, owner)
                os.fchmod(file.fileno(), 0o644)
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


# -- streaming out ----------------------------------------------------------------------


def stream(fd: int, entry: FileEntry) -> WorkspaceStream:
    """Read what `open_path` opened (the stream owns the fd): a file as it is, a directory
    as a tar.gz whose members are named after it ("workspace" for the workspace itself)."""
    if entry.type == "file":
        reader = _FileReader(fd, entry.size)
        return WorkspaceStream(entry, reader.chunks(), reader.close)
    archive = _Archive(fd, entry.path.rpartition("/")[2] or "workspace")
    return WorkspaceStream(entry, archive.chunks(), archive.close)


class _FileReader:
    """A regular file, a chunk per worker-thread read, up to the size it had when opened
    (what the entry promised; less if it shrinks meanwhile)."""

    def __init__(self, fd: int, size: int) -> None:
        self._fd = fd
        self._left = size
        self._closed = False
        # Closing under a read in flight would free the fd number for reuse by another
        # open, and the read would return someone else's bytes.
        self._lock = threading.Lock()

    def _read(self) -> bytes:
        with self._lock:
            if self._closed or self._left <= 0:
                return b""
            chunk = os.read(self._fd, min(CHUNK, self._left))
            self._left -= len(chunk)
            return chunk

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            try:
                chunk = await asyncio.to_thread(self._read)
            except OSError as exc:
                raise RuntimeFailure(f"reading the file failed: {exc.strerror}") from None
            if not chunk:
                return
            yield chunk

    def _close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                os.close(self._fd)

    async def close(self) -> None:
        await asyncio.to_thread(self._close)


class _Stopped(Exception):
    """The reader closed the archive: the producer unwinds."""


class _Archive:
    """A directory as tar.gz, made by one thread (`tarfile` writes into `write`) into a
    queue of at most AHEAD chunks that the async reader drains. Closing stops the thread
    wherever it is: waiting for room, or between two reads of a file."""

    def __init__(self, fd: int, name: str) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
        self._room = threading.Semaphore(AHEAD)  # the queue's bound, waited on by the thread
        self._stop = threading.Event()
        self._pending = bytearray()
        self._sealed = False  # the producer is over: late writes are dropped
        self._done = self._loop.create_future()
        self._name = name
        threading.Thread(target=self._produce, args=(fd,), name="mbox-archive", daemon=True).start()

    # -- the reader's side (event loop)

    async def chunks(self) -> AsyncIterator[bytes]:
        while not self._stop.is_set():
            item = await self._queue.get()
            if item is None:  # the end, or woken by close
                return
            if isinstance(item, BaseException):
                raise _failure(item, self._name)
            self._room.release()
            yield item

    async def close(self) -> None:
        self._stop.set()
        self._room.release()  # a producer waiting for room wakes up and sees the stop
        self._queue.put_nowait(None)  # a reader waiting for data wakes up and ends
        await asyncio.shield(self._done)

    def _finish(self, outcome: BaseException | None) -> None:
        self._queue.put_nowait(outcome)
        if not self._done.done():
            self._done.set_result(None)

    # -- the producer's side (its own thread)

    def _produce(self, fd: int) -> None:
        outcome: BaseException | None = None
        try:
            # Closed only when complete: after a stop or an error, the half-made archive is
            # dropped (see `write`).
            tar = tarfile.open(fileobj=self, mode="w|gz", copybufsize=CHUNK)  # noqa: SIM115
            self._add_directory(tar, fd, self._name, 0)
            tar.close()
            if self._pending:
                self._put(bytes(self._pending))
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the reader
            outcome = exc
        finally:
            self._sealed = True
            os.close(fd)
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits
                self._loop.call_soon_threadsafe(self._finish, outcome)

    def write(self, data: bytes) -> int:
        """tarfile's output: cut into chunks, each waiting for room in the queue. An
        unfinished archive is flushed by tarfile's finalizer whenever it is collected (maybe
        on the event loop): after a stop or the end, that goes nowhere and never waits."""
        if self._sealed or self._stop.is_set():
            return len(data)
        self._pending += data
        while len(self._pending) >= CHUNK:
            self._put(bytes(self._pending[:CHUNK]))
            del self._pending[:CHUNK]
        return len(data)

    def _put(self, chunk: bytes) -> None:
        self._room.acquire()
        self._check()
        self._loop.call_soon_threadsafe(self._queue.put_nowait, chunk)

    def _check(self) -> None:
        if self._stop.is_set():
            raise _Stopped

    def _add_directory(self, tar: tarfile.TarFile, fd: int, name: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise PathRefused(f"directories nest deeper than {MAX_DEPTH} levels")
        tar.addfile(_member(os.fstat(fd), name, tarfile.DIRTYPE))
        for child in sorted(os.listdir(fd)):
            self._check()
            try:
                self._add_entry(tar, fd, child, f"{name}/{child}", depth)
            except OSError as exc:
                if exc.errno not in CHANGED:
                    raise

    def _add_entry(self, tar: tarfile.TarFile, fd: int, name: str, member: str, depth: int) -> None:
        """A directory, a regular file, or a symlink as a link (never followed); FIFOs,
        sockets and devices are left out without being opened."""
        info = os.stat(name, dir_fd=fd, follow_symlinks=False)
        mode = info.st_mode
        if stat.S_ISLNK(mode):
            link = _member(info, member, tarfile.SYMTYPE)
            link.linkname = os.readlink(name, dir_fd=fd)
            tar.addfile(link)
        elif stat.S_ISDIR(mode):
            child = os.open(name, DIR_FLAGS, dir_fd=fd)
            try:
                self._add_directory(tar, child, member, depth + 1)
            finally:
                os.close(child)
        elif stat.S_ISREG(mode):
            self._add_file(tar, fd, name, member)

    def _add_file(self, tar: tarfile.TarFile, fd: int, name: str, member: str) -> None:
        file_fd = os.open(name, FILE_FLAGS, dir_fd=fd)
        try:
            info = os.fstat(file_fd)
            if stat.S_ISREG(info.st_mode):  # not swapped for a FIFO since the listing
                tar.addfile(_member(info, member, tarfile.REGTYPE), _Content(file_fd, info, self))
        finally:
            os.close(file_fd)


class _Content:
    """Exactly the size in a file's tar header, read for tarfile: zeros if the file
    shrinks meanwhile (the header is already written), a stop check between reads."""

    def __init__(self, fd: int, info: os.stat_result, archive: _Archive) -> None:
        self._fd = fd
        self._left = info.st_size
        self._archive = archive

    def read(self, size: int) -> bytes:
        self._archive._check()
        size = min(size, self._left)
        data = b""
        while len(data) < size and (more := os.read(self._fd, size - len(data))):
            data += more
        self._left -= size
        return data + bytes(size - len(data))


def _member(info: os.stat_result, name: str, kind: bytes) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type = kind
    member.size = info.st_size if kind == tarfile.REGTYPE else 0
    member.mode = stat.S_IMODE(info.st_mode) & 0o777  # no setuid bits in downloads
    member.mtime = int(info.st_mtime)
    # The host uids of sandboxes are an implementation detail: not in archives.
    member.uid = member.gid = 0
    member.uname = member.gname = ""
    return member


def _failure(exc: BaseException, name: str) -> RuntimeFailure:
    if isinstance(exc, RuntimeFailure):
        return exc
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return RuntimeFailure(f"archiving '{name}' failed: {reason}")


# -- matching ---------------------------------------------------------------------------


def match(root: Path, pattern: str, limit: int) -> list[FileEntry]:
    """Workspace entries matching a glob, at most `limit`, sorted by path component by
    component (the order of a sorted tree walk, which can stop at `limit`)."""
    glob = _Glob(pattern)
    found: list[FileEntry] = []
    if limit > 0:
        with _directory(root, []) as fd:
            glob.walk(fd, [], glob.start, found, limit)
    return found


def matcher(pattern: str) -> Callable[[str], bool]:
    """Whether a workspace-relative path matches the glob, by the rules of `match` (for
    runtimes that list paths rather than walk them)."""
    glob = _Glob(pattern)

    def matches(path: str) -> bool:
        states = glob.start
        for name in path.split("/"):
            states = glob.step(states, name)
            if not states:
                return False
        return glob.end in states

    return matches


class _Glob:
    """A glob over path components, run as a small automaton while walking: a state is
    how many components of the pattern are matched so far. `*`, `?`, `[...]` stay within
    one name; `**` is zero or more directories; a trailing `**` is everything inside
    (`out/**` is `out/**/*`, as in .gitignore). Hidden names match only a pattern
    component starting with '.', and `**` does not enter hidden directories."""

    def __init__(self, pattern: str) -> None:
        pieces = parts(pattern)
        if not pieces:
            raise PathRefused("the pattern is empty")
        if pieces[-1] == "**":
            pieces.append("*")
        self.pieces = pieces
        self.end = len(pieces)
        self.start = self._closure({0})

    def _closure(self, states: set[int]) -> frozenset[int]:
        """`**` may match nothing: being before it is being after it too."""
        reached = set(states)
        for state in states:
            while state < self.end and self.pieces[state] == "**":
                state += 1
                reached.add(state)
        return frozenset(reached)

    def step(self, states: frozenset[int], name: str) -> frozenset[int]:
        after = set()
        for state in states:
            if state == self.end:
                continue
            piece = self.pieces[state]
            if piece == "**":
                if not name.startswith("."):
                    after.add(state)
            elif _name_matches(piece, name):
                after.add(state + 1)
        return self._closure(after)

    def _candidates(self, fd: int, states: frozenset[int]) -> list[str]:
        """Only literal names can come next: look them up instead of listing."""
        wanted = {self.pieces[state] for state in states if state < self.end}
        if all(piece != "**" and not _MAGIC & set(piece) for piece in wanted):
            return sorted(wanted)
        return sorted(os.listdir(fd))

    def walk(
        self, fd: int, prefix: list[str], states: frozenset[int], found: list[FileEntry], limit: int
    ) -> bool:
        """Collect matches under `fd` in sorted order; True once `limit` is reached."""
        if len(prefix) > MAX_DEPTH:
            raise PathRefused(f"directories nest deeper than {MAX_DEPTH} levels")
        for name in self._candidates(fd, states):
            after = self.step(states, name)
            if not after:
                continue
            try:
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            path = [*prefix, name]
            if self.end in after:
                found.append(_describe(info, "/".join(path)))
                if len(found) >= limit:
                    return True
            inside = stat.S_ISDIR(info.st_mode) and min(after) < self.end
            if inside and self._descend(fd, path, after, found, limit):
                return True
        return False

    def _descend(
        self, fd: int, path: list[str], states: frozenset[int], found: list[FileEntry], limit: int
    ) -> bool:
        try:
            child = os.open(path[-1], DIR_FLAGS, dir_fd=fd)
        except OSError as exc:
            if exc.errno in CHANGED:  # swapped for a link since: not followed
                return False
            raise
        try:
            return self.walk(child, path, states, found, limit)
        finally:
            os.close(child)


_MAGIC = set("*?[")


def _name_matches(piece: str, name: str) -> bool:
    if name.startswith(".") and not piece.startswith("."):
        return False
    return fnmatch.fnmatchcase(name, piece)
