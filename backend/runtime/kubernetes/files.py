"""Workspace files of a pod, through exec: the same rules as the local runtime.

Paths are relative to the workspace (the container's working directory); `..`, absolute
paths and NUL are refused before anything runs (`workspace.parts`), and inside the pod a
small POSIX shell script walks to the path one component at a time, refusing symlinks
(the local runtime never follows them either). Everything runs as the sandbox itself, in
its own container: nothing here can reach more than the sandbox already can.

Needs `sh`, `find` with `-printf` (GNU findutils), `head`, `cat`, `rm`, `mkdir`, `mv` and,
for directories, `tar` with gzip: what Debian and Ubuntu based images have.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

from backend.runtime.base import ExecProcess, FileEntry, FileMissing, PathRefused, RuntimeFailure
from backend.runtime.workspace import parts

# Walk to the parent of the last argument (the path's components follow the operation),
# refusing symlinks and non-directories; then `$name` is the last component ("." for the
# workspace itself). Exit codes: 40 a link, 41 not a directory, 44 missing.
WALK = r"""
op=$1; shift
name=.
while [ $# -gt 0 ]; do
  name=$1; shift
  [ $# -eq 0 ] && break
  [ -L "$name" ] && exit 40
  [ -e "$name" ] || { [ "$op" = write ] && mkdir -- "$name"; } || exit 44
  [ -d "$name" ] || exit 41
  cd -- "$name" || exit 44
done
[ "$name" != . ] && [ -L "$name" ] && exit 40
"""
LIST = r"""
[ -e "$name" ] || exit 44
[ -d "$name" ] || exit 41
cd -- "$name" && find . -mindepth 1 -maxdepth 1 -printf '%y %s %T@ %P\0'
"""
STAT = r"""
[ -e "$name" ] || exit 44
find "./$name" -maxdepth 0 -printf '%y %s %T@ %P\0'
"""
READ = r"""
[ -e "$name" ] || exit 44
[ -f "$name" ] || exit 42
head -c "$LIMIT" -- "$name"
"""
CAT = r"""
[ -f "$name" ] || exit 42
cat -- "$name"
"""
TAR = r"""
[ -d "$name" ] || exit 41
tar -czf - -- "$name"
"""
WRITE = r"""
[ -d "$name" ] && exit 45
tmp=".mbox-upload.$$"
head -c "$SIZE" > "$tmp" && mv -f -- "$tmp" "$name"
"""
DELETE = r"""
[ -e "$name" ] || [ -L "$name" ] || exit 44
rm -rf -- "$name"
"""
MATCH = r"""
find . -mindepth 1 -maxdepth 256 -printf '%y %s %T@ %P\0' | head -z -n "$LIMIT"
"""
LISTENING = r"""
cat /proc/net/tcp /proc/net/tcp6 2>/dev/null
"""
TYPES = {"f": "file", "d": "directory", "l": "symlink"}
TCP_LISTEN = "0A"  # the state column of /proc/net/tcp
RunExec = Callable[..., Awaitable[ExecProcess]]


def command(op: str, body: str, path: str, **env: str | int) -> list[str]:
    """The exec argv: the walk, then the operation, with the path's checked components."""
    assignments = [f"{name}={value}" for name, value in env.items()]
    script = WALK + body
    return ["env", *assignments, "sh", "-c", script, "sh", op, *parts(path)]


async def collect(process: ExecProcess, path: str) -> bytes:
    """All of stdout; the script's refusals in words."""
    data = b"".join([chunk async for chunk in process.stdout()])
    errors = b"".join([chunk async for chunk in process.stderr()])
    check(await process.wait(), path, errors)
    return data


def check(code: int, path: str, errors: bytes = b"") -> None:
    shown = path or "."
    if code == 0:
        return
    if code == 40:
        raise PathRefused(f"'{shown}' is or passes through a symlink")
    if code == 41:
        raise PathRefused(f"'{shown}' is not a directory")
    if code == 42:
        raise PathRefused(f"'{shown}' is not a regular file")
    if code == 44:
        raise FileMissing(f"'{shown}' does not exist in the workspace")
    if code == 45:
        raise PathRefused(f"'{shown}' is a directory")
    detail = errors.decode(errors="replace").strip()[-500:]
    raise RuntimeFailure(f"the pod could not reach '{shown}' (exit {code}): {detail}")


def entries(listing: bytes, prefix: str = "") -> list[FileEntry]:
    """`find -printf '%y %s %T@ %P\\0'` output as entries, by path."""
    found = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        kind, size, mtime, name = record.decode(errors="surrogateescape").split(" ", 3)
        path = f"{prefix}/{name}".lstrip("/") if prefix else name
        modified = datetime.fromtimestamp(float(mtime), UTC)
        found.append(FileEntry(path, TYPES.get(kind, "other"), int(size), modified))  # type: ignore[arg-type]
    return sorted(found, key=lambda entry: entry.path)


async def chunks_of(process: ExecProcess, path: str) -> AsyncIterator[bytes]:
    async for chunk in process.stdout():
        yield chunk
    check(await process.wait(), path)


def listening_ports(table: bytes) -> set[int]:
    """The TCP ports some socket listens on, from /proc/net/tcp and tcp6."""
    ports = set()
    for line in table.decode(errors="replace").splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[3] == TCP_LISTEN and ":" in fields[1]:
            ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports
