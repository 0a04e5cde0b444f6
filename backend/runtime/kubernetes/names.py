"""Names and labels of what mbox creates in a cluster.

Every object carries `app.kubernetes.io/managed-by=mbox` (the inventory and the orphan
audit find them by it) and the mbox ids it belongs to. Object names are readable (the
slug) and unique (the id); a SandboxTemplate's name also carries a hash of its blueprint,
so two sandboxes whose templates differ in anything (an edit, another service account)
never share, and never overwrite, one template object.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any

from backend.runtime.base import RuntimeFailure
from backend.runtime.inventory import (  # noqa: F401 - the inventory's labels, re-exported
    MANAGED_BY,
    MBOX,
    PROJECT_ID,
    SANDBOX_ID,
    TEMPLATE_ID,
    labels,
)
from backend.validation import DNS_LABEL, cluster_namespace

MANAGED = f"{MANAGED_BY}={MBOX}"  # the label selector of everything mbox made

# agent-sandbox's own (see the reference doc, A7).
SANDBOX_NAME_ANNOTATION = "agents.x-k8s.io/sandbox-name"
POD_NAME_ANNOTATION = "agents.x-k8s.io/pod-name"

CONTAINER = "workspace"  # the sandbox's one container, and its volume
MAX_SLUG = 40  # leaves room for "-<8 hex>-<6 hex>" within a 63-character label value


def check_namespace(namespace: str) -> None:
    """A sandbox's namespace must be a DNS label, and not one of the cluster's own."""
    if not DNS_LABEL.match(namespace):
        raise RuntimeFailure(
            f'namespace "{namespace}" is not a DNS label (a-z, 0-9, "-"; at most 63 characters)'
        )
    if cluster_namespace(namespace):
        raise RuntimeFailure(f'namespace "{namespace}" belongs to the cluster: choose another')


def runtime_name(slug: str, object_id: uuid.UUID, blueprint: Any = None) -> str:
    """`<slug>-<first 8 hex of the id>`, plus `-<6 hex of the blueprint's hash>` when
    given: a DNS label (lower case, digits, dashes; at most 63 characters)."""
    base = re.sub(r"[^a-z0-9-]+", "-", slug.lower()).strip("-")[:MAX_SLUG].strip("-")
    name = f"{base or 'sandbox'}-{object_id.hex[:8]}"
    if blueprint is not None:
        name += "-" + blueprint_hash(blueprint)[:6]
    return name


def blueprint_hash(blueprint: Any) -> str:
    """A stable hash of a JSON document (sorted keys)."""
    text = json.dumps(blueprint, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
