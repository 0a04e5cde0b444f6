"""deploy/rbac.yaml is exactly enough: the server, holding only the ClusterRole's rules (the
test API server enforces them), does everything a user can make it do on the Kubernetes
runtime; and a missing permission is said in words, not swallowed."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import kubernetes
import pytest
import yaml

from backend.runtime.kubernetes import KubernetesRuntime, kubernetes_runtime
from tests.runtime import conftest as runtime_fixtures
from tests.runtime.conftest import World
from tests.support.kube.cluster import KubeCluster

RBAC = Path(__file__).resolve().parents[2] / "deploy" / "rbac.yaml"

world = runtime_fixtures.world  # the runtime suite's fixture, on the runtime below


def cluster_role_rules() -> list[dict]:
    [role] = [doc for doc in yaml.safe_load_all(RBAC.read_text()) if doc["kind"] == "ClusterRole"]
    return role["rules"]


def granted_kubeconfig(cluster: KubeCluster, path: Path, rules: list[dict]) -> Path:
    token = f"mbox-server-{uuid.uuid4().hex}"
    cluster.grant(token, rules)
    return cluster.kubeconfig(path, token=token)


@pytest.fixture
async def runtime(kube_cluster: KubeCluster, tmp_path: Path) -> AsyncIterator[KubernetesRuntime]:
    """The runtime as deployed: the ClusterRole's permissions and no more."""
    kubeconfig = granted_kubeconfig(kube_cluster, tmp_path / "kubeconfig", cluster_role_rules())
    found = kubernetes_runtime(kubeconfig, "mbox-test")
    yield found
    await found.close()


async def test_the_cluster_role_allows_everything_mbox_does(world: World):
    unique = uuid.uuid4().hex[:8]
    project = await world.post(
        "/v1/projects", {"name": unique, "defaultNamespace": f"rbac-{unique}"}
    )
    template = await world.post(
        "/v1/templates",
        {
            "name": f"t {unique}",
            "image": "host",
            "storageRequest": "64Mi",  # a volume claim: the inventory reads it
            "startupCommand": ["python3", "-m", "http.server", "8000"],
            "exposedPorts": [{"name": "web", "port": 8000}],
        },
    )
    launch = {"projectId": project["id"], "templateId": template["id"]}
    sandbox = await world.post("/v1/sandboxes", {**launch, "name": "one"})
    base = f"/v1/sandboxes/{sandbox['id']}"
    await world.settle(sandbox["id"], "running")

    task = await world.start_task(sandbox, ["sh", "-c", "echo hi > hi.txt"])  # pods/exec
    assert (await world.finished(task))["status"] == "succeeded"
    assert (
        await world.client.get(f"{base}/files/content", params={"path": "hi.txt"})
    ).text == "hi\n"
    page = await _preview(world, f"{base}/ports/8000/proxy/")  # pods/portforward
    assert page.status_code == 200 and "hi.txt" in page.text
    for reading in ("logs", "events", "runtime"):  # pods/log, events, the pod
        assert (await world.client.get(f"{base}/{reading}")).status_code == 200, reading

    await world.post(f"{base}/stop")  # patch sandboxes
    await world.settle(sandbox["id"], "stopped")
    await world.post(f"{base}/start")
    await world.settle(sandbox["id"], "running")

    found = await world.get("/v1/runtime/resources")  # list claims, templates, pools, PVCs
    assert sandbox["id"] in {(i.get("owner") or {}).get("sandboxId") for i in found["items"]}

    other = await world.post("/v1/sandboxes", {**launch, "name": "two"})
    await world.settle(other["id"], "running")
    assert (await world.client.delete(f"/v1/sandboxes/{other['id']}")).status_code == 204
    audit = await world.get("/v1/runtime/orphans")
    [claim] = [
        o["resource"]
        for o in audit["items"]
        if o.get("sandboxId") == other["id"] and o["resource"]["kind"] == "SandboxClaim"
    ]
    ref = {key: claim[key] for key in ("adapter", "kind", "namespace", "name")}
    cleanup = {
        "resource": ref,
        "reason": "cleanup-pending",
        "deleteOrphan": True,
        "confirm": "delete-orphan-runtime-resource",
    }
    await world.post("/v1/runtime/orphans/cleanup", cleanup)  # delete a claim

    # Deleting the last sandbox collects the template, pool and service account.
    world.reconciler.health.reset()
    assert (await world.client.delete(base)).status_code == 204
    await world.reconciler.reconcile_once()
    assert world.reconciler.health.last_error is None
    left = await world.get("/v1/runtime/resources", namespace=f"rbac-{unique}")
    assert left["items"] == []


def test_a_permission_the_role_lacks_is_refused_in_words(kube_cluster: KubeCluster, tmp_path):
    rules = [rule for rule in cluster_role_rules() if "namespaces" not in rule["resources"]]
    kubeconfig = granted_kubeconfig(kube_cluster, tmp_path / "kubeconfig", rules)
    client = kubernetes.config.new_client_from_config(str(kubeconfig), context="mbox-test")
    with pytest.raises(kubernetes.client.ApiException) as refused:
        kubernetes.client.CoreV1Api(client).create_namespace({"metadata": {"name": "nope"}})
    assert refused.value.status == 403
    assert json.loads(refused.value.body)["message"] == (
        'User "mbox-test" cannot create resource "namespaces" in API group "" at the cluster scope'
    )


async def _preview(world: World, url: str):
    """The page once the sandbox's server listens: a running sandbox's startup command
    may still be starting (502 until then); a refused port-forward stays 502."""
    for _ in range(50):
        page = await world.client.get(url)
        if page.status_code != 502:
            return page
        await asyncio.sleep(0.2)
    return page
