"""Attacks on the server's environment and command lines from inside a sandbox and from
the host's process list.

The server holds secrets in its environment (MBOX_API_TOKEN, AWS keys, DATABASE_URL).
Every process the runtime starts gets an environment built from nothing, and values of
template and task variables travel in environments, never on command lines."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest

from backend.runtime.local import LocalRuntime
from tests.runtime.conftest import run, spec
from tests.support.roots import started

CANARY = f"canary-{uuid.uuid4().hex}"
TEMPLATE_SECRET = f"template-secret-{uuid.uuid4().hex}"
TASK_SECRET = f"task-secret-{uuid.uuid4().hex}"
# Programs the runtime runs as root or as the sandbox's host uid, before the sandbox.
HOST_STEPS = (b"prlimit", b"sh", b"nsenter", b"setpriv", b"bwrap", b"slirp4netns")
# Everything a process in the sandbox can see of every process it can see.
READ_ALL = "for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do tr '\\0' '\\n' <$f; done"


@pytest.fixture(autouse=True)
def server_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's own environment holds secrets, as a real deployment's does."""
    for name in ("MBOX_API_TOKEN", "AWS_SECRET_ACCESS_KEY", "DATABASE_URL", "MBOX_CANARY"):
        monkeypatch.setenv(name, CANARY)


def _descendants(root: int) -> list[int]:
    """Host pids of every process below `root` (the test process, which runs the server)."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_bytes()
            except OSError:
                continue
            parents[int(name)] = int(stat.rsplit(b")", 1)[1].split()[1])
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:
        return b""


async def test_sandbox_cannot_read_the_servers_environment(local: LocalRuntime, root: dict) -> None:
    """Attack: read /proc/*/environ and /proc/*/cmdline of every process in the sandbox
    (pid 1 is bubblewrap, started by the server). Stopped by: every runtime process is
    started with an explicit environment, never the server's."""
    box = spec(**root, network="default", env={"TEMPLATE_SECRET": TEMPLATE_SECRET})
    await started(local, box)
    code, out, _ = await run(local, box.sandbox_id, READ_ALL)
    assert code == 0
    assert CANARY not in out
    assert TEMPLATE_SECRET in out  # the sandbox's own variables are its own


async def test_terminal_cannot_read_the_servers_environment(
    local: LocalRuntime, root: dict
) -> None:
    """Attack: the same read from a terminal (a PTY joined to the sandbox). Stopped by:
    the terminal's chain (prlimit, nsenter, setpriv) starts from an explicit environment."""
    box = spec(**root)
    await started(local, box)
    terminal = await local.open_pty(box.sandbox_id, ["sh", "-c", READ_ALL], rows=24, cols=80)
    output = b""
    while chunk := await terminal.read():
        output += chunk
    await terminal.close()
    assert b"PATH=" in output
    assert CANARY.encode() not in output


async def test_no_runtime_process_holds_the_servers_secrets(
    local: LocalRuntime, root: dict
) -> None:
    """Attack: any process the runtime starts on the host (bwrap, setpriv, nsenter,
    prlimit, slirp4netns) that inherits the server's environment carries its secrets
    into the sandbox's reach. Stopped by: explicit environments for every helper."""
    box = spec(**root, network="default", env={"TEMPLATE_SECRET": TEMPLATE_SECRET})
    await started(local, box)
    task = await local.exec(box.sandbox_id, ["sleep", "5"], env={"TASK_SECRET": TASK_SECRET})
    await asyncio.sleep(0.3)
    try:
        helpers = _descendants(os.getpid())
        assert len(helpers) >= 3  # bwrap, its init, the task's chain (and slirp4netns)
        for pid in helpers:
            assert CANARY.encode() not in _read(f"/proc/{pid}/environ"), _read(
                f"/proc/{pid}/cmdline"
            )
    finally:
        task.signal(9)
        await task.wait()


async def test_variables_never_appear_on_a_host_command_line(
    local: LocalRuntime, root: dict
) -> None:
    """Attack: `ps` on the host shows every process's command line to every user; a
    template's or task's secret variable on an argv leaks there. Stopped by: variables
    travel in the environment (bwrap reads its arguments from a pipe)."""
    box = spec(**root, env={"TEMPLATE_SECRET": TEMPLATE_SECRET})
    await started(local, box)
    task = await local.exec(box.sandbox_id, ["sleep", "5"], env={"TASK_SECRET": TASK_SECRET})
    await asyncio.sleep(0.3)
    try:
        command_lines = b"\n".join(
            _read(f"/proc/{name}/cmdline") for name in os.listdir("/proc") if name.isdigit()
        )
        assert TEMPLATE_SECRET.encode() not in command_lines
        assert TASK_SECRET.encode() not in command_lines
        code, out, _ = await run(local, box.sandbox_id, "echo $TEMPLATE_SECRET")
        assert (code, out.strip()) == (0, TEMPLATE_SECRET)  # still delivered
    finally:
        task.signal(9)
        await task.wait()


async def test_sandbox_variables_never_reach_a_host_process(
    local: LocalRuntime, root: dict
) -> None:
    """Attack: a template or task sets LD_PRELOAD (or GCONV_PATH, ...) to a library the
    sandbox wrote into its workspace, whose host path is predictable; any process of the
    chain that runs on the host as root with that environment loads it. Stopped by: host
    steps (prlimit, nsenter, bwrap) run with the helpers' fixed environment; the
    sandbox's variables are read by a shell already inside the sandbox."""
    box = spec(**root, env={"TEMPLATE_SECRET": TEMPLATE_SECRET})
    await started(local, box)
    task = await local.exec(box.sandbox_id, ["sleep", "5"], env={"TASK_SECRET": TASK_SECRET})
    await asyncio.sleep(0.3)
    try:
        on_host = [
            pid
            for pid in _descendants(os.getpid())
            if _read(f"/proc/{pid}/cmdline").split(b"\0")[0] in HOST_STEPS
        ]
        assert len(on_host) >= 3  # the task's nsenter, the sandbox's two bwraps
        for pid in on_host:
            environ = _read(f"/proc/{pid}/environ")
            assert TEMPLATE_SECRET.encode() not in environ, _read(f"/proc/{pid}/cmdline")
            assert TASK_SECRET.encode() not in environ, _read(f"/proc/{pid}/cmdline")
    finally:
        task.signal(9)
        await task.wait()


async def test_task_environment_reaches_the_task(local: LocalRuntime, root: dict) -> None:
    """Regression guard for the fix: task and template variables still arrive, the task's
    winning, with the sandbox's defaults underneath."""
    box = spec(**root, env={"GREETING": "hello", "SHARED": "template"})
    await started(local, box)
    code, out, _ = await run(
        local, box.sandbox_id, 'echo "$GREETING $SHARED $HOME $PATH"', env={"SHARED": "task"}
    )
    assert code == 0
    greeting, shared, home, path = out.split()
    # HOME: the workspace on the host's /usr; the image's own (its user's) on an image.
    assert (greeting, shared, home) == ("hello", "task", "/home/user" if root else "/workspace")
    assert "/usr/bin" in path
