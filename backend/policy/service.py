"""Launch policy and quota: the checks (denials are audited even though the change is
refused), and reading and replacing a project's policies."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlmodel import Session

from backend import audit, changes
from backend.auth import access
from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.db import commit, get_row, utcnow
from backend.errors import InvalidInput, PolicyDenied
from backend.policy.models import (
    ENFORCEMENT_MODES,
    NEVER,
    ProjectPolicyRow,
    ProjectPolicyUpsert,
    ProjectQuotaPolicyRow,
    ProjectQuotaPolicyUpsert,
)
from backend.projects.models import ProjectRow
from backend.templates.models import TemplateRow


def preflight(
    db: Session,
    *,
    project_id: uuid.UUID,
    template: TemplateRow,
    service_account: str,
    active: int,
) -> list[str]:
    """Exactly the reasons a launch would be refused, in the order the API reports them: the
    launch policy's, else the active sandbox quota's (`active`: the project's active
    sandboxes, counted by the caller). Launches and their preview share it."""
    return launch_violations(
        db, project_id=project_id, template=template, service_account=service_account
    ) or active_sandbox_violations(db, project_id=project_id, active=active)


def launch_violations(
    db: Session, *, project_id: uuid.UUID, template: TemplateRow, service_account: str
) -> list[str]:
    """Every reason the project's launch policy refuses this template and identity."""
    reasons: list[str] = []
    if template.project_id is not None and template.project_id != project_id:
        reasons.append("template belongs to a different project")
    policy = db.get(ProjectPolicyRow, project_id)
    if policy is None or policy.enforcement != "enforced":
        return reasons
    prefixes = policy.allowed_image_prefixes
    if prefixes and not any(template.image.startswith(prefix) for prefix in prefixes):
        reasons.append(f'image "{template.image}" is not allowed')
    accounts = policy.allowed_service_accounts
    if accounts and service_account not in accounts:
        reasons.append(f'serviceAccountName "{service_account}" is not allowed')
    for ref in template.secret_refs:
        if ref.get("name") not in policy.allowed_secret_refs:
            reasons.append(f'secretRef "{ref.get("name")}" is not allowed')
    return reasons


def active_sandbox_violations(db: Session, *, project_id: uuid.UUID, active: int) -> list[str]:
    """Whether one more sandbox fits the quota, given the project's `active` sandboxes
    (counted by the caller: backend.sandboxes.service.count_active)."""
    quota = db.get(ProjectQuotaPolicyRow, project_id)
    if quota is None or quota.enforcement != "enforced" or quota.max_active_sandboxes is None:
        return []
    if active < quota.max_active_sandboxes:
        return []
    return [
        "active sandbox quota exceeded: "
        f"maxActiveSandboxes={quota.max_active_sandboxes} active={active}"
    ]


def retained_bytes_violations(
    db: Session, *, project_id: uuid.UUID, retained: int, incoming: int
) -> list[str]:
    """Retaining `incoming` more bytes (negative when content shrinks) on top of `retained`."""
    quota = db.get(ProjectQuotaPolicyRow, project_id)
    if (
        quota is None
        or quota.enforcement != "enforced"
        or quota.max_retained_artifact_bytes is None
    ):
        return []
    if incoming <= 0 or retained + incoming <= quota.max_retained_artifact_bytes:
        return []
    return [
        "retained artifact bytes quota exceeded: "
        f"maxRetainedArtifactBytes={quota.max_retained_artifact_bytes} "
        f"retained={retained} incoming={incoming}"
    ]


def deny(
    db: Session,
    *,
    principal: Principal,
    reasons: list[str],
    operation: str,
    resource_type: str,
    resource_name: str,
    project_id: uuid.UUID,
    metadata: dict[str, Any],
) -> PolicyDenied:
    """Record a `policy.denied` event on its own and return the error for the caller to raise."""
    db.rollback()
    reason = "; ".join(reasons)
    audit.service.record(
        db,
        principal=principal,
        action="policy.denied",
        resource_type=resource_type,
        resource_name=resource_name,
        project_id=project_id,
        metadata={**metadata, "operation": operation, "reason": reason},
    )
    commit(db)
    return PolicyDenied(reasons, operation=operation)


# -- reading and replacing a project's policies ------------------------------------------


