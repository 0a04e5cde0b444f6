"""A sandbox's whole filesystem by absolute path, as the sandbox's own user sees it (E2B's
envd model), unlike `files.py`'s workspace. Every operation runs inside the sandbox.

Each operation is a short POSIX sh script run in the sandbox as its user (`runtime.exec`),
written for GNU coreutils and busybox alike; paths travel as positional arguments, never
inside the script. A relative path is the user's HOME's. The sandbox answers, so every
answer is bounded (bytes read, time waited): past the bound the command is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
import secrets
import signal
import stat as modes
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.db import Database, commit
from backend.errors import (
    Conflict,
    Forbidden,
    InsufficientStorage,
    InvalidInput,
    NotFound,
    RuntimeFailed,
    TooLarge,
)
from backend.runtime.base import ExecProcess, RuntimeAdapter, RuntimeFailure, read_at_most
from backend.sandboxes import service as sandboxes
from backend.sandboxes.runtime_access import call_runtime

MAX_WRITE_BYTES = 1024**3  # one upload
MAX_LISTING_BYTES = 16 * 1024**2  # a listing's answer: ~100k entries
MAX_ANSWER_BYTES = 64 * 1024  # any other answer (one entry), and every stderr
MAX_DEPTH = 32
COMMAND_SECONDS = 30.0  # one operation, or a read's checks before its first byte
WATCH_INTERVAL = 0.5
ENV = {"LC_ALL": "C"}  # the tools' messages and formats, whatever the image's locale

# One entry, as `stat -c` prints it: raw mode (hex), size, owner, group, mtime, then the
# path last (it may hold anything but NUL). Records start with RS, fields end with US.
RECORD, FIELD, LINK = "\x1e", "\x1f", "\x1d"
FORMAT = RECORD + FIELD.join(["%f", "%s", "%U", "%G", "%Y", "%n"])

# The scripts' exit codes for what went wrong, and the error each becomes.
MISSING, EXISTS, NOT_DIRECTORY, IS_DIRECTORY, DENIED, BAD_PARENT = 3, 4, 5, 6, 7, 8


def _absolute(variable: str, argument: str) -> str:
    """sh: `variable` = argument `argument`, relative ones under $HOME."""
    return (
        f"{variable}=${argument}; case ${variable} in /*) ;; "
        f'*) {variable}="${{HOME%/}}/${variable}" ;; esac\n'
    )


EXISTS_TEST = '{ [ -e "$p" ] || [ -L "$p" ]; }'
# `$2`: the stat format. A symlink's target follows its record: GS, then the target.
STAT = (
    _absolute("p", "1")
    + f"{EXISTS_TEST} || exit {MISSING}\n"
    + 'stat -c "$2" "$p" || exit 1\n'
    + 'if [ -L "$p" ]; then printf "\\035%s" "$(readlink "$p")"; fi\n'
)
# `$2`: depth, `$3`: the stat format. Every entry's record, then each symlink's
# GS path US target LF: GNU find prints them itself, busybox's (no -printf) needs a
# readlink each. Unreadable subdirectories are left out, not fatal.
LIST = (
    _absolute("p", "1")
    + f"{EXISTS_TEST} || exit {MISSING}\n"
    + f'[ -d "$p" ] || exit {NOT_DIRECTORY}\n'
    + f'[ -r "$p" ] && [ -x "$p" ] || exit {DENIED}\n'
    + 'find "$p/" -mindepth 1 -maxdepth "$2" -exec stat -c "$3" {} + 2>/dev/null\n'
    + 'if find "$p/" -maxdepth 0 -printf "" >/dev/null 2>&1; then\n'
    + '  find "$p/" -mindepth 1 -maxdepth "$2" -type l -printf "\\035%p\\037%l\\n" 2>/dev/null\n'
    + "else\n"
    + '  find "$p/" -mindepth 1 -maxdepth "$2" -type l -exec sh -c '
    + '\'for f; do printf "\\035%s\\037%s\\n" "$f" "$(readlink "$f")"; done\' sh {} + '
    + "2>/dev/null\n"
    + "fi\n"
    + "exit 0\n"
)
MAKE_DIR = (
    _absolute("p", "1")
    + f"{EXISTS_TEST} && exit {EXISTS}\n"
    + 'mkdir -p "$p" || exit 1\n'
    + 'stat -c "$2" "$p"\n'
)
# Onto an existing directory `mv` would move the source into it: refused instead.
MOVE = (
    _absolute("s", "1")
    + _absolute("d", "2")
    + '{ [ -e "$s" ] || [ -L "$s" ]; } '
    + f"|| exit {MISSING}\n"
    + '[ -d "$d" ] && ! [ -L "$d" ] '
    + f"&& exit {EXISTS}\n"
    + 'e=$(dirname "$d"); mkdir -p "$e" 2>/dev/null; '
    + f'[ -d "$e" ] || exit {BAD_PARENT}\n'
    + 'mv -f "$s" "$d" || exit 1\n'
    + 'stat -c "$3" "$d"\n'
)
REMOVE = _absolute("p", "1") + f"{EXISTS_TEST} || exit {MISSING}\n" + 'rm -rf "$p"\n'
# "+" once the checks passed, then the bytes.
READ = (
    _absolute("p", "1")
    + f'[ -e "$p" ] || exit {MISSING}\n'
    + f'[ -d "$p" ] && exit {IS_DIRECTORY}\n'
    + f'[ -r "$p" ] || exit {DENIED}\n'
    + "printf +\n"
    + 'exec cat "$p"\n'
)
# `$2`: the upload's token. Into a hidden file beside the target, renamed over it once
# all of stdin came (a killed upload leaves the target as it was; see CLEAN_UPLOAD).
WRITE = (
    _absolute("p", "1")
    + 'd=$(dirname "$p"); t="$d/.mbox-upload-$2"\n'
    + f'[ -d "$p" ] && exit {IS_DIRECTORY}\n'
    + f'mkdir -p "$d" 2>/dev/null; [ -d "$d" ] || exit {BAD_PARENT}\n'
    + 'cat > "$t" || { rm -f "$t"; exit 1; }\n'
    + 'mv -f "$t" "$p" || { rm -f "$t"; exit 1; }\n'
    + 'stat -c "$3" "$p"\n'
)
CLEAN_UPLOAD = _absolute("p", "1") + 'rm -f "$(dirname "$p")/.mbox-upload-$2"\n'


@dataclass(frozen=True)
class SandboxEntry:
    """One entry of a sandbox's filesystem (lstat: a symlink is itself)."""

    name: str
    type: str  # file | directory | symlink
    path: str  # absolute
    size: int
    mode: int  # the permission bits
    permissions: str  # like "-rw-r--r--"
    owner: str
    group: str
    modified_at: datetime
    symlink_target: str | None = None


