"""A simulator of the kubernetes-sigs/agent-sandbox v0.5.6 controller (with --extensions).

It follows /work/shared/reference/agent-sandbox.md Part A on the test cluster's store:
- SandboxTemplate: the template-ref-hash label; a Managed NetworkPolicy
  `<template>-network-policy` (the default rules unless the template gives its own).
- SandboxWarmPool: `replicas` member Sandboxes (generateName `<pool>-`, pool-owned, the pool
  labels, secure defaults); status replicas/readyReplicas/selector/observedGeneration;
  updateStrategy Recreate replaces stale members at once, OnReplenish when they go.
- SandboxClaim (v1beta1): an already-bound Sandbox first; the warm path (adopt a Ready
  member, the pool replenishes) unless env/volumeClaimTemplates force a cold start; the
  cold path (WarmPoolNotFound, TemplateNotFound, EnvVarsInjectionRejected,
  VolumeClaimTemplatesError, InvalidMetadata, else a Sandbox named like the claim);
  status sandbox.name/podIPs and Ready/Finished mirrored; lifecycle.shutdownTime with
  Delete, DeleteForeground and Retain (ClaimExpired).
- Sandbox: the Pod (same name, controller-owned, name-hash label, propagated labels and
  annotations), PVCs `<vct>-<sandbox>` bound at once, the headless Service when
  spec.service is true; conditions Ready/Suspended/PodScheduled/Finished; operatingMode
  Suspended deletes the Pod, Running recreates it (also when it disappears);
  shutdownTime expiry (SandboxExpired; Delete deletes the Sandbox).
Status goes through the status subresource as a JSON merge patch, like the real controller.

Knowingly not simulated: v1alpha1 semantics and conversion, the readiness grace period of
pool members, node spreading, the 2 s wait for warm candidates, ttlSecondsAfterFinished,
adoption of unowned Pods/Services/PVCs, the allowed-label-domains ConfigMap (the default
`sandbox.users.io` only), restartable init containers' ports, metrics and leader election.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
from datetime import UTC, datetime
from typing import Any

from tests.support.kube.store import ApiError

log = logging.getLogger(__name__)

PREFIX = "agents.x-k8s.io/"
NAME_HASH = PREFIX + "sandbox-name-hash"
CLAIM_UID = PREFIX + "claim-uid"
LAUNCH_TYPE = PREFIX + "launch-type"
WARM_POOL = PREFIX + "warm-pool-sandbox"
TEMPLATE_REF_HASH = PREFIX + "sandbox-template-ref-hash"
TEMPLATE_HASH = PREFIX + "sandbox-template-hash"
POD_TEMPLATE_HASH = PREFIX + "sandbox-pod-template-hash"  # deprecated, still written
CREATED_BY = PREFIX + "created-by"
TEMPLATE_REF = PREFIX + "sandbox-template-ref"  # annotation on Sandboxes
SANDBOX_NAME = PREFIX + "sandbox-name"  # annotation on claims
POD_NAME = PREFIX + "pod-name"  # annotation on Sandboxes tracking another Pod
PROPAGATED_LABELS = PREFIX + "propagated-labels"
PROPAGATED_ANNOTATIONS = PREFIX + "propagated-annotations"
SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict"
RESERVED_PREFIXES = (PREFIX, "extensions.agents.x-k8s.io/")
COPIED_TO_POD = (CREATED_BY, WARM_POOL, TEMPLATE_REF_HASH, CLAIM_UID)
ALLOWED_LABEL_DOMAINS = ("sandbox.users.io",)
REFUSED_ANNOTATION_DOMAINS = ("kubernetes.io", "k8s.io", "agents.x-k8s.io")

NODE_NAME = "mbox-test-node"
CLUSTER_DOMAIN = "cluster.local"
MIN_REQUEUE_SECONDS = 2.0  # the controller never requeues an expiry sooner
RETRY_SECONDS = 1.0  # after a reconcile error
DEFAULT_INGRESS = [
    {
        "from": [
            {
                "podSelector": {"matchLabels": {"app": "sandbox-router"}},
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": "agent-sandbox-system"}
                },
            }
        ]
    }
]
PRIVATE_V4 = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"]
PRIVATE_V6 = ["fc00::/7", "fe80::/10"]
DEFAULT_EGRESS = [
    {
        "to": [
            {"ipBlock": {"cidr": "0.0.0.0/0", "except": PRIVATE_V4}},
            {"ipBlock": {"cidr": "::/0", "except": PRIVATE_V6}},
        ]
    }
]
PUBLIC_NAMESERVERS = ["8.8.8.8", "1.1.1.1"]

Key = tuple[str, str, str]  # (kind, namespace, name)


# -- pure helpers ------------------------------------------------------------------------


def name_hash(name: str) -> str:
    """FNV-1a 32-bit, 8 lowercase hex digits (the controller's NameHash)."""
    value = 0x811C9DC5
    for byte in name.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"{value:08x}"


def blueprint(template: dict) -> dict:
    """The part of a template a Sandbox is made from."""
    spec = template["spec"]
    keys = ("podTemplate", "volumeClaimTemplates", "service")
    return copy.deepcopy({k: spec[k] for k in keys if k in spec})


def blueprint_hash(template: dict) -> str:
    return name_hash(json.dumps(blueprint(template), sort_keys=True))


def now() -> datetime:
    return datetime.now(UTC)


def timestamp(moment: datetime | None = None) -> str:
    return (moment or now()).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def condition(
    kind: str, status: bool | str, reason: str, message: str, generation: int | None
) -> dict:
    text = status if isinstance(status, str) else str(status)
    found = {"type": kind, "status": text, "reason": reason, "message": message}
    return found | {"observedGeneration": generation or 0}


def find_condition(obj: dict, kind: str) -> dict | None:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == kind), None)


