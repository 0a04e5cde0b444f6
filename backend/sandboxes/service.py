"""Sandboxes: launch (policy and quota checked), read, update, start, stop, soft delete.

`status` and `runtimeRef` are owned by the server: clients express intent through
start/stop/delete (`desired_state`), and the runtime side reports what really is.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from backend import audit, changes
from backend.auth import access
from backend.auth.access import Permission
from backend.auth.models import SYSTEM, Principal
from backend.credentials.service import sandbox_mounts
from backend.db import commit, get_row, utcnow
from backend.errors import Conflict, DeniedRule, InvalidInput, NotFound
from backend.policy import service as policy
from backend.projects import service as project_service
from backend.projects.models import ProjectRow
from backend.quantities import quantity_value
from backend.runtime.base import CredentialMount, PortSpec, RegistryCredential, SandboxSpec
from backend.sandboxes.models import (
    DEFAULT_SERVICE_ACCOUNT,
    SandboxCreate,
    SandboxHoldRow,
    SandboxRow,
    SandboxUpdate,
)
from backend.templates import service as templates
from backend.templates.models import TemplateRow
from backend.validation import (
    about,
    check_name,
    check_namespace,
    dns_label,
    link_url,
    metadata_value,
    name_and_slug,
    optional_uuid,
    required,
)

# The contract's words for a launch without them; detail.field says which one.
REQUIRED = "projectId, name, and valid slug are required"
PLACEMENT_REQUIRED = "namespace and serviceAccountName are required"
_LIKE_SPECIALS = re.compile(r"[\\%_]")  # escaped in a search: it means the text itself


def list_sandboxes(
    db: Session, *, project_id: uuid.UUID | None = None, limit: int | None = None
) -> list[SandboxRow]:
    query = select(SandboxRow).where(col(SandboxRow.deleted_at).is_(None))
    if project_id is not None:
        query = query.where(SandboxRow.project_id == project_id)
    query = query.order_by(col(SandboxRow.created_at).desc(), col(SandboxRow.id))
    return list(db.exec(query.limit(limit)))


def page_sandboxes(
    db: Session,
    *,
    project_id: uuid.UUID | None = None,
    status: str | None = None,
    template_id: uuid.UUID | None = None,
    search: str = "",
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[SandboxRow], int]:
    """One page of the live sandboxes matching the filters (newest first), and how many
    match in all. `search` finds text in the name or the slug, ignoring case."""
    matching = [col(SandboxRow.deleted_at).is_(None)]
    if project_id is not None:
        matching.append(SandboxRow.project_id == project_id)
    if status:
        matching.append(SandboxRow.status == status)
    if template_id is not None:
        matching.append(SandboxRow.template_id == template_id)
    if search.strip():
        pattern = "%" + _LIKE_SPECIALS.sub(r"\\\g<0>", search.strip().lower()) + "%"
        matching.append(
            func.lower(SandboxRow.name).like(pattern, escape="\\")
            | col(SandboxRow.slug).like(pattern, escape="\\")
        )
    total = db.exec(select(func.count()).select_from(SandboxRow).where(*matching)).one()
    rows = db.exec(
        select(SandboxRow)
        .where(*matching)
        .order_by(col(SandboxRow.created_at).desc(), col(SandboxRow.id))
        .offset(max(offset, 0))
        .limit(max(limit, 0))
    ).all()
    return list(rows), total


def count_active(db: Session, project_id: uuid.UUID) -> int:
    """The project's sandboxes that are not deleted: what the active sandbox quota counts."""
    return db.exec(
        select(func.count())
        .select_from(SandboxRow)
        .where(SandboxRow.project_id == project_id, col(SandboxRow.deleted_at).is_(None))
    ).one()


RUNNING = (col(SandboxRow.desired_state) == "running") & col(SandboxRow.status).in_(
    ("pending", "running")
)  # meant to run and not failed: what the running, cpu and memory quotas count


