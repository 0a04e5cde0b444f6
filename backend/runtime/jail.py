"""A build's jail: a recipe's `run` steps run as root of the Debian tree being built, and
its `verify` command as the image's user, without any power over the host.

The tree is shifted for the build to host uids nobody else has (`SHIFT` + 0..65535: root
of the tree is host uid 1,000,000) and shifted back afterwards. Each command runs in
bubblewrap, started as that unprivileged host uid, in a user namespace whose 65,536 uids
are exactly that range (the server, as root, writes the map while bwrap waits on its
`--userns-block-fd`). So root inside owns the tree and nothing else on the host: it can
install, chown and setuid inside the tree, and the host's files are nobody's to it.

Also: no network (packages come from the recipe's `packages`, installed by mmdebstrap
from Debian's archive), its own pid, ipc and uts namespaces, bwrap's /proc and /dev, no
nested user namespaces (the sandboxes' syscall filter denies them: bwrap's
--disable-userns cannot be combined with a map written from outside), Docker's default capabilities
only, a process limit, and a time limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

from backend.runtime import seccomp

SHIFT = 1_000_000  # host uid of the tree's root during a build (sandboxes use 200,000+)
SPAN = 65_536
MAX_PROCESSES = 1024  # per uid inside: RLIMIT_NPROC counts by host uid
STEP_SECONDS = 1800
STEP_LOG_BYTES = (
    8 * 1024**2
)  # of a step's output kept in the build log; the rest is read and dropped
# What root inside may do: Docker's default set, without raw sockets (no network anyway).
CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
    "CAP_SETUID", "CAP_SETPCAP", "CAP_SETFCAP", "CAP_MKNOD", "CAP_SYS_CHROOT",
    "CAP_AUDIT_WRITE", "CAP_NET_BIND_SERVICE",
)  # fmt: skip
# Run by root in the build's mount namespace: the tree at /mnt, then every mount bwrap
# does not need is detached (the namespace began as a copy of the host's, and bwrap's
# monitor keeps it while a step runs: sandboxes' disks would stay held).
BIND = (
    'mount --bind -- "$0" /mnt || exit; '
    """awk '$5 != "/" && $5 !~ "^/(proc|dev|sys|usr|mnt)(/|$)" {print $5}' """
    "/proc/self/mountinfo | "
    'while IFS= read -r point; do umount -l "$point" 2>/dev/null; done; exec "$@"'
)
HELPER_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"}
FILE_CAPABILITY = "security.capability"  # chown drops it: kept across the shift


@contextlib.contextmanager
def shifted(tree: Path) -> Iterator[None]:
    """The tree owned by the jail's uids while inside the block."""
    shift(tree, SHIFT)
    try:
        yield
    finally:
        shift(tree, -SHIFT)


def shift(tree: Path, delta: int) -> None:
    """Move every owner in `tree` by `delta`, without following links; each inode once
    (hard links), keeping setuid bits and file capabilities, which chown drops."""
    seen: set[tuple[int, int]] = set()
    _shift_one(str(tree), delta, seen)
    for directory, names, files in os.walk(tree):
        for name in (*names, *files):
            _shift_one(os.path.join(directory, name), delta, seen)


def _shift_one(path: str, delta: int, seen: set[tuple[int, int]]) -> None:
    info = os.lstat(path)
    if (info.st_dev, info.st_ino) in seen:
        return
    seen.add((info.st_dev, info.st_ino))
    uid, gid = info.st_uid + delta, info.st_gid + delta
    if stat.S_ISLNK(info.st_mode):
        os.lchown(path, uid, gid)
        return
    capability = None
    if stat.S_ISREG(info.st_mode):
        with contextlib.suppress(OSError):
            capability = os.getxattr(path, FILE_CAPABILITY, follow_symlinks=False)
    os.lchown(path, uid, gid)
    if info.st_mode & (stat.S_ISUID | stat.S_ISGID):
        os.chmod(path, stat.S_IMODE(info.st_mode))
    if capability is not None:
        os.setxattr(path, FILE_CAPABILITY, capability, follow_symlinks=False)


