"""Resource use of sandbox pods from the cluster's metrics API (metrics.k8s.io/v1beta1,
served by metrics-server): PodMetrics give CPU (a rate over the server's window) and
memory (the working set) per container. The pod's own spec gives the limits; disk,
processes and network are not in PodMetrics, so they stay None (unknown)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from backend.quantities import parse_quantity
from backend.runtime.base import ResourceSample
from backend.runtime.kubernetes import names

GROUP = "metrics.k8s.io"
VERSION = "v1beta1"
PLURAL = "pods"
SOURCE = "metrics-api"


def pod_sample(pod: dict[str, Any], metrics: dict[str, Any] | None, at: datetime) -> ResourceSample:
    """The sample of a sandbox's pod: its main container's usage (None without metrics:
    metrics-server has not scraped a new pod yet) and limits."""
    usage = _container(metrics or {}, "containers").get("usage") or {}
    limits = (_container(pod.get("spec") or {}, "containers").get("resources") or {}).get(
        "limits"
    ) or {}
    cpu = _amount(usage.get("cpu"))
    cpu_limit = _amount(limits.get("cpu"))
    return ResourceSample(
        at=at,
        source=SOURCE,
        cpu_millicores=None if cpu is None else round(cpu * 1000, 3),
        cpu_limit_millicores=None if cpu_limit is None else int(cpu_limit * 1000),
        memory_bytes=_whole(usage.get("memory")),
        memory_limit_bytes=_whole(limits.get("memory")),
    )


def _container(holder: dict[str, Any], key: str) -> dict[str, Any]:
    """The sandbox's container (`workspace`), else the first one."""
    containers = [c for c in holder.get(key) or [] if isinstance(c, dict)]
    named = [c for c in containers if c.get("name") == names.CONTAINER]
    return (named or containers or [{}])[0]


def _amount(text: Any) -> float | None:
    parsed = parse_quantity(text) if isinstance(text, str) else None
    return float(parsed[0]) if parsed else None


def _whole(text: Any) -> int | None:
    amount = _amount(text)
    return None if amount is None else int(amount)