def is_true(obj: dict, kind: str) -> bool:
    found = find_condition(obj, kind)
    return bool(found and found.get("status") == "True")


def mirrored(found: dict, generation: int | None) -> dict:
    """Another object's condition, as this object's (at its own generation)."""
    reason, message = found.get("reason", ""), found.get("message", "")
    return condition(found["type"], found["status"], reason, message, generation)


def pod_scheduled(found: dict, generation: int | None) -> dict:
    """The Pod's PodScheduled as a metav1.Condition (which requires a reason)."""
    reason = found.get("reason") or "PodScheduled"
    copied = condition(
        "PodScheduled", found["status"], reason, found.get("message", ""), generation
    )
    return copied | {"lastTransitionTime": found.get("lastTransitionTime") or timestamp()}


def with_transition_times(conditions: list[dict], previous: list[dict]) -> list[dict]:
    """Keep lastTransitionTime when a condition's status did not change."""
    before = {c["type"]: c for c in previous}
    result = []
    for found in conditions:
        old = before.get(found["type"], {})
        if found.get("lastTransitionTime"):  # copied from elsewhere with its own
            result.append(found)
            continue
        unchanged = old.get("status") == found["status"] and old.get("lastTransitionTime")
        when = old["lastTransitionTime"] if unchanged else timestamp()
        result.append(found | {"lastTransitionTime": when})
    return result


def controller_of(obj: dict) -> dict | None:
    refs = obj["metadata"].get("ownerReferences") or []
    return next((r for r in refs if r.get("controller")), None)


def controlled_by(obj: dict, owner: dict) -> bool:
    ref = controller_of(obj)
    return bool(ref and ref.get("uid") == owner["metadata"]["uid"])


def terminating(obj: dict) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp"))


def user_keys(values: dict | None) -> dict:
    """Template metadata without the controller's own keys (silently dropped)."""
    return {k: v for k, v in (values or {}).items() if not k.startswith(RESERVED_PREFIXES)}


def apply_secure_defaults(template: dict, pod_spec: dict) -> None:
    """A4: no service account token unless asked; public DNS under the default policy."""
    pod_spec.setdefault("automountServiceAccountToken", False)
    spec = template["spec"]
    managed = spec.get("networkPolicyManagement", "Managed") == "Managed"
    custom = bool(spec.get("networkPolicy"))
    if managed and not custom and not pod_spec.get("dnsPolicy"):
        pod_spec["dnsPolicy"] = "None"
        pod_spec["dnsConfig"] = {"nameservers": list(PUBLIC_NAMESERVERS)}


def merge_env(pod_spec: dict, env: list[dict], policy: str) -> str:
    """Claim env into the pod spec per envVarsInjectionPolicy; an error message or ""."""
    if env and policy == "Disallowed":
        return "the template does not allow environment variable injection"
    containers = pod_spec.get("containers") or []
    for entry in env:
        name = entry.get("containerName")
        target = next((c for c in containers if c["name"] == name), None) if name else None
        target = target or (containers[0] if not name and containers else None)
        if target is None:
            return f"container {name!r} not found in the template"
        variables = target.setdefault("env", [])
        existing = next((v for v in variables if v["name"] == entry["name"]), None)
        if existing is None:
            variables.append({"name": entry["name"], "value": entry.get("value", "")})
        elif policy == "Overrides":
            existing.clear()
            existing.update({"name": entry["name"], "value": entry.get("value", "")})
        else:
            return f"environment variable {entry['name']!r} is set by the template"
    return ""


def merge_volume_claim_templates(spec: dict, claimed: list[dict], policy: str) -> str:
    """Claim VCTs into the Sandbox spec per volumeClaimTemplatesPolicy; an error or ""."""
    if claimed and policy == "Disallowed":
        return "the template does not allow volume claim templates"
    current = spec.setdefault("volumeClaimTemplates", [])
    for vct in claimed:
        name = vct["metadata"]["name"]
        index = next((i for i, v in enumerate(current) if v["metadata"]["name"] == name), None)
        if index is None:
            current.append(copy.deepcopy(vct))
        elif policy == "Overrides":
            current[index] = copy.deepcopy(vct)
        else:
            return f"volume claim template {name!r} is set by the template"
    if not current:
        del spec["volumeClaimTemplates"]
    return ""


