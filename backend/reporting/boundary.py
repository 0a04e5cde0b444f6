"""Boundary summaries: what a template or sandbox may reach, and what is really enforced.

The reference's shape (contract §2.10), with facts true for the runtime that is active:
its sentences are rendered from the runtime's own description (`RuntimeAdapter.describe`:
isolation, network per policy class, limits, image handling, persistence), so no adapter
is known here by name. The template's env is injected; its secret references are mounted
where the runtime does so, else recorded; the project's credentials whose usage lists
"sandbox" are mounted read-only at /run/secrets/mbox/<slug> (the runtime says how), the
others recorded; the lifetime engine enforces the TTL and the idle timeout.
Checks come in the reference's order; `image` and `isolation` follow as this product's own.
Read-only: nothing here writes, so nothing is audited.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from sqlmodel import Session, col, select

from backend.credentials.models import SANDBOX_USAGE, ProjectCredentialRow
from backend.errors import NotFound
from backend.policy import service as policy
from backend.policy.models import ProjectPolicyRow
from backend.projects import service as projects
from backend.projects.models import ProjectRow
from backend.runtime.base import SECRETS_MOUNT_DIR, Egress, RuntimeAdapter, RuntimeDescription
from backend.sandboxes.models import DEFAULT_SERVICE_ACCOUNT, SandboxRow
from backend.sandboxes.service import get_sandbox
from backend.schemas import PublicModel
from backend.templates import service as templates
from backend.templates.models import TemplatePort, TemplateRow

Status = Literal["pass", "warn", "fail"]
RECORDED = "references-recorded-not-mounted"
MOUNTED = "mounted-as-secret-references"  # the runtime projects them; mbox never reads one
CREDENTIALS_MOUNTED = "mounted-read-only"  # those for sandboxes; `runtime.secrets` says how


class BoundaryCheck(PublicModel):
    id: str
    label: str
    status: Status
    message: str
    evidence: list[str] | None = None


class ResourceRequests(PublicModel):
    cpu: str | None = None
    memory: str | None = None


class BoundarySecretRef(PublicModel):
    name: str
    key: str | None = None


class BoundaryCredentialRef(PublicModel):
    id: uuid.UUID
    name: str
    slug: str
    type: str
    target: str | None = None
    secret_ref: str  # the secret's name only: never a value, never a key's content
    usage: list[str] | None = None
    # Beyond the reference: where the sandbox finds it (read-only), when it is mounted.
    mount_path: str | None = None


class BoundaryRuntime(PublicModel):
    """Beyond the reference: the active runtime and what it enforces, in words."""

    adapter: str
    available: bool
    message: str | None = None
    isolation: list[str]


class BoundarySummary(PublicModel):
    kind: Literal["template", "sandbox"]
    project_id: uuid.UUID | None = None
    project_name: str | None = None
    template_id: uuid.UUID
    template_name: str
    sandbox_id: uuid.UUID | None = None
    sandbox_name: str | None = None
    sandbox_status: str | None = None
    namespace: str | None = None
    service_account_name: str | None = None
    service_account_token_automount: bool = False
    runtime_ref: dict[str, Any] | None = None
    image: str
    image_projection: str
    # What a running sandbox really runs: the image's manifest digest (or its build's).
    image_digest: str | None = None
    working_dir: str
    resource_requests: ResourceRequests | None = None
    storage_request: str | None = None
    preview_ports: list[TemplatePort] | None = None
    env_var_count: int
    env_projection: str
    secret_refs: list[BoundarySecretRef] | None = None
    secret_projection: str
    network_policy: str
    network_policy_projection: str
    egress_allow: list[str] | None = None
    egress_deny: list[str] | None = None
    lifecycle_policy: dict[str, int] | None = None
    lifecycle_policy_projection: str
    policy_enforcement: str
    allowed_image_prefixes: list[str] | None = None
    allowed_service_accounts: list[str] | None = None
    allowed_secret_refs: list[str] | None = None
    credential_refs: list[BoundaryCredentialRef] | None = None
    credential_projection: str
    runtime: BoundaryRuntime
    controller_permissions: list[str]
    runtime_access: list[str]
    cleanup: list[str]
    checks: list[BoundaryCheck]


def template_boundary(
    db: Session,
    *,
    template_id: uuid.UUID,
    project_id: uuid.UUID | None,
    runtime: RuntimeDescription,
) -> BoundarySummary:
    """A template's boundary. `project_id` places a global template; a project template
    always uses its own project."""
    template = templates.get_template(db, template_id)
    project_id = template.project_id or project_id
    project = projects.get_project(db, project_id) if project_id else None
    return _summary(db, template=template, project=project, sandbox=None, runtime=runtime)


def sandbox_boundary(
    db: Session, *, sandbox_id: uuid.UUID, runtime: RuntimeAdapter
) -> BoundarySummary:
    """A sandbox's boundary, with the image digest it runs now (as its runtime says)."""
    image_digest = runtime.running_image(sandbox_id)
    sandbox = get_sandbox(db, sandbox_id)
    if sandbox.template_id is None:
        raise NotFound("sandbox template not found")
    template = templates.get_template(db, sandbox.template_id)
    project = projects.get_project(db, sandbox.project_id)
    described = runtime.describe()
    summary = _summary(db, template=template, project=project, sandbox=sandbox, runtime=described)
    if not image_digest:
        return summary
    checks = [
        _check("image", "Image", "pass", f"{template.image} runs as {image_digest}.")
        if check.id == "image" and check.status == "pass"
        else check
        for check in summary.checks
    ]
    return summary.model_copy(update={"image_digest": image_digest, "checks": checks})


