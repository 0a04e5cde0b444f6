"""Per-sandbox disks: a hard size and inode limit for the workspace and /tmp.

The kernel may lack filesystem quotas (ext4/xfs project quotas need CONFIG_QUOTA), so each
sandbox gets its own small filesystem instead: a sparse ext4 image `<home>/disk.img`
(made once, never pre-allocated: it grows on the data disk only as the sandbox writes),
loop-mounted `nosuid,nodev` at `<home>/volume`. The volume holds `workspace/` (bound at
the template's workingDir) and `tmp/` (bound at /tmp, emptied at each start), so both
count against the same size and inode limit, and a full sandbox fills its own image, not
the disk the database, artifacts and recordings live on.

Launching stays cheap: mkfs runs once per size (a blank image kept under `<sandboxes>/
.disks/`), each sandbox gets a sparse copy of it (holes stay holes: 170 KiB are copied),
and loop devices are attached and mounted with ioctl and mount(2) in-process (no `mount`
program). For the default size all of it happens ahead of time: a spare image is copied,
attached and mounted under `.spares/` (a private mount: mounts can move out of it only
so), and a new sandbox takes it with a rename and a move of its mount (MS_MOVE, ~0.1 ms
instead of ~4 ms); a spare is made again in the background, while no sandbox is setting
up its filesystem (attaching a loop device stalls every mount happening meanwhile). A
spare whose server died is unmounted by the janitor; its file goes with the next server.

A volume is mounted only while something uses it: the running sandbox, or a file
operation (files API, artifact capture) on a stopped one; the last user unmounts it, which
frees its loop device (`mount -o loop` sets autoclear). So loop devices stay bounded by the
running sandboxes plus the file operations in flight, and a runtime that closes leaves
none behind. A server that dies (SIGKILL) cannot unmount: a janitor process it started
(in its own session) is told every volume it mounts, and unmounts them all once the server
is gone (its pipe from the server ends). A mount still left over is adopted, never
mounted twice.

Loop mounts need root: without it, workspaces stay plain directories with no disk quota.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import fcntl
import functools
import os
import shutil
import struct
import subprocess
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

IMAGE = "disk.img"
VOLUME = "volume"
WORKSPACE = "workspace"
TMP = "tmp"
TOOLS = ("mkfs.ext4",)
BLANKS = ".disks"  # under the sandboxes' root: one blank image per size, and spares
SPARE_PREFIX = "spare-"  # <blanks>/spare-<id>.img, mounted at <spare mounts>/spare-<id>/
SPARE_MOUNTS = ".spares"  # under the sandboxes' root; not under BLANKS: an image renamed
# out of a mount point, even onto the same filesystem, fails (EXDEV)
BLANK_LAYOUT = "r0"  # in a blank's name: a server made with other mkfs options makes anew
# Reads mount points until the server is gone (end of its stdin), then unmounts them.
JANITOR = (
    'while IFS= read -r path; do set -- "$@" "$path"; done; '
    'for path; do umount --lazy "$path" 2>/dev/null; done; exit 0'
)
MIN_BYTES = 16 * 1024**2  # smaller is hardly a disk (and ext4 needs room for its journal)


class DiskError(Exception):
    """The sandbox's disk could not be made or mounted; the message says why."""


def supported() -> bool:
    """Whether this process can make and loop-mount images (root, with mkfs.ext4)."""
    has_tools = all(shutil.which(tool) for tool in TOOLS)
    return os.geteuid() == 0 and has_tools and os.path.exists("/dev/loop-control")


def has_image(home: Path) -> bool:
    return (home / IMAGE).is_file()


def volume_path(home: Path) -> Path:
    return home / VOLUME


def workspace_path(home: Path) -> Path:
    return home / VOLUME / WORKSPACE


def tmp_path(home: Path) -> Path:
    return home / VOLUME / TMP


def quota_bytes(home: Path) -> int:
    """The image's size: the hard limit of everything the sandbox writes to disk."""
    return (home / IMAGE).stat().st_size


