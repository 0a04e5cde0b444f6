"""The simulated kubelet through the official client: pods run as local sandboxes, with
exec (v5 and v4 channels, stdin, TTY), port forwarding, proxy, logs and events."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import websocket
from kubernetes import client
from kubernetes.stream import portforward, stream, ws_client

from tests.conftest import sandbox_dir
from tests.support.kube.cluster import KubeCluster
from tests.support.kube.kubelet import LocalKubelet, sandbox_id

# A pod's server for the proxy tests: HTTP GET/POST echo and a WebSocket echo (stdlib only:
# the sandbox sees the host's /usr/bin/python3).
SERVER = r"""
import base64, hashlib, http.server, struct, sys

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # a WebSocket handshake needs it

    def do_GET(self):
        if self.headers.get("Upgrade", "").lower() == "websocket":
            return self.echo_websocket()
        self.reply(f"GET {self.path}".encode())

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.reply(b"POST " + body)

    def reply(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("X-Echo", self.headers.get("X-Echo", ""))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def echo_websocket(self):
        key = self.headers["Sec-WebSocket-Key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        accept = base64.b64encode(hashlib.sha1(key.encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        while True:
            first, second = self.rfile.read(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self.rfile.read(2))[0]
            mask = self.rfile.read(4)
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
            if first & 0x0F == 8:
                self.wfile.write(b"\x88\x00")
                return
            self.wfile.write(bytes([first, len(data)]) + data)

http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


@pytest.fixture(scope="module")
def kubelet(tmp_path_factory: pytest.TempPathFactory) -> LocalKubelet:
    return LocalKubelet(sandbox_dir(tmp_path_factory.mktemp("kubelet")))


@pytest.fixture(scope="module")
def cluster(kubelet: LocalKubelet) -> Iterator[KubeCluster]:
    with KubeCluster(kubelet_factory=lambda store: kubelet) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def core(cluster: KubeCluster) -> client.CoreV1Api:
    return client.CoreV1Api(cluster.api_client())


@pytest.fixture(scope="module")
def namespace(core: client.CoreV1Api) -> str:
    name = f"kubelet-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": name}})
    return name


