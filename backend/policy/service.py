"""Launch policy and quota: the checks (denials are audited even though the change is
refused), and reading and replacing a project's policies."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from sqlmodel import Session, col, select

from backend import audit, changes
from backend.auth import access
from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.db import commit, get_row, utcnow
from backend.errors import DeniedRule, InvalidInput, NotFound, PolicyDenied
from backend.policy.models import (
    ENFORCEMENT_MODES,
    NEVER,
    PolicyPreview,
    PolicyPreviewItem,
    ProjectPolicyRow,
    ProjectPolicyUpsert,
    ProjectQuotaPolicyRow,
    ProjectQuotaPolicyUpsert,
)
from backend.projects.models import ProjectRow
from backend.quantities import format_quantity, parse_quantity

# Read only, for the preview: the sandboxes a policy would deny (pyproject: import-linter).
from backend.sandboxes.models import DEFAULT_SERVICE_ACCOUNT, SandboxRow
from backend.schemas import DeniedRuleBody
from backend.templates.models import TemplateRow


def lock_project(db: Session, project_id: uuid.UUID) -> ProjectRow:
    """The project, its row locked until commit: every change that adds to what a project
    uses takes this lock before counting, so quota checks and their writes are one step
    (Postgres: SELECT ... FOR UPDATE; SQLite transactions are serialised already)."""
    query = select(ProjectRow).where(ProjectRow.id == project_id).with_for_update()
    project = db.exec(query).first()
    if project is None:
        raise NotFound("project not found")
    return project


# -- launch policy ------------------------------------------------------------------------


def launch_rules(
    db: Session, *, project_id: uuid.UUID, template: TemplateRow, service_account: str
) -> list[DeniedRule]:
    """Every rule the project's launch policy breaks for this template and identity."""
    policy = db.get(ProjectPolicyRow, project_id)
    return policy_rules(policy, project_id, template, service_account)


def secret_name_rules(db: Session, *, project_id: uuid.UUID, names: list[str]) -> list[DeniedRule]:
    """The secrets (by name) that the project's enforced launch policy does not allow:
    credentials mounted into its sandboxes are held to the same list as templates'."""
    policy = db.get(ProjectPolicyRow, project_id)
    if policy is None or policy.enforcement != "enforced":
        return []
    return [
        DeniedRule("allowedSecretRefs", f'credential secret "{name}" is not allowed', name)
        for name in dict.fromkeys(names)
        if name not in policy.allowed_secret_refs
    ]


def policy_rules(
    policy: ProjectPolicyRow | None, project_id: uuid.UUID, template: TemplateRow, account: str
) -> list[DeniedRule]:
    """The rules `policy` (stored or previewed) breaks, in the order the API reports them."""
    broken: list[DeniedRule] = []
    if template.project_id is not None and template.project_id != project_id:
        broken.append(
            DeniedRule(
                "templateProject",
                "template belongs to a different project",
                str(template.project_id),
            )
        )
    if policy is None or policy.enforcement != "enforced":
        return broken
    image, secrets = _image_rules(policy, template), _secret_rules(policy, template)
    return broken + image + _account_rules(policy, account) + secrets


def _image_rules(policy: ProjectPolicyRow, template: TemplateRow) -> list[DeniedRule]:
    prefixes = policy.allowed_image_prefixes
    if not prefixes or any(template.image.startswith(prefix) for prefix in prefixes):
        return []
    message = f'image "{template.image}" is not allowed'
    return [DeniedRule("allowedImagePrefixes", message, template.image)]


def _secret_rules(policy: ProjectPolicyRow, template: TemplateRow) -> list[DeniedRule]:
    names = [ref.get("name") for ref in template.secret_refs]
    return [
        DeniedRule("allowedSecretRefs", f'secretRef "{name}" is not allowed', name)
        for name in names
        if name not in policy.allowed_secret_refs
    ]


def _account_rules(policy: ProjectPolicyRow, account: str) -> list[DeniedRule]:
    accounts = policy.allowed_service_accounts
    if not accounts or account in accounts:
        return []
    message = f'serviceAccountName "{account}" is not allowed'
    return [DeniedRule("allowedServiceAccounts", message, account)]