def domain(key: str) -> str:
    return key.split("/", 1)[0] if "/" in key else ""


def in_domain(key: str, domains: tuple[str, ...]) -> bool:
    found = domain(key)
    return any(found == d or found.endswith("." + d) for d in domains)


def metadata_error(extra: dict, template_metadata: dict) -> str:
    """A6: the checks on additionalPodMetadata; an error message or ""."""
    labels, annotations = extra.get("labels") or {}, extra.get("annotations") or {}
    for key, value in labels.items():
        if not in_domain(key, ALLOWED_LABEL_DOMAINS):
            return f"label {key!r} is not in an allowed domain"
        if key == "app" and value == "sandbox-router":
            return "label app=sandbox-router is refused"
    for key in annotations:
        if key != SAFE_TO_EVICT and in_domain(key, REFUSED_ANNOTATION_DOMAINS):
            return f"annotation {key!r} is in a reserved domain"
    for field, values in (("labels", labels), ("annotations", annotations)):
        existing = template_metadata.get(field) or {}
        for key, value in values.items():
            if key in existing and existing[key] != value:
                return f"{field[:-1]} {key!r} is set by the template"
    return ""


def network_policy_spec(template: dict) -> dict:
    """The template's NetworkPolicy: its own rules, else A4's defaults."""
    rules = template["spec"].get("networkPolicy") or {}
    custom = "ingress" in rules or "egress" in rules
    return {
        "podSelector": {
            "matchLabels": {TEMPLATE_REF_HASH: name_hash(template["metadata"]["name"])}
        },
        "policyTypes": ["Ingress", "Egress"],
        "ingress": copy.deepcopy(rules.get("ingress", [])) if custom else DEFAULT_INGRESS,
        "egress": copy.deepcopy(rules.get("egress", [])) if custom else DEFAULT_EGRESS,
    }


def service_ports(pod_spec: dict) -> list[dict]:
    ports = []
    for container in pod_spec.get("containers") or []:
        for port in container.get("ports") or []:
            number, protocol = port["containerPort"], port.get("protocol", "TCP")
            name = port.get("name") or f"p-{number}-{protocol.lower()}"
            ports.append({"name": name, "port": number, "targetPort": number, "protocol": protocol})
    return ports


def sandbox_readiness(
    pod: dict | None, service_wanted: bool, service_exists: bool
) -> tuple[bool, str, str]:
    """(ready, reason, message) of the Sandbox's Ready condition while it runs."""
    if pod is None:
        return False, "DependenciesNotReady", "Pod does not exist"
    phase = (pod.get("status") or {}).get("phase", "Pending")
    if phase == "Succeeded":
        return False, "PodSucceeded", "Pod has completed successfully"
    if phase == "Failed":
        return False, "PodFailed", "Pod has failed"
    if phase != "Running":
        return False, "DependenciesNotReady", f"Pod is {phase}"
    if not is_true(pod, "Ready"):
        return False, "DependenciesNotReady", "Pod is Running but not Ready"
    if not (pod.get("status") or {}).get("podIP"):
        return False, "DependenciesNotReady", "Pod has no IP address yet"
    if service_wanted and not service_exists:
        return False, "DependenciesNotReady", "Service does not exist"
    return (
        True,
        "DependenciesReady",
        "Pod is Ready" + ("; Service Exists" if service_wanted else ""),
    )


# -- the controller ----------------------------------------------------------------------