def wait_for(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return result


def run_pod(core: client.CoreV1Api, namespace: str, name: str, *command: str) -> client.V1Pod:
    container = {"name": "workspace", "image": "python:3.11-slim", "command": list(command)}
    body = {"metadata": {"name": name}, "spec": {"containers": [container]}}
    core.create_namespaced_pod(namespace, body)

    def running() -> client.V1Pod | None:
        pod = core.read_namespaced_pod(name, namespace)
        return pod if pod.status.phase == "Running" else None

    return wait_for(running)


@pytest.fixture(scope="module")
def pod(core: client.CoreV1Api, namespace: str) -> str:
    run_pod(core, namespace, "box", "sh", "-c", "echo hello from the pod; exec sleep infinity")
    return "box"


def execute(core: client.CoreV1Api, namespace: str, pod: str, command: list[str], **options: Any):
    options = {"stderr": True, "stdin": False, "stdout": True, "tty": False} | options
    return stream(
        core.connect_get_namespaced_pod_exec, pod, namespace, command=command,
        _preload_content=False, **options,
    )  # fmt: skip


def test_a_pod_runs_with_the_status_a_kubelet_writes(
    core: client.CoreV1Api, namespace: str, pod: str
):
    found = core.read_namespaced_pod(pod, namespace)

    assert found.spec.node_name == "mbox-test-node"
    assert found.status.pod_ip.startswith("10.244.")
    assert found.status.start_time is not None
    conditions = {c.type: c.status for c in found.status.conditions}
    expected = {"PodScheduled": "True", "Ready": "True", "ContainersReady": "True"}
    assert conditions.items() >= expected.items()
    (container,) = found.status.container_statuses
    assert (container.name, container.ready, container.restart_count) == ("workspace", True, 0)
    assert container.state.running.started_at is not None


def test_events_and_logs(core: client.CoreV1Api, namespace: str, pod: str):
    events = core.list_namespaced_event(namespace, field_selector=f"involvedObject.name={pod}")

    reasons = [e.reason for e in events.items]
    assert reasons == ["Scheduled", "Pulled", "Created", "Started"]
    assert all(e.involved_object.kind == "Pod" for e in events.items)
    logs = core.read_namespaced_pod_log(pod, namespace, tail_lines=5)
    assert logs == "hello from the pod\n"


def test_a_pod_that_ends_is_restarted_or_finished_per_its_restart_policy(
    core: client.CoreV1Api, namespace: str
):
    for name, policy, script in [("once", "Never", "exit 4"), ("again", "Always", "sleep 0.2")]:
        container = {"name": "main", "image": "x", "command": ["sh", "-c", script]}
        spec = {"containers": [container], "restartPolicy": policy}
        core.create_namespaced_pod(namespace, {"metadata": {"name": name}, "spec": spec})

    def state(name: str) -> client.V1ContainerStatus | None:
        statuses = core.read_namespaced_pod(name, namespace).status.container_statuses
        return statuses[0] if statuses else None

    ended = wait_for(lambda: (s := state("once")) and s.state.terminated and s)
    assert ended.state.terminated.exit_code == 4
    assert core.read_namespaced_pod("once", namespace).status.phase == "Failed"
    restarted = wait_for(lambda: (s := state("again")) and s.restart_count >= 1 and s)
    assert restarted.last_state.terminated.exit_code == 0


def test_exec_reports_output_and_exit_code(core: client.CoreV1Api, namespace: str, pod: str):
    resp = execute(core, namespace, pod, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    resp.run_forever(timeout=10)

    assert resp.subprotocol == "v5.channel.k8s.io"
    assert (resp.read_stdout(), resp.read_stderr()) == ("out\n", "err\n")
    assert resp.returncode == 3

    killed = execute(core, namespace, pod, ["sh", "-c", "kill -9 $$"])
    killed.run_forever(timeout=10)
    assert killed.returncode == 137

    ok = execute(core, namespace, pod, ["pwd"])
    ok.run_forever(timeout=10)
    assert (ok.read_stdout(), ok.returncode) == ("/workspace\n", 0)


def test_exec_with_preloaded_output(core: client.CoreV1Api, namespace: str, pod: str):
    output = stream(
        core.connect_get_namespaced_pod_exec, pod, namespace, command=["echo", "hi"],
        stderr=True, stdin=False, stdout=True, tty=False,
    )  # fmt: skip
    assert output == "hi\n"


def test_exec_stdin_closed_by_the_client(core: client.CoreV1Api, namespace: str, pod: str):
    resp = execute(core, namespace, pod, ["cat"], stdin=True)
    resp.write_stdin("hello\n")
    resp.close_channel(0)  # v5 only: cat sees end of input
    resp.run_forever(timeout=10)

    assert resp.read_stdout() == "hello\n"
    assert resp.returncode == 0


@pytest.fixture
def v4_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client that offers only v4.channel.k8s.io (an older kubectl)."""
    original = ws_client.create_websocket

    def create_websocket(configuration, url, headers=None):
        headers = {**(headers or {}), "sec-websocket-protocol": "v4.channel.k8s.io"}
        return original(configuration, url, headers)

    monkeypatch.setattr(ws_client, "create_websocket", create_websocket)


@pytest.mark.usefixtures("v4_only")
def test_exec_on_v4(core: client.CoreV1Api, namespace: str, pod: str):
    resp = execute(
        core, namespace, pod, ["sh", "-c", "read line; echo got $line; exit 5"], stdin=True
    )
    resp.write_stdin("it\n")
    resp.run_forever(timeout=10)

    assert resp.subprotocol == "v4.channel.k8s.io"
    assert resp.read_stdout() == "got it\n"
    assert resp.returncode == 5


def test_exec_on_a_terminal_with_resize(core: client.CoreV1Api, namespace: str, pod: str):
    resp = execute(core, namespace, pod, ["sh"], stdin=True, tty=True, stderr=False)
    resp.write_channel(4, json.dumps({"Width": 100, "Height": 30}))
    resp.write_stdin("stty size; tty; exit 7\n")
    resp.run_forever(timeout=10)

    output = resp.read_stdout()
    assert "30 100" in output
    assert "/dev/pts/" in output
    assert resp.returncode == 7


def test_exec_in_an_unknown_container_is_refused(core: client.CoreV1Api, namespace: str, pod: str):
    with pytest.raises(Exception, match=r"400|not valid"):
        execute(core, namespace, pod, ["true"], container="nope").run_forever(timeout=5)


def test_port_forward_to_a_server_started_by_exec(core: client.CoreV1Api, namespace: str, pod: str):
    start = "nohup python3 -m http.server 8001 --bind 127.0.0.1 >/tmp/http.log 2>&1 </dev/null &"
    execute(core, namespace, pod, ["sh", "-c", f"echo page > index.html; {start}"]).run_forever(
        timeout=10
    )

    def fetch() -> bytes:
        pf = portforward(core.connect_get_namespaced_pod_portforward, pod, namespace, ports="8001")
        sock = pf.socket(8001)
        received = b""
        with contextlib.suppress(OSError):  # the server is not listening yet
            sock.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
            while chunk := sock.recv(65536):
                received += chunk
        sock.close()
        return received

    response = wait_for(fetch)
    assert response.startswith(b"HTTP/1.0 200")
    assert response.endswith(b"page\n")


def test_port_forward_to_a_closed_port_reports_an_error(
    core: client.CoreV1Api, namespace: str, pod: str
):
    pf = portforward(core.connect_get_namespaced_pod_portforward, pod, namespace, ports="8999")
    sock = pf.socket(8999)
    assert sock.recv(10) == b""
    assert "8999" in wait_for(lambda: pf.error(8999))


@pytest.fixture(scope="module")
def web(cluster: KubeCluster, core: client.CoreV1Api, namespace: str) -> str:
    run_pod(core, namespace, "web", "python3", "-c", SERVER, "8000")
    path = f"/api/v1/namespaces/{namespace}/pods/web:8000/proxy/"
    wait_for(lambda: proxy_request(cluster, "GET", path).status == 200)  # listening
    return "web"


def proxy_request(cluster: KubeCluster, method: str, path: str, body: str | None = None):
    api = cluster.api_client()
    request = api.param_serialize(
        method, path, header_params={"Content-Type": "text/plain", "X-Echo": "kept"},
        body=body, auth_settings=["BearerToken"],
    )  # fmt: skip
    response = api.call_api(*request)
    response.read()
    return response


def test_proxy_get_and_post(cluster: KubeCluster, core: client.CoreV1Api, namespace: str, web: str):
    path = f"/api/v1/namespaces/{namespace}/pods/{web}:8000/proxy/hello?x=1"

    got = proxy_request(cluster, "GET", path)
    assert (got.status, got.data) == (200, b"GET /hello?x=1")
    assert got.getheader("X-Echo") == "kept"
    posted = proxy_request(cluster, "POST", path, body="some data")
    assert (posted.status, posted.data) == (200, b"POST some data")
    typed = core.connect_get_namespaced_pod_proxy_with_path(f"{web}:8000", namespace, "typed")
    assert typed == "GET /typed"


def test_proxy_websocket(cluster: KubeCluster, namespace: str, web: str):
    url = (
        cluster.url.replace("http", "ws", 1)
        + f"/api/v1/namespaces/{namespace}/pods/{web}:8000/proxy/ws"
    )
    connection = websocket.create_connection(url, header=[f"Authorization: Bearer {cluster.token}"])
    connection.send("ping")
    assert connection.recv() == "ping"
    connection.close()


def test_deleting_a_pod_stops_its_sandbox(
    cluster: KubeCluster, kubelet: LocalKubelet, core: client.CoreV1Api, namespace: str
):
    pod = run_pod(core, namespace, "short", "sleep", "infinity")
    box = sandbox_id({"metadata": {"uid": pod.metadata.uid}})

    core.delete_namespaced_pod("short", namespace)

    def stopped() -> bool:
        return cluster.call(lambda store: kubelet.runtime.status(box)).phase == "missing"

    wait_for(stopped)
