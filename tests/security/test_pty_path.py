"""Attacks on the path the server opens, as root, to make a sandbox's terminal.

The server allocates terminals in the sandbox's own devpts, through the sandbox's root
(`/proc/<pid>/root/dev/pts/ptmx`). Everything under that root is the sandbox's to
change."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import pytest

from backend.errors import InvalidInput
from backend.runtime.base import RuntimeFailure
from backend.runtime.local import LocalRuntime
from backend.templates.service import _working_dir
from tests.runtime.conftest import run, spec

IN_OPEN = 0x20
IN_NONBLOCK = os.O_NONBLOCK


class OpenWatch:
    """inotify: whether anybody opened `path` since the watch began."""

    def __init__(self, path: Path) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(IN_NONBLOCK)
        assert self.fd >= 0
        assert libc.inotify_add_watch(self.fd, str(path).encode(), IN_OPEN) >= 0

    def opened(self) -> bool:
        try:
            return bool(os.read(self.fd, 4096))  # only IN_OPEN events are watched
        except BlockingIOError:
            return False
        finally:
            os.close(self.fd)


@pytest.mark.parametrize("target", ["host-file", "fifo"])
async def test_planted_ptmx_never_opens_a_host_path(
    local: LocalRuntime, tmp_path: Path, target: str
) -> None:
    """Attack: a sandbox whose /dev/pts is its own directory (a workspace mounted there)
    replaces `ptmx` with a symlink to a host path (a FIFO would block the server, a device
    could do worse), then asks for a terminal. Stopped by: the server resolves the path
    inside the sandbox's root without following links, and accepts only a ptmx device."""
    bait = tmp_path / "bait"
    if target == "fifo":
        os.mkfifo(bait)
    else:
        bait.write_text("host secret")
    box = spec(working_dir="/dev/pts")
    await local.ensure(box)
    code, _, err = await run(local, box.sandbox_id, f"ln -sf {bait} /dev/pts/ptmx", cwd="/")
    assert code == 0, err
    watch = OpenWatch(bait)
    try:
        terminal = await local.open_pty(box.sandbox_id, ["true"], rows=24, cols=80)
    except RuntimeFailure:
        pass
    else:
        await terminal.close()
    assert not watch.opened()


@pytest.mark.parametrize("path", ["/dev", "/dev/pts", "/proc/self", "/sys", "/", "/usr/lib"])
def test_working_dir_cannot_cover_system_directories(path: str) -> None:
    """Attack: a template whose workingDir is /dev (or /proc, /usr, ...) mounts a
    writable workspace over what the sandbox's isolation and the server rely on.
    Stopped by: template validation."""
    with pytest.raises(InvalidInput):
        _working_dir(path)
