"""The reconciler driving the Kubernetes runtime on the test cluster, where what agent-sandbox
does matters: a claim it gave up on is replaced when the user starts the sandbox again."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import kubernetes
import pytest

from backend.engines.reconciler import Reconciler
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
    template = await world.post("/v1/templates", {"name": f"t {unique}", "image": "host"})
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


async def test_secret_references_are_mounted_as_references_and_said_so(world: World):
    template = await world.post(
        "/v1/templates",
        {
            "name": f"s {uuid.uuid4().hex[:8]}",
            "image": "host",
            "secretRefs": [{"name": "db", "key": "password"}, {"name": "tls"}],
        },
    )
    summary = await world.get(f"/v1/templates/{template['id']}/boundary")
    assert summary["secretProjection"] == "mounted-as-secret-references"
    [check] = [c for c in summary["checks"] if c["id"] == "secret-refs"]
    assert check["status"] == "pass" and "never reads" in check["message"]
    assert check["evidence"] == ["db:password", "tls"]


async def test_what_a_deleted_sandbox_used_is_collected(world: World, kube_cluster: KubeCluster):
    """Its claim, then the template, pool and service account nothing else uses; a second
    sandbox's are kept until it goes too."""
    unique = uuid.uuid4().hex[:8]
    namespace = f"gc-{unique}"
    project = await world.post("/v1/projects", {"name": unique, "defaultNamespace": namespace})
    template = await world.post("/v1/templates", {"name": f"t {unique}", "image": "host"})
    launch = {"projectId": project["id"], "templateId": template["id"]}
    first = await world.post("/v1/sandboxes", {**launch, "name": "one"})
    second = await world.post("/v1/sandboxes", {**launch, "name": "two"})
    for sandbox in (first, second):
        await world.settle(sandbox["id"], "running")
    core = kubernetes.client.CoreV1Api(kube_cluster.api_client())
    custom = kubernetes.client.CustomObjectsApi(kube_cluster.api_client())

    def left() -> dict[str, int]:
        group, version = manifests.EXTENSIONS_GROUP, manifests.VERSION
        found = {
            plural: len(
                custom.list_namespaced_custom_object(group, version, namespace, plural)["items"]
            )
            for plural in ("sandboxclaims", "sandboxtemplates", "sandboxwarmpools")
        }
        found["serviceaccounts"] = len(core.list_namespaced_service_account(namespace).items)
        return found

    kept = {"sandboxclaims": 2, "sandboxtemplates": 1, "sandboxwarmpools": 1, "serviceaccounts": 1}
    assert left() == kept
    for sandbox, expected in (
        (first, {**kept, "sandboxclaims": 1}),
        (second, dict.fromkeys(kept, 0)),
    ):
        assert (await world.client.delete(f"/v1/sandboxes/{sandbox['id']}")).status_code == 204
        await world.reconciler.reconcile_once()
        assert left() == expected


async def test_a_restarted_server_finds_its_sandboxes_still_running(
    world: World, kube_cluster: KubeCluster, database, tmp_path: Path
):
    """Unlike local sandboxes, a cluster's outlive the server: a new server process takes
    them over as they are (no restart, the same claim)."""
    sandbox = await world.running_sandbox()
    await world.runtime.close()  # the server process ended
    fresh = kubernetes_runtime(kube_cluster.kubeconfig(tmp_path / "again"), "mbox-test")
    try:
        await Reconciler(database, fresh).reconcile_once()
        again = await world.get(f"/v1/sandboxes/{sandbox['id']}")
        assert again["status"] == "running" and again.get("statusReason", "") == ""
        assert again["runtimeRef"] == sandbox["runtimeRef"]
        assert again["readyAt"] == sandbox["readyAt"]
        assert (await fresh.status(uuid.UUID(sandbox["id"]))).phase == "running"
    finally:
        await fresh.close()
