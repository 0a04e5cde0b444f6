"""A real mbox server for benchmarks: temp data dir, SQLite, the local runtime, the
background engines, and uvicorn on a free loopback port, all on the caller's event loop.
Also the command line every benchmark shares: `--smoke` (tiny sizes, for the test suite)."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
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
from backend.services import build_services  # noqa: E402
from backend.settings import load_settings  # noqa: E402
from tests.conftest import sandbox_dir  # noqa: E402

# The statuses a sandbox being started can end in besides running: the bench cannot go on.
SANDBOX_FAILED = ("failed", "stopped", "deleted")
START_TIMEOUT = 60.0  # seconds for a sandbox to run, on a busy machine


def parse_args(parser: argparse.ArgumentParser, smoke: dict[str, Any]) -> argparse.Namespace:
    """The benchmark's arguments. `--smoke` makes `smoke` the defaults: the smallest sizes
    that still run every step, so the test suite notices a benchmark that stopped working.
    A smoke run keeps the correctness checks but no speed targets (timing on a loaded CI
    machine is noise)."""
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes, every step; no speed targets"
    )
    if parser.parse_known_args()[0].smoke:
        parser.set_defaults(**smoke)
    return parser.parse_args()


def check(ok: bool, failure: str) -> None:
    """A correctness check: print what failed and exit non-zero (in smoke runs too)."""
    if not ok:
        print(f"FAILED    {failure}", flush=True)
        sys.exit(1)


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
        return (await self.running_sandboxes(1, **template_fields))[0]

    async def running_sandboxes(self, count: int, **template_fields: Any) -> list[dict]:
        """`count` sandboxes of one template in one project, once all of them run."""
        project = await self.post("/v1/projects", {"name": "bench", "defaultNamespace": "bench"})
        template = await self.post(
            "/v1/templates", {"name": "bench", "image": "host", **template_fields}
        )
        fields = {"projectId": project["id"], "templateId": template["id"]}
        sandboxes = [
            await self.post("/v1/sandboxes", {**fields, "name": f"bench-{n}"}) for n in range(count)
        ]
        for sandbox in sandboxes:
            await self.until_running(sandbox)
        return sandboxes

    async def until_running(self, sandbox: dict, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            response = await self.client.get(f"/v1/sandboxes/{sandbox['id']}")
            assert response.status_code == 200, response.text
            status = response.json()["status"]
            if status == "running":
                return
            assert status not in SANDBOX_FAILED, f"sandbox {status}: {response.text}"
            assert time.monotonic() < deadline, f"sandbox not running after {timeout} s"
            await asyncio.sleep(0.01)


@asynccontextmanager
async def bench_server(**overrides: Any) -> AsyncIterator[BenchServer]:
    work = Path(tempfile.mkdtemp(prefix="mbox-bench-"))
    settings = load_settings(
        data_dir=work / "data", local_sandbox_dir=sandbox_dir(work), **overrides
    )
    database = Database(settings.database_url)
    database.migrate()
    runtime = create_runtime(settings)
    services = build_services(settings, database, runtime)
    app = create_api(services=services)
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
            engines.running(services),
            httpx.AsyncClient(base_url=base_url, timeout=60) as client,
        ):
            yield BenchServer(base_url, client, app, runtime)
    finally:
        server.should_exit = True
        await serving
        await services.aclose()
        database.dispose()
        shutil.rmtree(work, ignore_errors=True)  # its sandboxes' disks: ~200 MB a run