def _summary(
    db: Session,
    *,
    template: TemplateRow,
    project: ProjectRow | None,
    sandbox: SandboxRow | None,
    runtime: RuntimeDescription,
) -> BoundarySummary:
    namespace = sandbox.namespace if sandbox else (project.default_namespace if project else None)
    account = sandbox.service_account_name if sandbox else None
    account = account or (DEFAULT_SERVICE_ACCOUNT if project else None)
    rules = db.get(ProjectPolicyRow, project.id) if project else None
    credentials = _credentials(db, project, runtime)
    summary = BoundarySummary(
        kind="sandbox" if sandbox else "template",
        project_id=project.id if project else None,
        project_name=project.name if project else None,
        template_id=template.id,
        template_name=template.name,
        sandbox_id=sandbox.id if sandbox else None,
        sandbox_name=sandbox.name if sandbox else None,
        sandbox_status=sandbox.status if sandbox else None,
        namespace=namespace,
        service_account_name=account,
        runtime_ref=sandbox.runtime_ref if sandbox else None,
        image=template.image,
        image_projection=_image_projection(template, runtime),
        working_dir=template.working_dir,
        resource_requests=_requests(template),
        storage_request=template.storage_request or None,
        preview_ports=[
            TemplatePort(name=p["name"], port=p["port"], protocol=p.get("protocol") or "TCP")
            for p in template.exposed_ports
        ]
        or None,
        env_var_count=len(template.env),
        env_projection="injected" if template.env else "none",
        secret_refs=[BoundarySecretRef(**ref) for ref in template.secret_refs] or None,
        secret_projection=_secret_projection(template, runtime),
        network_policy=template.network_policy,
        network_policy_projection=_network_projection(template.network_policy, runtime),
        egress_allow=list(template.egress_allow) or None,
        egress_deny=list(template.egress_deny) or None,
        lifecycle_policy=dict(template.lifecycle_policy) or None,
        lifecycle_policy_projection=_lifecycle_projection(template),
        policy_enforcement=rules.enforcement if rules else "disabled",
        allowed_image_prefixes=(rules.allowed_image_prefixes if rules else None) or None,
        allowed_service_accounts=(rules.allowed_service_accounts if rules else None) or None,
        allowed_secret_refs=(rules.allowed_secret_refs if rules else None) or None,
        credential_refs=credentials or None,
        credential_projection=_credential_projection(credentials),
        runtime=_runtime(template, runtime),
        controller_permissions=list(runtime.controller_permissions),
        runtime_access=list(runtime.access),
        cleanup=list(runtime.cleanup),
        checks=[],
    )
    summary.checks = _checks(db, summary, template, project, sandbox, runtime)
    return summary


