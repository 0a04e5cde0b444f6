"""A simulated kubelet for the test cluster: Pods run as mbox local-runtime sandboxes.

Simulated, against the store (see `tests/support/kube/store.py`):
- scheduling onto one node (`mbox-test-node`): spec.nodeName, PodScheduled, phase Pending,
  then the pod's main container (the one named `workspace`, else the first) started as a
  bubblewrap sandbox (`backend.runtime.local.LocalRuntime`); status written through the
  status subresource like a kubelet does (phase Running, made-up podIP/hostIP, container
  statuses, Ready and ContainersReady), with Scheduled/Pulled/Created/Started Events;
  a start failure -> phase Failed and a Warning Event;
- the main process ending (its termination message: the log's tail when it failed and
  the container asks for FallbackToLogsOnError): restartPolicy Always/OnFailure restarts
  it after a 1 s CrashLoopBackOff (not Ready meanwhile; restartCount, lastState), Never
  (or OnFailure after exit 0) ends the Pod Succeeded or Failed;
- Pod deletion stops the sandbox and removes its workspace, unless a PersistentVolumeClaim
  holds it (the next pod on the claim gets the same workspace);
- the pod subresources the API server routes here: exec (`v5.channel.k8s.io`, else
  `v4.channel.k8s.io`: binary frames whose first byte is the channel, 0 stdin, 1 stdout,
  2 stderr, 3 the final metav1.Status, 4 resize, v5's 255 closing stdin; a TTY with
  resize), portforward (data on channel 2i, errors on 2i+1, each opened with the port as
  two little-endian bytes), log (tailLines), and proxy (HTTP and WebSocket);
- what metrics-server reads from a kubelet (`pod_usage`, served by the API server as
  PodMetrics): the main container's CPU as a rate (nanocores, since the last reading, or
  since it started) and its memory (cgroup), from the local runtime's samples.

Knowingly not simulated: images (pods run on the host's /usr: the local runtime's image
`host`, whatever they name),
other containers and init containers (exec/log into them reach the main container),
volumes other than the workspace's claim, probes (Ready as soon as the process runs),
resource requests, grace periods, attach, log follow, and the older channel protocols
(`channel.k8s.io`, v2, v3).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import signal
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h11
import websockets
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from backend.runtime.base import Limits, PortSpec, RuntimeFailure, SandboxSpec
from backend.runtime.local import LocalRuntime
from tests.support.kube.apiserver import status_response
from tests.support.kube.store import ApiError

NODE_NAME = "mbox-test-node"
HOST_IP = "10.0.0.10"
MAIN_CONTAINER = "workspace"
DEFAULT_WORKING_DIR = "/workspace"
LIMITS = Limits(
    memory_bytes=2 * 1024**3,
    processes=256,
    open_files=1024,
    file_size_bytes=64 * 1024**2,
    workspace_bytes=256 * 1024**2,
)
STATUS_POLL_SECONDS = 0.5  # how often a running pod's main process is checked
RESTART_DELAY_SECONDS = 1.0  # a fixed crash-loop back-off

# The channel protocols (k8s.io/apimachinery/pkg/util/remotecommand and wsstream).
V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
EXEC_PROTOCOLS = (V5, V4)
PORT_FORWARD_PROTOCOLS = (V4, "portforward.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
SUCCESS_STATUS = {"metadata": {}, "status": "Success"}

# Headers a proxy must not forward (RFC 9110 7.6.1) plus what the relay sets itself.
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailer", "transfer-encoding", "upgrade", "host", "content-length", "authorization",
}  # fmt: skip


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now() -> str:
    return rfc3339(datetime.now(UTC))


def sandbox_id(pod: dict) -> uuid.UUID:
    """The runtime's id for a pod: stable for its uid, so every call finds the same box;
    for a pod whose main container mounts a PersistentVolumeClaim, stable for the claim, so
    the next pod on that claim finds the same workspace (the volume outlives pods)."""
    claim = volume_claim(pod)
    if claim:
        return uuid.uuid5(uuid.NAMESPACE_URL, f"kube-pvc:{pod['metadata']['namespace']}/{claim}")
    return uuid.uuid5(uuid.NAMESPACE_URL, f"kube-pod:{pod['metadata']['uid']}")


def volume_claim(pod: dict) -> str:
    """The PersistentVolumeClaim the main container mounts, if any ("" if none)."""
    if not (pod.get("spec") or {}).get("containers"):
        return ""
    mounted = {mount.get("name") for mount in main_container(pod).get("volumeMounts") or []}
    for volume in pod["spec"].get("volumes") or []:
        if volume.get("name") in mounted and volume.get("persistentVolumeClaim"):
            return volume["persistentVolumeClaim"].get("claimName", "")
    return ""


def main_container(pod: dict) -> dict:
    containers = pod["spec"]["containers"]
    return next((c for c in containers if c["name"] == MAIN_CONTAINER), containers[0])


def sandbox_spec(pod: dict) -> SandboxSpec:
    """The local runtime's view of a pod's main container. Its image is not pulled: the
    sandbox runs on the host's /usr (image `host`), whatever the pod names."""
    meta, container = pod["metadata"], main_container(pod)
    ports = tuple(
        PortSpec(
            p.get("name", f"p-{p['containerPort']}"), p["containerPort"], p.get("protocol", "TCP")
        )
        for p in container.get("ports", [])
    )
    return SandboxSpec(
        sandbox_id=sandbox_id(pod),
        project_id=uuid.uuid5(uuid.NAMESPACE_URL, f"kube-namespace:{meta['namespace']}"),
        slug=meta["name"],
        image="host",
        command=(*container.get("command", ()), *container.get("args", ())),
        working_dir=container.get("workingDir") or DEFAULT_WORKING_DIR,
        env={
            e["name"]: e.get("value", "") for e in container.get("env", []) if "valueFrom" not in e
        },
        network_policy="default",
        ports=ports,
        namespace=meta["namespace"],
        service_account=pod["spec"].get("serviceAccountName", "default"),
    )


