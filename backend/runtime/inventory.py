"""What a runtime reports of the resources it made (the runtime inventory and the orphan
audit): plain values, so the domain classifies them without knowing any adapter.

Each resource serves either one sandbox (a SandboxClaim; a local process tree, workspace
or cgroup) or one template (a SandboxTemplate and its warm pool), and carries the mbox ids
it was labelled with when it was made. The audit compares those labels with the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

# The labels every managed resource carries (Kubernetes labels; a local sandbox's files).
MANAGED_BY = "app.kubernetes.io/managed-by"
MBOX = "mbox"
PROJECT_ID = "mbox.dev/project-id"
SANDBOX_ID = "mbox.dev/sandbox-id"
TEMPLATE_ID = "mbox.dev/template-id"


def labels(**ids: uuid.UUID | None) -> dict[str, str]:
    """The managed-by label and the given mbox ids (project_id, sandbox_id, template_id)."""
    keys = {"project_id": PROJECT_ID, "sandbox_id": SANDBOX_ID, "template_id": TEMPLATE_ID}
    found = {MANAGED_BY: MBOX}
    for name, value in ids.items():
        if value is not None:
            found[keys[name]] = str(value)
    return found


# Who a resource serves: one sandbox, one template, or nothing mbox audits.
Serves = Literal["sandbox", "template"]


@dataclass(frozen=True)
class ResourceRef:
    """A managed resource's identity: what cleanup names."""

    adapter: str
    kind: str
    namespace: str
    name: str


@dataclass(frozen=True)
class StorageMount:
    """A volume of the sandbox's workspace: where it is mounted and what backs it."""

    name: str
    mount_path: str
    claim_name: str = ""
    phase: str = ""
    capacity: str = ""
    storage_class: str = ""
    message: str = ""


@dataclass(frozen=True)
class Observation:
    """What runs for a sandbox's resource, as the runtime last saw it (best effort: the
    message says what could not be seen)."""

    runtime_name: str = ""
    selector: str = ""
    replicas: int = 0
    pod_count: int = 0
    running_pod_count: int = 0
    pod_name: str = ""
    pod_phase: str = ""
    containers_ready: int = 0
    containers_total: int = 0
    restart_count: int = 0
    requests: Mapping[str, str] = field(default_factory=dict)  # summed over containers
    limits: Mapping[str, str] = field(default_factory=dict)
    storage: tuple[StorageMount, ...] = ()
    ready_condition: str = ""
    message: str = ""


@dataclass(frozen=True)
class ManagedResource:
    ref: ResourceRef
    serves: Serves
    labels: Mapping[str, str]
    created_at: datetime
    # For the resource that is its sandbox's runtimeRef (a claim, a local process tree):
    # that ref. The audit flags a sandbox whose recorded ref is another.
    sandbox_ref: Mapping[str, str] | None = None
    observation: Observation | None = None