class Volumes:
    """The mounted sandbox volumes of one runtime, each counted by its users."""

    def __init__(self, root: Path, bytes_per_inode: int, spare_bytes: int = 0) -> None:
        self.blanks = root / BLANKS
        self.spare_mounts = root / SPARE_MOUNTS
        self.bytes_per_inode = bytes_per_inode
        self.spare_bytes = _rounded(spare_bytes) if spare_bytes else 0  # 0: no spares
        self._spares: list[Path] = []  # images, each mounted at `_spare_mount(image)`
        self._own_spare_mounts = False  # `spare_mounts` made a mount point by this runtime
        self._refilling: asyncio.Task | None = None
        self._closing = False
        # Attaching a loop device stalls every mount happening meanwhile (bwrap makes a
        # dozen): spares are made only while no sandbox is setting up its filesystem.
        self._setting_up: set[Path] = set()
        self._quiet = asyncio.Event()
        self._quiet.set()
        _delete_dead_spares(self.blanks, self.spare_mounts)
        self._running: set[Path] = set()  # homes whose sandbox runs (one use each)
        self._uses: Counter[Path] = Counter()  # file operations in flight
        self._locks: dict[Path, asyncio.Lock] = {}
        self._janitor: asyncio.subprocess.Process | None = None
        self._announced: set[Path] = set()  # volumes the janitor knows: all ever mounted

    async def create(self, home: Path, size: int) -> None:
        """Make the image (sparse, `size` bytes, one inode per `bytes_per_inode`, no blocks
        reserved for root: the sandbox gets all of it); idempotent."""
        if has_image(home):
            return
        size = _rounded(size)
        if size == self.spare_bytes and self._spares:
            await self._take_spare(home)
        else:
            blank = await self._blank(size)
            partial = home / f".{IMAGE}.new"
            await asyncio.to_thread(_sparse_copy, blank, partial)
            partial.rename(home / IMAGE)
        self._refill()

    async def _take_spare(self, home: Path) -> None:
        """Move a spare's image (its loop device follows the file) and its mount into
        `home`. If the mount cannot move, it goes, and `start` mounts the image again."""
        spare = self._spares.pop()
        spare.rename(home / IMAGE)
        mount, volume = self._spare_mount(spare), home / VOLUME
        volume.mkdir(mode=0o711, exist_ok=True)
        await self._announce(volume)  # before moving: the server may die meanwhile
        moved = _LIBC.mount(os.fsencode(mount), os.fsencode(volume), None, MS_MOVE, None) == 0
        if not moved:
            await _unmount(mount, lazy=True)
        with contextlib.suppress(OSError):
            mount.rmdir()

    def _refill(self) -> None:
        """Make a spare in the background, unless one is ready or being made."""
        if not self.spare_bytes or self._spares or self._refilling is not None:
            return
        self._refilling = asyncio.create_task(self._make_spare())

    async def _make_spare(self) -> None:
        try:
            await self._quiet.wait()
            if self._closing:
                return
            blank = await self._blank(self.spare_bytes)
            await self._private_spare_mounts()
            spare = self.blanks / f"{SPARE_PREFIX}{uuid.uuid4().hex}.img"
            await asyncio.to_thread(_sparse_copy, blank, spare)
            mount = self._spare_mount(spare)
            mount.mkdir(mode=0o700)
            await self._announce(mount)
            await self._quiet.wait()
            await asyncio.to_thread(functools.partial(_mount, spare, mount, new=True))
            self._spares.append(spare)
        except (OSError, DiskError):
            pass  # launches take the slow path meanwhile
        finally:
            self._refilling = None

    async def _private_spare_mounts(self) -> None:
        """Make `spare_mounts` a private mount point (bound onto itself): a mount can only
        move out of a parent that is not shared, and hosts with systemd share /."""
        if self._own_spare_mounts or os.path.ismount(self.spare_mounts):
            return
        self.spare_mounts.mkdir(mode=0o700, exist_ok=True)
        await self._announce(self.spare_mounts)
        await asyncio.to_thread(_bind_private, self.spare_mounts)
        self._own_spare_mounts = True

    def _spare_mount(self, spare: Path) -> Path:
        return self.spare_mounts / spare.stem

    async def _blank(self, size: int) -> Path:
        """A freshly made, never mounted image of `size` bytes (made once, then kept)."""
        blank = self.blanks / f"{size}-{self.bytes_per_inode}-{BLANK_LAYOUT}.img"
        async with self._lock(blank):
            if blank.exists():
                return blank
            self.blanks.mkdir(mode=0o700, parents=True, exist_ok=True)
            partial = blank.with_suffix(f".{uuid.uuid4().hex}.new")  # runtimes may share it
            try:
                with partial.open("wb") as image:
                    image.truncate(size)
            except OSError as exc:  # EFBIG: larger than a file on the data disk can be
                partial.unlink(missing_ok=True)
                raise DiskError(f"an image of {size} bytes: {exc.strerror}") from None
            await _run(
                "mkfs.ext4", "-q", "-F", "-m", "0", "-i", str(self.bytes_per_inode),
                # No blocks reserved for growing the filesystem online (resize_inode):
                # they are 4 MiB of zeros every sandbox's copy would carry; 170 KiB remain.
                "-O", "^resize_inode",
                "-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard",
                str(partial),
            )  # fmt: skip
            partial.rename(blank)
        return blank

    async def start(self, home: Path, owner: int) -> None:
        """Mount the volume for a starting sandbox (it stays mounted until `stop`), with a
        fresh, empty /tmp. Say `set_up(home)` once the sandbox has made its own mounts."""
        self._running.add(home)
        self._setting_up.add(home)
        self._quiet.clear()
        try:
            await self._settle(home)
            volume = home / VOLUME
            if os.path.lexists(volume / TMP):  # a /tmp to empty: may take a while
                await asyncio.to_thread(_fresh_dirs, volume, owner)
            else:  # a new disk: a few syscalls, not worth a thread
                _fresh_dirs(volume, owner)
        except BaseException:
            await self.stop(home)
            raise

    def set_up(self, home: Path) -> None:
        """The sandbox on `home` has finished mounting: background work may go on."""
        self._setting_up.discard(home)
        if not self._setting_up:
            self._quiet.set()

    async def stop(self, home: Path) -> None:
        self._running.discard(home)
        self.set_up(home)
        await self._settle(home)

    @contextlib.asynccontextmanager
    async def using(self, home: Path) -> AsyncIterator[None]:
        """Keep the volume mounted while a file operation runs (a no-op without image)."""
        if not has_image(home):
            yield
            return
        self._uses[home] += 1
        try:
            await self._settle(home)
            yield
        finally:
            self._uses[home] -= 1
            if not self._uses[home]:
                del self._uses[home]
            await self._settle(home)

    async def discard(self, home: Path) -> None:
        """Unmount for good (the sandbox is being deleted), whoever still uses it."""
        self._running.discard(home)
        self._uses.pop(home, None)
        async with self._lock(home):
            await _unmount(home / VOLUME, lazy=True)

    async def close(self) -> None:
        """Unmount every volume this runtime mounted; spares go; the janitor ends."""
        for volume in [path for path in self._announced if path.name == VOLUME]:
            await self.discard(volume.parent)
        self.spare_bytes = 0
        self._closing = True
        self._setting_up.clear()
        self._quiet.set()
        if self._refilling is not None:
            await self._refilling
        for spare in self._spares:
            await _unmount(self._spare_mount(spare), lazy=True)  # autoclear: the device detaches
            with contextlib.suppress(OSError):  # still a mount point elsewhere: the next goes
                self._spare_mount(spare).rmdir()
            spare.unlink(missing_ok=True)
        self._spares.clear()
        if self._own_spare_mounts:
            await _unmount(self.spare_mounts, lazy=True)
            self._own_spare_mounts = False
        if self._janitor is not None:
            assert self._janitor.stdin is not None
            self._janitor.stdin.close()
            await self._janitor.wait()
            self._janitor = None
            self._announced.clear()

    async def _announce(self, volume: Path) -> None:
        """Tell the janitor (started on first use) about a mount (a volume, a spare's)."""
        if volume in self._announced:
            return
        if self._janitor is None:
            self._janitor = await asyncio.create_subprocess_exec(
                "sh", "-c", JANITOR, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                start_new_session=True,  # a signal to the server's group spares it
            )  # fmt: skip
        assert self._janitor.stdin is not None
        self._janitor.stdin.write(os.fsencode(volume) + b"\n")
        self._announced.add(volume)

    def _lock(self, home: Path) -> asyncio.Lock:
        return self._locks.setdefault(home, asyncio.Lock())

    async def _settle(self, home: Path) -> None:
        """Mount or unmount so that the volume is mounted exactly while it has users."""
        async with self._lock(home):
            volume = home / VOLUME
            wanted = home in self._running or self._uses.get(home, 0) > 0
            mounted = os.path.ismount(volume)
            if wanted and not mounted:
                volume.mkdir(mode=0o711, exist_ok=True)
                await self._announce(volume)  # before mounting: the server may die meanwhile
                await asyncio.to_thread(_mount, home / IMAGE, volume)
            elif not wanted and mounted:
                with contextlib.suppress(DiskError):  # still busy: stays mounted, adopted next
                    await _unmount(volume, lazy=False)
                    await _until_detached(home / IMAGE)
            if os.path.ismount(volume):
                await self._announce(volume)  # also one adopted from a server that died


