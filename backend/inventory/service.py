"""The runtime inventory, the orphan audit and gated cleanup (the reference's §1.3).

The database is the truth and labels are evidence: a resource is an orphan when the
sandbox or template its labels name has no row, was deleted, or records another runtime
resource. Every sandbox and template counts, soft-deleted ones included. Cleanup deletes
one orphan, only after the audit, re-run, still reports it for the same reason.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from backend.audit import service as audit
from backend.auth import access
from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.db import Database, commit, get_row
from backend.errors import Conflict, InvalidInput, RuntimeFailed
from backend.inventory.models import (
    CachedImage,
    CachedImageList,
    ManagedResourceRef,
    RuntimeOrphan,
    RuntimeOrphanAudit,
    RuntimeOrphanCleanupRequest,
    RuntimeOrphanCleanupResult,
    RuntimeQuantityIssue,
    RuntimeResource,
    RuntimeResourceCount,
    RuntimeResourceList,
    RuntimeResourceObservation,
    RuntimeResourceOwner,
    RuntimeResourceSummary,
    RuntimeStorage,
    RuntimeStorageSummary,
    RuntimeWorkloadSummary,
    TemplateBuild,
)
from backend.projects.models import ProjectRow
from backend.quantities import add_quantities, parse_quantity
from backend.runtime.base import RuntimeAdapter, RuntimeFailure
from backend.runtime.inventory import (
    PROJECT_ID,
    SANDBOX_ID,
    TEMPLATE_ID,
    ManagedResource,
    Observation,
    ResourceRef,
)
from backend.sandboxes.models import SandboxRow
from backend.templates.models import TemplateRow

CONFIRM = "delete-orphan-runtime-resource"
CONFIRM_REQUIRED = f'cleanup requires deleteOrphan=true and confirm="{CONFIRM}"'
REF_REQUIRED = "resource adapter, kind, namespace, and name are required"
NOT_AN_ORPHAN = "runtime resource is not currently reported as an orphan"
REASON_CHANGED = "runtime orphan reason changed from requested reason"


class RuntimeInventory:
    """The inventory's three operations, over the database and the runtime."""

    def __init__(self, database: Database, runtime: RuntimeAdapter) -> None:
        self._database = database
        self._runtime = runtime

    async def resources(
        self, *, principal: Principal, namespace: str | None = None, kind: str | None = None
    ) -> RuntimeResourceList:
        access.require_global(principal, Permission.RUNTIME_READ)
        found = await self._listed(namespace, kind)
        items = [public_resource(resource) for resource in found]
        return RuntimeResourceList(
            adapter=self._runtime.name,
            checked_at=_now(),
            summary=summary(found),
            items=items,
        )

    async def images(self, *, principal: Principal) -> CachedImageList:
        access.require_global(principal, Permission.RUNTIME_READ)
        try:
            cache = await self._runtime.images()
        except RuntimeFailure as exc:
            raise RuntimeFailed(f"cannot list the runtime's images: {exc}") from None
        items = [
            CachedImage(**asdict(image) | {"references": list(image.references)})
            for image in cache.images
        ]
        return CachedImageList(
            adapter=self._runtime.name,
            kept=cache.kept,
            max_bytes=cache.max_bytes,
            total_bytes=sum(image.size_bytes for image in items),
            items=items,
        )

    async def template_build(
        self, *, principal: Principal, template_id: uuid.UUID
    ) -> TemplateBuild:
        """A template's build on this runtime, for whoever may read the template (another
        project's is a 404, as the template itself is)."""
        template = await self._database.read(get_row, TemplateRow, template_id)
        access.require(principal, Permission.READ, template.project_id)
        if not template.build:
            return TemplateBuild(
                template_id=str(template.id),
                state="none",
                message="this template has no build recipe",
            )
        try:
            status = await self._runtime.build_status(template.build)
        except RuntimeFailure as exc:
            raise RuntimeFailed(f"cannot read the template's build: {exc}") from None
        return TemplateBuild(
            template_id=str(template.id),
            state=status.state,
            reference=status.reference or None,
            digest=status.digest or None,
            log=status.log,
            message=status.message or None,
        )

    async def orphans(
        self, *, principal: Principal, namespace: str | None = None, kind: str | None = None
    ) -> RuntimeOrphanAudit:
        access.require_global(principal, Permission.RUNTIME_READ)
        found = await self._listed(namespace, kind)
        orphans = await self._database.call(classify, found)
        return RuntimeOrphanAudit(
            adapter=self._runtime.name,
            checked_at=_now(),
            namespace=namespace or None,
            resource_count=len(found),
            orphan_count=len(orphans),
            expected_clean=not orphans,
            items=orphans,
        )

    async def cleanup(
        self,
        *,
        principal: Principal,
        data: RuntimeOrphanCleanupRequest,
        namespace: str | None = None,
        kind: str | None = None,
    ) -> RuntimeOrphanCleanupResult:
        access.require_global(principal, Permission.RUNTIME_CLEANUP)
        ref, reason = _checked_request(data)
        audited = await self.orphans(principal=principal, namespace=namespace, kind=kind)
        orphan = next((o for o in audited.items if _ref_of(o.resource) == ref), None)
        if orphan is None:
            raise Conflict(NOT_AN_ORPHAN)
        if orphan.reason != reason:
            raise Conflict(REASON_CHANGED, currentReason=orphan.reason)
        try:
            await self._runtime.delete_resource(ref)
        except RuntimeFailure as exc:
            raise RuntimeFailed(str(exc)) from None
        await self._database.call(_record_cleanup, principal, ref, orphan)
        return RuntimeOrphanCleanupResult(
            deleted=True,
            resource=ManagedResourceRef(**asdict(ref)),
            reason=reason,
            message="orphan runtime resource deleted",
        )

    async def _listed(self, namespace: str | None, kind: str | None) -> list[ManagedResource]:
        """The runtime's resources, filtered (exact match), sorted by namespace, kind, name."""
        try:
            found = await self._runtime.inventory()
        except RuntimeFailure as exc:
            raise RuntimeFailed(str(exc)) from None
        kept = [
            resource
            for resource in found
            if (not namespace or resource.ref.namespace == namespace)
            and (not kind or resource.ref.kind == kind)
        ]
        return sorted(kept, key=lambda r: (r.ref.namespace, r.ref.kind, r.ref.name))


