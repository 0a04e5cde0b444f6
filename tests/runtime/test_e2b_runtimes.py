"""E2B's SDK (async, on the test's event loop) against the API on each runtime: the
Kubernetes runtime runs on the test API server, whose kubelet runs the pods' commands."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest
from e2b import AsyncSandbox
from e2b.sandbox.commands.command_handle import CommandExitException

from tests.runtime.conftest import World

pytestmark = pytest.mark.both_runtimes


@contextlib.asynccontextmanager
async def reconciling(world: World):
    """The reconciler's loop, as the server runs it (a create answers once it runs)."""

    async def loop() -> None:
        while True:
            await world.reconciler.reconcile_once()
            await asyncio.sleep(0.05)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.fixture
async def e2b(world: World, served: str, monkeypatch: pytest.MonkeyPatch):
    """One project (authentication off: it is where E2B launches) with a host template."""
    await world.post("/v1/projects", {"name": "e2b", "defaultNamespace": "e2b"})
    await world.post("/v1/templates", {"name": "E2B host", "slug": "e2b-host", "image": "host"})
    for name, value in {
        "E2B_API_KEY": "any",
        "E2B_API_URL": served,
        "E2B_SANDBOX_URL": served,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with reconciling(world):
        yield


async def test_quickstart_on_each_runtime(e2b: None) -> None:
    sb = await AsyncSandbox.create(template="e2b-host", timeout=120, envs={"GREETING": "hi"})
    try:
        result = await sb.commands.run('echo "$GREETING from $(pwd)"; echo err >&2')
        assert result.stdout.startswith("hi from /")
        assert result.stderr == "err\n"
        with pytest.raises(CommandExitException) as failed:
            await sb.commands.run("exit 7")
        assert failed.value.exit_code == 7
        handle = await sb.commands.run("cat", background=True, stdin=True)
        await sb.commands.send_stdin(handle.pid, "piped\n")
        await sb.commands.close_stdin(handle.pid)
        assert (await handle.wait()).stdout == "piped\n"
        sleeper = await sb.commands.run(f"sleep 600 # {uuid.uuid4().hex}", background=True)
        assert await sb.commands.kill(sleeper.pid) is True
        info = await sb.get_info()
        assert info.sandbox_id == sb.sandbox_id and info.state.value == "running"
    finally:
        assert await sb.kill() is True


async def test_a_terminal_on_each_runtime(e2b: None) -> None:
    from e2b.sandbox.commands.command_handle import PtySize

    sb = await AsyncSandbox.create(template="e2b-host", timeout=120)
    seen: list[bytes] = []
    try:
        terminal = await sb.pty.create(PtySize(rows=24, cols=80), on_data=seen.append)
        await sb.pty.resize(terminal.pid, PtySize(rows=33, cols=101))
        await sb.pty.send_stdin(terminal.pid, b"stty size; exit 3\n")
        with pytest.raises(CommandExitException) as ended:
            await terminal.wait()
        assert ended.value.exit_code == 3
        assert b"33 101" in b"".join(seen)
    finally:
        await sb.kill()


async def test_files_on_each_runtime(e2b: None) -> None:
    sb = await AsyncSandbox.create(template="e2b-host", timeout=120)
    try:
        data = bytes(range(256)) * 4096  # 1 MiB, every byte value
        await sb.files.write("/tmp/e2b/data.bin", data)
        assert await sb.files.read("/tmp/e2b/data.bin", format="bytes") == data
        assert await sb.files.make_dir("/tmp/e2b/sub") is True
        assert await sb.files.make_dir("/tmp/e2b/sub") is False
        await sb.files.rename("/tmp/e2b/data.bin", "/tmp/e2b/sub/moved.bin")
        names = sorted(entry.name for entry in await sb.files.list("/tmp/e2b", depth=2))
        assert names == ["moved.bin", "sub"]
        assert (await sb.files.get_info("/tmp/e2b/sub/moved.bin")).size == len(data)
        await sb.files.remove("/tmp/e2b/sub")
        assert await sb.files.exists("/tmp/e2b/sub") is False
        assert (await sb.commands.run("ls /tmp/e2b | wc -l")).stdout.strip() == "0"
    finally:
        await sb.kill()


async def test_kill_ends_a_commands_children_too(e2b: None) -> None:
    """`bash -c "sleep 600; echo"` keeps its shell: the kill must reach the sleep as well,
    or the command's output stays open and its stream never ends."""
    sb = await AsyncSandbox.create(template="e2b-host", timeout=120)
    try:
        handle = await sb.commands.run("sleep 600; echo never", background=True)
        await asyncio.sleep(0.3)
        assert await sb.commands.kill(handle.pid) is True
        with pytest.raises(CommandExitException):
            await asyncio.wait_for(handle.wait(), 10)
        left = await sb.commands.run("ps -eo args | grep -c '^sleep 600' || true")
        assert left.stdout.strip() == "0"
    finally:
        await sb.kill()