def _requests(template: TemplateRow) -> ResourceRequests | None:
    if not (template.cpu_request or template.memory_request):
        return None
    return ResourceRequests(
        cpu=template.cpu_request or None, memory=template.memory_request or None
    )


def _credentials(
    db: Session, project: ProjectRow | None, runtime: RuntimeDescription
) -> list[BoundaryCredentialRef]:
    """The project's credentials; those for sandboxes with the path the runtime mounts
    them at (when it mounts them)."""
    if project is None:
        return []
    mounts = bool(runtime.secrets.credentials)
    rows = db.exec(
        select(ProjectCredentialRow)
        .where(ProjectCredentialRow.project_id == project.id)
        .order_by(col(ProjectCredentialRow.slug))
    )
    return [
        BoundaryCredentialRef(
            id=row.id,
            name=row.name,
            slug=row.slug,
            type=row.type,
            target=row.target or None,
            secret_ref=str(row.secret_ref.get("name", "")),
            usage=row.usage or None,
            mount_path=f"{SECRETS_MOUNT_DIR}/{row.slug}"
            if mounts and SANDBOX_USAGE in row.usage
            else None,
        )
        for row in rows
    ]


def _credential_projection(credentials: list[BoundaryCredentialRef]) -> str:
    if not credentials:
        return "none"
    return CREDENTIALS_MOUNTED if any(ref.mount_path for ref in credentials) else RECORDED


def _network_projection(network_policy: str, runtime: RuntimeDescription) -> str:
    """What the policy really gets, named by how far it reaches (see `network_reach`)."""
    egress = runtime.network.egress(network_policy)
    if egress.reach == "all":
        return f"egress-through-{egress.via.lower().replace(' ', '-') or 'the-runtime'}"
    return REACH_PROJECTIONS[egress.reach]


def _lifecycle_projection(template: TemplateRow) -> str:
    ttl, idle = template.ttl_seconds, template.idle_timeout_seconds
    if ttl and idle:
        return "ttl-and-idle-enforced"
    if ttl:
        return "ttl-enforced"
    return "idle-enforced" if idle else "not-configured"


def _runtime(template: TemplateRow, runtime: RuntimeDescription) -> BoundaryRuntime:
    isolation = runtime.isolation
    *some, last = isolation.namespaces
    owned = f"{', '.join(some)} and {last}" if some else last
    host = f"host filesystem read-only ({', '.join(isolation.read_only_paths)})"
    kept = runtime.persistence.workspace_kept_on_stop
    return BoundaryRuntime(
        adapter=runtime.adapter,
        available=runtime.available,
        message=runtime.message or None,
        isolation=[
            f"own {owned} namespaces ({isolation.mechanism})",
            host + ("; private /tmp" if isolation.private_tmp else ""),
            f"writable workspace at {template.working_dir}, "
            + ("kept across stop and start" if kept else "emptied when it stops"),
            f"limits: {isolation.limits_text()}",
            f"disk: {_disk_fact(template, runtime)}",
            f"cpu: {isolation.cpu.text()}",
            f"user: {isolation.uids_text()}",
            f"syscalls: {isolation.syscalls.text()}",
            *_cluster_only(template, runtime),
        ],
    )


def _cluster_only(template: TemplateRow, runtime: RuntimeDescription) -> list[str]:
    """What the template asks that only a cluster honours, when this runtime does not: one
    that does not run the image has no container runtime to pick nor pods to keep warm."""
    asked = [
        name
        for name, value in (
            ("runtimeClassName", template.runtime_class_name),
            ("warmPoolSize", template.warm_pool_size),
        )
        if value not in ("", None)
    ]
    if not asked or runtime.image.pods:
        return []
    return [f"{' and '.join(asked)}: recorded, ignored by this runtime (Kubernetes only)"]


def _disk_fact(template: TemplateRow, runtime: RuntimeDescription) -> str:
    """The runtime's disk enforcement, with this template's size when it sets one."""
    disk = runtime.isolation.disk
    if template.storage_request and disk.enforced:
        return f"{template.storage_request} (storageRequest); {disk.text()}"
    return disk.text()


