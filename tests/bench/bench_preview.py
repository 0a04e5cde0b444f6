"""Benchmark the preview proxy through the real server, against direct access to the
sandbox port in the same run.

    .venv/bin/python tests/bench/bench_preview.py [--requests 500] [--megabytes 256]
    .venv/bin/python tests/bench/bench_preview.py --smoke   # tiny: the test suite's run

Direct: an HTTP client connected straight to the port inside the sandbox's network
namespace (the runtime's `connect_port`, no server in between). Through mbox: the
reference route `/v1/sandboxes/{id}/ports/{port}/proxy/` and the sandbox port's preview
origin (with a preview link's cookie). Targets: added latency p50 <= 2 ms; throughput
>= 50 MB/s on a large response (targets are printed, not judged). A failed request or a
short response exits non-zero.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpcore

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from backend.api.proxy import SandboxNetwork
from backend.runtime.base import RuntimeFailure
from tests.bench.harness import bench_server, p50, parse_args, percentiles

PORT = 8000
LISTEN_TIMEOUT = 60.0  # seconds for the app in the sandbox to listen, on a busy machine
APP = r"""
import asyncio, sys
CHUNK = b"x" * (1 << 20)

async def handle(reader, writer):
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        path = head.split(b" ", 2)[1]
        if path.startswith(b"/huge/"):
            size = int(path.rsplit(b"/", 1)[1]) << 20
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
            for _ in range(size >> 20):
                writer.write(CHUNK)
                await writer.drain()
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    await server.serve_forever()

asyncio.run(main())
"""


async def latency_ms(request, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        await request()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def throughput(stream, megabytes: int) -> float:
    """MB/s of one large response read to the end."""
    started = time.perf_counter()
    size = await stream(megabytes)
    assert size == megabytes << 20, size
    return size / (time.perf_counter() - started) / 1e6


async def main(args: argparse.Namespace) -> None:
    async with bench_server() as server:
        sandbox = await server.running_sandbox(
            exposedPorts=[{"name": "web", "port": PORT}],
            startupCommand=["sh", "-c", f"until [ -f app.py ]; do sleep 0.05; done; "
                            f"exec python3 app.py {PORT}"],
        )  # fmt: skip
        files = f"/v1/sandboxes/{sandbox['id']}/files/content"
        written = await server.client.put(files, params={"path": "app.py"}, content=APP.encode())
        assert written.status_code == 204, written.text
        direct = httpcore.AsyncConnectionPool(network_backend=SandboxNetwork(server.runtime))
        direct_url = f"http://{sandbox['id'].replace('-', '')}:{PORT}"
        deadline = time.monotonic() + LISTEN_TIMEOUT
        while True:  # until the app listens
            try:
                await direct.request("GET", direct_url + "/")
                break
            except (httpcore.ConnectError, OSError, RuntimeFailure):
                assert time.monotonic() < deadline, f"app not listening after {LISTEN_TIMEOUT} s"
                await asyncio.sleep(0.05)

        link = await server.post(f"/v1/sandboxes/{sandbox['id']}/preview-links", {"port": PORT})
        origin = urlsplit(link["url"])
        welcome = await server.client.get(
            f"{origin.path}?{origin.query}", headers={"Host": origin.netloc}
        )
        cookie = welcome.headers["set-cookie"].split(";", 1)[0]
        # One kind of client for all three paths, so only the path differs.
        through = httpcore.AsyncConnectionPool()
        paths = {
            "baseline  direct to the sandbox port   ": (direct, direct_url, []),
            "mbox      /v1/.../proxy/ (API origin)   ": (
                through,
                f"{server.base_url}/v1/sandboxes/{sandbox['id']}/ports/{PORT}/proxy",
                [],
            ),
            "mbox      preview origin               ": (
                through,
                server.base_url,
                [(b"host", origin.netloc.encode()), (b"cookie", cookie.encode())],
            ),
        }

        def small(pool, url, headers):
            async def get() -> None:
                response = await pool.request("GET", f"{url}/small", headers=headers)
                assert response.status == 200, response.content

            return get

        def huge(pool, url, headers):
            async def read(megabytes: int) -> int:
                size = 0
                path = f"{url}/huge/{megabytes}"
                async with pool.stream("GET", path, headers=headers) as response:
                    async for chunk in response.aiter_stream():
                        size += len(chunk)
                return size

            return read

        base = None
        for label, (pool, url, headers) in paths.items():
            await latency_ms(small(pool, url, headers), 20)  # warm up the connection
            samples = await latency_ms(small(pool, url, headers), args.requests)
            base = p50(samples) if base is None else base
            print(f"{label} {percentiles(samples)}   added p50 {p50(samples) - base:6.3f} ms")
        print("          target: added latency p50 <= 2 ms")
        for label, (pool, url, headers) in paths.items():
            rate = await throughput(huge(pool, url, headers), args.megabytes)
            print(f"{label} {args.megabytes} MiB response: {rate:7.0f} MB/s")
        print("          target: >= 50 MB/s")
        await through.aclose()
        await direct.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--megabytes", type=int, default=256)
    asyncio.run(main(parse_args(parser, {"requests": 5, "megabytes": 1})))
