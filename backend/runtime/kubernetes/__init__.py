"""The Kubernetes runtime: sandboxes on a cluster running kubernetes-sigs/agent-sandbox."""

from __future__ import annotations

from pathlib import Path

from backend.runtime.kubernetes.adapter import KubernetesRuntime
from backend.runtime.kubernetes.client import Cluster, load_configuration


def kubernetes_runtime(
    kubeconfig: Path | None, context: str | None, *, warm_pool: int = 0
) -> KubernetesRuntime:
    """The runtime for the cluster the kubeconfig (and context) names, else the cluster
    this server runs in."""
    return KubernetesRuntime(Cluster(load_configuration(kubeconfig, context)), warm_pool=warm_pool)


__all__ = ["KubernetesRuntime", "kubernetes_runtime"]
