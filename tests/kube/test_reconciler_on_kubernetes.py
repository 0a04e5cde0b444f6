"""The reconciler driving the Kubernetes runtime on the test cluster, where what agent-sandbox
does matters: a claim it gave up on is replaced when the user starts the sandbox again."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import kubernetes
import pytest

from backend.runtime.kubernetes import KubernetesRuntime, kubernetes_runtime, manifests
from tests.runtime import conftest as runtime_fixtures
from tests.runtime.conftest import World
from tests.support.kube.cluster import KubeCluster

world = runtime_fixtures.world  # the runtime suite's fixture, on the runtime below


@pytest.fixture
async def runtime(kube_cluster: KubeCluster, tmp_path: Path) -> AsyncIterator[KubernetesRuntime]:
    found = kubernetes_runtime(kube_cluster.kubeconfig(tmp_path / "kubeconfig"), "mbox-test")
    yield found
    await found.close()


async def test_a_claim_that_failed_for_good_is_replaced_when_started_again(
    world: World, kube_cluster: KubeCluster
):
    unique = uuid.uuid4().hex[:8]
    namespace = f"fail-{unique}"
    project = await world.post("/v1/projects", {"name": unique, "defaultNamespace": namespace})
    template = await world.post("/v1/templates", {"name": f"t {unique}", "image": "local"})
    launch = {"projectId": project["id"], "templateId": template["id"], "name": "box"}
    sandbox = await world.post("/v1/sandboxes", launch)
    await world.settle(sandbox["id"], "running")

    # Its pool and Sandbox vanish (an operator's mistake): agent-sandbox, re-resolving the
    # claim, finds no pool, and gives up on it for good.
    custom = kubernetes.client.CustomObjectsApi(kube_cluster.api_client())
    group, version = manifests.EXTENSIONS_GROUP, manifests.VERSION
    pools = custom.list_namespaced_custom_object(group, version, namespace, "sandboxwarmpools")
    for pool in pools["items"]:
        name = pool["metadata"]["name"]
        custom.delete_namespaced_custom_object(group, version, namespace, "sandboxwarmpools", name)
    sandboxes = custom.list_namespaced_custom_object(
        manifests.SANDBOX_GROUP, version, namespace, "sandboxes"
    )
    for found in sandboxes["items"]:
        custom.delete_namespaced_custom_object(
            manifests.SANDBOX_GROUP, version, namespace, "sandboxes", found["metadata"]["name"]
        )
    failed = await world.settle(sandbox["id"], "failed", timeout=30)
    assert "WarmPoolNotFound" in failed["statusMessage"]
    await asyncio.sleep(1.0)  # the start comes a second after the failure (whole seconds)

    await world.post(f"/v1/sandboxes/{sandbox['id']}/start")
    running = await world.settle(sandbox["id"], "running", timeout=30)
    assert running["runtimeRef"]["kind"] == "SandboxClaim"
