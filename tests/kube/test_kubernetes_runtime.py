"""The Kubernetes runtime (backend/runtime/kubernetes) against the test cluster: the
official client over real HTTP and WebSocket to the test API server, the agent-sandbox
controller simulator and the simulated kubelet."""

from __future__ import annotations

import asyncio
import io
import signal
import socket
import tarfile
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import kubernetes
import pytest

from backend.runtime.base import (
    FileMissing,
    PathRefused,
    PortSpec,
    PortUnavailable,
    RuntimeFailure,
    RuntimeStatus,
    SandboxSpec,
)
from backend.runtime.kubernetes import KubernetesRuntime, kubernetes_runtime, manifests
from backend.settings import load_settings
from tests.support.in_process import served_in_process
from tests.support.kube.cluster import KubeCluster

WAIT_SECONDS = 20


@pytest.fixture
def cluster(kube_cluster: KubeCluster) -> KubeCluster:
    """The run's test cluster (tests/conftest.py): every test works in namespaces of its own."""
    return kube_cluster


@pytest.fixture
async def runtime(cluster: KubeCluster, tmp_path: Path) -> AsyncIterator[KubernetesRuntime]:
    found = kubernetes_runtime(cluster.kubeconfig(tmp_path / "kubeconfig"), "mbox-test")
    yield found
    await found.close()


def spec(**fields) -> SandboxSpec:
    sandbox_id = uuid.uuid4()
    values = {
        "sandbox_id": sandbox_id,
        "project_id": uuid.uuid4(),
        "slug": "box",
        "image": "python:3.12-bookworm",
        "command": ("sleep", "infinity"),
        "working_dir": "/workspace",
        "env": {"GREETING": "hello"},
        "network_policy": "default",
        "ports": (PortSpec("web", 8000),),
        "namespace": f"team-{sandbox_id.hex[:6]}",
        "service_account": "mbox-sandbox",
        "template_id": uuid.uuid4(),
        "template_slug": "python",
        "requests": {"cpu": "500m", "memory": "256Mi"},
    }
    return SandboxSpec(**(values | fields))


async def until(runtime: KubernetesRuntime, sandbox_id: uuid.UUID, phase: str) -> RuntimeStatus:
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while (status := await runtime.status(sandbox_id)).phase != phase:
        assert asyncio.get_running_loop().time() < deadline, status
        await asyncio.sleep(0.05)
    return status


async def output(process) -> tuple[bytes, bytes, int]:
    out = b"".join([chunk async for chunk in process.stdout()])
    err = b"".join([chunk async for chunk in process.stderr()])
    return out, err, await process.wait()


async def test_a_sandbox_runs_as_a_claim_and_stops_and_starts(runtime: KubernetesRuntime):
    box = spec()
    started = await runtime.ensure(box)
    assert started.phase == "starting"
    assert started.ref == {
        "adapter": "agent-sandbox",
        "kind": "SandboxClaim",
        "namespace": box.namespace,
        "name": manifests.claim_name(box),
    }
    running = await until(runtime, box.sandbox_id, "running")
    assert running.ref == started.ref and running.ready_at is not None
    target = await runtime.target(box.sandbox_id)
    assert (target.namespace, target.container, target.phase) == (
        box.namespace,
        "workspace",
        "Running",
    )

    process = await runtime.exec(box.sandbox_id, ["sh", "-c", "echo $GREETING; pwd; exit 3"])
    out, err, code = await output(process)
    assert (out.decode().split(), code) == (["hello", "/workspace"], 3), err

    await runtime.stop(box.sandbox_id)
    await until(runtime, box.sandbox_id, "missing")
    with pytest.raises(RuntimeFailure, match="not running"):
        await runtime.exec(box.sandbox_id, ["true"])
    resumed = await runtime.ensure(box)
    assert resumed.phase in ("starting", "running")
    await until(runtime, box.sandbox_id, "running")

    await runtime.delete(box.sandbox_id)
    await until(runtime, box.sandbox_id, "missing")
    assert await runtime.status(box.sandbox_id) == RuntimeStatus("missing")


