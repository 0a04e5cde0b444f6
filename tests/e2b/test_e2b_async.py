"""The same flows through the `e2b` SDK's AsyncSandbox."""

from __future__ import annotations

import pytest
from e2b import AsyncSandbox

from tests.e2b.conftest import E2BProject


@pytest.mark.asyncio
async def test_async_create_run_stream_and_kill(e2b_env: E2BProject) -> None:
    sb = await AsyncSandbox.create(template=e2b_env.template, timeout=120)
    try:
        chunks: list[str] = []
        result = await sb.commands.run("echo one; sleep 0.2; echo two", on_stdout=chunks.append)
        assert result.stdout == "one\ntwo\n" == "".join(chunks)
        handle = await sb.commands.run("cat", background=True, stdin=True)
        await sb.commands.send_stdin(handle.pid, "async\n")
        await sb.commands.close_stdin(handle.pid)
        assert (await handle.wait()).stdout == "async\n"
        await sb.set_timeout(300)
        info = await sb.get_info()
        assert info.end_at > info.started_at
        listed = await AsyncSandbox.list().next_items()
        assert sb.sandbox_id in [s.sandbox_id for s in listed]
        again = await AsyncSandbox.connect(sb.sandbox_id)
        assert (await again.commands.run("echo again")).stdout == "again\n"
    finally:
        assert await sb.kill() is True
    assert not await sb.is_running()