async def run(
    tree: Path,
    command: str,
    *,
    log: BinaryIO,
    env: Mapping[str, str],
    uid: int = 0,
    cwd: str = "/",
    timeout: float = STEP_SECONDS,
) -> int:
    """Run `command` (sh -c) in the shifted `tree` as `uid` inside; its output goes to
    `log` (its first `STEP_LOG_BYTES`: a step cannot fill the disk through its log). Its
    exit status, or 124 when it ran out of time (it is killed)."""
    fds: list[int] = []
    try:
        info_read, info_write = (_keep(fds, fd) for fd in os.pipe())
        block_read, block_write = (_keep(fds, fd) for fd in os.pipe())
        filter_fd = _keep(fds, seccomp.memfd("mbox-build-seccomp", seccomp.filters().init))
        argv = _command(tree, info_write, block_read, filter_fd, command, env, uid, cwd)
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=HELPER_ENV,
            pass_fds=(info_write, block_read, filter_fd),
        )
        for fd in (info_write, block_read):
            os.close(fd)
            fds.remove(fd)
        try:
            await _map_uids(info_read, block_write)
            os.close(block_write)  # bwrap goes on (or, without a map, fails in words)
            fds.remove(block_write)
            assert process.stdout is not None
            copied = _copy_capped(process.stdout, log)
            return (await asyncio.wait_for(asyncio.gather(copied, process.wait()), timeout))[1]
        except TimeoutError:
            log.write(f"\n(killed: no end after {timeout:.0f} s)\n".encode())
            return 124
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()  # bwrap's sandbox dies with it (--die-with-parent)
                await process.wait()
    finally:
        for fd in fds:
            os.close(fd)


def _command(
    tree: Path,
    info_fd: int,
    block_fd: int,
    filter_fd: int,
    command: str,
    env: Mapping[str, str],
    uid: int,
    cwd: str,
) -> list[str]:
    # The tree's parents (the image cache) are root's alone, and bwrap resolves paths as
    # the jail's uid: root binds the tree at /mnt in a mount namespace of the build's own.
    bind = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", BIND, str(tree)]
    limits = ["prlimit", f"--nproc={MAX_PROCESSES}:{MAX_PROCESSES}", "--"]
    drop = ["setpriv", f"--reuid={SHIFT}", f"--regid={SHIFT}", "--clear-groups", "--"]
    capabilities = [arg for name in CAPABILITIES for arg in ("--cap-add", name)]
    # bwrap's --uid does not apply to a map written from outside: the image's own setpriv
    # (util-linux, in every Debian) drops root inside to the user.
    user = [] if uid == 0 else ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    environment = [arg for key, value in env.items() for arg in ("--setenv", key, value)]
    bwrap = [
        "bwrap", "--unshare-user", "--userns-block-fd", str(block_fd), "--info-fd", str(info_fd),
        "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net", "--unshare-cgroup",
        "--hostname", "build", "--die-with-parent", "--new-session",
        "--bind", "/mnt", "/", "--proc", "/proc", "--dev", "/dev",
        "--perms", "1777", "--tmpfs", "/tmp", "--chdir", cwd, "--seccomp", str(filter_fd),
        *capabilities, "--clearenv", *environment, "--", *user, "/bin/sh", "-c", command,
    ]  # fmt: skip
    return [*bind, *limits, *drop, *bwrap]


async def _map_uids(info_fd: int, block_fd: int) -> None:
    """Once bwrap has made its user namespace (it says its child's pid on --info-fd),
    map the jail's range into it and let it go on (one byte on --userns-block-fd). If
    bwrap failed first, its own exit status and words say why."""
    loop = asyncio.get_running_loop()
    said = await loop.run_in_executor(None, _read_info, info_fd)
    with contextlib.suppress(ValueError, LookupError, OSError):  # bwrap is gone: it said why
        child = json.loads(said)["child-pid"]
        for name in ("uid_map", "gid_map"):
            Path(f"/proc/{child}/{name}").write_text(f"0 {SHIFT} {SPAN}\n")
        os.write(block_fd, b"1")


async def _copy_capped(output: asyncio.StreamReader, log: BinaryIO) -> None:
    """Copy a step's output into the log up to STEP_LOG_BYTES, then read on and drop it
    (the step is not stalled on a full pipe), saying so once."""
    kept = 0
    while chunk := await output.read(65536):
        if kept < STEP_LOG_BYTES:
            log.write(chunk[: STEP_LOG_BYTES - kept])
            if kept + len(chunk) >= STEP_LOG_BYTES:
                log.write(f"\n(output past {STEP_LOG_BYTES // 1024**2} MiB not kept)\n".encode())
        kept += len(chunk)
    log.flush()


def _read_info(fd: int) -> bytes:
    """bwrap's info JSON, which may come in pieces; what came if it ended first."""
    said = b""
    while not said.rstrip().endswith(b"}") and (chunk := os.read(fd, 4096)):
        said += chunk
    return said


def _keep(fds: list[int], fd: int) -> int:
    fds.append(fd)
    return fd