@dataclass(frozen=True)
class FilesystemEvent:
    """A change the watcher saw: `name` relative to the watched directory."""

    name: str
    type: str  # create | write | remove | chmod
    entry: SandboxEntry | None = None  # None when removed


@dataclass
class _Answer:
    code: int
    stdout: bytes
    stderr: bytes


class SandboxFilesystem:
    """A sandbox's filesystem through commands inside it. Reads need READ_CONTENT on the
    sandbox, changes OPERATE; changes are audited."""

    def __init__(self, database: Database, runtime: RuntimeAdapter) -> None:
        self._database = database
        self._runtime = runtime
        self.max_write_bytes = MAX_WRITE_BYTES
        self._cleanups: set[asyncio.Task] = set()

    # -- reads --------------------------------------------------------------------------

    async def stat(self, principal: Principal, sandbox_id: uuid.UUID, path: str) -> SandboxEntry:
        await self._may(principal, sandbox_id, Permission.READ_CONTENT)
        answer = await self._run(sandbox_id, STAT, [_checked(path), FORMAT], path)
        return _one_entry(answer.stdout)

    async def list(
        self, principal: Principal, sandbox_id: uuid.UUID, path: str, depth: int = 1
    ) -> list[SandboxEntry]:
        """Everything under the directory `path` down to `depth` levels (1: its own
        entries), sorted by path; symlinks are not followed."""
        if not 1 <= depth <= MAX_DEPTH:
            raise InvalidInput(f"depth must be between 1 and {MAX_DEPTH}", field="depth")
        await self._may(principal, sandbox_id, Permission.READ_CONTENT)
        arguments = [_checked(path), str(depth), FORMAT]
        answer = await self._run(sandbox_id, LIST, arguments, path, limit=MAX_LISTING_BYTES)
        return sorted(_entries(answer.stdout), key=lambda entry: entry.path)

    async def open_read(
        self, principal: Principal, sandbox_id: uuid.UUID, path: str
    ) -> AsyncIterator[bytes]:
        """The file's bytes as they stream (any size, the server's memory stays flat).
        Checked before the first byte: NotFound, InvalidInput for a directory."""
        await self._may(principal, sandbox_id, Permission.READ_CONTENT)
        process = await self._exec(sandbox_id, READ, [_checked(path)], stdin=False)
        errors = asyncio.create_task(read_at_most(process, MAX_ANSWER_BYTES, process.stderr()))
        chunks = process.stdout()
        try:
            async with asyncio.timeout(COMMAND_SECONDS):
                first = await anext(chunks, b"")
            if not first.startswith(b"+"):
                code = await _waited(process)
                _raise_for(_Answer(code, first, await errors or b""), path)
                raise RuntimeFailed(f"reading '{path}' failed: the sandbox did not answer")
        except BaseException:
            _kill(process)
            errors.cancel()
            raise
        return _streamed(process, first[1:], chunks, errors)

    async def watch(
        self, principal: Principal, sandbox_id: uuid.UUID, path: str, recursive: bool
    ) -> AsyncIterator[list[FilesystemEvent]]:
        """Checks `path` is a directory, then yields the changes under it every
        WATCH_INTERVAL (snapshots compared: a change undone in between is not seen)."""
        root = await self.stat(principal, sandbox_id, path)
        if root.type == "file":
            raise InvalidInput(f"path '{path}' is not a directory")
        depth = MAX_DEPTH if recursive else 1
        before = await self._snapshot(principal, sandbox_id, root.path, depth)
        return self._changes(principal, sandbox_id, root.path, depth, before)

    async def _changes(
        self,
        principal: Principal,
        sandbox_id: uuid.UUID,
        path: str,
        depth: int,
        before: dict[str, SandboxEntry],
    ) -> AsyncIterator[list[FilesystemEvent]]:
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            after = await self._snapshot(principal, sandbox_id, path, depth)
            yield _differences(before, after)
            before = after

    async def _snapshot(
        self, principal: Principal, sandbox_id: uuid.UUID, path: str, depth: int
    ) -> dict[str, SandboxEntry]:
        """The entries under the directory `path` (absolute) by their relative names."""
        entries = await self.list(principal, sandbox_id, path, depth)
        return {posixpath.relpath(entry.path, path): entry for entry in entries}

    # -- changes ------------------------------------------------------------------------

    async def make_dir(
        self, principal: Principal, sandbox_id: uuid.UUID, path: str
    ) -> SandboxEntry:
        """The directory and its missing parents; Conflict when `path` exists."""
        await self._may(principal, sandbox_id, Permission.OPERATE)
        answer = await self._run(sandbox_id, MAKE_DIR, [_checked(path), FORMAT], path)
        entry = _one_entry(answer.stdout)
        await self._record(principal, sandbox_id, "sandbox.file.written", entry.path)
        return entry

    async def move(
        self, principal: Principal, sandbox_id: uuid.UUID, source: str, destination: str
    ) -> SandboxEntry:
        """`source` renamed to `destination` (replacing a file there, never a directory;
        missing parents made)."""
        await self._may(principal, sandbox_id, Permission.OPERATE)
        arguments = [_checked(source), _checked(destination), FORMAT]
        answer = await self._run(sandbox_id, MOVE, arguments, source, target=destination)
        entry = _one_entry(answer.stdout)
        await self._record(principal, sandbox_id, "sandbox.file.deleted", source)
        await self._record(principal, sandbox_id, "sandbox.file.written", entry.path)
        return entry

    async def remove(self, principal: Principal, sandbox_id: uuid.UUID, path: str) -> None:
        """The file, or the directory and everything in it."""
        await self._may(principal, sandbox_id, Permission.OPERATE)
        await self._run(sandbox_id, REMOVE, [_checked(path)], path)
        await self._record(principal, sandbox_id, "sandbox.file.deleted", path)

    async def write(
        self,
        principal: Principal,
        sandbox_id: uuid.UUID,
        path: str,
        chunks: AsyncIterator[bytes],
    ) -> SandboxEntry:
        """The file made or replaced with the chunks as they come (missing parents made);
        TooLarge past `max_write_bytes`. A failed write leaves the file as it was."""
        await self._may(principal, sandbox_id, Permission.OPERATE)
        token = secrets.token_hex(8)
        arguments = [_checked(path), token, FORMAT]
        process = await self._exec(sandbox_id, WRITE, arguments, stdin=True)
        answer = _Reader(process, MAX_ANSWER_BYTES)
        try:
            size = await self._feed(process, chunks)
            code = await _waited(process)
        except BaseException:
            _kill(process)
            answer.cancel()
            self._clean_up(sandbox_id, path, token)
            raise
        entry = _one_entry((await answer.result(code, path)).stdout)
        await self._record(principal, sandbox_id, "sandbox.file.written", entry.path, size)
        return entry

    async def _feed(self, process: ExecProcess, chunks: AsyncIterator[bytes]) -> int:
        """All chunks to the command's stdin, then its end; the bytes sent."""
        size = 0
        async for chunk in chunks:
            size += len(chunk)
            if size > self.max_write_bytes:
                raise TooLarge(f"file is larger than {self.max_write_bytes} bytes")
            try:
                async with asyncio.timeout(COMMAND_SECONDS):  # a sandbox that stops reading
                    await process.write(chunk)
            except RuntimeFailure:  # the command ended: its exit code says why
                return size
            except TimeoutError:
                stalled = f"the sandbox stopped reading for {COMMAND_SECONDS} s"
                raise RuntimeFailed(stalled) from None
        await process.close_stdin()
        return size

    def _clean_up(self, sandbox_id: uuid.UUID, path: str, token: str) -> None:
        """Remove a killed upload's hidden file (in the background: the caller may be
        cancelled)."""

        async def clean() -> None:
            with contextlib.suppress(Exception):
                await self._run(sandbox_id, CLEAN_UPLOAD, [_checked(path), token], path)

        task = asyncio.get_running_loop().create_task(clean())
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)

    # -- running commands ---------------------------------------------------------------

    async def _exec(
        self, sandbox_id: uuid.UUID, script: str, arguments: list[str], *, stdin: bool
    ) -> ExecProcess:
        argv = ["sh", "-c", script, "sh", *arguments]
        return await call_runtime(self._runtime.exec(sandbox_id, argv, env=ENV, stdin=stdin))

    async def _run(
        self,
        sandbox_id: uuid.UUID,
        script: str,
        arguments: list[str],
        path: str,
        *,
        limit: int = MAX_ANSWER_BYTES,
        target: str | None = None,
    ) -> _Answer:
        """Run the script to its end; its answer, or the error its exit code means."""
        process = await self._exec(sandbox_id, script, arguments, stdin=False)
        reader = _Reader(process, limit)
        try:
            code = await _waited(process)
        except BaseException:
            _kill(process)
            reader.cancel()
            raise
        return await reader.result(code, path, target)

    async def _may(
        self, principal: Principal, sandbox_id: uuid.UUID, permission: Permission
    ) -> None:
        await self._database.call(sandboxes.operable, principal, sandbox_id, permission)

    async def _record(
        self,
        principal: Principal,
        sandbox_id: uuid.UUID,
        action: str,
        path: str,
        size: int | None = None,
    ) -> None:
        metadata: dict[str, Any] = {"path": path, "via": "filesystem"}
        if size is not None:
            metadata["sizeBytes"] = size
        await self._database.call(_record, principal, sandbox_id, action, metadata)