class AgentSandboxController:
    """Reconciles the four agent-sandbox kinds from store events, in one task."""

    def __init__(self, cluster_domain: str = CLUSTER_DOMAIN) -> None:
        self.cluster_domain = cluster_domain
        self._store: Any = None
        self._events: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self._due: dict[Key, float] = {}  # expiry timers and retries, in loop time

    async def start(self, store: Any) -> None:
        self._store = store
        self._events = store.subscribe()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._events is not None:
            self._store.unsubscribe(self._events)

    # -- the loop -------------------------------------------------------------------------

    async def _run(self) -> None:
        assert self._events is not None
        loop = asyncio.get_running_loop()
        while True:
            keys: dict[Key, None] = {}
            timeout = min(self._due.values(), default=loop.time() + 3600) - loop.time()
            with contextlib.suppress(TimeoutError):
                event = await asyncio.wait_for(self._events.get(), max(timeout, 0))
                keys.update(dict.fromkeys(self._keys_for(event)))
            while not self._events.empty():  # a burst of events: reconcile each object once
                keys.update(dict.fromkeys(self._keys_for(self._events.get_nowait())))
            for key, when in list(self._due.items()):
                if when <= loop.time():
                    del self._due[key]
                    keys[key] = None
            for key in keys:
                self._reconcile(key)

    def _reconcile(self, key: Key) -> None:
        kind, namespace, name = key
        handler = {
            "SandboxTemplate": self._template,
            "SandboxWarmPool": self._pool,
            "SandboxClaim": self._claim,
            "Sandbox": self._sandbox,
        }[kind]
        try:
            obj = self._get(kind, namespace, name)
            if obj is not None and not terminating(obj):
                handler(obj)
        except Exception:  # the real controller requeues with back-off
            log.exception("reconciling %s %s/%s", kind, namespace, name)
            self._requeue(key, RETRY_SECONDS)

    def _requeue(self, key: Key, seconds: float) -> None:
        when = asyncio.get_running_loop().time() + seconds
        self._due[key] = min(self._due.get(key, when), when)

    def _keys_for(self, event: Any) -> list[Key]:
        """Which objects an event may change the desired state of."""
        kind, obj = event.resource.kind, event.object
        namespace, name = obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
        owner = controller_of(obj)
        if kind == "Sandbox":
            keys = [(kind, namespace, name), *self._all(namespace, "SandboxWarmPool")]
            if owner and owner["kind"] == "SandboxClaim":
                keys.append(("SandboxClaim", namespace, owner["name"]))
            return keys
        if kind in ("Pod", "Service", "PersistentVolumeClaim"):
            if owner and owner["kind"] == "Sandbox":
                return [("Sandbox", namespace, owner["name"])]
            return []
        if kind == "SandboxClaim":
            return [(kind, namespace, name)]
        if kind in ("SandboxWarmPool", "SandboxTemplate"):
            keys = [(kind, namespace, name), *self._all(namespace, "SandboxWarmPool")]
            return keys + self._all(namespace, "SandboxClaim")
        return []

    def _all(self, namespace: str, kind: str) -> list[Key]:
        return [(kind, namespace, o["metadata"]["name"]) for o in self._list(kind, namespace)]

    # -- store access ---------------------------------------------------------------------

    def _get(self, kind: str, namespace: str, name: str) -> dict | None:
        try:
            return self._store.get(self._store.resource(kind), namespace, name)
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise

    def _list(self, kind: str, namespace: str) -> list[dict]:
        return self._store.list(self._store.resource(kind), namespace)[0]

    def _create(self, kind: str, namespace: str, obj: dict) -> dict:
        resource = self._store.resource(kind)
        version = f"{resource.group}/{resource.version}" if resource.group else resource.version
        return self._store.create(resource, namespace, {"apiVersion": version, "kind": kind, **obj})

    def _patch(self, obj: dict, patch: dict, *, status: bool = False) -> dict:
        meta = obj["metadata"]
        resource = self._store.resource(obj["kind"])
        subresource = "status" if status else None
        return self._store.patch(
            resource, meta.get("namespace"), meta["name"], patch, "merge", subresource=subresource
        )

    def _delete(self, obj: dict, propagation: str = "Background") -> None:
        meta = obj["metadata"]
        with contextlib.suppress(ApiError):  # already gone
            resource = self._store.resource(obj["kind"])
            self._store.delete(
                resource, meta.get("namespace"), meta["name"], propagation=propagation
            )

    def _owner_ref(self, owner: dict) -> dict:
        resource = self._store.resource(owner["kind"])
        version = f"{resource.group}/{resource.version}" if resource.group else resource.version
        meta = owner["metadata"]
        return {
            "apiVersion": version,
            "kind": owner["kind"],
            "name": meta["name"],
            "uid": meta["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }

    def _write_status(self, obj: dict, status: dict) -> None:
        """Merge-patch the status subresource when it differs; None values remove keys."""
        current = obj.get("status") or {}
        if "conditions" in status:
            status["conditions"] = with_transition_times(
                status["conditions"], current.get("conditions") or []
            )
        changed = any(current.get(k) != v for k, v in status.items())
        if changed:
            self._patch(obj, {"status": status}, status=True)

    def _due_at(self, key: Key, moment: datetime) -> None:
        seconds = max((moment - now()).total_seconds(), MIN_REQUEUE_SECONDS)
        self._requeue(key, seconds)

    # -- SandboxTemplate ------------------------------------------------------------------

    def _template(self, template: dict) -> None:
        meta = template["metadata"]
        ref_hash = name_hash(meta["name"])
        if (meta.get("labels") or {}).get(TEMPLATE_REF_HASH) != ref_hash:
            self._patch(template, {"metadata": {"labels": {TEMPLATE_REF_HASH: ref_hash}}})
        name = f"{meta['name']}-network-policy"
        existing = self._get("NetworkPolicy", meta["namespace"], name)
        if template["spec"].get("networkPolicyManagement", "Managed") != "Managed":
            if existing and controlled_by(existing, template):
                self._delete(existing)
            return
        spec = network_policy_spec(template)
        if existing is None:
            metadata = {"name": name, "ownerReferences": [self._owner_ref(template)]}
            self._create("NetworkPolicy", meta["namespace"], {"metadata": metadata, "spec": spec})
        elif existing.get("spec") != spec:
            self._patch(existing, {"spec": spec})

    # -- SandboxWarmPool ------------------------------------------------------------------

    def _pool(self, pool: dict) -> None:
        meta, spec = pool["metadata"], pool["spec"]
        template = self._get(
            "SandboxTemplate", meta["namespace"], spec["sandboxTemplateRef"]["name"]
        )
        members = [
            s
            for s in self._list("Sandbox", meta["namespace"])
            if controlled_by(s, pool) and not terminating(s)
        ]
        if template is not None:
            members = self._replace_stale(pool, template, members)
            members = self._scale(pool, template, members, spec.get("replicas", 1))
        self._write_status(
            pool,
            {
                "replicas": len(members),
                "readyReplicas": sum(is_true(s, "Ready") for s in members),
                "selector": f"{WARM_POOL}={name_hash(meta['name'])}",
                "observedGeneration": meta.get("generation", 0),
            },
        )

    def _replace_stale(self, pool: dict, template: dict, members: list[dict]) -> list[dict]:
        strategy = (pool["spec"].get("updateStrategy") or {}).get("type", "OnReplenish")
        if strategy != "Recreate":
            return members
        current = blueprint_hash(template)
        stale = [s for s in members if s["metadata"]["labels"].get(TEMPLATE_HASH) != current]
        for sandbox in stale:
            self._delete(sandbox)
        return [s for s in members if s not in stale]

    def _scale(self, pool: dict, template: dict, members: list[dict], replicas: int) -> list[dict]:
        while len(members) < replicas:
            members.append(self._create_member(pool, template))
        # Keep the Ready and the oldest; scale down the rest.
        order = sorted(
            members, key=lambda s: (not is_true(s, "Ready"), s["metadata"]["creationTimestamp"])
        )
        for sandbox in order[replicas:]:
            self._delete(sandbox)
        return order[:replicas]

    def _create_member(self, pool: dict, template: dict) -> dict:
        meta, template_name = pool["metadata"], template["metadata"]["name"]
        spec = self._sandbox_spec(template)
        annotations = spec["podTemplate"].setdefault("metadata", {}).setdefault("annotations", {})
        annotations[SAFE_TO_EVICT] = "true"
        template_hash = blueprint_hash(template)
        labels = {
            WARM_POOL: name_hash(meta["name"]),
            TEMPLATE_REF_HASH: name_hash(template_name),
            LAUNCH_TYPE: "warm",
            TEMPLATE_HASH: template_hash,
            POD_TEMPLATE_HASH: template_hash,
            CREATED_BY: "controller",
        }
        metadata = {
            "generateName": f"{meta['name']}-",
            "labels": labels,
            "annotations": {TEMPLATE_REF: template_name},
            "ownerReferences": [self._owner_ref(pool)],
        }
        return self._create("Sandbox", meta["namespace"], {"metadata": metadata, "spec": spec})

    def _sandbox_spec(self, template: dict) -> dict:
        spec = blueprint(template)
        spec["podTemplate"].setdefault("spec", {})
        apply_secure_defaults(template, spec["podTemplate"]["spec"])
        return spec

    # -- SandboxClaim ---------------------------------------------------------------------

    def _claim(self, claim: dict) -> None:
        key: Key = ("SandboxClaim", claim["metadata"]["namespace"], claim["metadata"]["name"])
        lifecycle = claim["spec"].get("lifecycle") or {}
        if lifecycle.get("shutdownTime"):
            shutdown = parse_time(lifecycle["shutdownTime"])
            if shutdown <= now():
                self._expire_claim(claim, lifecycle.get("shutdownPolicy", "Retain"))
                return
            self._due_at(key, shutdown)
        sandbox = self._bound_sandbox(claim)
        if sandbox is None:
            sandbox = self._resolve(claim)
        if sandbox is not None:
            self._mirror(claim, sandbox)

    def _bound_sandbox(self, claim: dict) -> dict | None:
        meta = claim["metadata"]
        candidates = [
            ((claim.get("status") or {}).get("sandbox") or {}).get("name"),
            (meta.get("annotations") or {}).get(SANDBOX_NAME),
            meta["name"],
        ]
        for name in filter(None, candidates):
            sandbox = self._get("Sandbox", meta["namespace"], name)
            if sandbox is not None and controlled_by(sandbox, claim):
                return sandbox
        return None

    def _resolve(self, claim: dict) -> dict | None:
        """The warm path, else the cold one; None with the claim's own Ready reason set."""
        meta, spec = claim["metadata"], claim["spec"]
        pool_name = spec["warmPoolRef"]["name"]
        pool = self._get("SandboxWarmPool", meta["namespace"], pool_name)
        if pool is None:
            self._claim_not_ready(claim, "WarmPoolNotFound", f"warm pool {pool_name!r} not found")
            return None
        template_name = pool["spec"]["sandboxTemplateRef"]["name"]
        template = self._get("SandboxTemplate", meta["namespace"], template_name)
        if template is None:
            message = f"template {template_name!r} not found"
            self._claim_not_ready(claim, "TemplateNotFound", message)
            return None
        extra = spec.get("additionalPodMetadata") or {}
        template_metadata = template["spec"]["podTemplate"].get("metadata") or {}
        if error := metadata_error(extra, template_metadata):
            self._claim_not_ready(claim, "InvalidMetadata", error)
            return None
        forced_cold = spec.get("env") or spec.get("volumeClaimTemplates")
        adopted = None if forced_cold else self._adopt(claim, pool)
        return adopted or self._cold_start(claim, template)

    def _adopt(self, claim: dict, pool: dict) -> dict | None:
        """Take the oldest Ready member of the pool (FIFO)."""
        members = [
            s
            for s in self._list("Sandbox", claim["metadata"]["namespace"])
            if controlled_by(s, pool) and not terminating(s) and is_true(s, "Ready")
        ]
        members = [s for s in members if (s.get("status") or {}).get("podIPs")]
        if not members:
            return None
        member = min(
            members, key=lambda s: (s["metadata"]["creationTimestamp"], s["metadata"]["name"])
        )
        uid = claim["metadata"]["uid"]
        extra = claim["spec"].get("additionalPodMetadata") or {}
        pod_metadata = {
            "labels": {**(extra.get("labels") or {}), CLAIM_UID: uid},
            "annotations": {**(extra.get("annotations") or {}), SAFE_TO_EVICT: None},
        }
        adopted = self._patch(
            member,
            {
                "metadata": {
                    "ownerReferences": [self._owner_ref(claim)],
                    "labels": {WARM_POOL: None, CLAIM_UID: uid, LAUNCH_TYPE: "warm"},
                },
                "spec": {"podTemplate": {"metadata": pod_metadata}},
            },
        )
        self._patch(
            claim, {"metadata": {"annotations": {SANDBOX_NAME: member["metadata"]["name"]}}}
        )
        return adopted

    def _cold_start(self, claim: dict, template: dict) -> dict | None:
        meta, claim_spec, template_spec = claim["metadata"], claim["spec"], template["spec"]
        spec = self._sandbox_spec(template)
        pod_spec = spec["podTemplate"]["spec"]
        env_policy = template_spec.get("envVarsInjectionPolicy", "Disallowed")
        if error := merge_env(pod_spec, claim_spec.get("env") or [], env_policy):
            self._claim_not_ready(claim, "EnvVarsInjectionRejected", error)
            return None
        vct_policy = template_spec.get("volumeClaimTemplatesPolicy", "Disallowed")
        vcts = claim_spec.get("volumeClaimTemplates") or []
        if error := merge_volume_claim_templates(spec, vcts, vct_policy):
            self._claim_not_ready(claim, "VolumeClaimTemplatesError", error)
            return None
        pod_metadata = spec["podTemplate"].setdefault("metadata", {})
        extra = claim_spec.get("additionalPodMetadata") or {}
        for field in ("labels", "annotations"):
            pod_metadata[field] = {**(pod_metadata.get(field) or {}), **(extra.get(field) or {})}
        pod_metadata["labels"][CLAIM_UID] = meta["uid"]
        template_name = template["metadata"]["name"]
        labels = {
            CLAIM_UID: meta["uid"],
            LAUNCH_TYPE: "cold",
            TEMPLATE_REF_HASH: name_hash(template_name),
        }
        if created_by := (meta.get("labels") or {}).get(CREATED_BY):
            labels[CREATED_BY] = created_by
        metadata = {
            "name": meta["name"],
            "labels": labels,
            "annotations": {TEMPLATE_REF: template_name},
            "ownerReferences": [self._owner_ref(claim)],
        }
        try:
            return self._create("Sandbox", meta["namespace"], {"metadata": metadata, "spec": spec})
        except ApiError as exc:
            if exc.code != 409:
                raise
            self._claim_not_ready(
                claim, "AdoptionConflict", f"a Sandbox named {meta['name']!r} exists"
            )
            return None

    def _claim_not_ready(self, claim: dict, reason: str, message: str) -> None:
        generation = claim["metadata"].get("generation")
        ready = condition("Ready", False, reason, message, generation)
        self._write_status(claim, {"conditions": [ready]})

    def _mirror(self, claim: dict, sandbox: dict) -> None:
        """The claim's status from its Sandbox's: Ready and Finished with the claim's
        generation, the Sandbox's name and IPs."""
        generation = claim["metadata"].get("generation")
        waiting = condition("Ready", False, "SandboxNotReady", "Sandbox is not ready", generation)
        ready = find_condition(sandbox, "Ready")
        conditions = [mirrored(ready, generation) if ready else waiting]
        if finished := find_condition(sandbox, "Finished"):
            conditions.append(mirrored(finished, generation))
        ips = (sandbox.get("status") or {}).get("podIPs") or []
        bound = {"name": sandbox["metadata"]["name"], "podIPs": ips}
        self._write_status(claim, {"sandbox": bound, "conditions": conditions})

    def _expire_claim(self, claim: dict, policy: str) -> None:
        if policy in ("Delete", "DeleteForeground"):
            self._delete(claim, "Foreground" if policy == "DeleteForeground" else "Background")
            return
        if sandbox := self._bound_sandbox(claim):
            self._delete(sandbox)
        generation = claim["metadata"].get("generation")
        message = "the claim's shutdownTime has passed"
        expired = condition("Ready", False, "ClaimExpired", message, generation)
        self._write_status(claim, {"sandbox": None, "conditions": [expired]})

    # -- Sandbox --------------------------------------------------------------------------

    def _sandbox(self, sandbox: dict) -> None:
        meta, spec = sandbox["metadata"], sandbox["spec"]
        key: Key = ("Sandbox", meta["namespace"], meta["name"])
        if spec.get("shutdownTime"):
            shutdown = parse_time(spec["shutdownTime"])
            if shutdown <= now():
                self._expire_sandbox(sandbox)
                return
            self._due_at(key, shutdown)
        self._ensure_claims(sandbox)
        service = self._ensure_service(sandbox)
        pod = self._ensure_pod(sandbox)
        self._write_sandbox_status(sandbox, pod, service)

    def _pod_name(self, sandbox: dict) -> str:
        annotations = sandbox["metadata"].get("annotations") or {}
        return annotations.get(POD_NAME) or sandbox["metadata"]["name"]

    def _owned(self, kind: str, sandbox: dict, name: str) -> dict | None:
        found = self._get(kind, sandbox["metadata"]["namespace"], name)
        return found if found is not None and controlled_by(found, sandbox) else None

    def _expire_sandbox(self, sandbox: dict) -> None:
        generation = sandbox["metadata"].get("generation")
        expired = condition("Ready", False, "SandboxExpired", "Sandbox has expired", generation)
        self._write_status(sandbox, {"conditions": [expired]})
        for kind, name in (
            ("Pod", self._pod_name(sandbox)),
            ("Service", sandbox["metadata"]["name"]),
        ):
            if owned := self._owned(kind, sandbox, name):
                self._delete(owned)
        if sandbox["spec"].get("shutdownPolicy", "Retain") == "Delete":
            self._delete(sandbox)
            return
        cleared = dict.fromkeys(("service", "serviceFQDN", "selector", "podIPs", "nodeName"))
        current = sandbox.get("status") or {}
        if any(current.get(k) is not None for k in cleared):
            self._patch(sandbox, {"status": cleared}, status=True)

    def _labels(self, sandbox: dict) -> dict:
        return {NAME_HASH: name_hash(sandbox["metadata"]["name"])}

    def _ensure_claims(self, sandbox: dict) -> None:
        """One bound PVC per volumeClaimTemplate (kept while suspended)."""
        meta = sandbox["metadata"]
        for vct in sandbox["spec"].get("volumeClaimTemplates") or []:
            name = f"{vct['metadata']['name']}-{meta['name']}"
            if self._get("PersistentVolumeClaim", meta["namespace"], name) is not None:
                continue
            metadata = {
                "name": name,
                "labels": {**(vct["metadata"].get("labels") or {}), **self._labels(sandbox)},
                "annotations": dict(vct["metadata"].get("annotations") or {}),
                "ownerReferences": [self._owner_ref(sandbox)],
            }
            pvc = self._create(
                "PersistentVolumeClaim",
                meta["namespace"],
                {"metadata": metadata, "spec": vct["spec"]},
            )
            requests = (vct["spec"].get("resources") or {}).get("requests") or {}
            bound = {"phase": "Bound", "accessModes": vct["spec"].get("accessModes", [])}
            self._patch(pvc, {"status": bound | {"capacity": dict(requests)}}, status=True)

    def _ensure_service(self, sandbox: dict) -> dict | None:
        meta = sandbox["metadata"]
        wanted = sandbox["spec"].get("service")
        existing = self._get("Service", meta["namespace"], meta["name"])
        if wanted is False:
            if existing and controlled_by(existing, sandbox):
                self._delete(existing)
            return None
        if wanted is None or existing is not None:
            return existing
        pod_spec = sandbox["spec"]["podTemplate"].get("spec") or {}
        metadata = {
            "name": meta["name"],
            "labels": self._labels(sandbox),
            "ownerReferences": [self._owner_ref(sandbox)],
        }
        spec = {
            "clusterIP": "None",
            "selector": self._labels(sandbox),
            "ports": service_ports(pod_spec),
        }
        return self._create("Service", meta["namespace"], {"metadata": metadata, "spec": spec})

    def _ensure_pod(self, sandbox: dict) -> dict | None:
        """The Pod for the operating mode: created while Running, deleted when Suspended."""
        pod = self._get("Pod", sandbox["metadata"]["namespace"], self._pod_name(sandbox))
        owned = pod is not None and controlled_by(pod, sandbox)
        if sandbox["spec"].get("operatingMode", "Running") == "Suspended":
            if owned and not terminating(pod):
                self._delete(pod)
            return pod
        if pod is None:
            return self._create_pod(sandbox)
        if owned and not terminating(pod):
            return self._sync_pod_labels(sandbox, pod)
        return pod

    def _pod_labels(self, sandbox: dict) -> dict:
        template_labels = user_keys(
            sandbox["spec"]["podTemplate"].get("metadata", {}).get("labels")
        )
        sandbox_labels = sandbox["metadata"].get("labels") or {}
        template_claim = (
            sandbox["spec"]["podTemplate"].get("metadata", {}).get("labels") or {}
        ).get(CLAIM_UID)
        copied = {k: sandbox_labels[k] for k in COPIED_TO_POD if k in sandbox_labels}
        if template_claim:
            copied[CLAIM_UID] = template_claim
        return {**template_labels, **copied, **self._labels(sandbox)}

    def _create_pod(self, sandbox: dict) -> dict:
        meta = sandbox["metadata"]
        pod_template = copy.deepcopy(sandbox["spec"]["podTemplate"])
        template_meta = pod_template.get("metadata") or {}
        labels = self._pod_labels(sandbox)
        annotations = user_keys(template_meta.get("annotations"))
        annotations[PROPAGATED_LABELS] = ",".join(sorted(user_keys(template_meta.get("labels"))))
        annotations[PROPAGATED_ANNOTATIONS] = ",".join(
            sorted(user_keys(template_meta.get("annotations")))
        )
        pod_spec = pod_template.get("spec") or {}
        volumes = pod_spec.setdefault("volumes", [])
        for vct in sandbox["spec"].get("volumeClaimTemplates") or []:
            claim_name = f"{vct['metadata']['name']}-{meta['name']}"
            volumes.append(
                {
                    "name": vct["metadata"]["name"],
                    "persistentVolumeClaim": {"claimName": claim_name},
                }
            )
        if not volumes:
            del pod_spec["volumes"]
        metadata = {
            "name": self._pod_name(sandbox),
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [self._owner_ref(sandbox)],
        }
        return self._create("Pod", meta["namespace"], {"metadata": metadata, "spec": pod_spec})

    def _sync_pod_labels(self, sandbox: dict, pod: dict) -> dict:
        """Labels the Sandbox gained or lost since the Pod was made (adoption by a claim)."""
        wanted = self._pod_labels(sandbox)
        current = pod["metadata"].get("labels") or {}
        patch: dict[str, Any] = {k: v for k, v in wanted.items() if current.get(k) != v}
        patch |= {k: None for k in (WARM_POOL, CLAIM_UID) if k in current and k not in wanted}
        if not patch:
            return pod
        return self._patch(pod, {"metadata": {"labels": patch}})

    def _write_sandbox_status(self, sandbox: dict, pod: dict | None, service: dict | None) -> None:
        meta, spec = sandbox["metadata"], sandbox["spec"]
        generation = meta.get("generation")
        pod_status = (pod or {}).get("status") or {}
        suspended = spec.get("operatingMode", "Running") == "Suspended"
        conditions = []
        if suspended:
            conditions.append(
                condition("Ready", False, "SandboxSuspended", "Sandbox is suspended", generation)
            )
            if pod is None:
                conditions.append(
                    condition("Suspended", True, "PodTerminated", "Pod is terminated", generation)
                )
            else:
                conditions.append(
                    condition(
                        "Suspended", False, "PodTerminating", "Pod is terminating", generation
                    )
                )
        else:
            wanted = bool(spec.get("service"))
            ready, reason, message = sandbox_readiness(pod, wanted, service is not None)
            conditions.append(condition("Ready", ready, reason, message, generation))
            conditions.append(
                condition("Suspended", False, "NotSuspended", "Sandbox is running", generation)
            )
        if pod is not None and (scheduled := find_condition(pod, "PodScheduled")):
            conditions.append(pod_scheduled(scheduled, generation))
        phase = pod_status.get("phase")
        if phase in ("Succeeded", "Failed"):
            reason = f"Pod{phase}"
            conditions.append(
                condition("Finished", True, reason, f"Pod has {phase.lower()}", generation)
            )
        ips = [entry["ip"] for entry in pod_status.get("podIPs") or []]
        status: dict[str, Any] = {
            "conditions": conditions,
            "selector": f"{NAME_HASH}={name_hash(meta['name'])}",
            "podIPs": ips or None,
            "nodeName": ((pod or {}).get("spec") or {}).get("nodeName") if pod else None,
            "service": service["metadata"]["name"] if service else None,
            "serviceFQDN": (
                f"{meta['name']}.{meta['namespace']}.svc.{self.cluster_domain}" if service else None
            ),
        }
        self._write_status(sandbox, status)