def launch_usage(db: Session, project_id: uuid.UUID) -> dict[str, policy.Amount]:
    """What the launch quotas measure: active and running sandboxes, and the cpu (cores)
    and memory (bytes) their templates request (a missing or unreadable request is 0)."""
    rows = db.exec(
        select(TemplateRow.cpu_request, TemplateRow.memory_request, func.count())
        .select_from(SandboxRow)
        .join(TemplateRow, col(TemplateRow.id) == col(SandboxRow.template_id))
        .where(SandboxRow.project_id == project_id, col(SandboxRow.deleted_at).is_(None), RUNNING)
        .group_by(TemplateRow.cpu_request, TemplateRow.memory_request)
    ).all()
    usage: dict[str, policy.Amount] = {"active": count_active(db, project_id), "running": 0}
    usage |= {"cpu": Decimal(0), "memory": Decimal(0)}
    for cpu, memory, count in rows:
        usage["running"] += count
        usage["cpu"] += _requested(cpu) * count
        usage["memory"] += _requested(memory) * count
    return usage


def launch_demand(template: TemplateRow, *, new: bool) -> dict[str, policy.Amount]:
    """What running one more sandbox of `template` adds (`new`: one more active too)."""
    demand: dict[str, policy.Amount] = {"active": 1} if new else {}
    return demand | {
        "running": 1,
        "cpu": _requested(template.cpu_request),
        "memory": _requested(template.memory_request),
    }


def _requested(text: str | None) -> Decimal:
    return quantity_value(text) or Decimal(0)


def launch_blockers(
    db: Session,
    *,
    project_id: uuid.UUID,
    template: TemplateRow,
    service_account: str,
    new: bool = True,
) -> list[DeniedRule]:
    """Exactly the rules a launch (`new`) or a start would break: the launch policy's,
    else the quotas'. Launches, starts, validation runs and the console's preview share it;
    to hold, the caller has the project locked (policy.lock_project)."""
    mounted = [mount.secret for mount in sandbox_mounts(db, project_id)]
    launch = policy.launch_rules(
        db, project_id=project_id, template=template, service_account=service_account
    )
    # The project's credentials mounted into sandboxes are secrets the sandbox gets too.
    launch += policy.secret_name_rules(db, project_id=project_id, names=mounted)
    return launch or policy.quota_rules(
        db,
        project_id=project_id,
        usage=launch_usage(db, project_id),
        demand=launch_demand(template, new=new),
    )


def get_sandbox(db: Session, sandbox_id: uuid.UUID) -> SandboxRow:
    """A sandbox that is not deleted (deleted ones are history, not resources)."""
    sandbox = db.get(SandboxRow, sandbox_id)
    if sandbox is None or sandbox.deleted_at is not None:
        raise NotFound()
    return sandbox


def operable(
    db: Session,
    principal: Principal,
    sandbox_id: uuid.UUID,
    permission: Permission = Permission.OPERATE,
) -> SandboxRow:
    """A sandbox the principal may act on with `permission` (drive it, by default): 404
    outside its projects, 403 when its role falls short."""
    sandbox = get_sandbox(db, sandbox_id)
    access.require(principal, permission, sandbox.project_id)
    return sandbox


@dataclass(frozen=True)
class LaunchPlan:
    """A launch resolved exactly as `create_sandbox` resolves it: the project, the template,
    the namespace and identity the sandbox would get, and every reason the launch policy or
    the quota would refuse it (none: it may launch). The console shows it before the click."""

    project: ProjectRow
    template: TemplateRow
    namespace: str
    service_account: str
    blockers: list[str]
    rules: list[DeniedRule] = field(default_factory=list)  # the blockers, structured


def plan_launch(
    db: Session,
    *,
    project_id: uuid.UUID,
    template_id: str | None = None,
    namespace: str | None = None,
    service_account: str | None = None,
    lock: bool = False,
) -> LaunchPlan:
    """Resolve a launch without making it. `lock` holds the project row until commit, so
    launches of one project are serialised and quotas hold."""
    if lock:
        project = policy.lock_project(db, project_id)
    else:
        project = get_row(db, ProjectRow, project_id, "project not found")
    template = _resolve_template(db, project, template_id)
    namespace = _placement(namespace, project.default_namespace, "namespace")
    account = _placement(service_account, DEFAULT_SERVICE_ACCOUNT, "serviceAccountName")
    rules = launch_blockers(db, project_id=project.id, template=template, service_account=account)
    blockers = [rule.message for rule in rules]
    return LaunchPlan(project, template, namespace, account, blockers, rules)


