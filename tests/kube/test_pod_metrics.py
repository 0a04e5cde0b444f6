"""Live resource use on the Kubernetes runtime: PodMetrics from the metrics API
(metrics.k8s.io/v1beta1) through the official client, against the test API server, whose
kubelet measures the pods it runs (real sandboxes, real cgroups)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import kubernetes
import pytest

from backend.runtime.kubernetes import KubernetesRuntime, kubernetes_runtime
from tests.kube.test_kubernetes_runtime import output, spec, until
from tests.kube.test_rbac import cluster_role_rules, granted_kubeconfig
from tests.support.kube.cluster import KubeCluster

MIB = 1024**2
HOLD_MEMORY = (
    'python3 -c \'import time; b = bytearray(96 * 1024 * 1024); b[::4096] = b"x" * '
    'len(b[::4096]); open("/tmp/held", "w"); time.sleep(120)\' >/dev/null 2>&1 & '
    "python3 -c 'while True: pass' >/dev/null 2>&1 & "
    "while [ ! -e /tmp/held ]; do sleep 0.05; done"
)


@pytest.fixture
async def runtime(kube_cluster: KubeCluster, tmp_path: Path) -> AsyncIterator[KubernetesRuntime]:
    """The runtime as deployed: the ClusterRole's permissions (pod metrics included)."""
    kubeconfig = granted_kubeconfig(kube_cluster, tmp_path / "kubeconfig", cluster_role_rules())
    found = kubernetes_runtime(kubeconfig, "mbox-test")
    yield found
    await found.close()


async def _busy_sandbox(runtime: KubernetesRuntime):
    box = spec()
    await runtime.ensure(box)
    await until(runtime, box.sandbox_id, "running")
    _, err, code = await output(await runtime.exec(box.sandbox_id, ["sh", "-c", HOLD_MEMORY]))
    assert code == 0, err
    return box


async def test_pod_metrics_are_sampled_through_the_metrics_api(runtime: KubernetesRuntime):
    box = await _busy_sandbox(runtime)
    await asyncio.sleep(0.5)
    await runtime.sample([box.sandbox_id])  # the kubelet's first reading
    await asyncio.sleep(0.5)
    found = await runtime.sample([box.sandbox_id, uuid.uuid4()])
    assert list(found) == [box.sandbox_id]
    sample = found[box.sandbox_id]
    assert sample.source == "metrics-api"
    assert sample.memory_bytes > 90 * MIB
    assert sample.memory_limit_bytes == 256 * MIB  # the pod's limit (the template's memory)
    assert sample.cpu_millicores > 50  # the burner
    assert sample.cpu_limit_millicores is None  # CPU is not limited on a cluster
    # What PodMetrics do not say stays unknown.
    assert (sample.cpu_usage_usec, sample.disk_bytes, sample.processes) == (None, None, None)
    assert (sample.network_rx_bytes, sample.network_tx_bytes) == (None, None)
    await runtime.stop(box.sandbox_id)
    await until(runtime, box.sandbox_id, "missing")
    assert await runtime.sample([box.sandbox_id]) == {}
    await runtime.delete(box.sandbox_id)


async def test_the_official_client_reads_pod_metrics(
    runtime: KubernetesRuntime, kube_cluster: KubeCluster
):
    box = await _busy_sandbox(runtime)
    custom = kubernetes.client.CustomObjectsApi(kube_cluster.api_client())
    listed = await asyncio.to_thread(
        custom.list_namespaced_custom_object, "metrics.k8s.io", "v1beta1", box.namespace, "pods"
    )
    assert listed["kind"] == "PodMetricsList"
    [item] = listed["items"]
    assert item["kind"] == "PodMetrics" and item["window"] == "10s"
    [container] = item["containers"]
    assert container["name"] == "workspace"
    assert container["usage"]["cpu"].endswith("n") and container["usage"]["memory"].endswith("Ki")
    name = item["metadata"]["name"]
    one = await asyncio.to_thread(
        custom.get_namespaced_custom_object,
        "metrics.k8s.io",
        "v1beta1",
        box.namespace,
        "pods",
        name,
    )
    assert one["metadata"]["name"] == name
    with pytest.raises(kubernetes.client.ApiException) as missing:
        await asyncio.to_thread(
            custom.get_namespaced_custom_object,
            "metrics.k8s.io",
            "v1beta1",
            box.namespace,
            "pods",
            "no-such-pod",
        )
    assert missing.value.status == 404
    groups = kubernetes.client.ApisApi(kube_cluster.api_client()).get_api_versions()
    assert "metrics.k8s.io" in {group.name for group in groups.groups}
    await runtime.delete(box.sandbox_id)


async def test_without_metrics_permission_samples_only_know_the_limits(
    kube_cluster: KubeCluster, tmp_path: Path
):
    rules = [r for r in cluster_role_rules() if "metrics.k8s.io" not in r["apiGroups"]]
    kubeconfig = granted_kubeconfig(kube_cluster, tmp_path / "kubeconfig", rules)
    runtime = kubernetes_runtime(kubeconfig, "mbox-test")
    try:
        box = spec()
        await runtime.ensure(box)
        await until(runtime, box.sandbox_id, "running")
        sample = (await runtime.sample([box.sandbox_id]))[box.sandbox_id]
        assert sample.memory_limit_bytes == 256 * MIB
        assert (sample.memory_bytes, sample.cpu_millicores) == (None, None)
        await runtime.delete(box.sandbox_id)
    finally:
        await runtime.close()