def _record(
    db: Session, principal: Principal, sandbox_id: uuid.UUID, action: str, metadata: dict
) -> None:
    sandboxes.record(db, principal, action, sandboxes.get_sandbox(db, sandbox_id), **metadata)
    commit(db)


# -- the commands' streams ----------------------------------------------------------------


class _Reader:
    """A command's stdout and stderr read in the background, each up to its bound (past
    it the command is killed)."""

    def __init__(self, process: ExecProcess, limit: int) -> None:
        self._process = process
        self._stdout = asyncio.create_task(read_at_most(process, limit, process.stdout()))
        self._stderr = asyncio.create_task(
            read_at_most(process, MAX_ANSWER_BYTES, process.stderr())
        )

    def cancel(self) -> None:
        self._stdout.cancel()
        self._stderr.cancel()

    async def result(self, code: int, path: str, target: str | None = None) -> _Answer:
        try:
            async with asyncio.timeout(COMMAND_SECONDS):
                stdout, stderr = await asyncio.gather(self._stdout, self._stderr)
        except TimeoutError:  # something in the sandbox kept the pipes open
            self.cancel()
            raise RuntimeFailed(f"'{path}': the sandbox did not answer in time") from None
        if stdout is None or stderr is None:
            raise RuntimeFailed(f"'{path}': the sandbox answered with too much output")
        answer = _Answer(code, stdout, stderr)
        _raise_for(answer, path, target)
        return answer


