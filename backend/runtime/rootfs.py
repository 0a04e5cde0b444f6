"""A sandbox's root filesystem from an image: the cached image read-only, its own layer
writable, joined by overlayfs.

The overlay is mounted by root in a mount namespace made for the sandbox alone (`unshare
--mount`, then `mount`, then the drop to the sandbox's uid and bwrap): it exists only
while the sandbox does, so a server that dies leaves no mount behind on the host. Its
writable layer (`upper/`, `work/`) sits on the sandbox's own disk when it has one, so
what it writes counts against its quota, and survives a stop: a restart sees its files.
Copying a sandbox's filesystem is copying that layer and naming the image's digest.

bwrap binds onto paths that must exist, and the sandbox's uid may not create them in the
image's root-owned directories: the mount points are made beforehand in the writable
layer, from the host, walking it without following links (a link the sandbox planted
there is refused, never followed). Its home directory is made there too, owned by its uid.

Commands entering the sandbox need a shell and a few tools, which an image may lack: the
host's static busybox is bound read-only at /.mbox/busybox (like Kubernetes' pause).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from pathlib import Path

from backend.runtime.base import RuntimeFailure

TOOLBOX_DIR = "/.mbox"
TOOLBOX = f"{TOOLBOX_DIR}/busybox"
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
UPPER = "upper"
WORK = "work"
MERGED = "root"
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# Mounted as root, then dropped: what `unshare --mount` runs before bwrap. Arguments:
# the overlay's options, the merged dir, the sandboxes' root, this sandbox's dir, then
# the command. The new namespace starts as a copy of the host's mounts, and bwrap's
# monitor keeps it alive as long as the sandbox runs: the other sandboxes' disks are
# detached from it, or stopping one of them would wait for this one to end.
MOUNT_SCRIPT = (
    'mount -t overlay -o "$1" mbox-root "$2" || exit; '
    """awk -v all="$3/" -v own="$4/" 'index($5, all) == 1 && index($5, own) != 1 """
    """{print $5}' /proc/self/mountinfo | """
    'while IFS= read -r point; do umount -l "$point" 2>/dev/null; done; '
    'shift 4 && exec "$@"'
)
UNSAFE_IN_OPTIONS = (",", ":", "\\", "\n")


def static_busybox() -> str:
    """The host's statically linked busybox (package busybox-static), or ""."""
    for candidate in BUSYBOX_CANDIDATES:
        with contextlib.suppress(OSError), open(candidate, "rb") as binary:
            if _static_elf(binary.read(1 << 16)):
                return candidate
    return ""


def layer_dirs(base: Path) -> tuple[Path, Path]:
    return base / UPPER, base / WORK


def prepare(
    lower: Path,
    base: Path,
    *,
    mount_points: list[str],
    files: list[str],
    home: str,
    owner: int,
) -> None:
    """Make the writable layer under `base` (once) and, in it, the directories bwrap will
    mount on and the files it binds onto, that the image lacks; the home dir owned by
    `owner` (the sandbox's host uid)."""
    upper, work = layer_dirs(base)
    for directory in (upper, work):
        directory.mkdir(mode=0o755, exist_ok=True)
    os.chown(upper, 0, 0)
    upper.chmod(0o755)
    for path in mount_points:
        _make(lower, upper, path, owner=None)
    for path in files:
        _make(lower, upper, str(Path(path).parent), owner=None)
        _make_file(upper, path)
    if home and home != "/":
        _make(lower, upper, home, owner=owner)


def mount_options(lower: Path, base: Path) -> str:
    upper, work = layer_dirs(base)
    paths = (str(lower), str(upper), str(work))
    if any(mark in path for path in paths for mark in UNSAFE_IN_OPTIONS):
        raise RuntimeFailure(
            "the data directory's path cannot hold ',', ':' or '\\' (overlay mount options)"
        )
    return f"lowerdir={lower},upperdir={upper},workdir={work},nosuid,nodev"


