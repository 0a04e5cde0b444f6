"""Runtime fixtures: a real local runtime (bubblewrap) in a temp dir, and sandbox specs."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from backend.api.app import create_api
from backend.engines.reconciler import Reconciler
from backend.engines.task_runner import TaskRunner
from backend.runtime.base import Limits, SandboxSpec
from backend.runtime.local import LocalRuntime
from backend.services import build_services
from backend.tasks.output import task_output_store
from tests.conftest import sandbox_dir

LIMITS = Limits(
    memory_bytes=2 * 1024**3, processes=256, open_files=1024, file_size_bytes=64 * 1024**2
)


@pytest.fixture(autouse=True, scope="session")
def _bubblewrap_installed() -> None:
    missing = [
        tool for tool in ("bwrap", "setpriv", "nsenter", "prlimit") if not shutil.which(tool)
    ]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not found: install them with "
            "`apt-get install bubblewrap util-linux`",
            pytrace=False,
        )


@pytest.fixture
async def local(tmp_path: Path) -> AsyncIterator[LocalRuntime]:
    runtime = LocalRuntime(sandbox_dir(tmp_path), LIMITS)
    yield runtime
    await runtime.close()


def spec(*command: str, network: str = "restricted", **overrides: object) -> SandboxSpec:
    fields = {
        "sandbox_id": uuid.uuid4(),
        "project_id": uuid.uuid4(),
        "slug": "test-box",
        "image": "host",
        "command": command,
        "working_dir": "/workspace",
        "env": {"GREETING": "hello"},
        "network_policy": network,
        "ports": (),
        "namespace": "test",
        "service_account": "mbox-sandbox",
    }
    return SandboxSpec(**{**fields, **overrides})


async def run(runtime: LocalRuntime, sandbox_id: uuid.UUID, script: str, **kwargs: object):
    """Run `sh -c script` in the sandbox; return (exit code, stdout, stderr)."""
    process = await runtime.exec(sandbox_id, ["sh", "-c", script], **kwargs)
    stdout = b"".join([chunk async for chunk in process.stdout()])
    stderr = b"".join([chunk async for chunk in process.stderr()])
    return await process.wait(), stdout.decode(), stderr.decode()


class World:
    """The API on the test's event loop plus a reconciler pass on demand."""

    def __init__(
        self, app: Any, client: httpx.AsyncClient, reconciler: Reconciler, runner: TaskRunner
    ) -> None:
        self.app = app
        self.client = client
        self.reconciler = reconciler
        self.runner = runner
        self.runtime = reconciler.runtime

    async def post(self, path: str, payload: dict | None = None) -> dict:
        response = await self.client.post(path, json=payload)
        assert response.status_code in (200, 201), response.text
        return response.json()

    async def get(self, url: str, **params) -> dict:
        response = await self.client.get(url, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    async def launch(self, **template_fields) -> dict:
        unique = uuid.uuid4().hex[:8]
        project = await self.post("/v1/projects", {"name": f"p {unique}", "defaultNamespace": "ns"})
        template = await self.post(
            "/v1/templates", {"name": f"t {unique}", "image": "host", **template_fields}
        )
        return await self.post(
            "/v1/sandboxes",
            {"projectId": project["id"], "templateId": template["id"], "name": "box"},
        )

    async def running_sandbox(self, **template_fields) -> dict:
        sandbox = await self.launch(**template_fields)
        return await self.settle(sandbox["id"], "running")

    async def start_task(self, sandbox: dict, command: list[str], **fields) -> dict:
        task = await self.post(
            f"/v1/sandboxes/{sandbox['id']}/tasks", {"command": command, **fields}
        )
        await self.runner.start_queued()
        return task

    async def finished(self, task: dict, timeout: float = 15.0) -> dict:
        """Wait for a task to end; return its record."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            current = await self.get(f"/v1/tasks/{task['id']}")
            if current["status"] in ("succeeded", "failed", "canceled", "timed_out"):
                return current
            assert asyncio.get_running_loop().time() < deadline, current
            await asyncio.sleep(0.02)

    async def settle(self, sandbox_id: str, until: str, timeout: float = 30.0) -> dict:
        """Reconcile until the sandbox reaches status `until` (or fail with what it is)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            await self.reconciler.reconcile_once()
            sandbox = await self.get(f"/v1/sandboxes/{sandbox_id}")
            if sandbox["status"] == until:
                return sandbox
            assert asyncio.get_running_loop().time() < deadline, _status_text(sandbox, until)
            await asyncio.sleep(0.02)


def _status_text(sandbox: dict, until: str) -> str:
    reason, message = sandbox.get("statusReason", ""), sandbox.get("statusMessage", "")
    return f"still {sandbox['status']} ({reason}: {message}), not {until}"


@pytest.fixture
async def world(settings, database, runtime):
    app = create_api(services=build_services(settings, database, runtime))
    transport = httpx.ASGITransport(app=app)
    runner = TaskRunner(
        database,
        runtime,
        task_output_store(settings),
        grace=0.5,
        collect=app.state.services.artifacts.collect_for_task,
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://mbox") as client:
        yield World(app, client, Reconciler(database, runtime, settings), runner)
    await runner.wait_idle()


@contextlib.asynccontextmanager
async def serving(app: Any, **options: Any) -> AsyncIterator[str]:
    """`app` behind a real HTTP/WebSocket server on this event loop; yields its base URL.
    `options` go to uvicorn's Config."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # NODELAY
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, lifespan="off", log_level="warning", ws="websockets-sansio", **options
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[listener]))
    while not server.started:
        assert not task.done(), "the test server did not start"
        await asyncio.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def served(world: World) -> AsyncIterator[str]:
    """The world's app behind a real server (for WebSockets and anything the in-process
    transport cannot carry)."""
    async with serving(world.app) as base_url:
        yield base_url