async def _waited(process: ExecProcess) -> int:
    try:
        async with asyncio.timeout(COMMAND_SECONDS):
            return await process.wait()
    except TimeoutError:
        raise RuntimeFailed("the sandbox did not answer in time") from None


def _kill(process: ExecProcess) -> None:
    with contextlib.suppress(OSError, RuntimeFailure):
        process.signal(signal.SIGKILL)


async def _streamed(
    process: ExecProcess,
    first: bytes,
    chunks: AsyncIterator[bytes],
    errors: asyncio.Task,
) -> AsyncIterator[bytes]:
    """A read's bytes; the command is killed if the reader stops early."""
    code = None
    try:
        if first:
            yield first
        async for chunk in chunks:
            yield chunk
        code = await _waited(process)
    finally:
        if code is None:
            _kill(process)
        errors.cancel()
    if code != 0:  # cut short (a truncated file must not look whole)
        raise RuntimeFailed(f"reading the file failed (exit code {code})")


# -- errors -------------------------------------------------------------------------------

SPACE_WORDS = (b"No space left on device", b"Disk quota exceeded")


def _raise_for(answer: _Answer, path: str, target: str | None = None) -> None:
    """The service error a script's exit code (or the tools' words) means; none for 0."""
    code = answer.code
    if code == 0:
        return
    errors: dict[int, Callable[[], Exception]] = {
        MISSING: lambda: NotFound(f"path '{path}' does not exist"),
        EXISTS: lambda: Conflict(f"path '{target or path}' already exists"),
        NOT_DIRECTORY: lambda: InvalidInput(f"path '{path}' is not a directory"),
        IS_DIRECTORY: lambda: InvalidInput(f"path '{path}' is a directory"),
        DENIED: lambda: Forbidden(f"permission denied: '{path}'"),
        BAD_PARENT: lambda: InvalidInput(f"a parent of '{target or path}' is not a directory"),
    }
    if code in errors:
        raise errors[code]()
    stderr = answer.stderr
    if any(words in stderr for words in SPACE_WORDS):
        raise InsufficientStorage(f"no space left in the sandbox for '{path}'")
    if b"File too large" in stderr:
        raise TooLarge(f"'{path}' is larger than the sandbox allows")
    if b"Permission denied" in stderr or b"Read-only file system" in stderr:
        raise Forbidden(f"permission denied: '{target or path}'")
    if b"Not a directory" in stderr:  # a file where a parent directory should be
        raise InvalidInput(f"a parent of '{target or path}' is not a directory")
    if b"File exists" in stderr:
        raise Conflict(f"path '{target or path}' already exists")
    raise RuntimeFailed(f"'{path}': {_first_line(stderr) or f'exit code {code}'}")