def template_rules(
    db: Session, *, project_id: uuid.UUID, template: TemplateRow
) -> list[DeniedRule]:
    """What the project's enforced launch policy says of the template's own fields (image,
    secret references): a template edit is held to it for every sandbox using it."""
    policy = db.get(ProjectPolicyRow, project_id)
    if policy is None or policy.enforcement != "enforced":
        return []
    return _image_rules(policy, template) + _secret_rules(policy, template)


def launch_violations(
    db: Session, *, project_id: uuid.UUID, template: TemplateRow, service_account: str
) -> list[str]:
    """The reasons of `launch_rules`, in words (the boundary summary's evidence)."""
    rules = launch_rules(
        db, project_id=project_id, template=template, service_account=service_account
    )
    return [rule.message for rule in rules]


# -- quotas -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quota:
    """A limit of the quota policy: its wire name, column, what it measures (the usage's
    key, and the word in a denial) and the words of its denial."""

    name: str
    column: str
    measure: str
    words: str
    unit: str | None = None

    @property
    def quantity(self) -> bool:
        return self.measure in ("cpu", "memory")


QUOTAS = (
    Quota("maxActiveSandboxes", "max_active_sandboxes", "active", "active sandbox"),
    Quota("maxRunningSandboxes", "max_running_sandboxes", "running", "running sandbox"),
    Quota("maxCpu", "max_cpu", "cpu", "cpu request", "cpu"),
    Quota("maxMemory", "max_memory", "memory", "memory request", "bytes"),
    Quota("maxTasksInProgress", "max_tasks_in_progress", "tasks", "tasks in progress"),
    Quota("maxLiveTerminals", "max_live_terminals", "terminals", "live terminal"),
    Quota(
        "maxRetainedArtifactBytes",
        "max_retained_artifact_bytes",
        "retained",
        "retained artifact bytes",
        "bytes",
    ),
)
Amount = int | Decimal


def enforced_quota(db: Session, project_id: uuid.UUID) -> ProjectQuotaPolicyRow | None:
    quota = db.get(ProjectQuotaPolicyRow, project_id)
    return quota if quota is not None and quota.enforcement == "enforced" else None


def limit_of(quota: ProjectQuotaPolicyRow, limit: Quota) -> Amount | None:
    """A limit's value (a quantity's in cores or bytes); None: no limit."""
    value = getattr(quota, limit.column)
    if value is None or not limit.quantity:
        return value
    parsed = parse_quantity(value)
    return parsed[0] if parsed else None


def quota_rules(
    db: Session,
    *,
    project_id: uuid.UUID,
    usage: Mapping[str, Amount],
    demand: Mapping[str, Amount],
) -> list[DeniedRule]:
    """The limits `demand` (what the change adds, by measure) would take the project's
    `usage` (counted by the caller, under `lock_project`) beyond."""
    quota = enforced_quota(db, project_id)
    if quota is None:
        return []
    broken = []
    for limit in QUOTAS:
        value = limit_of(quota, limit) if limit.measure in demand else None
        requested = demand.get(limit.measure, 0)
        if value is None or requested <= 0 or usage[limit.measure] + requested <= value:
            continue
        broken.append(_exceeded(quota, limit, usage[limit.measure], requested))
    return broken


def check_one_more(
    db: Session,
    *,
    principal: Principal,
    project_id: uuid.UUID,
    measure: str,
    count: Callable[[], int],
    operation: str,
    subject: tuple[str, str],
    metadata: dict[str, Any],
) -> None:
    """Refuse one more of `measure` (tasks, terminals) beyond the project's limit: the
    project is locked before `count()` runs and stays locked until the caller commits
    its insert, so concurrent requests take turns. `subject`: (resource type, name). A
    project with no enforced limit on `measure` is neither locked nor counted."""
    quota = enforced_quota(db, project_id)
    if quota is None or all(
        limit_of(quota, limit) is None for limit in QUOTAS if limit.measure == measure
    ):
        return
    lock_project(db, project_id)
    rules = quota_rules(db, project_id=project_id, usage={measure: count()}, demand={measure: 1})
    if rules:
        raise deny(
            db,
            principal=principal,
            reasons=rules,
            operation=operation,
            resource_type=subject[0],
            resource_name=subject[1],
            project_id=project_id,
            metadata=metadata,
        )


