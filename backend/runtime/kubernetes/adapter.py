"""The Kubernetes runtime: sandboxes as agent-sandbox SandboxClaims (MBOX_RUNTIME=kubernetes).

`ensure` writes what a sandbox needs (manifests.py) and returns at once: a cluster takes
its time to schedule, pull and start, and the reconciler must not wait on one sandbox.
Informers watch the claims, Sandboxes and Pods; every change wakes the reconciler for
that sandbox (the `sandboxes` change topic), and `status` reads the informers' copies,
so a reconcile pass costs no API request. Stop and start flip the Sandbox's
`operatingMode`; delete deletes the claim (its Sandbox, Pod and volume go with it).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kubernetes.stream import portforward

from backend import changes
from backend.runtime.base import (
    BuildStatus,
    CpuQuota,
    DiskQuota,
    Egress,
    ExecProcess,
    FileEntry,
    ImageCache,
    ImageHandling,
    Isolation,
    LimitEnforcer,
    Network,
    PathRefused,
    Persistence,
    Placement,
    PortUnavailable,
    PtySession,
    ResourceSample,
    RuntimeDescription,
    RuntimeEvent,
    RuntimeFailure,
    RuntimeStatus,
    RuntimeTarget,
    SandboxSpec,
    SecretHandling,
    SyscallFilter,
    WorkspaceStream,
)
from backend.runtime.inventory import ManagedResource, Observation, ResourceRef
from backend.runtime.kubernetes import client, files, inventory, manifests, metrics, names
from backend.runtime.kubernetes.client import Cluster
from backend.runtime.kubernetes.exec import (
    PodProcess,
    PodTerminal,
    open_exec,
    pid_file,
    send_stdin,
    wrapped,
)
from backend.runtime.kubernetes.informer import Informer
from backend.runtime.kubernetes.status import ADAPTER, claim_ref, observe, suspended
from backend.runtime.workspace import matcher, parts

log = logging.getLogger("mbox.kubernetes")
CONTROLLER_PERMISSIONS = (
    "create namespaces and service accounts (token automount off) for sandboxes",
    "create, update and delete agent-sandbox SandboxTemplates, SandboxWarmPools and "
    "SandboxClaims; patch Sandboxes (operatingMode)",
    "list and watch claims, Sandboxes and Pods; read pod logs and events",
    "exec into and port-forward to sandbox pods (pods/exec, pods/portforward)",
)
ACCESS = (
    "terminal and tasks: pods/exec into the workspace container (WebSocket, v5 channels)",
    "files: read and written through exec, inside the workspace only",
    "previews: the API server's port-forward to the pod",
    "logs and events: the pod's log and its namespace's events",
)
CLEANUP = (
    "stop suspends the Sandbox: its pod is deleted, the workspace volume is kept",
    "delete deletes the SandboxClaim; agent-sandbox deletes its Sandbox, pod and volume",
    "if the server dies the sandboxes keep running; the claim's shutdownTime still ends "
    "each one when its lease runs out",
)


class KubernetesRuntime:
    name = ADAPTER

    def __init__(self, cluster: Cluster, *, warm_pool: int = 0) -> None:
        self.cluster = cluster
        self.warm_pool = warm_pool
        self._stopping = threading.Event()
        self._by_sandbox: dict[uuid.UUID, tuple[str, str]] = {}  # sandbox id -> claim key
        custom = cluster.custom
        self.claims = self._informer(
            "claims",
            _cluster_list(custom, manifests.EXTENSIONS_GROUP, "sandboxclaims"),
            names.MANAGED,
            self._claim_changed,
        )
        self.sandboxes = self._informer(
            "sandboxes",
            _cluster_list(custom, manifests.SANDBOX_GROUP, "sandboxes"),
            "agents.x-k8s.io/claim-uid",
            self._owned_changed,
        )
        self.pods = self._informer(
            "pods", cluster.core.list_pod_for_all_namespaces, names.MANAGED, self._owned_changed
        )
        # What exists already: (namespace, ""), (namespace, service account) and
        # (namespace, POOL + name) for a blueprint's template and pool.
        self._known: set[tuple[str, str]] = set()
        self._listening: dict[tuple[uuid.UUID, int], float] = {}  # port -> trusted until
        self._metrics_error = ""  # why the metrics API did not answer, last time

    # -- what it is ----------------------------------------------------------------------

    def availability(self) -> RuntimeDescription:
        return self.describe()

    def describe(self) -> RuntimeDescription:
        error = next((i.error for i in self._informers() if i.error), "")
        message = f"Kubernetes runtime: {error}" if error else ""
        pod_network = "the pod network, filtered by a NetworkPolicy per template"
        return RuntimeDescription(
            available=not error,
            adapter=ADAPTER,
            message=message,
            isolation=Isolation(
                mechanism="Kubernetes pods (agent-sandbox)",
                namespaces=("PID", "IPC", "UTS", "mount", "network"),
                read_only_paths=(),
                private_tmp=True,
                own_host_uid=False,
                limits=(LimitEnforcer("the kubelet", ("memory (the template's request)",)),),
                disk=DiskQuota(
                    mechanism="a PersistentVolumeClaim of the template's storageRequest",
                    default_bytes=0,
                    bytes_per_inode=0,
                    caveat="without a storageRequest the workspace is the container's own",
                ),
                cpu=CpuQuota(missing="CPU is requested, not limited"),
                syscalls=SyscallFilter(mechanism="the container runtime's default seccomp"),
            ),
            network=Network(
                {
                    "restricted": Egress("loopback", filtered_by="NetworkPolicy"),
                    "default": Egress("public-internet", pod_network, "NetworkPolicy"),
                    "open": Egress("all-but-host", pod_network, "NetworkPolicy"),
                },
                filter="NetworkPolicy (enforced by the cluster's network plugin)",
                summary=pod_network,
            ),
            image=ImageHandling(pulled=True, pods=True),
            persistence=Persistence(workspace_kept_on_stop=True),
            secrets=SecretHandling(
                mounted=True,
                how="keyed references as env vars (secretKeyRef), whole Secrets as read-only "
                "volumes at /run/secrets/mbox/<name>",
                credentials="read-only Secret volumes (one key: that file, by subPath; "
                "else the whole Secret as a directory) that the cluster reads, never mbox",
            ),
            placement=Placement(namespace="", container=names.CONTAINER),
            controller_permissions=CONTROLLER_PERMISSIONS,
            access=ACCESS,
            cleanup=CLEANUP,
        )

    # -- lifecycle -----------------------------------------------------------------------

    async def ensure(self, spec: SandboxSpec) -> RuntimeStatus:
        names.check_namespace(spec.namespace)
        await self._synced()
        current = await self.status(spec.sandbox_id)
        if current.phase in ("running", "starting"):
            return current
        claim = self._claim_of(spec.sandbox_id)
        sandbox = self._sandbox_of(claim)
        if sandbox is not None and sandbox["spec"].get("operatingMode") == "Suspended":
            await self._set_mode(sandbox, "Running")
            return RuntimeStatus("starting", current.ref, message="resuming")
        await self._prepare(spec)
        await self.cluster.create("sandboxclaims", manifests.sandbox_claim(spec))
        key = (spec.namespace, manifests.claim_name(spec))
        self._by_sandbox[spec.sandbox_id] = key
        return RuntimeStatus("starting", claim_ref(*key), message="claim created")

    async def _prepare(self, spec: SandboxSpec) -> None:
        """The namespace, service account, template and pool the claim needs (once each)."""
        if (spec.namespace, "") not in self._known:
            await self.cluster.create_core("namespace", manifests.namespace(spec.namespace))
            self._known.add((spec.namespace, ""))
        if (spec.namespace, spec.service_account) not in self._known:
            account = manifests.service_account(spec.namespace, spec.service_account)
            await self.cluster.create_core("service_account", account)
            self._known.add((spec.namespace, spec.service_account))
        blueprint = (spec.namespace, POOL + manifests.template_name(spec))
        if blueprint in self._known:
            return
        made = await self.cluster.create("sandboxtemplates", manifests.sandbox_template(spec))
        await self.cluster.create("sandboxwarmpools", manifests.warm_pool(spec, self.warm_pool))
        self._known.add(blueprint)
        if made is not None:  # a new blueprint: the template's earlier ones may be unused now
            await self._collect(spec.namespace, replaced_by=manifests.template_name(spec))

    async def stop(self, sandbox_id: uuid.UUID) -> None:
        sandbox = self._sandbox_of(self._claim_of(sandbox_id))
        if sandbox is not None and sandbox["spec"].get("operatingMode") != "Suspended":
            await self._set_mode(sandbox, "Suspended")

    async def _set_mode(self, sandbox: dict[str, Any], mode: str) -> None:
        metadata = sandbox["metadata"]
        patch = {"spec": {"operatingMode": mode}}
        await self.cluster.patch("sandboxes", metadata["namespace"], metadata["name"], patch)

    async def delete(self, sandbox_id: uuid.UUID) -> None:
        claim = self._claim_of(sandbox_id)
        if claim is not None:
            metadata = claim["metadata"]
            await self.cluster.delete("sandboxclaims", metadata["namespace"], metadata["name"])
            # Its pool is checked again at the next launch (it may be what failed it).
            pool = ((claim.get("spec") or {}).get("warmPoolRef") or {}).get("name", "")
            self._known.discard((metadata["namespace"], POOL + pool))
            await self._collect(metadata["namespace"])
        self._by_sandbox.pop(sandbox_id, None)

    async def _collect(self, namespace: str, replaced_by: str = "") -> None:
        """Delete what mbox made in the namespace that nothing uses any more: a template
        and its pool once no claim names the pool (a warm pool only once a newer
        blueprint of its mbox template, `replaced_by`, took its place: warm pods are kept
        on purpose), then the service accounts no remaining template runs as. Best
        effort: a failure is logged, and leaves what it could not delete to the next
        collection (it never fails the launch or delete that called it)."""
        try:
            await self._collect_unused(namespace, replaced_by)
        except RuntimeFailure as exc:
            log.warning("collecting unused objects in %s failed: %s", namespace, exc)

    async def _collect_unused(self, namespace: str, replaced_by: str) -> None:
        claims = await self._listed("sandboxclaims", namespace)
        used = {((c.get("spec") or {}).get("warmPoolRef") or {}).get("name") for c in claims}
        replacing = (
            await self.cluster.get("sandboxtemplates", namespace, replaced_by)
            if replaced_by
            else None
        )
        successor = _template_id(replacing) if replacing else None
        for pool in await self._listed("sandboxwarmpools", namespace):
            name = _name(pool)
            warm = int((pool.get("spec") or {}).get("replicas") or 0) > 0
            superseded = successor is not None and _template_id(pool) == successor
            if name in used or name == replaced_by or (warm and not superseded):
                continue
            await self.cluster.delete("sandboxwarmpools", namespace, name)
            await self.cluster.delete("sandboxtemplates", namespace, name)
            self._known.discard((namespace, POOL + name))
        await self._collect_accounts(namespace)

    async def _collect_accounts(self, namespace: str) -> None:
        templates = await self._listed("sandboxtemplates", namespace)
        running_as = {
            (((t.get("spec") or {}).get("podTemplate") or {}).get("spec") or {}).get(
                "serviceAccountName"
            )
            for t in templates
            if not t["metadata"].get("deletionTimestamp")
        }
        core = self.cluster.core
        accounts = await self.cluster.call(
            core.list_namespaced_service_account, namespace, label_selector=names.MANAGED
        )
        for account in accounts.items if accounts is not None else ():
            name = account.metadata.name
            if name not in running_as:
                await self.cluster.call(core.delete_namespaced_service_account, name, namespace)
                self._known.discard((namespace, name))

    # -- inventory (runtime inventory, orphan audit) -------------------------------------

    async def images(self) -> ImageCache:
        return ImageCache(kept=False)  # each node's kubelet pulls and keeps its own

    def running_image(self, sandbox_id: uuid.UUID) -> str:
        return ""  # the kubelet's (the pod's imageID): not read yet

    async def build_status(self, recipe: Mapping[str, Any]) -> BuildStatus:
        return BuildStatus(
            "unsupported",
            message="the Kubernetes runtime runs the template's image (the cluster pulls it); "
            "build recipes are built and run by the local runtime",
        )

    async def inventory(self) -> list[ManagedResource]:
        """mbox's claims, templates and warm pools in every namespace (listed afresh: an
        audit must not trust a cache), each claim observed through the informers' copies
        of its Sandbox and Pods, and its volume claims."""
        await self._synced()
        listed = {plural: await self._listed(plural) for plural in inventory.KINDS}
        pods = self.pods.items()
        volumes = await self._volume_claims(pods)
        found = []
        for plural, objects in listed.items():
            for obj in objects:
                observation = None
                if plural == "sandboxclaims":
                    observation = self._observe_claim(obj, pods, volumes)
                found.append(inventory.resource(plural, obj, observation))
        return found

    def _observe_claim(
        self, claim: dict[str, Any], pods: list[dict[str, Any]], volumes: dict[str, dict]
    ) -> Observation:
        sandbox = self._sandbox_of(claim)
        selector = ((sandbox or {}).get("status") or {}).get("selector", "")
        namespace = claim["metadata"]["namespace"]
        matched = [
            pod
            for pod in pods
            if pod["metadata"].get("namespace") == namespace
            and inventory.matches(selector, pod["metadata"].get("labels") or {})
        ]
        return inventory.observe_claim(claim, sandbox, matched, volumes)

    async def _volume_claims(self, pods: list[dict[str, Any]]) -> dict[str, dict]:
        """The PersistentVolumeClaims the pods mount, by namespace/name."""
        namespaces = {
            pod["metadata"].get("namespace", "")
            for pod in pods
            if any(
                v.get("persistentVolumeClaim") for v in (pod.get("spec") or {}).get("volumes") or []
            )
        }
        found: dict[str, dict] = {}
        for namespace in sorted(namespaces):
            listed = await self.cluster.call(
                self.cluster.core.list_namespaced_persistent_volume_claim, namespace
            )
            for claim in self.cluster.plain(listed).get("items", []) if listed is not None else ():
                found[claim["metadata"]["name"]] = claim
        return found

    async def delete_resource(self, ref: ResourceRef) -> None:
        plural = inventory.PLURALS.get(ref.kind)
        if ref.adapter != ADAPTER or plural is None:
            raise RuntimeFailure(f"mbox does not delete {ref.kind} objects of {ref.adapter}")
        await self.cluster.delete(plural, ref.namespace, ref.name)

    async def _listed(self, plural: str, namespace: str = "") -> list[dict[str, Any]]:
        """mbox's objects of a kind, in one namespace or all (a missing CRD says so)."""
        group, custom = client.CUSTOM[plural], self.cluster.custom
        if namespace:
            call = (custom.list_namespaced_custom_object, group, manifests.VERSION, namespace)
        else:
            call = (custom.list_cluster_custom_object, group, manifests.VERSION)
        found = await self.cluster.call(*call, plural, label_selector=names.MANAGED)
        if found is None:
            raise RuntimeFailure(
                f"the cluster has no {plural}.{group}: is agent-sandbox installed?"
            )
        return found.get("items", [])

    async def status(self, sandbox_id: uuid.UUID) -> RuntimeStatus:
        await self._synced()
        claim = self._claim_of(sandbox_id)
        sandbox = self._sandbox_of(claim)
        return observe(claim, sandbox, self._pod_of(sandbox))

    async def target(self, sandbox_id: uuid.UUID) -> RuntimeTarget:
        sandbox = self._sandbox_of(self._claim_of(sandbox_id))
        pod = self._pod_of(sandbox)
        if sandbox is None or pod is None:
            raise RuntimeFailure("the sandbox has no pod")
        return RuntimeTarget(
            namespace=pod["metadata"]["namespace"],
            pod_name=pod["metadata"]["name"],
            container=names.CONTAINER,
            phase=(pod.get("status") or {}).get("phase", "Unknown"),
            selector=(sandbox.get("status") or {}).get("selector", ""),
            commands=SHELLS,
        )

    # -- commands, logs, events ----------------------------------------------------------

    async def exec(
        self,
        sandbox_id: uuid.UUID,
        argv: list[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: bool = False,
    ) -> ExecProcess:
        namespace, pod = self._running_pod(sandbox_id)
        marker = pid_file()
        command = wrapped(argv, marker, cwd or ".", env or {})
        client = await self._open_exec(namespace, pod, command, stdin=stdin)

        async def kill(script: str) -> None:
            with contextlib.suppress(Exception):
                killer = await self._open_exec(namespace, pod, ["/bin/sh", "-c", script])
                await asyncio.to_thread(killer.run_forever, 10)

        return PodProcess(client, marker, kill)

    async def open_pty(
        self,
        sandbox_id: uuid.UUID,
        argv: list[str],
        *,
        rows: int,
        cols: int,
        env: Mapping[str, str] | None = None,
    ) -> PtySession:
        namespace, pod = self._running_pod(sandbox_id)
        pairs = [f"{name}={value}" for name, value in (env or {}).items()]
        command = ["env", *pairs, *argv] if pairs else argv
        client = await self._open_exec(namespace, pod, command, tty=True)
        terminal = PodTerminal(client)
        terminal.resize(rows, cols)
        return terminal

    async def connect_port(self, sandbox_id: uuid.UUID, port: int) -> socket.socket:
        """A stream to the pod's port through the API server's port-forward. A forward to
        a port nothing listens on is closed at once, with nothing to tell it from a quick
        answer: so the pod's listening sockets are checked first (then trusted a while)."""
        namespace, pod = self._running_pod(sandbox_id)
        await self._check_listening(sandbox_id, port)
        forward = await self.cluster.call(
            portforward,
            self.cluster.core.connect_get_namespaced_pod_portforward,
            pod,
            namespace,
            ports=str(port),
        )
        sock = forward.socket(port)._socket  # one end of the relay's socketpair
        sock.setblocking(False)
        return sock

    async def _check_listening(self, sandbox_id: uuid.UUID, port: int) -> None:
        now = time.monotonic()
        if self._listening.get((sandbox_id, port), 0.0) > now:
            return
        table = await self._run_script(sandbox_id, "ports", files.LISTENING, "")
        if port not in files.listening_ports(table):
            raise PortUnavailable(f"nothing is listening on port {port} in the sandbox")
        self._listening[(sandbox_id, port)] = now + LISTENING_TRUSTED_SECONDS

    async def sample(self, sandbox_ids: list[uuid.UUID]) -> dict[uuid.UUID, ResourceSample]:
        """Per running sandbox, its pod's PodMetrics: one list over every namespace (the
        pods come from the informer, no request each). Without the metrics API (no
        metrics-server, or no permission) the samples carry only the pod's limits."""
        pods: dict[tuple[str, str], uuid.UUID] = {}
        for sandbox_id in sandbox_ids:
            with contextlib.suppress(RuntimeFailure):
                pods[self._running_pod(sandbox_id)] = sandbox_id
        if not pods:
            return {}
        at = datetime.now(UTC)
        found = {}
        try:
            listed = await self.cluster.call(
                self.cluster.custom.list_cluster_custom_object,
                metrics.GROUP,
                metrics.VERSION,
                metrics.PLURAL,
                label_selector=names.MANAGED,
            )
            for item in (listed or {}).get("items") or []:
                meta = item.get("metadata") or {}
                found[(meta.get("namespace", ""), meta.get("name", ""))] = item
            self._metrics_error = ""
        except RuntimeFailure as exc:
            if str(exc) != self._metrics_error:  # said once, not every round
                log.warning("pod metrics unavailable: %s", exc)
            self._metrics_error = str(exc)
        return {
            sandbox_id: metrics.pod_sample(self.pods.get(*key) or {}, found.get(key), at)
            for key, sandbox_id in pods.items()
        }

    async def logs(self, sandbox_id: uuid.UUID, tail_lines: int) -> str:
        namespace, pod = self._pod_key(sandbox_id)
        text = await self.cluster.call(
            self.cluster.core.read_namespaced_pod_log,
            pod,
            namespace,
            container=names.CONTAINER,
            tail_lines=tail_lines,
        )
        return text or ""

    async def events(self, sandbox_id: uuid.UUID) -> list[RuntimeEvent]:
        namespace, pod = self._pod_key(sandbox_id)
        found = await self.cluster.call(
            self.cluster.core.list_namespaced_event,
            namespace,
            field_selector=f"involvedObject.name={pod}",
        )
        events = [
            RuntimeEvent(
                type=event.type or "Normal",
                reason=event.reason or "",
                message=event.message or "",
                timestamp=_when(event),
            )
            for event in (found.items if found is not None else [])
        ]
        return sorted(events, key=lambda event: event.timestamp)

    # -- workspace files (through exec, see files.py) -----------------------------------

    async def list_files(self, sandbox_id: uuid.UUID, path: str) -> list[FileEntry]:
        listing = await self._run_script(sandbox_id, "list", files.LIST, path)
        prefix = "/".join(parts(path))
        return files.entries(listing, prefix)

    async def read_file(self, sandbox_id: uuid.UUID, path: str, limit: int) -> bytes:
        return await self._run_script(sandbox_id, "read", files.READ, path, LIMIT=limit)

    async def write_file(self, sandbox_id: uuid.UUID, path: str, data: bytes) -> None:
        if not parts(path):
            raise PathRefused("'.' is a directory")
        argv = files.command("write", files.WRITE, path, SIZE=len(data))
        namespace, pod = self._running_pod(sandbox_id)
        client = await self._open_exec(namespace, pod, argv, stdin=True)
        await asyncio.to_thread(send_stdin, client, data)
        await files.collect(PodProcess(client, "", self._no_signals), path)

    async def delete_file(self, sandbox_id: uuid.UUID, path: str) -> None:
        if not parts(path):
            raise PathRefused("the workspace itself cannot be deleted")
        await self._run_script(sandbox_id, "delete", files.DELETE, path)

    async def open_read(self, sandbox_id: uuid.UUID, path: str) -> WorkspaceStream:
        found = files.entries(await self._run_script(sandbox_id, "stat", files.STAT, path))
        if not found or found[0].type not in ("file", "directory"):
            raise PathRefused(f"'{path}' is not a regular file or directory")
        entry = dataclasses.replace(found[0], path="/".join(parts(path)))
        body = files.CAT if entry.type == "file" else files.TAR
        if entry.type == "directory":
            entry = dataclasses.replace(entry, size=0)
        process = await self._start(sandbox_id, files.command("read", body, path))
        return WorkspaceStream(entry, files.chunks_of(process, path), process.close)

    async def match_files(self, sandbox_id: uuid.UUID, pattern: str, limit: int) -> list[FileEntry]:
        matches = matcher(pattern)
        listing = await self._run_script(sandbox_id, "match", files.MATCH, "", LIMIT=MATCH_SCAN)
        return [entry for entry in files.entries(listing) if matches(entry.path)][:limit]

    async def _run_script(
        self, sandbox_id: uuid.UUID, op: str, body: str, path: str, **env: str | int
    ) -> bytes:
        process = await self._start(sandbox_id, files.command(op, body, path, **env))
        return await files.collect(process, path)

    async def _start(self, sandbox_id: uuid.UUID, argv: list[str]) -> PodProcess:
        namespace, pod = self._running_pod(sandbox_id)
        client = await self._open_exec(namespace, pod, argv)
        return PodProcess(client, "", self._no_signals)

    async def _no_signals(self, script: str) -> None:
        """File commands are never signalled (they end with their connection)."""

    async def close(self) -> None:
        self._stopping.set()

    # -- the informers' copies -----------------------------------------------------------

    def _informers(self) -> tuple[Informer, ...]:
        return (self.claims, self.sandboxes, self.pods)

    def _informer(self, name: str, list_fn: Any, selector: str, on_change: Any) -> Informer:
        informer = Informer(name, list_fn, label_selector=selector, on_change=on_change)
        thread = threading.Thread(
            target=informer.run, args=(self._stopping,), name=f"mbox-informer-{name}", daemon=True
        )
        thread.start()
        return informer

    async def _synced(self, timeout: float = 30.0) -> None:
        for informer in self._informers():
            if not await asyncio.to_thread(informer.synced.wait, timeout):
                raise RuntimeFailure(
                    f"the Kubernetes API did not answer: {informer.error or 'no list yet'}"
                )

    def _claim_of(self, sandbox_id: uuid.UUID) -> dict[str, Any] | None:
        key = self._by_sandbox.get(sandbox_id)
        if key is not None and (claim := self.claims.get(*key)) is not None:
            return claim
        for claim in self.claims.items():  # not indexed yet (another server made it)
            if claim["metadata"].get("labels", {}).get(names.SANDBOX_ID) == str(sandbox_id):
                self._by_sandbox[sandbox_id] = (claim["metadata"]["namespace"], _name(claim))
                return claim
        return None

    def _sandbox_of(self, claim: dict[str, Any] | None) -> dict[str, Any] | None:
        if claim is None:
            return None
        namespace = claim["metadata"]["namespace"]
        bound = ((claim.get("status") or {}).get("sandbox") or {}).get("name")
        annotated = (claim["metadata"].get("annotations") or {}).get(names.SANDBOX_NAME_ANNOTATION)
        for name in (bound, annotated, _name(claim)):
            if name and (sandbox := self.sandboxes.get(namespace, name)) is not None:
                return sandbox
        return None

    def _pod_of(self, sandbox: dict[str, Any] | None) -> dict[str, Any] | None:
        if sandbox is None:
            return None
        metadata = sandbox["metadata"]
        name = (metadata.get("annotations") or {}).get(names.POD_NAME_ANNOTATION) or _name(sandbox)
        return self.pods.get(metadata["namespace"], name)

    def _pod_key(self, sandbox_id: uuid.UUID) -> tuple[str, str]:
        pod = self._pod_of(self._sandbox_of(self._claim_of(sandbox_id)))
        if pod is None:
            raise RuntimeFailure("sandbox is not running")
        return pod["metadata"]["namespace"], _name(pod)

    def _running_pod(self, sandbox_id: uuid.UUID) -> tuple[str, str]:
        """The pod of a sandbox that runs: as `status` says (a suspended Sandbox's pod may
        still be going away), and as the watch on pods last saw it."""
        sandbox = self._sandbox_of(self._claim_of(sandbox_id))
        namespace, name = self._pod_key(sandbox_id)
        pod = self.pods.get(namespace, name) or {}
        if suspended(sandbox) or (pod.get("status") or {}).get("phase") != "Running":
            raise RuntimeFailure("sandbox is not running")
        return namespace, name

    async def _open_exec(self, namespace: str, pod: str, argv: list[str], **options: Any) -> Any:
        """An exec stream to the pod; a pod gone meanwhile is a sandbox not running."""
        try:
            return await asyncio.to_thread(
                open_exec, self.cluster.core, namespace, pod, argv, **options
            )
        except Exception as exc:  # the client raises ApiException or a WebSocket error
            words = str(exc)
            if "404" in words or "NotFound" in words:
                raise RuntimeFailure("sandbox is not running") from None
            raise RuntimeFailure(f"cannot exec into the pod: {words[:500]}") from None

    def _claim_changed(self, claim: dict[str, Any]) -> None:
        sandbox_id = (claim["metadata"].get("labels") or {}).get(names.SANDBOX_ID)
        if sandbox_id:
            changes.notify("sandboxes", sandbox_id)

    def _owned_changed(self, obj: dict[str, Any]) -> None:
        """A Sandbox or Pod changed: wake the reconciler for the sandbox above it."""
        namespace = obj["metadata"].get("namespace", "")
        for owner in obj["metadata"].get("ownerReferences") or []:
            if owner.get("kind") == "Sandbox":
                parent = self.sandboxes.get(namespace, owner.get("name", ""))
                if parent is not None:
                    self._owned_changed(parent)
            elif owner.get("kind") == "SandboxClaim":
                claim = self.claims.get(namespace, owner.get("name", ""))
                if claim is not None:
                    self._claim_changed(claim)


POOL = "pool:"  # in `_known`: a blueprint's template and pool
SHELLS = ("/bin/bash", "/bin/sh", "sh")  # what a terminal may run, the reference's list
MATCH_SCAN = 100_000  # workspace entries looked at for a glob, at most
LISTENING_TRUSTED_SECONDS = 5.0  # a port seen listening is not checked again for this long


def _name(obj: dict[str, Any]) -> str:
    return obj["metadata"]["name"]


def _template_id(obj: dict[str, Any]) -> str | None:
    return (obj["metadata"].get("labels") or {}).get(names.TEMPLATE_ID)


def _cluster_list(custom: Any, group: str, plural: str) -> Any:
    """A list function over every namespace, shaped like the core API's (for Watch)."""

    def list_all(**kwargs: Any) -> Any:
        return custom.list_cluster_custom_object(group, manifests.VERSION, plural, **kwargs)

    return list_all


def _when(event: Any) -> datetime:
    moment = (
        event.last_timestamp
        or event.event_time
        or event.first_timestamp
        or event.metadata.creation_timestamp
    )
    return moment if moment is not None else datetime.now(UTC)