def create_sandbox(db: Session, *, principal: Principal, data: SandboxCreate) -> SandboxRow:
    with about("projectId"):
        project_id = optional_uuid(data.project_id, "projectId must be a project UUID")
    if project_id is None:
        raise InvalidInput(REQUIRED, field="projectId", reason="projectId is required")
    name, slug = name_and_slug(data.name, data.slug, REQUIRED)
    access.require(principal, Permission.OPERATE, project_id)
    plan = plan_launch(
        db,
        project_id=project_id,
        template_id=data.template_id,
        namespace=data.namespace,
        service_account=data.service_account_name,
        lock=True,
    )
    project, template = plan.project, plan.template
    namespace, account = plan.namespace, plan.service_account
    templates.check_launchable(template)
    if plan.rules:
        raise policy.deny(
            db,
            principal=principal,
            reasons=plan.rules,
            operation="sandbox.launch",
            resource_type="sandbox",
            resource_name=name,
            project_id=project.id,
            metadata={
                "templateId": str(template.id),
                "templateName": template.name,
                "image": template.image,
                "serviceAccountName": account,
            },
        )
    _ensure_unique_slug(db, project.id, slug)
    now = utcnow()
    sandbox = SandboxRow(
        project_id=project.id,
        template_id=template.id,
        name=name,
        slug=slug,
        namespace=namespace,
        service_account_name=account,
        ports=[{**port, "protocol": port["protocol"] or "TCP"} for port in template.exposed_ports],
        meta=metadata_value(data.metadata),
        requested_at=now,
        last_activity_at=now,
        expires_at=now + timedelta(seconds=template.ttl_seconds) if template.ttl_seconds else None,
        created_at=now,
        updated_at=now,
    )
    db.add(sandbox)
    _hold_while_live(db, sandbox)
    record(
        db,
        principal,
        "sandbox.created",
        sandbox,
        templateId=str(template.id),
        namespace=namespace,
        serviceAccountName=account,
        declaredPreviewPorts=len(sandbox.ports),
    )
    commit(db)
    changes.notify("sandboxes", str(sandbox.id))
    return sandbox


def update_sandbox(
    db: Session, *, principal: Principal, sandbox_id: uuid.UUID, data: SandboxUpdate
) -> SandboxRow:
    sandbox = operable(db, principal, sandbox_id)
    placement = (sandbox.namespace, sandbox.service_account_name)
    sent = {name for name in data.model_fields_set if getattr(data, name) is not None}
    sent |= {"metadata"} & data.model_fields_set
    if "name" in sent:
        sandbox.name = check_name(required(data.name, "name", "name cannot be empty"))
    if "namespace" in sent:
        namespace = _placement(data.namespace, "", "namespace")
        if namespace != sandbox.namespace and sandbox.runtime_ref is not None:
            raise Conflict(
                "namespace cannot change while the sandbox has a runtime", field="namespace"
            )
        sandbox.namespace = namespace
    if "service_account_name" in sent:
        sandbox.service_account_name = _placement(
            data.service_account_name, "", "serviceAccountName"
        )
    if (sandbox.namespace, sandbox.service_account_name) != placement:
        _check_placement(db, principal, sandbox)
    if "ports" in sent:
        sandbox.ports = _sandbox_ports(data)
    if "metadata" in sent:
        sandbox.meta = metadata_value(data.metadata)
    sandbox.updated_at = utcnow()
    record(db, principal, "sandbox.updated", sandbox, fields=data.sent_fields())
    commit(db)
    changes.notify("sandboxes", str(sandbox.id))  # its watchers (ports: the reconciler)
    return sandbox


def start_sandbox(db: Session, *, principal: Principal, sandbox_id: uuid.UUID) -> SandboxRow:
    """Ask for the sandbox to run; already-running sandboxes are left as they are."""
    sandbox = operable(db, principal, sandbox_id)
    if not (sandbox.desired_state == "running" and sandbox.status in ("pending", "running")):
        _check_start(db, principal, sandbox)
    now = utcnow()
    sandbox.desired_state = "running"
    if sandbox.status != "running":
        sandbox.status = "pending"
        sandbox.status_reason = ""
        sandbox.status_message = ""
        sandbox.requested_at = now
        sandbox.last_activity_at = now
        sandbox.started_at = sandbox.scheduled_at = None
        sandbox.ready_at = sandbox.stopped_at = None
    sandbox.updated_at = now
    record(db, principal, "sandbox.started", sandbox)
    commit(db)
    changes.notify("sandboxes", str(sandbox.id))
    return sandbox