# -- the inventory --------------------------------------------------------------------------


def public_resource(resource: ManagedResource) -> RuntimeResource:
    ref = resource.ref
    return RuntimeResource(
        adapter=ref.adapter,
        kind=ref.kind,
        namespace=ref.namespace or None,
        name=ref.name,
        owner=_owner(resource),
        observation=_public_observation(resource.observation),
        labels=dict(resource.labels) or None,
        created_at=resource.created_at,
    )


def _owner(resource: ManagedResource) -> RuntimeResourceOwner | None:
    labels = resource.labels
    if resource.serves == "sandbox" and _uuid(labels.get(SANDBOX_ID)):
        project = labels.get(PROJECT_ID) or None
        return RuntimeResourceOwner(
            kind="sandbox", project_id=project, sandbox_id=labels[SANDBOX_ID]
        )
    if resource.serves == "template" and _uuid(labels.get(TEMPLATE_ID)):
        return RuntimeResourceOwner(kind="template", template_id=labels[TEMPLATE_ID])
    return None


def _owner_key(owner: RuntimeResourceOwner | None) -> str | None:
    if owner is None:
        return None
    if owner.kind == "template":
        return f"template/{owner.template_id}"
    if owner.project_id:
        return f"project/{owner.project_id}/sandbox/{owner.sandbox_id}"
    return f"sandbox/{owner.sandbox_id}"


def _public_observation(seen: Observation | None) -> RuntimeResourceObservation | None:
    if seen is None:
        return None
    values: dict[str, Any] = {
        name: value or None  # zero counts and empty words are omitted
        for name, value in asdict(seen).items()
        if name not in ("storage", "requests", "limits")
    }
    storage = [
        RuntimeStorage(
            name=mount.name,
            mount_path=mount.mount_path,
            claim_name=mount.claim_name or None,
            phase=mount.phase or None,
            capacity=mount.capacity or None,
            storage_class_name=mount.storage_class or None,
            message=mount.message or None,
        )
        for mount in seen.storage
    ]
    return RuntimeResourceObservation(
        **values,
        requests=dict(seen.requests) or None,
        limits=dict(seen.limits) or None,
        storage=storage or None,
    )


