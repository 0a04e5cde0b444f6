"""The Kubernetes smoke: mbox's API and engines on a cluster, end to end, as a user would.

    scripts/smoke-kubernetes [--kubeconfig FILE] [--context NAME] [--image IMAGE]

A project, a template (a Python image serving port 8000), a sandbox until it runs, a task,
a terminal, a preview through the API origin's proxy, delete; then nothing mbox created
for the sandbox is left in the cluster. For a user with a real cluster that has
agent-sandbox installed (see docs/runbook.md); the test suite runs it against the test
cluster (tests/kube/test_smoke.py).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path

import kubernetes
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from backend.runtime.kubernetes import manifests, names  # noqa: E402
from tests.bench.harness import BenchServer, bench_server  # noqa: E402

WAIT_SECONDS = 300.0  # a real cluster may pull the image first
APP = ["sh", "-c", "echo smoke-page > index.html; exec python3 -m http.server 8000"]


async def smoke(kubeconfig: Path | None, context: str | None, image: str) -> list[str]:
    """Run the smoke; the steps done, in words. Fails (AssertionError) at the first that
    does not work."""
    done: list[str] = []
    overrides = {"runtime": "kubernetes", "kubeconfig": kubeconfig, "kube_context": context}
    async with bench_server(**overrides) as server:
        namespace = f"mbox-smoke-{uuid.uuid4().hex[:6]}"
        project = await server.post(
            "/v1/projects", {"name": namespace, "defaultNamespace": namespace}
        )
        template = await server.post(
            "/v1/templates",
            {
                "name": "smoke",
                "image": image,
                "startupCommand": APP,
                "exposedPorts": [{"name": "web", "port": 8000}],
            },
        )
        launch = {"projectId": project["id"], "templateId": template["id"], "name": "smoke"}
        sandbox = await server.post("/v1/sandboxes", launch)
        started = time.monotonic()
        await until(server, f"/v1/sandboxes/{sandbox['id']}", "running")
        done.append(f"sandbox running after {time.monotonic() - started:.1f} s")
        done.append(await task(server, sandbox))
        done.append(await terminal(server, sandbox))
        done.append(await preview(server, sandbox))
        response = await server.client.delete(f"/v1/sandboxes/{sandbox['id']}")
        assert response.status_code == 204, response.text
        await gone(server, f"/v1/sandboxes/{sandbox['id']}")
        done.append(await nothing_left(server, sandbox))
    return done


async def until(server: BenchServer, url: str, status: str) -> dict:
    deadline = time.monotonic() + WAIT_SECONDS
    while (found := (await server.client.get(url)).json())["status"] != status:
        assert found["status"] != "failed", f"failed: {found.get('statusMessage')}"
        assert time.monotonic() < deadline, f"not {status} after {WAIT_SECONDS} s: {found}"
        await asyncio.sleep(0.1)
    return found


async def gone(server: BenchServer, url: str) -> None:
    """Deleted sandboxes answer 404 once their runtime is cleaned up."""
    deadline = time.monotonic() + WAIT_SECONDS
    while (response := await server.client.get(url)).status_code != 404:
        assert time.monotonic() < deadline, f"still there: {response.text}"
        await asyncio.sleep(0.1)


async def task(server: BenchServer, sandbox: dict) -> str:
    created = await server.post(
        f"/v1/sandboxes/{sandbox['id']}/tasks", {"command": ["sh", "-c", "echo from-the-pod"]}
    )
    while (found := (await server.client.get(f"/v1/tasks/{created['id']}")).json())["status"] in (
        "queued",
        "running",
    ):
        await asyncio.sleep(0.05)
    assert (found["status"], found["stdout"]) == ("succeeded", "from-the-pod\n"), found
    return "a task ran in the pod"


async def terminal(server: BenchServer, sandbox: dict) -> str:
    url = f"{server.base_url.replace('http', 'ws', 1)}/v1/sandboxes/{sandbox['id']}/terminal"
    async with connect(url, max_size=None) as socket:
        await socket.send("echo $((6 * 7))-smoke\n")
        seen = ""
        deadline = time.monotonic() + 30
        while "42-smoke" not in seen:
            assert time.monotonic() < deadline, f"no answer in the terminal: {seen!r}"
            message = await asyncio.wait_for(socket.recv(), 30)
            seen += message if isinstance(message, str) else message.decode(errors="replace")
    return "a terminal answered"


async def preview(server: BenchServer, sandbox: dict) -> str:
    url = f"/v1/sandboxes/{sandbox['id']}/ports/8000/proxy/index.html"
    deadline = time.monotonic() + 60
    while (response := await server.client.get(url)).status_code != 200:
        assert time.monotonic() < deadline, f"preview: {response.status_code} {response.text}"
        await asyncio.sleep(0.2)  # the app is still starting
    assert response.text == "smoke-page\n", response.text
    return "the preview served the app's page"


async def nothing_left(server: BenchServer, sandbox: dict) -> str:
    """No claim (and so no Sandbox or pod) of the deleted sandbox remains."""
    custom = kubernetes.client.CustomObjectsApi(server.runtime.cluster.api_client)
    selector = f"{names.SANDBOX_ID}={sandbox['id']}"
    deadline = time.monotonic() + 60
    while True:
        claims = custom.list_cluster_custom_object(
            manifests.EXTENSIONS_GROUP, manifests.VERSION, "sandboxclaims", label_selector=selector
        )["items"]
        if not claims:
            return "nothing of the sandbox is left in the cluster"
        assert time.monotonic() < deadline, (
            f"left behind: {[c['metadata']['name'] for c in claims]}"
        )
        await asyncio.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", type=Path, default=None)
    parser.add_argument("--context", default=None)
    parser.add_argument("--image", default="python:3.12-slim")
    args = parser.parse_args()
    for step in asyncio.run(smoke(args.kubeconfig, args.context, args.image)):
        print(f"ok: {step}", flush=True)


if __name__ == "__main__":
    main()