def _check_start(db: Session, principal: Principal, sandbox: SandboxRow) -> None:
    """A start launches the sandbox again: its template as it is now (it may have changed
    since the launch) under the policy as it is now, and one more running sandbox for the
    quotas (the project locked until the start commits)."""
    policy.lock_project(db, sandbox.project_id)
    if sandbox.template_id is None:
        return
    template = templates.get_template(db, sandbox.template_id)
    templates.check_launchable(template)
    rules = launch_blockers(
        db,
        project_id=sandbox.project_id,
        template=template,
        service_account=sandbox.service_account_name,
        new=False,
    )
    if rules:
        raise policy.deny(
            db,
            principal=principal,
            reasons=rules,
            operation="sandbox.start",
            resource_type="sandbox",
            resource_name=sandbox.name,
            project_id=sandbox.project_id,
            metadata={
                "sandboxId": str(sandbox.id),
                "templateId": str(template.id),
                "image": template.image,
                "serviceAccountName": sandbox.service_account_name,
            },
        )


def stop_sandbox(
    db: Session,
    *,
    principal: Principal,
    sandbox_id: uuid.UUID,
    reason: str = "user",
    message: str = "stopped by request",
) -> SandboxRow:
    """Ask for every process to stop; the workspace stays. `reason` says why (user, idle)."""
    sandbox = operable(db, principal, sandbox_id)
    now = utcnow()
    sandbox.desired_state = "stopped"
    sandbox.status = "stopped"
    sandbox.status_reason = reason
    sandbox.status_message = message
    sandbox.stopped_at = now
    sandbox.updated_at = now
    action = "sandbox.stopped" if reason == "user" else f"sandbox.stopped.{reason}"
    record(db, principal, action, sandbox, reason=reason)
    commit(db)
    changes.notify("sandboxes", str(sandbox.id))
    return sandbox


def delete_sandbox(
    db: Session, *, principal: Principal, sandbox_id: uuid.UUID, reason: str = "user"
) -> None:
    """Soft delete: the record stays as history; the runtime is cleaned up afterwards.
    `reason` says why (user, ttl)."""
    sandbox = operable(db, principal, sandbox_id)
    now = utcnow()
    sandbox.desired_state = "deleted"
    sandbox.status = "deleted"
    sandbox.status_reason = reason
    sandbox.deleted_at = now
    sandbox.updated_at = now
    _hold_while_live(db, sandbox)
    action = "sandbox.deleted" if reason == "user" else "sandbox.expired"
    record(db, principal, action, sandbox, reason=reason)
    commit(db)
    changes.notify("sandboxes", str(sandbox.id))


def _hold_while_live(db: Session, sandbox: SandboxRow) -> None:
    """Keep the sandbox's hold row (models.SandboxHoldRow) in step with it, in the same
    transaction: present while it is live (not deleted, or deleted but its runtime not yet
    cleaned up), gone once it is history, so it no longer blocks deleting its project or
    template. Called wherever `deleted_at` or `runtime_ref` changes."""
    live = sandbox.deleted_at is None or sandbox.runtime_ref is not None
    db.flush()  # the sandbox first: flushes do not order tables no relationship links
    hold = db.get(SandboxHoldRow, sandbox.id)
    if live and hold is None and sandbox.template_id is not None:
        db.add(SandboxHoldRow(sandbox_id=sandbox.id, template_id=sandbox.template_id))
    elif not live and hold is not None:
        db.delete(hold)


def _resolve_template(db: Session, project: ProjectRow, given: str | None) -> TemplateRow:
    with about("templateId"):
        template_id = optional_uuid(given, "templateId must be a template UUID")
    template_id = template_id or project.default_template_id
    if template_id is None:
        raise InvalidInput(
            "templateId is required unless project has defaultTemplateId", field="templateId"
        )
    return get_row(db, TemplateRow, template_id, "template not found")


