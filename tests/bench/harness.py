"""A real mbox server for benchmarks: temp data dir, SQLite, the local runtime, the
background engines, and uvicorn on a free loopback port, all on the caller's event loop."""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from backend import engines  # noqa: E402
from backend.api.app import create_api  # noqa: E402
from backend.db import Database  # noqa: E402
from backend.runtime import create_runtime  # noqa: E402
from backend.settings import load_settings  # noqa: E402
from tests.conftest import sandbox_dir  # noqa: E402


def percentiles(samples: list[float], unit: str = "ms") -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    median = statistics.median(ordered)
    return f"p50 {median:7.3f} {unit}   p99 {p99:7.3f} {unit}   (n={len(ordered)})"


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def rss_mb(pid: int | None = None) -> float:
    with open(f"/proc/{pid or os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class BenchServer:
    base_url: str
    client: httpx.AsyncClient
    app: Any
    runtime: Any

    async def post(self, path: str, payload: dict | None = None) -> dict:
        response = await self.client.post(path, json=payload)
        assert response.status_code in (200, 201), response.text
        return response.json()

    async def running_sandbox(self, **template_fields: Any) -> dict:
        project = await self.post("/v1/projects", {"name": "bench", "defaultNamespace": "bench"})
        template = await self.post(
            "/v1/templates", {"name": "bench", "image": "local", **template_fields}
        )
        sandbox = await self.post(
            "/v1/sandboxes",
            {"projectId": project["id"], "templateId": template["id"], "name": "bench"},
        )
        while (await self.client.get(f"/v1/sandboxes/{sandbox['id']}")).json()[
            "status"
        ] != "running":
            await asyncio.sleep(0.01)
        return sandbox


@asynccontextmanager
async def bench_server(**overrides: Any) -> AsyncIterator[BenchServer]:
    work = Path(tempfile.mkdtemp(prefix="mbox-bench-"))
    settings = load_settings(
        data_dir=work / "data", local_sandbox_dir=sandbox_dir(work), **overrides
    )
    database = Database(settings.database_url)
    database.migrate()
    runtime = create_runtime(settings)
    app = create_api(settings=settings, database=database, runtime=runtime)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # NODELAY
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="off", log_level="warning", ws="websockets-sansio")
    )
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        await asyncio.sleep(0.005)
    base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        async with (
            engines.running(database, runtime, settings),
            httpx.AsyncClient(base_url=base_url, timeout=60) as client,
        ):
            yield BenchServer(base_url, client, app, runtime)
    finally:
        server.should_exit = True
        await serving
        await runtime.close()
        database.dispose()
