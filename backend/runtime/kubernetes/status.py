"""What a sandbox's claim, Sandbox and Pod say, as mbox's runtime status (pure functions).

The claim's Ready condition is the verdict (agent-sandbox mirrors the Sandbox's onto it);
the Sandbox says whether it is suspended; the Pod gives the phase times and, once it has
ended by itself, the exit code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backend.runtime.base import RuntimeStatus
from backend.runtime.kubernetes import names

ADAPTER = "agent-sandbox"
# Claim reasons agent-sandbox never recovers from by itself (its SDK's terminal list,
# and the pool or template being gone).
TERMINAL_REASONS = {
    "InvalidMetadata",
    "EnvVarsInjectionRejected",
    "VolumeClaimTemplatesError",
    "ClaimExpired",
    "SandboxExpired",
    "WarmPoolNotFound",
    "TemplateNotFound",
}


def condition(obj: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    for found in ((obj or {}).get("status") or {}).get("conditions") or []:
        if found.get("type") == kind:
            return found
    return {}


def claim_ref(namespace: str, name: str) -> dict[str, str]:
    """The sandbox's runtimeRef: its claim."""
    return {"adapter": ADAPTER, "kind": "SandboxClaim", "namespace": namespace, "name": name}


def suspended(sandbox: dict[str, Any] | None) -> bool:
    return ((sandbox or {}).get("spec") or {}).get("operatingMode") == "Suspended"


def observe(
    claim: dict[str, Any] | None, sandbox: dict[str, Any] | None, pod: dict[str, Any] | None
) -> RuntimeStatus:
    if claim is None or claim["metadata"].get("deletionTimestamp") or suspended(sandbox):
        return RuntimeStatus("missing")  # nothing runs (gone, going, or stopped)
    ref = claim_ref(claim["metadata"]["namespace"], claim["metadata"]["name"])
    ready = condition(claim, "Ready")
    reason = ready.get("reason", "")
    message = ready.get("message") or reason
    pod_phase = ((pod or {}).get("status") or {}).get("phase")
    scheduled_at = _scheduled_at(pod)
    ended = _ended(pod)
    if ended is not None:  # as on the local runtime: it stops there, no restart loop
        code, last_words = ended
        words = f"main process exited with code {code}" + (f": {last_words}" if last_words else "")
        return RuntimeStatus("exited", ref, message=words, exit_code=code)
    if ready.get("status") == "True" and pod_phase == "Running":
        return RuntimeStatus(
            "running",
            ref,
            started_at=_time((pod or {}).get("status", {}).get("startTime")),
            scheduled_at=scheduled_at,
            ready_at=_time(ready.get("lastTransitionTime")),
        )
    if reason in TERMINAL_REASONS:
        failed_at = _time(ready.get("lastTransitionTime"))
        return RuntimeStatus("failed", ref, message=f"{reason}: {message}", failed_at=failed_at)
    progress = _progress(claim, pod) or message
    return RuntimeStatus("starting", ref, message=progress, scheduled_at=scheduled_at)


def _scheduled_at(pod: dict[str, Any] | None) -> datetime | None:
    """When the pod was bound to a node (its PodScheduled condition turned True)."""
    scheduled = condition(pod, "PodScheduled")
    return _time(scheduled.get("lastTransitionTime")) if scheduled.get("status") == "True" else None


def _progress(claim: dict[str, Any], pod: dict[str, Any] | None) -> str:
    """Where start-up is, in words. (A claim can say Ready before the watch on pods has
    shown this pod running: it is not running for mbox until both agree.)"""
    if pod is None:
        return "waiting for agent-sandbox to create the pod"
    scheduled = condition(pod, "PodScheduled")
    if scheduled.get("status") != "True":
        return scheduled.get("message") or "waiting for the pod to be scheduled"
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        waiting = (status.get("state") or {}).get("waiting")
        if waiting:
            return f"{waiting.get('reason', 'waiting')}: {waiting.get('message', '')}".strip(": ")
    return "the pod is starting"


def _ended(pod: dict[str, Any] | None) -> tuple[int, str] | None:
    """The workspace container's exit code and last words (the log's last line, which
    FallbackToLogsOnError puts in the termination message) once its main process has
    ended: the pod ended, or the kubelet restarted the container at least once."""
    status = (pod or {}).get("status") or {}
    for container in status.get("containerStatuses") or []:
        if container.get("name") != names.CONTAINER:
            continue
        terminated = (container.get("state") or {}).get("terminated")
        if status.get("phase") not in ("Succeeded", "Failed"):
            restarted = int(container.get("restartCount") or 0) > 0
            terminated = restarted and (container.get("lastState") or {}).get("terminated")
        if terminated:
            lines = (terminated.get("message") or "").strip().splitlines()
            return int(terminated.get("exitCode", 1)), (lines[-1][:500] if lines else "")
    if status.get("phase") in ("Succeeded", "Failed"):
        return (0 if status["phase"] == "Succeeded" else 1), ""
    return None


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
