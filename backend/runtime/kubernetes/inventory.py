"""The runtime inventory on a cluster (pure functions): mbox's claims, templates and warm
pools as managed resources, each claim with what runs for it (its Sandbox, Pods and
volumes) observed as the reference's inventory reports it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from backend.quantities import add_quantities
from backend.runtime.inventory import ManagedResource, Observation, ResourceRef, StorageMount
from backend.runtime.kubernetes import names
from backend.runtime.kubernetes.status import ADAPTER, claim_ref, condition

# plural -> (kind, whom it serves), in the order the inventory lists them
KINDS = {
    "sandboxclaims": ("SandboxClaim", "sandbox"),
    "sandboxtemplates": ("SandboxTemplate", "template"),
    "sandboxwarmpools": ("SandboxWarmPool", "template"),
}
PLURALS = {kind: plural for plural, (kind, _) in KINDS.items()}


def resource(plural: str, obj: dict[str, Any], observation: Observation | None = None):
    kind, serves = KINDS[plural]
    metadata = obj["metadata"]
    namespace, name = metadata.get("namespace", ""), metadata["name"]
    return ManagedResource(
        ref=ResourceRef(ADAPTER, kind, namespace, name),
        serves=serves,  # type: ignore[arg-type]
        labels=dict(metadata.get("labels") or {}),
        created_at=_time(metadata.get("creationTimestamp")),
        sandbox_ref=claim_ref(namespace, name) if kind == "SandboxClaim" else None,
        observation=observation,
    )


def observe_claim(
    claim: dict[str, Any],
    sandbox: dict[str, Any] | None,
    pods: list[dict[str, Any]],
    volumes: Mapping[str, dict[str, Any]],
) -> Observation:
    """What runs for a claim: its Sandbox, the Pods its selector matches (`pods`), and the
    chosen pod's volume claims (`volumes`, by name)."""
    ready = condition(claim, "Ready")
    found: dict[str, Any] = {"ready_condition": ready.get("status") or "Unknown"}
    found["runtime_name"] = ((claim.get("status") or {}).get("sandbox") or {}).get("name", "")
    message = ready.get("message") or ready.get("reason") or ""
    if sandbox is None:
        return Observation(
            **found, message=message or "SandboxClaim has no resolved runtime sandbox"
        )
    found["replicas"] = int((sandbox.get("spec") or {}).get("replicas", 1) or 0)
    found["selector"] = (sandbox.get("status") or {}).get("selector", "")
    if not found["selector"]:
        return Observation(**found, message=message or "Runtime sandbox has no pod selector")
    if not pods:
        return Observation(
            **found, message=message or "No runtime Pods matched the resolved selector"
        )
    running = [pod for pod in pods if _phase(pod) == "Running"]
    chosen = (running or pods)[0]
    return Observation(
        **found,
        **_pod_facts(chosen),
        pod_count=len(pods),
        running_pod_count=len(running),
        storage=_storage(chosen, volumes),
        message=message,
    )


def matches(selector: str, labels: Mapping[str, str]) -> bool:
    """An equality selector (`a=b,c=d`, what agent-sandbox reports) against labels."""
    pairs = [term.split("=", 1) for term in selector.split(",") if "=" in term]
    return bool(pairs) and all(labels.get(key.strip()) == value.strip() for key, value in pairs)


def _pod_facts(pod: dict[str, Any]) -> dict[str, Any]:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    containers = spec.get("containers") or []
    statuses = status.get("containerStatuses") or []
    restarts = sum(
        int(s.get("restartCount", 0)) for s in [*statuses, *status.get("initContainerStatuses", [])]
    )
    return {
        "pod_name": pod["metadata"]["name"],
        "pod_phase": _phase(pod),
        "containers_ready": sum(1 for s in statuses if s.get("ready")),
        "containers_total": len(containers),
        "restart_count": restarts,
        "requests": _summed(containers, "requests"),
        "limits": _summed(containers, "limits"),
    }


def _summed(containers: list[dict[str, Any]], field: str) -> dict[str, str]:
    """Per resource, the containers' quantities added up (as written when one is invalid:
    the summary reports it)."""
    by_name: dict[str, list[str]] = {}
    for container in containers:
        for name, value in ((container.get("resources") or {}).get(field) or {}).items():
            by_name.setdefault(name, []).append(str(value))
    return {name: add_quantities(values) or ",".join(values) for name, values in by_name.items()}


def _storage(
    pod: dict[str, Any], volumes: Mapping[str, dict[str, Any]]
) -> tuple[StorageMount, ...]:
    """The workspace container's mounts that a PersistentVolumeClaim backs."""
    claims = {
        volume["name"]: volume["persistentVolumeClaim"].get("claimName", "")
        for volume in (pod.get("spec") or {}).get("volumes") or []
        if volume.get("persistentVolumeClaim")
    }
    mounts = []
    for container in (pod.get("spec") or {}).get("containers") or []:
        if container.get("name") != names.CONTAINER:
            continue
        for mount in container.get("volumeMounts") or []:
            if mount.get("name") in claims:
                mounts.append(_mount(mount, claims[mount["name"]], volumes))
    return tuple(mounts)


def _mount(mount: dict[str, Any], claim_name: str, volumes: Mapping[str, dict[str, Any]]):
    volume = volumes.get(claim_name)
    if volume is None:
        return StorageMount(
            mount["name"],
            mount.get("mountPath", ""),
            claim_name,
            message="PersistentVolumeClaim not found",
        )
    status = volume.get("status") or {}
    return StorageMount(
        name=mount["name"],
        mount_path=mount.get("mountPath", ""),
        claim_name=claim_name,
        phase=status.get("phase", ""),
        capacity=(status.get("capacity") or {}).get("storage", ""),
        storage_class=(volume.get("spec") or {}).get("storageClassName", "") or "",
    )


def _phase(pod: dict[str, Any]) -> str:
    return (pod.get("status") or {}).get("phase", "Unknown")


def _time(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
