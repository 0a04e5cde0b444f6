"""Attacks from a recipe's run steps, which run as root of the tree being built: what can
they read, reach, signal, keep running or exhaust on the host? (`backend/runtime/jail.py`)

Each test starts from a copy of the session's recipe-built tree (tests/support/roots.py),
so no test builds."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from backend.runtime import images, jail
from backend.runtime.images import ImageFailure, ImageStore
from tests.support.roots import RECIPE

ENV = {"PATH": images.BUILD_PATH, "HOME": "/root"}


@pytest.fixture(scope="module")
def built(image_cache: Path) -> Path:
    return asyncio.run(ImageStore(image_cache).build(RECIPE)).rootfs


@pytest.fixture
def tree(built: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "tree"
    subprocess.run(["cp", "-a", str(built), str(copy)], check=True)
    return copy


async def jailed(tree: Path, command: str, **options) -> tuple[int, str]:
    log_path = tree.parent / "step.log"
    with jail.shifted(tree), log_path.open("wb") as log:
        status = await jail.run(tree, command, log=log, env=ENV, **options)
    return status, log_path.read_text()


def jail_processes() -> list[int]:
    """Host processes owned by any of the jail's uids."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                uid = os.stat(entry.path).st_uid
                state = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[0]
            except (FileNotFoundError, ProcessLookupError):
                continue
            # A zombie holds nothing; this machine's pid 1 may never reap what it inherits.
            if jail.SHIFT <= uid < jail.SHIFT + jail.SPAN and state != "Z":
                found.append(int(entry.name))
    return found


async def test_root_inside_owns_the_tree_and_ownership_comes_back(tree: Path) -> None:
    status, log = await jailed(
        tree,
        "id -u; apt-get --version >/dev/null && echo apt; useradd -m bob; "
        "cp /usr/bin/true /usr/local/bin/su-true && chmod 4755 /usr/local/bin/su-true; "
        "chown bob /opt/app",
    )
    assert status == 0, log
    assert log.splitlines()[:2] == ["0", "apt"]
    home = (tree / "home" / "bob").stat()
    assert (home.st_uid, home.st_gid) == (1001, 1001), "Debian's next uid, shifted back"
    made = (tree / "usr/local/bin/su-true").stat()
    assert made.st_uid == 0 and made.st_mode & stat.S_ISUID, "setuid kept across the shift"
    assert (tree / "opt/app").stat().st_uid == 1001
    assert (tree / "usr/bin/hello").stat().st_uid == 0


async def test_a_step_has_no_network_not_even_the_hosts_loopback(tree: Path) -> None:
    """Attack: reach a service on the host (here a listener on the host's loopback, as
    the server's own port would be)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0.2)
        port = server.getsockname()[1]
        _, log = await jailed(
            tree,
            'python3 -c \'import socket; socket.create_connection(("127.0.0.1", '
            f"{port}), timeout=2)' 2>&1 | tail -1; cat /proc/net/dev | tail -n +3 | cut -d: -f1",
        )
        with pytest.raises(TimeoutError):
            server.accept()
    assert "ConnectionRefusedError" in log, log
    assert log.split()[-1] == "lo", "only its own loopback"


async def test_a_step_sees_no_host_files_processes_or_privileges(tree: Path) -> None:
    """Attack: as root inside, read the server's files, signal its processes, mount,
    make a new user namespace (to get capabilities back) or load a kernel module."""
    status, log = await jailed(
        tree,
        f"ls {tree.parent} 2>&1 | head -1; "
        f"kill -0 {os.getpid()} 2>/dev/null; echo kill=$?; "
        "mount -t tmpfs none /mnt 2>/dev/null; echo mount=$?; "
        "unshare -U true 2>/dev/null; echo unshare=$?; "
        "grep CapEff /proc/self/status; cat /proc/1/cmdline | tr '\\0' ' '; echo",
    )
    assert status == 0, log
    lines = log.splitlines()
    assert "No such file or directory" in lines[0]
    assert lines[1] == "kill=1", "the server's pid is not there to signal"
    assert lines[2] != "mount=0" and lines[3] != "unshare=0"
    capabilities = int(lines[4].split()[1], 16)
    assert not capabilities & (1 << 21), "no CAP_SYS_ADMIN"
    assert not capabilities & (1 << 16), "no CAP_SYS_MODULE"
    assert lines[5].startswith("bwrap"), "its own pid namespace"


async def test_nothing_a_step_starts_outlives_it(tree: Path) -> None:
    status, log = await jailed(tree, "nohup sleep 300 >/dev/null 2>&1 & echo started")
    assert status == 0 and "started" in log
    assert jail_processes() == []


async def test_a_step_that_never_ends_is_killed(tree: Path) -> None:
    status, log = await jailed(tree, "sleep 300", timeout=1)
    assert status == 124 and "killed: no end after 1 s" in log
    assert jail_processes() == []


async def test_a_step_cannot_fork_without_limit(tree: Path) -> None:
    status, log = await jailed(tree, "grep 'Max processes' /proc/self/limits")
    assert status == 0
    assert log.split()[2:4] == [str(jail.MAX_PROCESSES)] * 2, log


async def test_a_step_cannot_fill_the_disk_through_its_log(tree: Path) -> None:
    """Attack: print without end, into the build log on the server's disk. Stopped by:
    only the first STEP_LOG_BYTES of a step's output are kept; the rest is dropped."""
    status, log = await jailed(tree, "head -c 50000000 /dev/zero | tr '\\0' x; echo")
    assert status == 0
    assert len(log) < jail.STEP_LOG_BYTES + 1024
    assert log.rstrip().endswith("MiB not kept)")


async def test_the_verify_command_runs_as_the_images_user(tree: Path) -> None:
    status, log = await jailed(tree, "id -un; touch /etc/x", uid=1000, cwd="/home/user")
    assert status != 0
    assert log.splitlines()[0] == "user" and "Permission denied" in log


@pytest.mark.parametrize(
    ("steps", "words"),
    [
        ({"run": ["echo one", "exit 3", "echo never"]}, "run step 2 exited with 3"),
        ({"verify": "test -e /nothing"}, "the verify command exited with 1"),
    ],
)
async def test_the_first_failing_step_fails_the_build_in_words(
    tree: Path, steps: dict, words: str
) -> None:
    with (tree.parent / "build.log").open("wb") as log, pytest.raises(ImageFailure) as failed:
        await images.run_steps(tree, {**RECIPE, "run": [], "verify": "", **steps}, log)
    assert failed.value.reason == "build-failed" and words in str(failed.value)
    assert "never" not in (tree.parent / "build.log").read_text()
    assert (tree / "usr/bin/hello").stat().st_uid == 0, "shifted back after a failure too"


async def test_a_step_holds_none_of_the_hosts_other_mounts(tree: Path, tmp_path: Path) -> None:
    """The build's mount namespace began as a copy of the host's: a sandbox's disk mounted
    then would stay held by it (its stop waiting) unless detached there."""
    held = tmp_path / "a-sandbox-disk"
    held.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "mbox-test", str(held)], check=True)
    try:
        step = asyncio.create_task(jailed(tree, "sleep 2"))
        for _ in range(100):
            await asyncio.sleep(0.05)
            if monitors := [
                pid
                for pid in jail_processes()
                if Path(f"/proc/{pid}/comm").read_text().strip() == "bwrap"
            ]:
                break
        seen = {
            line.split()[4]
            for pid in monitors
            for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines()
        }
        assert monitors and "/mnt" in seen
        assert str(held) not in seen
        assert (await step)[0] == 0
    finally:
        subprocess.run(["umount", "-l", str(held)], check=True)
