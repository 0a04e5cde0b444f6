"""The runtime inventory's wire shapes (the reference's RuntimeResourceList, RuntimeOrphanAudit
and cleanup bodies)."""

from __future__ import annotations

from datetime import datetime

from backend.schemas import PublicModel, RequestModel


class RuntimeResourceOwner(PublicModel):
    kind: str  # sandbox | template
    project_id: str | None = None
    sandbox_id: str | None = None
    template_id: str | None = None


class RuntimeStorage(PublicModel):
    name: str
    mount_path: str
    claim_name: str | None = None
    phase: str | None = None
    capacity: str | None = None
    storage_class_name: str | None = None
    message: str | None = None


class RuntimeResourceObservation(PublicModel):
    """What runs for a sandbox's resource; counts that are 0 are omitted."""

    runtime_name: str | None = None
    selector: str | None = None
    replicas: int | None = None
    pod_count: int | None = None
    running_pod_count: int | None = None
    pod_name: str | None = None
    pod_phase: str | None = None
    containers_ready: int | None = None
    containers_total: int | None = None
    restart_count: int | None = None
    requests: dict[str, str] | None = None
    limits: dict[str, str] | None = None
    storage: list[RuntimeStorage] | None = None
    ready_condition: str | None = None
    message: str | None = None


class RuntimeResource(PublicModel):
    adapter: str
    kind: str
    namespace: str | None = None
    name: str
    owner: RuntimeResourceOwner | None = None
    observation: RuntimeResourceObservation | None = None
    labels: dict[str, str] | None = None
    created_at: datetime


class RuntimeResourceCount(PublicModel):
    name: str
    count: int


class RuntimeQuantityIssue(PublicModel):
    resource: str  # namespace/Kind/name
    field: str  # requests.cpu, limits.memory...
    value: str | None = None
    reason: str


class RuntimeStorageSummary(PublicModel):
    phase: str
    count: int
    capacity: str | None = None


class RuntimeWorkloadSummary(PublicModel):
    observed_resources: int
    desired_pods: int
    observed_pods: int
    running_pods: int
    containers_ready: int
    containers_total: int
    restart_count: int
    requests: dict[str, str] | None = None
    limits: dict[str, str] | None = None
    storage_capacity: str | None = None
    quantity_issues: list[RuntimeQuantityIssue] | None = None
    storage: list[RuntimeStorageSummary] | None = None


class RuntimeResourceSummary(PublicModel):
    total: int
    by_kind: list[RuntimeResourceCount]
    by_namespace: list[RuntimeResourceCount]
    by_owner: list[RuntimeResourceCount]
    workload: RuntimeWorkloadSummary


class RuntimeResourceList(PublicModel):
    adapter: str
    checked_at: datetime
    summary: RuntimeResourceSummary
    items: list[RuntimeResource]


class ManagedResourceRef(PublicModel):
    adapter: str
    kind: str
    namespace: str
    name: str


class RuntimeOrphan(PublicModel):
    reason: str
    resource: RuntimeResource
    sandbox_id: str | None = None
    template_id: str | None = None
    project_id: str | None = None
    runtime_ref: dict[str, str] | None = None
    status: str | None = None
    deleted_at: datetime | None = None
    message: str
    evidence: list[str] | None = None


class RuntimeOrphanAudit(PublicModel):
    adapter: str
    checked_at: datetime
    namespace: str | None = None
    resource_count: int
    orphan_count: int
    expected_clean: bool  # nothing is an orphan
    items: list[RuntimeOrphan]


class ManagedResourceRefInput(RequestModel):
    adapter: str | None = None
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None


class RuntimeOrphanCleanupRequest(RequestModel):
    resource: ManagedResourceRefInput | None = None
    reason: str | None = None
    delete_orphan: bool | None = None
    confirm: str | None = None


class RuntimeOrphanCleanupResult(PublicModel):
    deleted: bool
    resource: ManagedResourceRef
    reason: str
    message: str


class CachedImage(PublicModel):
    """An image the runtime keeps on its host, by manifest digest."""

    digest: str
    references: list[str]
    size_bytes: int
    pulled_at: datetime
    last_used_at: datetime
    in_use: bool  # a running sandbox's root: never evicted


class CachedImageList(PublicModel):
    """The runtime's image cache (`kept` false: a cluster's nodes keep the images)."""

    adapter: str
    kept: bool
    max_bytes: int  # past this, the least recently used images not in use go (0: no limit)
    total_bytes: int
    items: list[CachedImage]


class TemplateBuild(PublicModel):
    """Where a template's build recipe stands on the runtime, with the build's output."""

    template_id: str
    state: str  # built | building | failed | not-built | unsupported | none (no recipe)
    reference: str | None = None  # build:sha256:<recipe digest>
    digest: str | None = None  # the built image's, once built
    log: str = ""
    message: str | None = None