def _placement(value: str | None, default: str, field: str) -> str:
    """A namespace or service account: the given one, else `default`; a DNS label, and a
    namespace not one of the cluster's own."""
    label = required((value or "").strip() or default, field, PLACEMENT_REQUIRED)
    return check_namespace(label, field) if field == "namespace" else dns_label(label, field)


def _check_placement(db: Session, principal: Principal, sandbox: SandboxRow) -> None:
    """A new namespace or identity is held to the launch policy, as at launch."""
    if sandbox.template_id is None:
        return
    template = templates.get_template(db, sandbox.template_id)
    rules = policy.launch_rules(
        db,
        project_id=sandbox.project_id,
        template=template,
        service_account=sandbox.service_account_name,
    )
    if rules:
        raise policy.deny(
            db,
            principal=principal,
            reasons=rules,
            operation="sandbox.update",
            resource_type="sandbox",
            resource_name=sandbox.name,
            project_id=sandbox.project_id,
            metadata={
                "sandboxId": str(sandbox.id),
                "namespace": sandbox.namespace,
                "serviceAccountName": sandbox.service_account_name,
            },
        )


def _check_template_edit(db: Session, principal: Principal, template: TemplateRow) -> None:
    """An edit of what the launch policy covers (image, secret references) is refused when
    the enforced policy of a project would deny its live sandboxes of this template: they
    would run it at their next start. The denial lists each sandbox with its rules."""
    changed = sa.inspect(template).attrs
    if not any(changed[name].history.has_changes() for name in ("image", "secret_refs")):
        return
    users = db.exec(
        select(SandboxRow)
        .where(SandboxRow.template_id == template.id, col(SandboxRow.deleted_at).is_(None))
        .order_by(col(SandboxRow.created_at), col(SandboxRow.id))
    ).all()
    rules = []
    for sandbox in users:
        for rule in policy.template_rules(db, project_id=sandbox.project_id, template=template):
            message = f'sandbox "{sandbox.slug}": {rule.message}'
            rules.append(replace(rule, message=message, sandbox_id=str(sandbox.id)))
    if rules:
        raise policy.deny(
            db,
            principal=principal,
            reasons=rules,
            operation="template.update",
            resource_type=TemplateRow.audit_type,
            resource_name=template.slug,
            project_id=template.project_id,
            metadata={
                "templateId": str(template.id),
                "image": template.image,
                "sandboxIds": list(dict.fromkeys(rule.sandbox_id for rule in rules)),
            },
        )


templates.EDIT_CHECKS.append(_check_template_edit)


def _live_sandboxes(db: Session, project_id: uuid.UUID) -> list[uuid.UUID]:
    """A project's live sandboxes, oldest first: the holds that refuse its delete."""
    return list(
        db.exec(
            select(SandboxRow.id)
            .join(SandboxHoldRow, col(SandboxHoldRow.sandbox_id) == col(SandboxRow.id))
            .where(SandboxRow.project_id == project_id)
            .order_by(col(SandboxRow.created_at), col(SandboxRow.id))
        )
    )


project_service.DELETE_BLOCKERS.append(_live_sandboxes)


def _sandbox_ports(data: SandboxUpdate) -> list[dict[str, Any]]:
    ports = templates.normalize_ports(data.ports or [], default_protocol="TCP", field="ports")
    for index, (port, given) in enumerate(zip(ports, data.ports or [], strict=True)):
        if preview := link_url(given.preview_url or "", f"ports[{index}].previewUrl"):
            port["previewUrl"] = preview
    return ports


def _ensure_unique_slug(db: Session, project_id: uuid.UUID, slug: str) -> None:
    taken = db.exec(
        select(SandboxRow.id).where(
            SandboxRow.project_id == project_id,
            SandboxRow.slug == slug,
            col(SandboxRow.deleted_at).is_(None),
        )
    ).first()
    if taken:
        raise Conflict(f'a sandbox with slug "{slug}" already exists in this project', field="slug")


def record(
    db: Session, principal: Principal, action: str, sandbox: SandboxRow, **metadata: Any
) -> None:
    audit.service.record_change(
        db, principal=principal, action=action, subject=sandbox, metadata=metadata
    )


# -- reconciliation: what the engines read and report ------------------------------------


