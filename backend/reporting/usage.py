"""A project's usage summary (GET /v1/projects/{id}/usage): counts from product records.

Every part is one GROUP BY query (or a primary-key read), so the summary costs the same
with ten sandboxes or ten thousand; only the grouped rows are folded in Python. `live`
sums the latest resource sample of each running sandbox (backend/metrics).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from backend.artifacts.models import ARTIFACT_KINDS, ArtifactRow, ArtifactUsageRow
from backend.credentials.models import CREDENTIAL_TYPES, ProjectCredentialRow
from backend.db import utcnow
from backend.metrics import service as metrics
from backend.policy import service as policy
from backend.policy.models import ProjectQuotaPolicyRow
from backend.projects.models import (
    ProjectArtifactUsage,
    ProjectCredentialUsage,
    ProjectSandboxUsage,
    ProjectSessionUsage,
    ProjectTaskUsage,
    ProjectTemplateUsage,
    ProjectUsage,
    QuotaUsage,
    ResourceQuantityUsage,
    ResourceUsageValue,
    SandboxResourceRequestUsage,
)
from backend.projects.service import get_project
from backend.quantities import format_quantity, parse_quantity
from backend.sandboxes import service as sandboxes
from backend.sandboxes.models import SandboxRow
from backend.sessions import service as sessions
from backend.sessions.models import SESSION_STATUSES, SESSION_TYPES, RuntimeSessionRow
from backend.tasks import service as tasks
from backend.tasks.models import TASK_STATUSES, ExecutionTaskRow
from backend.templates.models import TemplateRow

RESOURCES = ("cpu", "memory", "storage")
LIVE_STATUSES = ("pending", "running", "stopped", "failed")


def project_usage(db: Session, *, project_id: uuid.UUID) -> ProjectUsage:
    get_project(db, project_id)  # NotFound for an unknown project
    quota = policy.enforced_quota(db, project_id)
    return ProjectUsage(
        project_id=project_id,
        generated_at=utcnow(),
        sandboxes=_sandboxes(db, project_id, quota),
        runtime_sessions=_sessions(db, project_id),
        execution_tasks=_tasks(db, project_id),
        artifacts=_artifacts(db, project_id, quota),
        templates=_templates(db, project_id),
        credentials=_credentials(db, project_id),
        notes=_notes(quota),
        quotas=_quotas(db, project_id, quota),
        live=metrics.project_live(db, project_id),
    )


def _quotas(
    db: Session, project_id: uuid.UUID, quota: ProjectQuotaPolicyRow | None
) -> list[QuotaUsage]:
    """Each quota with what it counts now (the same counts the checks use)."""
    usage = sandboxes.launch_usage(db, project_id) | {
        "tasks": tasks.count_in_progress(db, project_id),
        "terminals": sessions.count_live_terminals(db, project_id),
        "retained": _retained(db, project_id).retained_bytes,
    }
    return [
        QuotaUsage(
            name=limit.name,
            limit=getattr(quota, limit.column) if quota else None,
            current=policy.shown(limit, usage[limit.measure]),
            unit=limit.unit,
        )
        for limit in policy.QUOTAS
    ]


def _retained(db: Session, project_id: uuid.UUID) -> ArtifactUsageRow:
    return db.get(ArtifactUsageRow, project_id) or ArtifactUsageRow(project_id=project_id)


def _grouped(db: Session, query: sa.Select) -> list[tuple]:
    return [tuple(row) for row in db.exec(query)]  # type: ignore[call-overload]


# -- sandboxes -------------------------------------------------------------------------------


def _sandboxes(
    db: Session, project_id: uuid.UUID, quota: ProjectQuotaPolicyRow | None
) -> ProjectSandboxUsage:
    # Grouped by columns and IS NULL tests only: Postgres matches a GROUP BY expression with
    # its SELECT twin only when they have no bound parameters.
    has_deleted_at = col(SandboxRow.deleted_at).is_not(None)
    has_runtime = col(SandboxRow.runtime_ref).is_not(None)
    rows = _grouped(
        db,
        select(SandboxRow.status, has_deleted_at, has_runtime, func.count())
        .where(SandboxRow.project_id == project_id)
        .group_by(SandboxRow.status, has_deleted_at, has_runtime),
    )
    by_status: Counter[str] = Counter()
    deleted = cleanup_pending = total = 0
    for status, deleted_at, runtime, count in rows:
        total += count
        if deleted_at or status == "deleted":
            deleted += count
            cleanup_pending += count if runtime else 0
        else:
            by_status[status] += count
    active_requests, running_requests = _requests(db, project_id)
    return ProjectSandboxUsage(
        total=total,
        active=sum(by_status.values()),
        **{status: by_status[status] for status in LIVE_STATUSES},
        deleted=deleted,
        cleanup_pending=cleanup_pending,
        active_requests=active_requests,
        running_requests=running_requests,
        max_active=quota.max_active_sandboxes if quota else None,
    )


def _requests(
    db: Session, project_id: uuid.UUID
) -> tuple[SandboxResourceRequestUsage, SandboxResourceRequestUsage]:
    """Requests declared by the templates of live sandboxes: grouped per template and status."""
    rows = _grouped(
        db,
        select(
            TemplateRow.cpu_request,
            TemplateRow.memory_request,
            TemplateRow.storage_request,
            SandboxRow.status,
            func.count(),
        )
        .select_from(SandboxRow)
        .outerjoin(TemplateRow, col(TemplateRow.id) == col(SandboxRow.template_id))
        .where(
            SandboxRow.project_id == project_id,
            col(SandboxRow.deleted_at).is_(None),
            SandboxRow.status != "deleted",
        )
        .group_by(
            TemplateRow.cpu_request,
            TemplateRow.memory_request,
            TemplateRow.storage_request,
            SandboxRow.status,
        ),
    )
    active = [(row[:3], row[4]) for row in rows]
    running = [(row[:3], row[4]) for row in rows if row[3] == "running"]
    return _request_usage(active), _request_usage(running)


def _request_usage(groups: list[tuple[tuple, int]]) -> SandboxResourceRequestUsage:
    quantities = {
        name: _quantity_usage((values[i], count) for values, count in groups)
        for i, name in enumerate(RESOURCES)
    }
    return SandboxResourceRequestUsage(count=sum(count for _, count in groups), **quantities)


def _quantity_usage(values: Iterable[tuple[str | None, int]]) -> ResourceQuantityUsage:
    declared = missing = invalid = 0
    total = Decimal(0)
    binary = False
    for text, count in values:
        if not (text or "").strip():
            missing += count
            continue
        parsed = parse_quantity(text or "")
        if parsed is None:
            invalid += count
            continue
        amount, is_binary = parsed
        declared += count
        total += amount * count
        binary = binary or is_binary
    return ResourceQuantityUsage(
        total=format_quantity(total, binary=binary) if declared else None,
        declared=declared,
        missing=missing,
        invalid=invalid,
    )


# -- sessions, tasks, artifacts, templates, credentials ---------------------------------------


def _counts(db: Session, column: sa.ColumnElement, owner: sa.ColumnElement, project_id):
    query = select(column, func.count()).where(owner == project_id).group_by(column)
    return Counter({key: count for key, count in _grouped(db, query)})


def _sessions(db: Session, project_id: uuid.UUID) -> ProjectSessionUsage:
    rows = _grouped(
        db,
        select(RuntimeSessionRow.type, RuntimeSessionRow.status, func.count())
        .where(RuntimeSessionRow.project_id == project_id)
        .group_by(RuntimeSessionRow.type, RuntimeSessionRow.status),
    )
    types: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    for kind, status, count in rows:
        types[kind] += count
        statuses[status] += count
    return ProjectSessionUsage(
        total=sum(types.values()),
        **{status: statuses[status] for status in SESSION_STATUSES},
        **{kind: types[kind] for kind in SESSION_TYPES},
    )


def _tasks(db: Session, project_id: uuid.UUID) -> ProjectTaskUsage:
    statuses = _counts(
        db, col(ExecutionTaskRow.status), col(ExecutionTaskRow.project_id), project_id
    )
    return ProjectTaskUsage(
        total=sum(statuses.values()), **{status: statuses[status] for status in TASK_STATUSES}
    )


def _artifacts(
    db: Session, project_id: uuid.UUID, quota: ProjectQuotaPolicyRow | None
) -> ProjectArtifactUsage:
    rows = _grouped(
        db,
        select(ArtifactRow.kind, func.count(), func.coalesce(func.sum(ArtifactRow.size_bytes), 0))
        .where(ArtifactRow.project_id == project_id)
        .group_by(ArtifactRow.kind),
    )
    kinds = Counter({kind: count for kind, count, _ in rows})
    retained = _retained(db, project_id)
    return ProjectArtifactUsage(
        total=sum(kinds.values()),
        retained_content=retained.retained_count,
        referenced_bytes=sum(int(size) for _, _, size in rows),
        retained_bytes=retained.retained_bytes,
        **{kind: kinds[kind] for kind in ARTIFACT_KINDS},
        max_retained_bytes=quota.max_retained_artifact_bytes if quota else None,
    )


def _templates(db: Session, project_id: uuid.UUID) -> ProjectTemplateUsage:
    """Templates this project can use (its own and the global ones), and their requests."""
    is_global = col(TemplateRow.project_id).is_(None)
    rows = _grouped(
        db,
        select(
            is_global,
            TemplateRow.cpu_request,
            TemplateRow.memory_request,
            TemplateRow.storage_request,
            func.count(),
        )
        .where(is_global | (col(TemplateRow.project_id) == project_id))
        .group_by(
            is_global,
            TemplateRow.cpu_request,
            TemplateRow.memory_request,
            TemplateRow.storage_request,
        ),
    )
    requests: dict[str, Counter[str]] = {name: Counter() for name in RESOURCES}
    for row in rows:
        for name, value in zip(RESOURCES, row[1:4], strict=True):
            if value := (value or "").strip():
                requests[name][value] += row[4]
    return ProjectTemplateUsage(
        project_scoped=sum(row[4] for row in rows if not row[0]),
        global_visible=sum(row[4] for row in rows if row[0]),
        cpu_requests=_ranked(requests["cpu"]),
        memory_requests=_ranked(requests["memory"]),
        storage_requests=_ranked(requests["storage"]),
    )


def _ranked(values: Counter[str]) -> list[ResourceUsageValue] | None:
    ranked = sorted(values.items(), key=lambda item: (-item[1], item[0]))
    return [ResourceUsageValue(value=value, count=count) for value, count in ranked] or None


def _credentials(db: Session, project_id: uuid.UUID) -> ProjectCredentialUsage:
    types = _counts(
        db, col(ProjectCredentialRow.type), col(ProjectCredentialRow.project_id), project_id
    )
    return ProjectCredentialUsage(
        total=sum(types.values()), **{kind: types[kind] for kind in CREDENTIAL_TYPES}
    )


def _notes(quota: ProjectQuotaPolicyRow | None) -> list[str]:
    enforcement = (
        "the project's quota policy is enforced when sandboxes launch or start, tasks are "
        "created, terminals open and artifact content is retained; quotas lists each limit"
        if quota
        else "no quota policy is enforced for this project"
    )
    return [
        "usage is aggregated from mbox product records",
        "sandbox resource requests are summed from the templates of active sandboxes; "
        "live sums the latest runtime sample of each running sandbox",
        enforcement,
    ]
