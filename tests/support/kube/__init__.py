"""A test Kubernetes cluster for the official `kubernetes` client: an API server with the
agent-sandbox CRDs (store.py, schema.py, apiserver.py), a simulated kubelet (kubelet.py) and a
simulator of the agent-sandbox controller (controller.py), run together by cluster.py."""

from tests.support.kube.cluster import KubeCluster
from tests.support.kube.store import ApiError, Resource, Store, WatchEvent

__all__ = ["ApiError", "KubeCluster", "Resource", "Store", "WatchEvent"]
