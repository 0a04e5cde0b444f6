"""scripts/smoke-kubernetes, against the test cluster: the whole server on the Kubernetes
runtime (API, reconciler, task runner, terminal WebSocket, preview relay)."""

from __future__ import annotations

from pathlib import Path

from tests.kube.smoke import smoke
from tests.support.kube.cluster import KubeCluster


async def test_the_smoke_passes_on_the_test_cluster(kube_cluster: KubeCluster, tmp_path: Path):
    kubeconfig = kube_cluster.kubeconfig(tmp_path / "kubeconfig")
    done = await smoke(kubeconfig, "mbox-test", image="python:3.12-slim")
    assert done[1:] == [
        "a task ran in the pod",
        "a terminal answered",
        "the preview served the app's page",
        "nothing of the sandbox is left in the cluster",
    ]