def _first_line(text: bytes) -> str:
    line = text.decode("utf-8", "replace").strip().split("\n", 1)[0]
    return "".join(c if c.isprintable() else "?" for c in line)[:200]


# -- parsing ------------------------------------------------------------------------------


def _checked(path: str) -> str:
    """A path as a command argument: no NUL (it cannot travel), not empty."""
    if not path or "\x00" in path:
        raise InvalidInput("a path must be non-empty text without NUL", field="path")
    return path


def _one_entry(stdout: bytes) -> SandboxEntry:
    entries = _entries(stdout)
    if len(entries) != 1:
        raise RuntimeFailed("the sandbox's answer could not be read")
    return entries[0]


def _entries(stdout: bytes) -> list[SandboxEntry]:
    """The records of `stat -c FORMAT`, then each symlink's GS path US target LF (or,
    for a single entry, GS target)."""
    text = stdout.decode("utf-8", "surrogateescape")
    records, _, links = text.partition(LINK)
    targets = _targets(LINK + links) if links else {}
    entries = []
    for record in records.split(RECORD)[1:]:
        entry = _entry(record.removesuffix("\n"), targets)
        if entry is not None:
            entries.append(entry)
    if len(entries) == 1 and entries[0].type == "symlink" and "" in targets:
        entries[0] = _with_target(entries[0], targets[""])
    return entries


