"""AsyncMbox against the live server: the same flow, awaited; and a task's event stream
that survives a dropped connection (a relay between client and server cuts it)."""

from __future__ import annotations

import asyncio
import contextlib

from mbox import AsyncMbox, errors


class CuttingRelay:
    """A TCP relay on loopback in front of the server that can drop every connection
    it carries, as a flaky network would."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.connections = 0
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self._writers += [writer, up_writer]

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    def cut(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def close(self) -> None:
        self.cut()
        self._server.close()


async def test_the_async_client_runs_the_same_flow(client_env) -> None:
    async with AsyncMbox() as mbox:
        project = await mbox.projects.create("async flow", default_namespace="sdk-tests")
        async with await mbox.sandboxes.create("shell", project=project.id) as sb:
            assert sb.status == "running"
            result = await sb.tasks.run(["sh", "-c", "echo async"])
            assert (result.status, result.stdout) == ("succeeded", "async\n")
            await sb.files.write("a.txt", b"bytes")
            assert await sb.files.read("a.txt") == b"bytes"
            async with await sb.terminal.attach() as terminal:
                await terminal.send("echo $((2+3))x\n")
                await terminal.read_until("5x", timeout=10)
        try:
            await mbox.sandboxes.get(sb.id)
            raise AssertionError("the sandbox should be gone after the block")
        except errors.NotFoundError:
            pass


async def test_an_event_stream_resumes_after_the_connection_drops(live, client_env) -> None:
    relay = CuttingRelay(int(live.url.rsplit(":", 1)[1]))
    port = await relay.start()
    try:
        async with AsyncMbox(api_url=f"http://127.0.0.1:{port}") as mbox:
            project = await mbox.projects.create("resume", default_namespace="sdk-tests")
            async with await mbox.sandboxes.create("shell", project=project.id) as sb:
                script = "for i in $(seq 1 8); do echo line$i; sleep 0.15; done"
                task = await sb.tasks.start(["sh", "-c", script])
                before = relay.connections
                received, cuts = [], 0
                async for event in sb.tasks.events(task.id):
                    if event.type == "output":
                        received.append(event.data)
                        if cuts < 2:  # drop the stream mid-task, twice
                            cuts += 1
                            relay.cut()
                    if event.type == "done":
                        assert event.task.status == "succeeded"
                expected = "".join(f"line{i}\n" for i in range(1, 9))
                assert "".join(received) == expected  # nothing lost, nothing repeated
                assert cuts == 2 and relay.connections - before >= 2  # it reconnected
    finally:
        await relay.close()