def get_launch_policy(db: Session, project_id: uuid.UUID) -> ProjectPolicyRow:
    """The stored launch policy, or the default (disabled, never written) if there is none."""
    get_row(db, ProjectRow, project_id)
    return db.get(ProjectPolicyRow, project_id) or ProjectPolicyRow(
        project_id=project_id, created_at=NEVER, updated_at=NEVER
    )


def put_launch_policy(
    db: Session, *, principal: Principal, project_id: uuid.UUID, data: ProjectPolicyUpsert
) -> ProjectPolicyRow:
    """Replace the launch policy whole (an absent list is an empty one)."""
    access.require(principal, Permission.GOVERN, project_id)
    project = get_row(db, ProjectRow, project_id)
    enforcement = _enforcement(data.enforcement)
    policy = _stored(db, ProjectPolicyRow, project_id)
    policy.enforcement = enforcement
    policy.allowed_image_prefixes = _clean_list(data.allowed_image_prefixes)
    policy.allowed_service_accounts = _clean_list(data.allowed_service_accounts)
    policy.allowed_secret_refs = _clean_list(data.allowed_secret_refs)
    audit.service.record_change(
        db,
        principal=principal,
        action="project.policy.updated",
        subject=project,
        metadata={
            "enforcement": enforcement,
            "allowedImagePrefixes": policy.allowed_image_prefixes,
            "allowedServiceAccounts": policy.allowed_service_accounts,
            "allowedSecretRefCount": len(policy.allowed_secret_refs),
        },
    )
    commit(db)
    changes.notify("sandboxes")  # open launch previews re-check
    return policy


def get_quota_policy(db: Session, project_id: uuid.UUID) -> ProjectQuotaPolicyRow:
    """The stored quota policy, or the default (disabled, unlimited) if there is none."""
    get_row(db, ProjectRow, project_id)
    return db.get(ProjectQuotaPolicyRow, project_id) or ProjectQuotaPolicyRow(
        project_id=project_id, created_at=NEVER, updated_at=NEVER
    )


def put_quota_policy(
    db: Session,
    *,
    principal: Principal,
    project_id: uuid.UUID,
    data: ProjectQuotaPolicyUpsert,
) -> ProjectQuotaPolicyRow:
    """Replace the quota policy whole (an absent limit is no limit)."""
    access.require(principal, Permission.GOVERN, project_id)
    project = get_row(db, ProjectRow, project_id)
    enforcement = _enforcement(data.enforcement)
    for limit, name in (
        (data.max_active_sandboxes, "maxActiveSandboxes"),
        (data.max_retained_artifact_bytes, "maxRetainedArtifactBytes"),
    ):
        if limit is not None and limit < 0:
            raise InvalidInput(f"{name} cannot be negative")
    quota = _stored(db, ProjectQuotaPolicyRow, project_id)
    quota.enforcement = enforcement
    quota.max_active_sandboxes = data.max_active_sandboxes
    quota.max_retained_artifact_bytes = data.max_retained_artifact_bytes
    audit.service.record_change(
        db,
        principal=principal,
        action="project.quota_policy.updated",
        subject=project,
        metadata={
            "enforcement": enforcement,
            "maxActiveSandboxes": quota.max_active_sandboxes,
            "maxRetainedArtifactBytes": quota.max_retained_artifact_bytes,
        },
    )
    commit(db)
    changes.notify("sandboxes")  # open launch previews re-check
    return quota


PolicyRowT = TypeVar("PolicyRowT", ProjectPolicyRow, ProjectQuotaPolicyRow)


def _stored(db: Session, model: type[PolicyRowT], project_id: uuid.UUID) -> PolicyRowT:
    """The project's row of `model` to overwrite (a new one the first time)."""
    now = utcnow()
    row = db.get(model, project_id)
    if row is None:
        row = model(project_id=project_id, created_at=now, updated_at=now)
        db.add(row)
    row.updated_at = now
    return row


def _enforcement(value: str | None) -> str:
    if value not in ENFORCEMENT_MODES:
        raise InvalidInput("enforcement must be disabled or enforced")
    return value


def _clean_list(values: list[str] | None) -> list[str]:
    """Trimmed, blanks dropped, duplicates dropped (first one kept)."""
    return list(dict.fromkeys(v.strip() for v in values or [] if v.strip()))