def _targets(text: str) -> dict[str, str]:
    """path -> target; a lone GS target (stat's) under the key ""."""
    targets = {}
    for part in text.split(LINK)[1:]:
        if FIELD in part:
            path, _, target = part.partition(FIELD)
            targets[_clean(path)] = target.removesuffix("\n")
        else:
            targets[""] = part
    return targets


def _entry(record: str, targets: dict[str, str]) -> SandboxEntry | None:
    fields = record.split(FIELD, 5)
    if len(fields) != 6:
        return None
    raw_mode, size, owner, group, mtime, raw_path = fields
    try:
        mode, size_bytes, seconds = int(raw_mode, 16), int(size), int(mtime)
    except ValueError:
        return None
    path = _clean(raw_path)
    kind = _kind(mode)
    return SandboxEntry(
        name=posixpath.basename(path) or "/",
        type=kind,
        path=path,
        size=size_bytes,
        mode=modes.S_IMODE(mode),
        permissions=modes.filemode(mode),
        owner=_text(owner),
        group=_text(group),
        modified_at=datetime.fromtimestamp(seconds, UTC),
        symlink_target=_text(targets[path]) if kind == "symlink" and path in targets else None,
    )


def _with_target(entry: SandboxEntry, target: str) -> SandboxEntry:
    return SandboxEntry(**{**entry.__dict__, "symlink_target": _text(target)})


def _clean(path: str) -> str:
    """`find "/"` prints "//bin": one leading slash, no `.`, `..` or doubled ones."""
    return "/" + posixpath.normpath(path).lstrip("/")


def _kind(mode: int) -> str:
    if modes.S_ISDIR(mode):
        return "directory"
    return "symlink" if modes.S_ISLNK(mode) else "file"


def _text(value: str) -> str:
    """Names as text for JSON (bytes that are not UTF-8 replaced)."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _differences(
    before: dict[str, SandboxEntry], after: dict[str, SandboxEntry]
) -> list[FilesystemEvent]:
    events = [FilesystemEvent(name, "remove") for name in before if name not in after]
    for name, entry in after.items():
        old = before.get(name)
        if old is None:
            events.append(FilesystemEvent(name, "create", entry))
        elif (old.size, old.modified_at, old.type) != (entry.size, entry.modified_at, entry.type):
            events.append(FilesystemEvent(name, "write", entry))
        elif old.mode != entry.mode:
            events.append(FilesystemEvent(name, "chmod", entry))
    return events