def reconcile_candidates(
    db: Session, only: set[uuid.UUID] | None = None
) -> list[tuple[SandboxRow, TemplateRow | None]]:
    """Sandboxes whose runtime may differ from what was asked: anything meant to run, and
    anything stopped or deleted that still has a runtime (`only`: of these sandboxes)."""
    if only is not None and not only:
        return []
    query = (
        select(SandboxRow, TemplateRow)
        .join(TemplateRow, col(SandboxRow.template_id) == col(TemplateRow.id), isouter=True)
        .where(
            (SandboxRow.desired_state == "running")
            | col(SandboxRow.runtime_ref).is_not(None)
            | (SandboxRow.status == "running")
        )
        # Work first (launches waiting), then the newest: a pass reaches new sandboxes fast.
        .order_by(col(SandboxRow.status) != "pending", col(SandboxRow.created_at).desc())
    )
    if only is not None:
        query = query.where(col(SandboxRow.id).in_(only))
    return list(db.exec(query).all())


def sandbox_spec(
    sandbox: SandboxRow,
    template: TemplateRow,
    credentials: tuple[CredentialMount, ...] = (),
    registries: tuple[RegistryCredential, ...] = (),
) -> SandboxSpec:
    """What the runtime runs; `credentials` and `registries`: the project's for its
    sandboxes and its image pulls (backend.credentials.service.sandbox_credentials)."""
    return SandboxSpec(
        sandbox_id=sandbox.id,
        project_id=sandbox.project_id,
        slug=sandbox.slug,
        image=template.image,
        command=tuple(template.startup_command),
        working_dir=template.working_dir,
        env=dict(template.env),
        network_policy=template.network_policy,
        egress_allow=tuple(template.egress_allow),
        egress_deny=tuple(template.egress_deny),
        ports=tuple(
            PortSpec(p["name"], p["port"], p.get("protocol") or "TCP") for p in sandbox.ports
        ),
        namespace=sandbox.namespace,
        service_account=sandbox.service_account_name,
        storage_bytes=_quantity_or_none(template.storage_request, 1),
        cpu_millis=_quantity_or_none(template.cpu_request, 1000),
        template_id=template.id,
        template_slug=template.slug,
        requests={
            name: value.strip()
            for name, value in (
                ("cpu", template.cpu_request),
                ("memory", template.memory_request),
                ("storage", template.storage_request),
            )
            if value.strip()
        },
        expires_at=sandbox.expires_at,
        runtime_class_name=template.runtime_class_name,
        warm_pool_size=template.warm_pool_size,
        secret_refs=tuple((ref["name"], ref.get("key") or "") for ref in template.secret_refs),
        credentials=credentials,
        registry_credentials=registries,
        image_pull_policy=template.image_pull_policy,
        build=dict(template.build),
    )


def _quantity_or_none(text: str, unit: int) -> int | None:
    """A template's Kubernetes quantity in `unit`s (1: bytes, 1000: millicpus), rounded
    up; None when absent, zero or unreadable (the runtime's default applies)."""
    value = quantity_value(text)
    if value is None or value <= 0:
        return None
    return int((value * unit).to_integral_value(rounding="ROUND_CEILING"))


def report_runtime(db: Session, *, sandbox_id: uuid.UUID, acted_on: str, **observed: Any) -> bool:
    """Record what the runtime did, unless the user changed their mind meanwhile (the
    desired state is no longer `acted_on`): then the next pass acts again."""
    sandbox = db.exec(
        select(SandboxRow).where(SandboxRow.id == sandbox_id).with_for_update()
    ).first()
    if sandbox is None or sandbox.desired_state != acted_on:
        return False
    changed = {name: value for name, value in observed.items() if getattr(sandbox, name) != value}
    if not changed:
        return True
    for name, value in changed.items():
        setattr(sandbox, name, value)
    sandbox.updated_at = utcnow()
    _hold_while_live(db, sandbox)
    if "status" in changed:
        record(
            db,
            SYSTEM,
            "sandbox.status.changed",
            sandbox,
            status=sandbox.status,
            reason=sandbox.status_reason,
            message=sandbox.status_message,
        )
    commit(db)
    changes.notify("sandbox-status", str(sandbox.id))
    return True
