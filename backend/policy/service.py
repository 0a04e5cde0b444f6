"""Launch policy and quota checks. Denials are audited even though the change is refused."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session, col, func, select

from backend import audit
from backend.auth.models import Principal
from backend.db import commit
from backend.errors import PolicyDenied
from backend.policy.models import ProjectPolicyRow, ProjectQuotaPolicyRow
from backend.sandboxes.models import SandboxRow
from backend.templates.models import TemplateRow


def preflight(
    session: Session, *, project_id: uuid.UUID, template: TemplateRow, service_account: str
) -> list[str]:
    """Exactly the reasons a launch would be refused, in the order the API reports them: the
    launch policy's, else the active sandbox quota's. Launches and their preview share it."""
    return launch_violations(
        session, project_id=project_id, template=template, service_account=service_account
    ) or active_sandbox_violations(session, project_id=project_id)


def launch_violations(
    session: Session, *, project_id: uuid.UUID, template: TemplateRow, service_account: str
) -> list[str]:
    """Every reason the project's launch policy refuses this template and identity."""
    reasons: list[str] = []
    if template.project_id is not None and template.project_id != project_id:
        reasons.append("template belongs to a different project")
    policy = session.get(ProjectPolicyRow, project_id)
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


def active_sandbox_violations(session: Session, *, project_id: uuid.UUID) -> list[str]:
    quota = session.get(ProjectQuotaPolicyRow, project_id)
    if quota is None or quota.enforcement != "enforced" or quota.max_active_sandboxes is None:
        return []
    active = session.exec(
        select(func.count())
        .select_from(SandboxRow)
        .where(SandboxRow.project_id == project_id, col(SandboxRow.deleted_at).is_(None))
    ).one()
    if active < quota.max_active_sandboxes:
        return []
    return [
        "active sandbox quota exceeded: "
        f"maxActiveSandboxes={quota.max_active_sandboxes} active={active}"
    ]


def retained_bytes_violations(
    session: Session, *, project_id: uuid.UUID, retained: int, incoming: int
) -> list[str]:
    """Retaining `incoming` more bytes (negative when content shrinks) on top of `retained`."""
    quota = session.get(ProjectQuotaPolicyRow, project_id)
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
    session: Session,
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
    session.rollback()
    reason = "; ".join(reasons)
    audit.service.record(
        session,
        principal=principal,
        action="policy.denied",
        resource_type=resource_type,
        resource_name=resource_name,
        project_id=project_id,
        metadata={**metadata, "operation": operation, "reason": reason},
    )
    commit(session)
    return PolicyDenied(reasons, operation=operation)