def mount_command(lower: Path, base: Path, home: Path) -> list[str]:
    """The prefix that mounts the overlay at `<home>/root` in a new mount namespace of its
    own (without the other sandboxes' mounts under home's parent), then runs the rest of
    the command there."""
    merged = home / MERGED
    merged.mkdir(mode=0o755, exist_ok=True)
    options = mount_options(lower, base)
    return [
        "unshare", "--mount", "--propagation", "private", "--",
        "sh", "-c", MOUNT_SCRIPT, "mbox-mount", options, str(merged),
        str(home.resolve().parent), str(home.resolve()),  # as /proc/self/mountinfo says them
    ]  # fmt: skip


def discard(base: Path) -> None:
    for name in (UPPER, WORK, MERGED):
        shutil.rmtree(base / name, ignore_errors=True)


def _make(lower: Path, upper: Path, path: str, owner: int | None) -> None:
    """Each component of `path` as a directory in `upper`, unless the image has them all
    (and no owner is asked for). Both trees are walked without following links (an image
    is untrusted too); a new directory copies the mode and owner of the image's own (root
    0755 where it has none), and the last one gets `owner` when given."""
    pieces = _pieces(path)
    if owner is None and _image_dir(lower, pieces):
        return
    fds: list[int] = []  # every fd opened on the way, closed at the end
    try:
        here, image = _open(str(upper), None, fds), _open(str(lower), None, fds, True)
        for depth, piece in enumerate(pieces):
            image = _open(piece, image, fds, True)
            info = os.fstat(image) if image is not None else None
            child = _open(piece, here, fds, True)
            if child is None:
                mode = stat.S_IMODE(info.st_mode) if info else 0o755
                uid, gid = (info.st_uid, info.st_gid) if info else (0, 0)
                if depth == len(pieces) - 1 and owner is not None:
                    uid = gid = owner
                try:
                    os.mkdir(piece, mode, dir_fd=here)
                except FileExistsError:  # not a directory: a file or a link
                    raise RuntimeFailure(
                        f"the sandbox's filesystem has a link or file at {path}: cannot mount there"
                    ) from None
                os.chown(piece, uid, gid, dir_fd=here, follow_symlinks=False)
                child = _open(piece, here, fds)
            here = child
    finally:
        for fd in fds:
            os.close(fd)


def _make_file(upper: Path, path: str) -> None:
    """An empty file at `path` in `upper` (its parent made already) to bind onto."""
    *parents, name = _pieces(path)
    fds: list[int] = []
    try:
        here = _open(str(upper), None, fds)
        for piece in parents:
            here = _open(piece, here, fds)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        with contextlib.suppress(FileExistsError):
            os.close(os.open(name, flags, 0o755, dir_fd=here))
    finally:
        for fd in fds:
            os.close(fd)


def _image_dir(lower: Path, pieces: list[str]) -> bool:
    """Whether the image has `pieces` as a directory, no link on the way."""
    fds: list[int] = []
    try:
        here = _open(str(lower), None, fds, True)
        for piece in pieces:
            here = _open(piece, here, fds, True)
        return here is not None
    finally:
        for fd in fds:
            os.close(fd)


def _open(name: str, parent: int | None, fds: list[int], missing_ok: bool = False) -> int | None:
    """The directory `name` under `parent` (an absolute path when no parent), never
    through a link; None when missing (or not a directory) and `missing_ok`."""
    if parent is None and not name.startswith("/"):
        return None
    try:
        fd = os.open(name, DIR_FLAGS, dir_fd=parent)
    except OSError:
        if missing_ok:
            return None
        raise
    fds.append(fd)
    return fd


def _pieces(path: str) -> list[str]:
    pieces = [piece for piece in path.split("/") if piece not in ("", ".")]
    if ".." in pieces:
        raise RuntimeFailure(f"path {path!r} cannot contain '..'")
    return pieces


def _static_elf(header: bytes) -> bool:
    """An ELF executable without a program interpreter (PT_INTERP): it runs in any root."""
    if header[:4] != b"\x7fELF" or header[4] != 2:  # 64-bit only
        return False
    order = "little" if header[5] == 1 else "big"
    phoff = int.from_bytes(header[32:40], order)
    phentsize = int.from_bytes(header[54:56], order)
    phnum = int.from_bytes(header[56:58], order)
    for index in range(phnum):
        offset = phoff + index * phentsize
        if offset + 4 > len(header):
            return False
        if int.from_bytes(header[offset : offset + 4], order) == 3:  # PT_INTERP
            return False
    return True