def condition(kind: str, status: bool, reason: str = "", message: str = "") -> dict:
    found = {
        "type": kind,
        "status": str(status),
        "lastProbeTime": None,
        "lastTransitionTime": now(),
    }
    if reason:
        found |= {"reason": reason, "message": message}
    return found


def pod_conditions(ready: bool, reason: str = "", message: str = "") -> list[dict]:
    """A scheduled, initialized pod's conditions; Ready and ContainersReady as given."""
    return [
        condition("PodReadyToStartContainers", True),
        condition("Initialized", True),
        condition("Ready", ready, reason, message),
        condition("ContainersReady", ready, reason, message),
        condition("PodScheduled", True),
    ]


def container_status(pod: dict, restarts: int, state: dict, last_state: dict | None = None) -> dict:
    container = main_container(pod)
    running = "running" in state
    return {
        "name": container["name"],
        "image": container.get("image", ""),
        "imageID": "",
        "containerID": f"mbox://{sandbox_id(pod)}",
        "ready": running,
        "started": running,
        "restartCount": restarts,
        "state": state,
        "lastState": last_state or {},
    }


def exit_status(code: int, command: list[str]) -> dict:
    """What the kubelet sends on the error channel when the command ends (a signal's
    death, negative here, is 128 + the signal, as container runtimes report it)."""
    code = 128 - code if code < 0 else code
    if code == 0:
        return SUCCESS_STATUS
    return {
        "metadata": {},
        "status": "Failure",
        "message": (
            "command terminated with non-zero exit code: error executing command "
            f"[{' '.join(command)}], exit code {code}"
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def failure_status(message: str) -> dict:
    return {
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "InternalError",
        "code": 500,
    }


def offered_protocols(websocket: WebSocket) -> list[str]:
    header = websocket.headers.get("sec-websocket-protocol", "")
    return [p.strip() for p in header.split(",") if p.strip()]


def negotiate(websocket: WebSocket, supported: tuple[str, ...]) -> str | None:
    """The first of `supported` (in our order of preference) that the client offers."""
    offered = offered_protocols(websocket)
    return next((p for p in supported if p in offered), None)


def with_query(path: str, query: str) -> str:
    return f"/{path}?{query}" if query else f"/{path}"


class Channels:
    """The channel framing of `v4/v5.channel.k8s.io`: each message's first byte names its
    stream. The official client sends text frames for str data, so both kinds are read."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket

    async def send(self, channel: int, data: bytes) -> None:
        await self.websocket.send_bytes(bytes([channel]) + data)

    async def receive(self) -> tuple[int, bytes] | None:
        """The next (channel, data); None once the client has gone."""
        while True:
            try:
                message = await self.websocket.receive()
            except (RuntimeError, WebSocketDisconnect):
                return None
            if message["type"] == "websocket.disconnect":
                return None
            data = message.get("bytes") or (message.get("text") or "").encode()
            if data:
                return data[0], data[1:]

    async def close(self) -> None:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await self.websocket.close()


@dataclass
class Input:
    """Where an exec session's client frames go."""

    write: Callable[[bytes], Awaitable[None]] | None = None
    close: Callable[[], Awaitable[None]] | None = None  # v5: the client closed stdin
    resize: Callable[[int, int], None] | None = None  # (rows, cols)


async def relay_input(channels: Channels, target: Input) -> None:
    """Client frames into the command until the client goes away."""
    while (frame := await channels.receive()) is not None:
        channel, data = frame
        if channel == STDIN and target.write:
            await target.write(data)
        elif channel == RESIZE and target.resize:
            size = json.loads(data)
            target.resize(size.get("Height", 24), size.get("Width", 80))
        elif channel == CLOSE and data[:1] == bytes([STDIN]) and target.close:
            await target.close()


@dataclass
class PodRun:
    """One pod this kubelet runs: its lock orders start, restarts and removal."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    removed: bool = False
    monitor: asyncio.Task | None = None
    ip: str = ""
    last_state: dict = field(default_factory=dict)  # the container's previous run


class LocalKubelet:
    """The Kubelet protocol of the test API server, over mbox's local runtime."""

    def __init__(
        self, sandbox_root: Path, limits: Limits = LIMITS, node_name: str = NODE_NAME
    ) -> None:
        self.sandbox_root = sandbox_root
        self.limits = limits
        self.node_name = node_name
        self.runtime: LocalRuntime | None = None
        self._store: Any = None
        self._events: asyncio.Queue | None = None
        self._watcher: asyncio.Task | None = None
        self._pods: dict[str, PodRun] = {}
        self._tasks: set[asyncio.Task] = set()
        self._addresses = itertools.count(2)
        self._cpu_readings: dict[uuid.UUID, tuple[float, int]] = {}  # (monotonic, usec)
        self._last_event_ns = 0

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self, store: Any) -> None:
        self._store = store
        self.runtime = LocalRuntime(self.sandbox_root, self.limits)
        self._events = store.subscribe()
        self._watcher = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        if self._watcher:
            self._watcher.cancel()
        tasks = [*self._tasks, *(p.monitor for p in self._pods.values() if p.monitor)]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._events is not None:
            self._store.unsubscribe(self._events)
        if self.runtime:
            await self.runtime.close()

    async def _watch(self) -> None:
        assert self._events is not None
        while True:
            event = await self._events.get()
            if event.resource.kind != "Pod":
                continue
            pod = event.object
            if event.type == "DELETED":
                self._spawn(self._remove(pod, delete=True))
            elif pod["metadata"].get("deletionTimestamp"):
                self._spawn(self._remove(pod, delete=False))
            elif event.type == "ADDED":
                self._spawn(self._run(pod))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _pod(self, pod: dict) -> PodRun:
        return self._pods.setdefault(pod["metadata"]["uid"], PodRun())

    # -- metrics (what metrics-server scrapes) ---------------------------------------------

    async def pod_usage(self, pod: dict) -> dict[str, dict[str, str]] | None:
        """The main container's usage as PodMetrics state it, or None without a reading."""
        assert self.runtime is not None
        sandbox = sandbox_id(pod)
        found = (await self.runtime.sample([sandbox])).get(sandbox)
        if found is None or found.cpu_usage_usec is None or found.memory_bytes is None:
            return None
        now_seconds, usec = time.monotonic(), found.cpu_usage_usec
        then, before = self._cpu_readings.get(sandbox) or (now_seconds - self._age(pod), 0)
        self._cpu_readings[sandbox] = (now_seconds, usec)
        nanocores = max(0, usec - before) * 1000 / max(now_seconds - then, 0.001)
        usage = {"cpu": f"{int(nanocores)}n", "memory": f"{found.memory_bytes // 1024}Ki"}
        return {main_container(pod)["name"]: usage}

    def _age(self, pod: dict) -> float:
        started = (pod.get("status") or {}).get("startTime")
        if not started:
            return 1.0
        since = datetime.now(UTC) - datetime.fromisoformat(started.replace("Z", "+00:00"))
        return max(since.total_seconds(), 1.0)

    # -- running pods -------------------------------------------------------------------

    async def _run(self, pod: dict) -> None:
        run = self._pod(pod)
        async with run.lock:
            if run.removed:
                return
            run.ip = self._next_ip()
            await self._schedule(pod)
            await self._start_container(pod, run, restarts=0)

    def _next_ip(self) -> str:
        n = next(self._addresses)
        return f"10.244.{n // 250}.{n % 250 + 2}"

    async def _schedule(self, pod: dict) -> None:
        meta = pod["metadata"]
        self._write(pod, {"spec": {"nodeName": self.node_name}}, subresource=None)
        self._write(
            pod,
            {"status": {
                "phase": "Pending",
                "conditions": [condition("PodScheduled", True)],
                "hostIP": HOST_IP,
                "hostIPs": [{"ip": HOST_IP}],
                "qosClass": "BestEffort",
            }},
        )  # fmt: skip
        message = f"Successfully assigned {meta['namespace']}/{meta['name']} to {self.node_name}"
        self._event(pod, "Normal", "Scheduled", message, component="default-scheduler")

    async def _start_container(self, pod: dict, run: PodRun, restarts: int) -> None:
        assert self.runtime is not None
        container = main_container(pod)
        name = container["name"]
        if not restarts:
            image = container.get("image", "")
            message = f'Container image "{image}" already present on machine'
            self._event(pod, "Normal", "Pulled", message)
        try:
            status = await self.runtime.ensure(sandbox_spec(pod))
        except RuntimeFailure as exc:
            self._event(pod, "Warning", "Failed", f"Error: {exc}")
            self._write(pod, {"status": self._start_failed_status(pod, str(exc))})
            return
        self._event(pod, "Normal", "Created", f"Created container: {name}")
        self._event(pod, "Normal", "Started", f"Started container {name}")
        started = rfc3339(status.started_at or datetime.now(UTC))
        running = {"running": {"startedAt": started}}
        self._write(
            pod,
            {"status": {
                "phase": "Running",
                "conditions": pod_conditions(ready=True),
                "podIP": run.ip,
                "podIPs": [{"ip": run.ip}],
                "startTime": (pod.get("status") or {}).get("startTime") or started,
                "containerStatuses": [container_status(pod, restarts, running, run.last_state)],
            }},
        )  # fmt: skip
        run.monitor = asyncio.create_task(self._monitor(pod, run, restarts))

    def _start_failed_status(self, pod: dict, message: str) -> dict:
        state = {"terminated": {"exitCode": 128, "reason": "StartError", "message": message}}
        return {
            "phase": "Failed",
            "message": message,
            "conditions": pod_conditions(ready=False, reason="PodFailed", message=message),
            "containerStatuses": [container_status(pod, 0, state)],
        }

    async def _termination_message(self, pod: dict, code: int) -> str:
        """As the kubelet: no termination log here, so the log's tail (80 lines, 2 KiB at
        most) when the container failed and asks for it (FallbackToLogsOnError), else ""."""
        policy = main_container(pod).get("terminationMessagePolicy", "File")
        if code == 0 or policy != "FallbackToLogsOnError":
            return ""
        assert self.runtime is not None
        return (await self.runtime.logs(sandbox_id(pod), 80))[-2048:]

    async def _monitor(self, pod: dict, run: PodRun, restarts: int) -> None:
        """Notice the main process ending: restart it (after a back-off, not Ready
        meanwhile) or end the pod, per restartPolicy."""
        assert self.runtime is not None
        while (status := await self.runtime.status(sandbox_id(pod))).phase == "running":
            await asyncio.sleep(STATUS_POLL_SECONDS)
        code = status.exit_code or 0
        terminated = {
            "exitCode": code,
            "reason": "Completed" if code == 0 else "Error",
            "message": await self._termination_message(pod, code),
            "finishedAt": now(),
        }
        policy = pod["spec"].get("restartPolicy", "Always")
        if policy == "Never" or (policy == "OnFailure" and code == 0):
            phase = "Succeeded" if code == 0 else "Failed"
            state = {"terminated": terminated}
            self._write(
                pod,
                {"status": {
                    "phase": phase,
                    "conditions": pod_conditions(ready=False, reason="PodCompleted"),
                    "containerStatuses": [container_status(pod, restarts, state)],
                }},
            )  # fmt: skip
            return
        run.last_state = {"terminated": terminated}
        name = main_container(pod)["name"]
        message = f"back-off restarting failed container {name}"
        waiting = {"waiting": {"reason": "CrashLoopBackOff", "message": message}}
        unready = f"containers with unready status: [{name}]"
        self._write(
            pod,
            {"status": {
                "conditions": pod_conditions(False, "ContainersNotReady", unready),
                "containerStatuses": [container_status(pod, restarts, waiting, run.last_state)],
            }},
        )  # fmt: skip
        self._event(pod, "Warning", "BackOff", message)
        await asyncio.sleep(RESTART_DELAY_SECONDS)
        async with run.lock:
            if not run.removed:
                await self._start_container(pod, run, restarts + 1)

    async def _remove(self, pod: dict, *, delete: bool) -> None:
        assert self.runtime is not None
        run = self._pod(pod)
        run.removed = True
        async with run.lock:  # never cancels a start half-way (it would leak the process)
            if run.monitor:
                run.monitor.cancel()
            if delete and volume_claim(pod):  # the workspace is the volume's: it stays
                await self.runtime.stop(sandbox_id(pod))
                self._pods.pop(pod["metadata"]["uid"], None)
            elif delete:
                await self.runtime.delete(sandbox_id(pod))
                self._pods.pop(pod["metadata"]["uid"], None)
            else:
                await self.runtime.stop(sandbox_id(pod))

    # -- writing to the store -----------------------------------------------------------

    def _write(self, pod: dict, patch: dict, subresource: str | None = "status") -> None:
        """A merge patch on the pod; a pod deleted meanwhile is no error."""
        meta = pod["metadata"]
        with contextlib.suppress(ApiError):
            self._store.patch(
                self._store.resource("Pod"), meta["namespace"], meta["name"], patch, "merge",
                subresource=subresource,
            )  # fmt: skip

    def _event_stamp(self) -> int:
        """Nanoseconds, as in the kubelet's event names (so names sort by time), never repeated."""
        self._last_event_ns = max(time.time_ns(), self._last_event_ns + 1)
        return self._last_event_ns

    def _event(
        self, pod: dict, kind: str, reason: str, message: str, component: str = "kubelet"
    ) -> None:
        meta = pod["metadata"]
        stamp = now()
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{meta['name']}.{self._event_stamp():x}",
                "namespace": meta["namespace"],
            },
            "involvedObject": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta["uid"],
                "fieldPath": f"spec.containers{{{main_container(pod)['name']}}}",
            },
            "reason": reason,
            "message": message,
            "type": kind,
            "source": {"component": component, "host": self.node_name},
            "reportingComponent": component,
            "reportingInstance": self.node_name,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        with contextlib.suppress(ApiError):
            self._store.create(self._store.resource("Event"), meta["namespace"], event)

    # -- exec ---------------------------------------------------------------------------

    async def exec(self, websocket: WebSocket, pod: dict, query: Any) -> None:
        command = query.getlist("command")
        try:
            if not command:
                raise ApiError(400, "BadRequest", "you must specify at least 1 command")
            self._check_container(pod, query.get("container"))
        except ApiError as error:  # refused before the upgrade, as the API server does
            await websocket.send_denial_response(status_response(error))
            return
        protocol = negotiate(websocket, EXEC_PROTOCOLS)
        await websocket.accept(subprotocol=protocol)
        channels = Channels(websocket)
        try:
            if query.get("tty") in ("true", "1"):
                code = await self._exec_tty(channels, pod, command)
            else:
                code = await self._exec_pipes(channels, pod, command, query)
            status = exit_status(code, command)
        except RuntimeFailure as exc:
            status = failure_status(str(exc))
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await channels.send(ERROR, json.dumps(status).encode())
        await channels.close()

    async def attach(self, websocket: WebSocket, pod: dict, query: Any) -> None:
        error = ApiError(400, "BadRequest", "attach is not supported by the simulated kubelet")
        await websocket.send_denial_response(status_response(error))

    def _check_container(self, pod: dict, name: str | None) -> None:
        names = [c["name"] for c in pod["spec"]["containers"]]
        if name and name not in names:
            pod_name = pod["metadata"]["name"]
            raise ApiError(400, "BadRequest", f"container {name} is not valid for pod {pod_name}")

    async def _exec_pipes(
        self, channels: Channels, pod: dict, command: list[str], query: Any
    ) -> int:
        assert self.runtime is not None
        wants = {name: query.get(name) in ("true", "1") for name in ("stdin", "stdout", "stderr")}
        process = await self.runtime.exec(sandbox_id(pod), command, stdin=wants["stdin"])

        async def write(data: bytes) -> None:
            with contextlib.suppress(ConnectionError):
                process.stdin.write(data)
                await process.stdin.drain()

        async def close() -> None:
            process.stdin.close()

        target = Input(write, close) if process.stdin else Input()
        return await self._serve(channels, target, process.wait, process.signal, [
            self._pump(process.stdout(), channels, STDOUT if wants["stdout"] else None),
            self._pump(process.stderr(), channels, STDERR if wants["stderr"] else None),
        ])  # fmt: skip

    async def _exec_tty(self, channels: Channels, pod: dict, command: list[str]) -> int:
        assert self.runtime is not None
        terminal = await self.runtime.open_pty(sandbox_id(pod), command, rows=24, cols=80)

        async def output():  # type: ignore[no-untyped-def]
            while chunk := await terminal.read():
                yield chunk

        def hang_up(signum: int) -> None:
            self._spawn(terminal.close())

        try:
            target = Input(terminal.write, None, terminal.resize)
            pumps = [self._pump(output(), channels, STDOUT)]
            return await self._serve(channels, target, terminal.wait, hang_up, pumps)
        finally:
            await terminal.close()

    async def _serve(
        self,
        channels: Channels,
        target: Input,
        wait: Callable[[], Awaitable[int]],
        kill: Callable[[int], None],
        pumps: list[Coroutine[Any, Any, None]],
    ) -> int:
        """Relay until the command's output ends; a client that goes away kills it."""
        reader = asyncio.create_task(relay_input(channels, target))
        output = asyncio.gather(*pumps)
        try:
            await asyncio.wait([reader, output], return_when=asyncio.FIRST_COMPLETED)
            if not output.done():  # the client left first
                kill(signal.SIGKILL)
            await output
            return await wait()
        finally:
            reader.cancel()
            output.cancel()

    async def _pump(self, chunks: Any, channels: Channels, channel: int | None) -> None:
        """Output into its channel (None: drained and dropped, so the command never blocks)."""
        async for chunk in chunks:
            if channel is not None:
                with contextlib.suppress(RuntimeError, WebSocketDisconnect):
                    await channels.send(channel, chunk)

    # -- port forwarding ----------------------------------------------------------------

    async def portforward(self, websocket: WebSocket, pod: dict, query: Any) -> None:
        ports = [int(p) for value in query.getlist("ports") for p in value.split(",") if p]
        if not ports:
            error = ApiError(400, "BadRequest", "at least one port must be specified")
            await websocket.send_denial_response(status_response(error))
            return
        await websocket.accept(subprotocol=negotiate(websocket, PORT_FORWARD_PROTOCOLS))
        channels = Channels(websocket)
        writers: dict[int, asyncio.StreamWriter] = {}
        pumps = []
        for index, port in enumerate(ports):
            prefix = port.to_bytes(2, "little")
            await channels.send(2 * index, prefix)
            await channels.send(2 * index + 1, prefix)
            pump = await self._open_forward(channels, pod, index, port, writers)
            pumps.append(pump)
        await self._forward(channels, writers, pumps)

    async def _open_forward(
        self, channels: Channels, pod: dict, index: int, port: int, writers: dict
    ) -> asyncio.Task | None:
        assert self.runtime is not None
        try:
            sock = await self.runtime.connect_port(sandbox_id(pod), port)
        except RuntimeFailure as exc:
            name = pod["metadata"]["name"]
            message = f"error forwarding port {port} to pod {name}: {exc}"
            await channels.send(2 * index + 1, message.encode())
            return None
        reader, writers[index] = await asyncio.open_connection(sock=sock)
        return asyncio.create_task(self._pump(_read_chunks(reader), channels, 2 * index))

    async def _forward(self, channels: Channels, writers: dict, pumps: list) -> None:
        """Client data channels into the pod's ports; ends when every port has closed
        its side, or the client goes."""
        live = [p for p in pumps if p is not None]

        async def inward() -> None:
            while (frame := await channels.receive()) is not None:
                channel, data = frame
                writer = writers.get(channel // 2)
                if channel % 2 == 0 and writer and data:
                    writer.write(data)
                    with contextlib.suppress(ConnectionError):
                        await writer.drain()

        reader = asyncio.create_task(inward())
        try:
            if live:
                await asyncio.wait(
                    [reader, asyncio.gather(*live)], return_when=asyncio.FIRST_COMPLETED
                )
        finally:
            reader.cancel()
            for task in live:
                task.cancel()
            for writer in writers.values():
                writer.close()
            await channels.close()

    # -- logs ---------------------------------------------------------------------------

    async def log(self, pod: dict, query: Any) -> bytes:
        assert self.runtime is not None
        self._check_container(pod, query.get("container"))
        tail = query.get("tailLines")
        if tail is not None and int(tail) <= 0:
            return b""
        status = await self.runtime.status(sandbox_id(pod))
        if status.phase == "missing" and pod.get("status", {}).get("phase") != "Failed":
            name, container = pod["metadata"]["name"], main_container(pod)["name"]
            message = (
                f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating'
            )
            raise ApiError(400, "BadRequest", message)
        text = await self.runtime.logs(sandbox_id(pod), int(tail) if tail else 1 << 30)
        return text.encode()

    # -- proxy --------------------------------------------------------------------------

    async def proxy(self, request: Request, pod: dict, port: int, path: str) -> Response:
        """One HTTP/1.1 exchange with the pod's port (the response is buffered whole)."""
        assert self.runtime is not None
        try:
            sock = await self.runtime.connect_port(sandbox_id(pod), port)
        except RuntimeFailure as exc:
            message = f"error trying to reach service: {exc}"
            raise ApiError(503, "ServiceUnavailable", message) from None
        reader, writer = await asyncio.open_connection(sock=sock)
        try:
            body = await request.body()
            target = with_query(path, request.url.query)
            headers = request.headers.items()
            return await _http_exchange(reader, writer, request.method, target, headers, body)
        finally:
            writer.close()

    async def proxy_websocket(self, websocket: WebSocket, pod: dict, port: int, path: str) -> None:
        """A WebSocket client to the pod's port, relayed message by message."""
        assert self.runtime is not None
        sock = await self.runtime.connect_port(sandbox_id(pod), port)
        target = f"ws://127.0.0.1:{port}{with_query(path, websocket.url.query)}"
        offered = offered_protocols(websocket) or None
        async with websockets.connect(
            target, sock=sock, subprotocols=offered, proxy=None
        ) as upstream:
            await websocket.accept(subprotocol=upstream.subprotocol)
            await _relay_websockets(websocket, upstream)


async def _read_chunks(reader: asyncio.StreamReader):  # type: ignore[no-untyped-def]
    while chunk := await reader.read(65536):
        yield chunk


async def _http_exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    method: str,
    target: str,
    headers: Any,
    body: bytes,
) -> Response:
    connection = h11.Connection(h11.CLIENT)
    forwarded = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]
    forwarded += [
        ("host", "127.0.0.1"),
        ("content-length", str(len(body))),
        ("connection", "close"),
    ]
    writer.write(connection.send(h11.Request(method=method, target=target, headers=forwarded)))
    writer.write(connection.send(h11.Data(data=body)) if body else b"")
    writer.write(connection.send(h11.EndOfMessage()))
    await writer.drain()
    response, chunks = None, []
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            connection.receive_data(await reader.read(65536))
        elif isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.Data):
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            break
    assert response is not None
    kept = {
        k.decode(): v.decode() for k, v in response.headers if k.decode().lower() not in HOP_BY_HOP
    }
    return Response(b"".join(chunks), status_code=response.status_code, headers=kept)


async def _relay_websockets(client: WebSocket, upstream: Any) -> None:
    async def outward() -> None:  # client -> pod
        while True:
            message = await client.receive()
            if message["type"] == "websocket.disconnect":
                await upstream.close()
                return
            data = message.get("bytes")
            await upstream.send(data if data is not None else message["text"])

    async def inward() -> None:  # pod -> client
        with contextlib.suppress(websockets.ConnectionClosed):
            async for message in upstream:
                if isinstance(message, bytes):
                    await client.send_bytes(message)
                else:
                    await client.send_text(message)
        with contextlib.suppress(RuntimeError):
            await client.close()

    tasks = [asyncio.create_task(outward()), asyncio.create_task(inward())]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
