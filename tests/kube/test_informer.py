"""The Kubernetes runtime's informers against a test API server: a watch whose version is
too old (410 Gone) lists again; an API that cannot be reached is retried with a growing
back-off, and the runtime says so in words (the engines' health and /v1/info show it)."""

from __future__ import annotations

import asyncio
import json
import math
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import kubernetes
import pytest
import yaml

from backend.runtime.kubernetes import kubernetes_runtime
from backend.runtime.kubernetes.informer import Informer
from tests.support.kube.cluster import KubeCluster

HISTORY = 5  # events the small cluster keeps for watches to resume from


@pytest.fixture
def small_cluster() -> Iterator[KubeCluster]:
    """A cluster of its own that forgets quickly (no kubelet: pods stay Pending)."""
    with KubeCluster(history_limit=HISTORY) as cluster:
        yield cluster


def pod(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "mbox"}},
        "spec": {"containers": [{"name": "workspace", "image": "local"}]},
    }


def until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_watch_from_a_version_too_old_lists_again(small_cluster: KubeCluster):
    core = kubernetes.client.CoreV1Api(small_cluster.api_client())
    core.create_namespace({"metadata": {"name": "inf"}})
    for n in range(3 * HISTORY):  # far more changes than the server remembers
        core.create_namespaced_pod("inf", pod(f"p{n}"))
    lists: list[str] = []

    def list_pods(**kwargs):
        """The first list answers as a stale cache would: an old resourceVersion."""
        response = core.list_pod_for_all_namespaces(**kwargs)
        if kwargs.get("watch"):
            return response
        document = json.loads(response.data)
        lists.append(document["metadata"]["resourceVersion"])
        if len(lists) == 1:
            document["metadata"]["resourceVersion"] = "1"
        return SimpleNamespace(data=json.dumps(document).encode())

    informer = Informer("pods", list_pods, label_selector="app.kubernetes.io/managed-by=mbox")
    stopping = threading.Event()
    thread = threading.Thread(target=informer.run, args=(stopping,), daemon=True)
    thread.start()
    try:
        until(lambda: len(lists) >= 2)  # the watch from "1" was Gone: it listed again
        core.create_namespaced_pod("inf", pod("late"))
        until(lambda: informer.get("inf", "late") is not None)  # and watches on
        assert len(informer.items()) == 3 * HISTORY + 1
        assert informer.error == ""
    finally:
        stopping.set()
        thread.join(timeout=10)


def test_an_unreachable_api_is_retried_with_back_off_and_reported(tmp_path: Path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens there once closed
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "gone", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "gone", "user": {"token": "t"}}],
        "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "gone"}}],
        "current-context": "gone",
    }
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    started = time.monotonic()
    runtime = kubernetes_runtime(kubeconfig, "gone")
    try:
        until(lambda: runtime.claims.error and not runtime.describe().available)
        assert runtime.describe().message == (
            f"Kubernetes runtime: claims: cannot reach the Kubernetes API at "
            f"http://127.0.0.1:{port}: Connection refused"
        )
        time.sleep(1.6)
        # Tries at 0, 0.2, 0.6, 1.4, 3.0... s (the back-off doubles): a handful, not a
        # busy loop, however long the machine took to get here.
        elapsed = time.monotonic() - started
        assert 2 <= runtime.claims.requests <= 2 + math.log2(elapsed / 0.2 + 1)
    finally:
        asyncio.run(runtime.close())