def summary(found: list[ManagedResource]) -> RuntimeResourceSummary:
    owners = [_owner_key(_owner(resource)) for resource in found]
    return RuntimeResourceSummary(
        total=len(found),
        by_kind=_counts(resource.ref.kind for resource in found),
        by_namespace=_counts(resource.ref.namespace for resource in found),
        by_owner=_counts(key for key in owners if key),
        workload=workload(found),
    )


def _counts(names: Iterable[str]) -> list[RuntimeResourceCount]:
    return [RuntimeResourceCount(name=n, count=c) for n, c in sorted(Counter(names).items())]


def workload(found: list[ManagedResource]) -> RuntimeWorkloadSummary:
    """What the observed resources run, added up; quantities that do not parse are
    reported instead of summed."""
    observed = [(r, r.observation) for r in found if r.observation is not None]
    issues: list[RuntimeQuantityIssue] = []
    totals: dict[str, dict[str, list[str]]] = {"requests": {}, "limits": {}}
    storage: dict[str, list[str]] = {}
    for resource, seen in observed:
        where = f"{resource.ref.namespace}/{resource.ref.kind}/{resource.ref.name}"
        for field in ("requests", "limits"):
            for name, value in getattr(seen, field).items():
                if parse_quantity(value) is None:
                    issues.append(_issue(where, f"{field}.{name}", value))
                else:
                    totals[field].setdefault(name, []).append(value)
        for mount in seen.storage:
            phase = storage.setdefault(mount.phase or "Unknown", [])
            phase.append(mount.capacity)
            if mount.capacity and parse_quantity(mount.capacity) is None:
                issues.append(_issue(where, f"storage.{mount.name}.capacity", mount.capacity))
    sums = {field: _sums(by_name) for field, by_name in totals.items()}
    capacities = [c for values in storage.values() for c in values if c and parse_quantity(c)]
    return RuntimeWorkloadSummary(
        observed_resources=len(observed),
        desired_pods=sum(seen.replicas for _, seen in observed),
        observed_pods=sum(seen.pod_count for _, seen in observed),
        running_pods=sum(seen.running_pod_count for _, seen in observed),
        containers_ready=sum(seen.containers_ready for _, seen in observed),
        containers_total=sum(seen.containers_total for _, seen in observed),
        restart_count=sum(seen.restart_count for _, seen in observed),
        requests=sums["requests"] or None,
        limits=sums["limits"] or None,
        storage_capacity=add_quantities(capacities) if capacities else None,
        quantity_issues=issues or None,
        storage=[_storage_summary(phase, caps) for phase, caps in sorted(storage.items())] or None,
    )


def _issue(where: str, field: str, value: str) -> RuntimeQuantityIssue:
    return RuntimeQuantityIssue(
        resource=where, field=field, value=value, reason="not a Kubernetes quantity"
    )


def _sums(by_name: dict[str, list[str]]) -> dict[str, str]:
    return {name: add_quantities(values) or "" for name, values in sorted(by_name.items())}


def _storage_summary(phase: str, capacities: list[str]) -> RuntimeStorageSummary:
    valid = [c for c in capacities if c and parse_quantity(c)]
    total = add_quantities(valid) if valid else None
    return RuntimeStorageSummary(phase=phase, count=len(capacities), capacity=total)


# -- the orphan audit -----------------------------------------------------------------------


def classify(db: Session, found: list[ManagedResource]) -> list[RuntimeOrphan]:
    """The orphans among `found`, in its order."""
    sandbox_ids = {_uuid(r.labels.get(SANDBOX_ID)) for r in found if r.serves == "sandbox"}
    template_ids = {_uuid(r.labels.get(TEMPLATE_ID)) for r in found if r.serves == "template"}
    sandboxes = _rows(db, SandboxRow, sandbox_ids)
    templates = _rows(db, TemplateRow, template_ids)
    orphans = []
    for resource in found:
        if resource.serves == "sandbox":
            orphan = _sandbox_orphan(resource, sandboxes)
        else:
            orphan = _template_orphan(resource, templates)
        if orphan is not None:
            orphans.append(orphan)
    return orphans


def _rows(db: Session, table: Any, ids: set[uuid.UUID | None]) -> dict[uuid.UUID, Any]:
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    return {row.id: row for row in db.exec(select(table).where(col(table.id).in_(wanted)))}