async def test_what_mbox_writes_is_labelled_and_locked_down(
    runtime: KubernetesRuntime, cluster: KubeCluster, tmp_path: Path
):
    box = spec(expires_at=datetime.now(UTC) + timedelta(hours=1), network_policy="restricted")
    await runtime.ensure(box)
    await until(runtime, box.sandbox_id, "running")
    custom = kubernetes.client.CustomObjectsApi(cluster.api_client())
    core = kubernetes.client.CoreV1Api(cluster.api_client())
    claim = custom.get_namespaced_custom_object(
        manifests.EXTENSIONS_GROUP,
        "v1beta1",
        box.namespace,
        "sandboxclaims",
        manifests.claim_name(box),
    )
    labels = claim["metadata"]["labels"]
    assert labels["app.kubernetes.io/managed-by"] == "mbox"
    assert labels["mbox.dev/sandbox-id"] == str(box.sandbox_id)
    assert labels["mbox.dev/project-id"] == str(box.project_id)
    assert claim["spec"]["lifecycle"]["shutdownPolicy"] == "Delete"
    account = core.read_namespaced_service_account("mbox-sandbox", box.namespace)
    assert account.automount_service_account_token is False
    namespace = core.read_namespace(box.namespace)
    assert namespace.metadata.labels["app.kubernetes.io/managed-by"] == "mbox"
    pod_name = (await runtime.target(box.sandbox_id)).pod_name
    pod = core.read_namespaced_pod(pod_name, box.namespace)
    container = pod.spec.containers[0]
    assert container.name == "workspace" and pod.spec.automount_service_account_token is False
    assert container.security_context.allow_privilege_escalation is False
    assert container.security_context.capabilities.drop == ["ALL"]
    assert container.security_context.seccomp_profile.type == "RuntimeDefault"
    assert container.resources.limits == {"memory": "256Mi"}
    template = custom.get_namespaced_custom_object(
        manifests.EXTENSIONS_GROUP,
        "v1beta1",
        box.namespace,
        "sandboxtemplates",
        manifests.template_name(box),
    )
    assert template["spec"]["networkPolicy"] == {"ingress": [], "egress": []}
    await runtime.delete(box.sandbox_id)


async def test_logs_and_events_come_from_the_pod(runtime: KubernetesRuntime):
    box = spec(command=("sh", "-c", "echo started-once; exec sleep infinity"))
    await runtime.ensure(box)
    await until(runtime, box.sandbox_id, "running")
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while "started-once" not in await runtime.logs(box.sandbox_id, 10):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    reasons = [event.reason for event in await runtime.events(box.sandbox_id)]
    assert "Started" in reasons
    await runtime.delete(box.sandbox_id)


def test_network_policies_deny_what_each_class_denies():
    default = manifests.network_policy(
        spec(egress_allow=("10.1.0.0/16",), egress_deny=("10.1.2.0/24", "1.1.1.1/32"))
    )
    dns, internet = default["egress"]
    assert dns == manifests.DNS_RULE
    everything, allowed = internet["to"]
    assert everything["ipBlock"]["cidr"] == "0.0.0.0/0"
    closed = set(everything["ipBlock"]["except"])
    assert {"10.0.0.0/8", "169.254.0.0/16", "1.1.1.1/32", "192.168.0.0/16"} <= closed
    assert allowed == {"ipBlock": {"cidr": "10.1.0.0/16", "except": ["10.1.2.0/24"]}}
    opened = manifests.network_policy(spec(network_policy="open"))["egress"][1]["to"][0]
    assert opened["ipBlock"] == {"cidr": "0.0.0.0/0", "except": ["169.254.0.0/16"]}


async def test_a_signal_reaches_the_command_in_the_pod(runtime: KubernetesRuntime):
    box = spec()
    await runtime.ensure(box)
    await until(runtime, box.sandbox_id, "running")
    process = await runtime.exec(box.sandbox_id, ["sleep", "60"])
    await asyncio.sleep(0.3)  # it has written its pid
    process.signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), WAIT_SECONDS) == 128 + signal.SIGTERM
    await runtime.delete(box.sandbox_id)


async def test_the_server_launches_and_runs_tasks_on_the_cluster(
    cluster: KubeCluster, tmp_path: Path
):
    """The whole server (API, reconciler, task runner) with MBOX_RUNTIME=kubernetes."""
    settings = load_settings(
        data_dir=tmp_path / "data",
        runtime="kubernetes",
        kubeconfig=cluster.kubeconfig(tmp_path / "kubeconfig"),
        kube_context="mbox-test",
        allowed_hosts="localhost",
    )
    async with served_in_process(settings) as api:
        project = await created(api, "/v1/projects", name="p", defaultNamespace="k8s-p")
        template = await created(api, "/v1/templates", name="t", image="python:3.12")
        sandbox = await created(
            api, "/v1/sandboxes", projectId=project["id"], templateId=template["id"], name="b"
        )
        url = f"/v1/sandboxes/{sandbox['id']}"
        found = await settled(api, url, "status", ("pending",))
        assert found["status"] == "running" and found["runtimeRef"]["adapter"] == "agent-sandbox"
        task = await created(api, f"{url}/tasks", command=["sh", "-c", "echo from-the-pod"])
        done = await settled(api, f"/v1/tasks/{task['id']}", "status", ("queued", "running"))
        assert (done["status"], done["exitCode"], done["stdout"]) == (
            "succeeded",
            0,
            "from-the-pod\n",
        )
        info = (await api.get("/v1/info")).json()
        assert info["runtimeController"] == {
            "enabled": True,
            "adapter": "agent-sandbox",
            "details": info["runtimeController"]["details"],
        }
        assert (await api.delete(url)).status_code == 204