def _check(
    id: str, label: str, status: Status, message: str, evidence: list[str] | None = None
) -> BoundaryCheck:
    return BoundaryCheck(id=id, label=label, status=status, message=message, evidence=evidence)


def _checks(
    db: Session,
    summary: BoundarySummary,
    template: TemplateRow,
    project: ProjectRow | None,
    sandbox: SandboxRow | None,
    runtime: RuntimeDescription,
) -> list[BoundaryCheck]:
    checks = [
        _placement_check("namespace", "Namespace", summary.namespace),
        _placement_check("service-account", "Service account", summary.service_account_name),
        _check(
            "service-account-token",
            "Service account token",
            "pass",
            "No service account token is mounted into the sandbox.",
        ),
        _secret_refs_check(summary, runtime),
        _credential_refs_check(summary, runtime),
        _network_check(summary, runtime),
        _lifecycle_check(template),
    ]
    if sandbox is not None:
        checks.append(_runtime_ref_check(sandbox))
    checks += [
        _launch_policy_check(db, template, project, summary.service_account_name or ""),
        _image_check(template, runtime),
        _isolation_check(runtime),
    ]
    return checks


def _placement_check(id: str, label: str, value: str | None) -> BoundaryCheck:
    if value:
        return _check(id, label, "pass", f"{label} {value} is resolved.")
    return _check(id, label, "warn", f"No project: the {label.lower()} is not resolved yet.")


def _secret_projection(template: TemplateRow, runtime: RuntimeDescription) -> str:
    if not template.secret_refs:
        return "none"
    return MOUNTED if runtime.secrets.mounted else RECORDED


def _secret_refs_check(summary: BoundarySummary, runtime: RuntimeDescription) -> BoundaryCheck:
    refs = summary.secret_refs or []
    if not refs:
        return _check("secret-refs", "Secret references", "pass", "No secrets are referenced.")
    evidence = [ref.name + (f":{ref.key}" if ref.key else "") for ref in refs]
    if runtime.secrets.mounted:
        how = runtime.secrets.how
        words = f"{len(refs)} secret reference(s) are mounted ({how}); mbox never reads them."
        return _check("secret-refs", "Secret references", "pass", words, evidence)
    words = f"{len(refs)} secret reference(s) are recorded, not mounted."
    return _check("secret-refs", "Secret references", "warn", words, evidence)


def _credential_refs_check(summary: BoundarySummary, runtime: RuntimeDescription) -> BoundaryCheck:
    refs = summary.credential_refs or []
    if not refs:
        return _check(
            "credential-refs", "Credential references", "pass", "The project has no credentials."
        )
    mounted = [ref for ref in refs if ref.mount_path]
    words = f"The project references {len(refs)} credential(s)"
    if mounted:
        words += (
            f'; {len(mounted)} with usage "sandbox" are mounted into its sandboxes at '
            f"{SECRETS_MOUNT_DIR}/<slug> as {runtime.secrets.credentials}; mbox stores their "
            "secrets' names, never a value"
        )
    if len(mounted) < len(refs):
        words += f"; {len(refs) - len(mounted)} are recorded, not mounted"
    evidence = [f"{ref.slug}: {ref.mount_path}" if ref.mount_path else ref.slug for ref in refs]
    return _check("credential-refs", "Credential references", "warn", words + ".", evidence)


REACH_PROJECTIONS = {
    "loopback": "loopback-only",
    "public-internet": "public-internet-only",
    "all-but-host": "egress-except-host-and-link-local",
}


def network_reach(egress: Egress) -> str:
    """What a network policy class reaches, in words, from the runtime's facts (the API's
    boundary check and the console say it alike)."""
    if egress.reach == "loopback":
        return "loopback only; no egress, and the host's services are unreachable"
    if egress.reach == "public-internet":
        return (
            f"the public internet only, through {egress.via}; {egress.filtered_by} refuse this "
            "host's addresses, link-local (cloud metadata), private, CGNAT and reserved ranges"
        )
    if egress.reach == "all-but-host":
        return (
            f"outbound connections are allowed ({egress.via}) except to this host's addresses "
            f"and link-local (cloud metadata), refused by {egress.filtered_by}"
        )
    return (
        f"outbound connections are allowed ({egress.via}), unfiltered: {egress.unfiltered_because}"
    )