def _sandbox_orphan(
    resource: ManagedResource, sandboxes: dict[uuid.UUID, SandboxRow]
) -> RuntimeOrphan | None:
    kind = resource.ref.kind
    sandbox_id = _uuid(resource.labels.get(SANDBOX_ID))
    if sandbox_id is None:
        message = f"{kind} has no valid {SANDBOX_ID} label: no sandbox can be said to own it"
        return _orphan("unlabeled-owner", resource, message)
    row = sandboxes.get(sandbox_id)
    ids = {"sandbox_id": str(sandbox_id), "project_id": resource.labels.get(PROJECT_ID)}
    if row is None:
        message = f"{kind} belongs to sandbox {sandbox_id}, which mbox has no record of"
        return _orphan("missing-sandbox-record", resource, message, **ids)
    ids |= {"project_id": str(row.project_id), "runtime_ref": row.runtime_ref}
    ids |= {"status": row.status, "deleted_at": row.deleted_at}
    if row.deleted_at is not None:
        message = (
            f"{kind} belongs to sandbox {row.slug}, deleted at {row.deleted_at:%Y-%m-%d %H:%M} "
            "UTC; the reconciler has not removed it yet"
        )
        return _orphan("cleanup-pending", resource, message, **ids)
    expected = resource.sandbox_ref
    if expected is not None and dict(expected) != (row.runtime_ref or None):
        evidence = [f"expected={_ref_text(expected)}", f"actual={_ref_text(row.runtime_ref)}"]
        message = f"{kind} belongs to sandbox {row.slug}, which records another runtime resource"
        return _orphan("runtime-ref-mismatch", resource, message, evidence=evidence, **ids)
    return None


def _template_orphan(
    resource: ManagedResource, templates: dict[uuid.UUID, TemplateRow]
) -> RuntimeOrphan | None:
    kind = resource.ref.kind
    template_id = _uuid(resource.labels.get(TEMPLATE_ID))
    if template_id is None:
        message = f"{kind} has no valid {TEMPLATE_ID} label: no template can be said to own it"
        return _orphan("unlabeled-owner", resource, message)
    row = templates.get(template_id)
    if row is None:
        message = f"{kind} was made for template {template_id}, which mbox has no record of"
        return _orphan("missing-template-record", resource, message, template_id=str(template_id))
    return None


def _orphan(reason: str, resource: ManagedResource, message: str, **found: Any) -> RuntimeOrphan:
    return RuntimeOrphan(
        reason=reason, resource=public_resource(resource), message=message, **found
    )


def _ref_text(ref: Any) -> str:
    if not ref:
        return "<nil>"
    return "/".join(str(ref.get(k, "")) for k in ("adapter", "kind", "namespace", "name"))


# -- cleanup --------------------------------------------------------------------------------


def _checked_request(data: RuntimeOrphanCleanupRequest) -> tuple[ResourceRef, str]:
    if data.delete_orphan is not True or data.confirm != CONFIRM:
        raise InvalidInput(CONFIRM_REQUIRED)
    given = data.resource
    fields = [given.adapter, given.kind, given.namespace, given.name] if given else []
    if not fields or not all(value and value.strip() for value in fields):
        raise InvalidInput(REF_REQUIRED)
    reason = (data.reason or "").strip()
    if not reason:
        raise InvalidInput("reason is required")
    return ResourceRef(*(value.strip() for value in fields)), reason  # type: ignore[union-attr]


def _ref_of(resource: RuntimeResource) -> ResourceRef:
    return ResourceRef(resource.adapter, resource.kind, resource.namespace or "", resource.name)


def _record_cleanup(
    db: Session, principal: Principal, ref: ResourceRef, orphan: RuntimeOrphan
) -> None:
    project_id = _uuid(orphan.project_id)
    if project_id is not None and db.get(ProjectRow, project_id) is None:
        project_id = None  # a project gone too: the event stands on its own
    audit.record(
        db,
        principal=principal,
        action="runtime.orphan.deleted",
        resource_type=ref.kind.lower(),
        resource_name=ref.name,
        project_id=project_id,
        metadata={"adapter": ref.adapter, "namespace": ref.namespace, "reason": orphan.reason},
    )
    commit(db)


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def _now() -> datetime:
    return datetime.now(UTC)