async def created(api, path: str, **body) -> dict:
    response = await api.post(path, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def settled(api, url: str, field: str, passing: tuple[str, ...]) -> dict:
    """The resource once its `field` has left the `passing` values."""
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while (found := (await api.get(url)).json())[field] in passing:
        assert asyncio.get_running_loop().time() < deadline, found
        await asyncio.sleep(0.05)
    return found


async def test_a_terminal_in_the_pod_has_a_size_and_an_exit(runtime: KubernetesRuntime):
    box = spec()
    await runtime.ensure(box)
    await until(runtime, box.sandbox_id, "running")
    terminal = await runtime.open_pty(box.sandbox_id, ["/bin/sh"], rows=30, cols=100)
    await terminal.write(b"stty size; exit 7\n")
    seen = b""
    while chunk := await asyncio.wait_for(terminal.read(), WAIT_SECONDS):
        seen += chunk
    assert b"30 100" in seen
    assert await terminal.wait() == 7
    await terminal.close()
    await runtime.delete(box.sandbox_id)


async def test_a_port_in_the_pod_is_reached_through_port_forward(runtime: KubernetesRuntime):
    box = spec()
    await runtime.ensure(box)
    await until(runtime, box.sandbox_id, "running")
    server = ["python3", "-m", "http.server", "8000", "--bind", "127.0.0.1"]
    await runtime.exec(
        box.sandbox_id, ["sh", "-c", 'echo pod-page > index.html; exec "$@"', "sh", *server]
    )
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while True:
        try:
            answer = await fetch(await runtime.connect_port(box.sandbox_id, 8000))
        except PortUnavailable:  # the server is still starting
            answer = b""
        if b"pod-page" in answer or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.1)
    with pytest.raises(PortUnavailable, match="nothing is listening on port 8001"):
        await runtime.connect_port(box.sandbox_id, 8001)
    assert answer.startswith(b"HTTP/1.0 200") and b"pod-page" in answer
    await runtime.delete(box.sandbox_id)


async def test_workspace_files_follow_the_local_runtimes_rules(runtime: KubernetesRuntime):
    box = spec()
    await runtime.ensure(box)
    await until(runtime, box.sandbox_id, "running")
    sandbox = box.sandbox_id
    await runtime.write_file(sandbox, "notes/today.txt", b"line one\n\x00binary")
    assert await runtime.read_file(sandbox, "notes/today.txt", 100) == b"line one\n\x00binary"
    assert await runtime.read_file(sandbox, "notes/today.txt", 4) == b"line"
    [entry] = await runtime.list_files(sandbox, "notes")
    assert (entry.path, entry.type, entry.size) == ("notes/today.txt", "file", 16)
    await runtime.exec(sandbox, ["ln", "-s", "/etc", "escape"])
    await asyncio.sleep(0.2)
    names = {entry.path: entry.type for entry in await runtime.list_files(sandbox, "")}
    assert names["escape"] == "symlink" and names["notes"] == "directory"
    for refused in ("escape/passwd", "../etc/passwd", "/etc/passwd", "escape"):
        with pytest.raises(PathRefused):
            await runtime.read_file(sandbox, refused, 100)
    with pytest.raises(FileMissing):
        await runtime.read_file(sandbox, "nothing-here", 100)
    async with await runtime.open_read(sandbox, "notes/today.txt") as stream:
        assert stream.entry.size == 16
        assert b"".join([chunk async for chunk in stream.chunks]) == b"line one\n\x00binary"
    async with await runtime.open_read(sandbox, "notes") as stream:
        archive = b"".join([chunk async for chunk in stream.chunks])
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        assert "notes/today.txt" in tar.getnames()
    assert [e.path for e in await runtime.match_files(sandbox, "**/*.txt", 10)] == [
        "notes/today.txt"
    ]
    await runtime.delete_file(sandbox, "notes")
    with pytest.raises(FileMissing):
        await runtime.list_files(sandbox, "notes")
    await runtime.delete(sandbox)


async def fetch(sock: socket.socket) -> bytes:
    """GET /index.html over the socket; b"" when the other end closed it."""
    reader, writer = await asyncio.open_connection(sock=sock)
    try:
        writer.write(b"GET /index.html HTTP/1.0\r\nHost: pod\r\n\r\n")
        await writer.drain()
        return await reader.read()
    except OSError:
        return b""
    finally:
        writer.close()


async def test_the_clusters_own_namespaces_are_refused(runtime: KubernetesRuntime):
    for namespace, words in (
        ("kube-system", "belongs to the cluster"),
        ("default", "belongs to the cluster"),
        ("Team_A", "is not a DNS label"),
        ("x" * 64, "is not a DNS label"),
    ):
        with pytest.raises(RuntimeFailure, match=words):
            await runtime.ensure(spec(namespace=namespace))