def _rounded(size: int) -> int:
    return max(MIN_BYTES, size // 4096 * 4096)


def _delete_dead_spares(blanks: Path, mounts: Path) -> None:
    """Spares whose server died: the janitor unmounted them; only files remain."""
    for spare in blanks.glob(f"{SPARE_PREFIX}*.img") if blanks.is_dir() else ():
        if _attached(spare) is None:  # a live runtime's spare is attached: kept
            spare.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                (mounts / spare.stem).rmdir()


def _bind_private(path: Path) -> None:
    target = os.fsencode(path)
    for source, flags in ((target, MS_BIND), (None, MS_PRIVATE)):
        if _LIBC.mount(source, target, None, flags, None) != 0:
            raise DiskError(f"mount {path}: {os.strerror(ctypes.get_errno())}")


def _fresh_dirs(volume: Path, owner: int) -> None:
    """`workspace/` kept, `tmp/` emptied; both private to the sandbox's uid."""
    tmp = volume / TMP
    if tmp.is_dir() and not tmp.is_symlink():
        shutil.rmtree(tmp, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # whatever the sandbox left under that name
    for name in (WORKSPACE, TMP):
        path = volume / name
        path.mkdir(mode=0o700, exist_ok=True)
        os.lchown(path, owner, owner)
        os.chmod(path, 0o700, follow_symlinks=False)
    os.chmod(volume, 0o711)


# Loop devices and mounts, in-process (linux/loop.h, mount(2)).
_LIBC = ctypes.CDLL(None, use_errno=True)
LOOP_CTL_GET_FREE = 0x4C82
LOOP_CONFIGURE = 0x4C0A  # attach a file and set flags in one call (Linux 5.8)
LO_FLAGS_AUTOCLEAR = 4  # the device detaches itself once unmounted
LOOP_CONFIG_SIZE = 304  # struct loop_config: fd, block_size, loop_info64, reserved
LOOP_FLAGS_OFFSET = 8 + 52  # loop_config.info.lo_flags
LOOP_NAME_OFFSET = 8 + 56  # loop_config.info.lo_file_name[64] (what `losetup -a` shows)
MS_NOSUID, MS_NODEV = 2, 4
MS_BIND, MS_MOVE, MS_PRIVATE = 0x1000, 0x2000, 0x40000
# The image's inode tables are holes, so already zero: no background zeroing (which
# would also write them into the image).
OPTIONS = b"noinit_itable"
MNT_DETACH = 2
MOUNT_ATTEMPTS = 3
DETACH_SECONDS = 5.0  # past that, a disk still held is mounted again by its device


def _mount(image: Path, volume: Path, *, new: bool = False) -> None:
    """Mount `image` nosuid,nodev at `volume`. Its filesystem may still be alive after an
    unmount (a stopped sandbox's mount namespace is torn down after its last process
    exits): then its loop device is mounted again, which shares that filesystem. A second
    loop device on the same image would be a second ext4 on the same blocks: corruption.
    A `new` image (a spare just copied) is attached nowhere: no need to look."""
    for _ in range(MOUNT_ATTEMPTS):
        device, loop = (None if new else _attached(image)), None
        if device:
            with contextlib.suppress(OSError):  # it may be detaching right now
                loop = os.open(device, os.O_RDONLY | os.O_CLOEXEC)
        if loop is None:
            device, loop = _attach(image)
        try:
            source, target = device.encode(), os.fsencode(volume)
            if _LIBC.mount(source, target, b"ext4", MS_NOSUID | MS_NODEV, OPTIONS) == 0:
                return
            error = ctypes.get_errno()
        finally:
            os.close(loop)  # with autoclear, a device whose mount failed detaches here
        if _attached(image) == device:  # not a device detaching under us: a real failure
            break
    raise DiskError(f"mount {volume}: {os.strerror(error)}")


async def _until_detached(image: Path) -> None:
    """Wait until no filesystem holds `image` any more: a stopped sandbox's mount namespace
    lets go of it only after its last process is gone. Mounting it again meanwhile would
    race with that filesystem's teardown."""
    deadline = asyncio.get_running_loop().time() + DETACH_SECONDS
    while _attached(image) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.002)


def _attached(image: Path) -> str | None:
    """The loop device `image` is attached to, if any (sysfs names its backing file)."""
    wanted = os.fsencode(image.resolve()) + b"\n"
    for name in os.listdir("/sys/block"):
        backing = f"/sys/block/{name}/loop/backing_file"  # only bound loop devices have it
        with contextlib.suppress(OSError), open(backing, "rb") as file:
            if file.read() == wanted:
                return f"/dev/{name}"
    return None


def _attach(image: Path) -> tuple[str, int]:
    backing = os.open(image, os.O_RDWR | os.O_CLOEXEC)
    control = os.open("/dev/loop-control", os.O_RDWR | os.O_CLOEXEC)
    try:
        config = bytearray(LOOP_CONFIG_SIZE)
        struct.pack_into("I", config, 0, backing)
        struct.pack_into("I", config, LOOP_FLAGS_OFFSET, LO_FLAGS_AUTOCLEAR)
        name = os.fsencode(image)[-63:]
        config[LOOP_NAME_OFFSET : LOOP_NAME_OFFSET + len(name)] = name
        while True:
            device = f"/dev/loop{fcntl.ioctl(control, LOOP_CTL_GET_FREE)}"
            loop = os.open(device, os.O_RDWR | os.O_CLOEXEC)
            try:
                fcntl.ioctl(loop, LOOP_CONFIGURE, bytes(config))
                return device, loop
            except OSError as exc:
                os.close(loop)
                if exc.errno != errno.EBUSY:  # another process took that device first
                    raise DiskError(f"loop device for {image}: {exc.strerror}") from None
    finally:
        os.close(control)
        os.close(backing)


async def _unmount(volume: Path, *, lazy: bool) -> None:
    if os.path.ismount(volume):
        await asyncio.to_thread(_umount, volume, lazy)


def _umount(volume: Path, lazy: bool) -> None:
    if _LIBC.umount2(os.fsencode(volume), MNT_DETACH if lazy else 0) != 0:
        raise DiskError(f"unmount {volume}: {os.strerror(ctypes.get_errno())}")


def _sparse_copy(source: Path, target: Path) -> None:
    """Copy only the data extents of `source` (a sparse image stays sparse)."""
    src = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    dst = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        size = os.fstat(src).st_size
        os.ftruncate(dst, size)
        offset = 0
        while offset < size:
            try:
                offset = os.lseek(src, offset, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # only a hole is left
                    break
                raise
            end = os.lseek(src, offset, os.SEEK_HOLE)
            while offset < end:
                offset += os.copy_file_range(src, dst, end - offset, offset, offset)
        # No fsync: the filesystem's first journal commit flushes the loop device, which
        # fsyncs the image; until then the sandbox has nothing in it to lose.
    finally:
        os.close(src)
        os.close(dst)


async def _run(*argv: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"},  # never the server's
    )
    output, _ = await process.communicate()
    if process.returncode:
        words = output.decode(errors="replace").strip()
        raise DiskError(f"{argv[0]} failed (exit {process.returncode}): {words}")