def shown(limit: Quota, amount: Amount) -> Amount | str:
    """An amount as the API shows it: quantities spelled like Kubernetes."""
    if not limit.quantity:
        return amount
    return format_quantity(Decimal(amount), binary=limit.measure == "memory")


def _exceeded(
    quota: ProjectQuotaPolicyRow, limit: Quota, current: Amount, requested: Amount
) -> DeniedRule:
    stated = getattr(quota, limit.column)
    current_text, requested_text = shown(limit, current), shown(limit, requested)
    message = f"{limit.words} quota exceeded: {limit.name}={stated} {limit.measure}={current_text}"
    if requested != 1 or limit.quantity:
        message += f" requested={requested_text}"
    return DeniedRule(
        limit.name,
        message,
        requested_text,
        limit=stated,
        current=current_text,
        requested=requested_text,
    )


def retained_bytes_violations(
    db: Session, *, project_id: uuid.UUID, retained: int, incoming: int
) -> list[DeniedRule]:
    """Retaining `incoming` more bytes (negative when content shrinks) on top of `retained`."""
    quota = enforced_quota(db, project_id)
    if quota is None or quota.max_retained_artifact_bytes is None:
        return []
    if incoming <= 0 or retained + incoming <= quota.max_retained_artifact_bytes:
        return []
    message = (
        "retained artifact bytes quota exceeded: "
        f"maxRetainedArtifactBytes={quota.max_retained_artifact_bytes} "
        f"retained={retained} incoming={incoming}"
    )
    return [
        DeniedRule(
            "maxRetainedArtifactBytes",
            message,
            incoming,
            limit=quota.max_retained_artifact_bytes,
            current=retained,
            requested=incoming,
        )
    ]


