"""A minimal mbox server for crash tests: API + engines in one process; it launches a
sandbox, starts a long task, prints the task id, and waits to be killed.

    python -m tests.runtime.crash_server DATA_DIR SANDBOX_DIR MARKER
"""

from __future__ import annotations

import asyncio
import sys

import httpx

from backend.settings import load_settings
from tests.support.in_process import served_in_process


async def until(api: httpx.AsyncClient, url: str, status: str) -> None:
    while (await api.get(url)).json()["status"] != status:
        await asyncio.sleep(0.02)


async def main(data_dir: str, sandboxes: str, marker: str) -> None:
    settings = load_settings(data_dir=data_dir, local_sandbox_dir=sandboxes)
    async with served_in_process(settings) as api:
        project = await api.post("/v1/projects", json={"name": "p", "defaultNamespace": "ns"})
        template = await api.post("/v1/templates", json={"name": "t", "image": "host"})
        launch = {"projectId": project.json()["id"], "templateId": template.json()["id"]}
        sandbox = (await api.post("/v1/sandboxes", json={**launch, "name": "box"})).json()
        await until(api, f"/v1/sandboxes/{sandbox['id']}", "running")
        created = await api.post(
            f"/v1/sandboxes/{sandbox['id']}/tasks", json={"command": ["sleep", marker]}
        )
        task = created.json()
        await until(api, f"/v1/tasks/{task['id']}", "running")
        print(task["id"], flush=True)
        await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