def _network_check(summary: BoundarySummary, runtime: RuntimeDescription) -> BoundaryCheck:
    egress = runtime.network.egress(summary.network_policy)
    lists = [f"allow {cidr}" for cidr in summary.egress_allow or []]
    lists += [f"deny {cidr}" for cidr in summary.egress_deny or []]
    message = f"Network policy {summary.network_policy}: {network_reach(egress)}."
    if lists and egress.reach == "loopback":
        message += " The template's egress lists have no effect."
    elif lists:
        message += " The template's deny list always wins; its allow list never opens this host."
    status = "pass" if egress.reach == "loopback" else "warn"
    return _check("network-policy", "Network policy", status, message, lists or None)


def _lifecycle_check(template: TemplateRow) -> BoundaryCheck:
    ttl, idle = template.ttl_seconds, template.idle_timeout_seconds
    rules = ([f"ttl {ttl} s"] if ttl else []) + ([f"idle timeout {idle} s"] if idle else [])
    if not rules:
        return _check(
            "lifecycle-policy",
            "Lifecycle policy",
            "warn",
            "No TTL or idle timeout: the sandbox runs until someone stops or deletes it.",
        )
    return _check(
        "lifecycle-policy",
        "Lifecycle policy",
        "pass",
        f"Enforced by the lifetime engine: {', '.join(rules)}.",
    )


def _runtime_ref_check(sandbox: SandboxRow) -> BoundaryCheck:
    ref = sandbox.runtime_ref
    if ref:
        where = f"{ref.get('adapter', '')} {ref.get('namespace', '')}/{ref.get('name', '')}"
        return _check("runtime-ref", "Runtime reference", "pass", f"Projected as {where}.")
    return _check("runtime-ref", "Runtime reference", "warn", "No runtime yet.")


def _launch_policy_check(
    db: Session, template: TemplateRow, project: ProjectRow | None, account: str
) -> BoundaryCheck:
    if project is None:
        return _check(
            "launch-policy",
            "Launch policy",
            "warn",
            "No project given: pass projectId to check its launch policy.",
        )
    violations = policy.launch_violations(
        db, project_id=project.id, template=template, service_account=account
    )
    if violations:
        return _check(
            "launch-policy",
            "Launch policy",
            "fail",
            "The project's launch policy refuses this launch.",
            violations,
        )
    rules = db.get(ProjectPolicyRow, project.id)
    if rules is None or rules.enforcement != "enforced":
        return _check(
            "launch-policy",
            "Launch policy",
            "warn",
            "The project's launch policy is not enforced.",
        )
    return _check("launch-policy", "Launch policy", "pass", "The launch policy allows it.")


def _image_projection(template: TemplateRow, runtime: RuntimeDescription) -> str:
    if runtime.image.runs_host(template.image):
        return "host-root"
    return "pulled" if runtime.image.pulled else "recorded-not-pulled"


def _image_check(template: TemplateRow, runtime: RuntimeDescription) -> BoundaryCheck:
    if runtime.image.runs_host(template.image):
        return _check("image", "Image", "warn", f"No image: it runs {runtime.image.host_root}.")
    if runtime.image.pulled:
        return _check("image", "Image", "pass", f"{template.image} is pulled and run.")
    return _check(
        "image",
        "Image",
        "warn",
        f"{template.image} is recorded but not pulled: {runtime.image.instead}.",
    )


def _isolation_check(runtime: RuntimeDescription) -> BoundaryCheck:
    if not runtime.available:
        return _check("isolation", "Isolation", "fail", runtime.message or "No runtime.")
    return _check(
        "isolation",
        "Isolation",
        "pass",
        f"The {runtime.adapter} runtime isolates with {runtime.isolation.mechanism}.",
    )