def deny(
    db: Session,
    *,
    principal: Principal,
    reasons: list[DeniedRule],
    operation: str,
    resource_type: str,
    resource_name: str,
    project_id: uuid.UUID | None,
    metadata: dict[str, Any],
) -> PolicyDenied:
    """Undo the change, record a `policy.denied` event on its own (the operation, the
    reasons in words and the rules) and return the error for the caller to raise."""
    db.rollback()
    error = PolicyDenied(reasons, operation=operation)
    audit.service.record(
        db,
        principal=principal,
        action="policy.denied",
        resource_type=resource_type,
        resource_name=resource_name,
        project_id=project_id,
        metadata={
            **metadata,
            "operation": operation,
            "reason": "; ".join(error.reasons),
            "rules": error.denial["rules"],
        },
    )
    commit(db)
    return error


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
    fields = _launch_fields(data)
    policy = _stored(db, ProjectPolicyRow, project_id)
    for name, value in fields.items():
        setattr(policy, name, value)
    audit.service.record_change(
        db,
        principal=principal,
        action="project.policy.updated",
        subject=project,
        metadata={
            "enforcement": policy.enforcement,
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
    limits = {limit.column: _checked_limit(limit, getattr(data, limit.column)) for limit in QUOTAS}
    quota = _stored(db, ProjectQuotaPolicyRow, project_id)
    quota.enforcement = enforcement
    for column, value in limits.items():
        setattr(quota, column, value)
    audit.service.record_change(
        db,
        principal=principal,
        action="project.quota_policy.updated",
        subject=project,
        metadata=_quota_metadata(enforcement, limits),
    )
    commit(db)
    changes.notify("sandboxes")  # open launch previews re-check
    return quota


def _quota_metadata(enforcement: str, limits: dict[str, Any]) -> dict[str, Any]:
    """The reference's keys always; the limits it does not know only when set."""
    metadata = {"enforcement": enforcement}
    for limit in QUOTAS:
        value = limits[limit.column]
        if value is not None or limit.name in ("maxActiveSandboxes", "maxRetainedArtifactBytes"):
            metadata[limit.name] = value
    return metadata


def preview_launch_policy(
    db: Session, *, principal: Principal, project_id: uuid.UUID, data: ProjectPolicyUpsert
) -> PolicyPreview:
    """A dry run of `put_launch_policy`: the templates the project may use and its live
    sandboxes that `data` would deny, each with its rules. Nothing is written."""
    access.require(principal, Permission.READ, project_id)
    get_row(db, ProjectRow, project_id)
    rules = ProjectPolicyRow(project_id=project_id, **_launch_fields(data))
    templates = db.exec(
        select(TemplateRow)
        .where((TemplateRow.project_id == project_id) | col(TemplateRow.project_id).is_(None))
        .order_by(col(TemplateRow.project_id).is_not(None), col(TemplateRow.slug))
    ).all()
    sandboxes = db.exec(
        select(SandboxRow, TemplateRow)
        .join(TemplateRow, col(TemplateRow.id) == col(SandboxRow.template_id))
        .where(SandboxRow.project_id == project_id, col(SandboxRow.deleted_at).is_(None))
        .order_by(col(SandboxRow.created_at).desc(), col(SandboxRow.id))
    ).all()
    denied_templates = [
        _denied(rules, "template", row, row, DEFAULT_SERVICE_ACCOUNT) for row in templates
    ]
    denied_sandboxes = [
        _denied(rules, "sandbox", row, template, row.service_account_name)
        for row, template in sandboxes
    ]
    return PolicyPreview(
        project_id=project_id,
        enforcement=rules.enforcement,
        checked_templates=len(templates),
        checked_sandboxes=len(sandboxes),
        templates=[item for item in denied_templates if item is not None],
        sandboxes=[item for item in denied_sandboxes if item is not None],
    )


def _denied(
    rules: ProjectPolicyRow, kind: str, row: Any, template: TemplateRow, account: str
) -> PolicyPreviewItem | None:
    """A template or sandbox `rules` would deny (None: it allows it)."""
    broken = policy_rules(rules, rules.project_id, template, account)
    if not broken:
        return None
    return PolicyPreviewItem(
        kind=kind,
        id=row.id,
        name=row.name,
        slug=row.slug,
        template_id=template.id if kind == "sandbox" else None,
        rules=[DeniedRuleBody.model_validate(rule.to_json()) for rule in broken],
    )


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


def _checked_limit(limit: Quota, value: int | str | None) -> int | str | None:
    """A limit as written: a count at least 0, or a Kubernetes quantity (trimmed)."""
    if value is None:
        return None
    if not limit.quantity:
        if value < 0:  # type: ignore[operator]
            raise InvalidInput(f"{limit.name} cannot be negative", field=limit.name)
        return value
    text = str(value).strip()
    if text.startswith("-"):
        raise InvalidInput(f"{limit.name} cannot be negative", field=limit.name)
    if parse_quantity(text) is None:
        raise InvalidInput(
            f"{limit.name} must be a Kubernetes quantity such as "
            + ("4 or 500m" if limit.measure == "cpu" else "512Mi or 8Gi"),
            field=limit.name,
        )
    return text


def _launch_fields(data: ProjectPolicyUpsert) -> dict[str, Any]:
    """A launch policy's fields as written (validated, lists cleaned)."""
    return {
        "enforcement": _enforcement(data.enforcement),
        "allowed_image_prefixes": _clean_list(data.allowed_image_prefixes),
        "allowed_service_accounts": _clean_list(data.allowed_service_accounts),
        "allowed_secret_refs": _clean_list(data.allowed_secret_refs),
    }


def _enforcement(value: str | None) -> str:
    if value not in ENFORCEMENT_MODES:
        raise InvalidInput("enforcement must be disabled or enforced", field="enforcement")
    return value


def _clean_list(values: list[str] | None) -> list[str]:
    """Trimmed, blanks dropped, duplicates dropped (first one kept)."""
    return list(dict.fromkeys(v.strip() for v in values or [] if v.strip()))
