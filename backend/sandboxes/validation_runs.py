"""Template validation runs: launch a sandbox that tries a template out, then record whether
it passed. The template's metadata carries the verdict (`validationStatus`), so the library
can say which recipes are known to work.

A run is a normal sandbox (the reconciler starts it) launched through
`sandboxes.create_sandbox`, so it is held to the same launch policy and, unlike the
reference, to the project's quotas (active, running, cpu and memory).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlmodel import Session

from backend import audit, changes
from backend.auth.models import Principal
from backend.db import commit, utcnow
from backend.errors import InvalidInput
from backend.policy import service as policy
from backend.projects.models import ProjectRow
from backend.sandboxes import service as sandboxes
from backend.sandboxes.models import DEFAULT_SERVICE_ACCOUNT, SandboxCreate, SandboxRow
from backend.templates import service as templates
from backend.templates.models import (
    TemplateRow,
    TemplateValidationRunCreate,
    TemplateValidationRunDecision,
)
from backend.validation import blank, optional_uuid, slugify

PURPOSE = "environment-validation"
DECISIONS = ("passed", "failed")
MAX_RUN_NAME_CHARS = 58
# A run's slug is `<name slug>-<base-36 clock>`: the clock part keeps runs apart.
MAX_RUN_SLUG_PREFIX_CHARS = 48


def start_run(
    db: Session,
    *,
    principal: Principal,
    template_id: uuid.UUID,
    data: TemplateValidationRunCreate,
) -> tuple[TemplateRow, SandboxRow]:
    """Launch a validation sandbox and mark the template `testing`."""
    template = templates.get_template(db, template_id)
    templates.may_change(principal, template.project_id)
    extra = _metadata_object(data.metadata)
    # Locked until the launch commits: its quota checks and its insert are one step.
    project = policy.lock_project(db, _run_project_id(template, data))
    _check_launch(db, principal=principal, template=template, project=project)
    started_at = _stamp()
    name = _run_name(data.name, template)
    sandbox = sandboxes.create_sandbox(
        db,
        principal=principal,
        data=SandboxCreate.model_validate(
            {
                "projectId": str(project.id),
                "templateId": str(template.id),
                "name": name,
                "slug": _run_slug(name, template),
                "metadata": {
                    **extra,
                    "purpose": PURPOSE,
                    "templateId": str(template.id),
                    "validationStatus": "testing",
                    "validationStartedAt": started_at,
                },
            }
        ),
    )
    # The sandbox is committed; its template now says a run is under way.
    template = templates.get_template(db, template_id)
    template.meta = {
        **_as_object(template.meta),
        "validationStatus": "testing",
        "validationSandboxId": str(sandbox.id),
        "validationStartedAt": started_at,
    }
    audit.service.record_change(
        db,
        principal=principal,
        action="template.validation.started",
        subject=template,
        metadata={"sandboxId": str(sandbox.id)},
        project_id=project.id,
    )
    commit(db)
    return template, sandbox


def decide_run(
    db: Session,
    *,
    principal: Principal,
    template_id: uuid.UUID,
    sandbox_id: uuid.UUID,
    data: TemplateValidationRunDecision,
) -> tuple[TemplateRow, SandboxRow]:
    """Record that a validation run passed or failed, on the run and on its template."""
    if data.status not in DECISIONS:
        raise InvalidInput("status must be passed or failed")
    template = templates.get_template(db, template_id)
    templates.may_change(principal, template.project_id)
    sandbox = sandboxes.get_sandbox(db, sandbox_id)
    if sandbox.template_id != template.id:
        raise InvalidInput("validation sandbox does not belong to template")
    run = sandbox.meta if isinstance(sandbox.meta, dict) else {}
    if run.get("purpose") != PURPOSE:
        raise InvalidInput("sandbox is not a template validation run")
    if "templateId" in run and run["templateId"] != str(template.id):
        raise InvalidInput("validation sandbox template metadata does not match")
    decided_at = _stamp()
    template.meta = {
        **_as_object(template.meta),
        "validationStatus": data.status,
        "validationSandboxId": str(sandbox.id),
        "validationDecidedAt": decided_at,
    }
    sandbox.meta = {
        **run,
        "purpose": PURPOSE,
        "templateId": str(template.id),
        "validationResult": data.status,
        "validationDecidedAt": decided_at,
    }
    template.updated_at = sandbox.updated_at = utcnow()
    audit.service.record_change(
        db,
        principal=principal,
        action="template.validation.decided",
        subject=template,
        metadata={"sandboxId": str(sandbox.id), "status": data.status},
        project_id=sandbox.project_id,
    )
    commit(db)
    changes.notify("sandbox-status", str(sandbox.id))  # watchers of the sandbox
    return template, sandbox


def _metadata_object(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput("metadata must be a JSON object")
    return value


def _as_object(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _run_project_id(template: TemplateRow, data: TemplateValidationRunCreate) -> uuid.UUID:
    """A project template runs in its project; a global one in the project the caller names."""
    given = optional_uuid(data.project_id, "projectId must be a project UUID")
    if template.project_id is not None:
        if given is not None and given != template.project_id:
            raise InvalidInput("projectId must match template scope")
        return template.project_id
    if given is None:
        raise InvalidInput("projectId is required for global template validation")
    return given


def _check_launch(
    db: Session, *, principal: Principal, template: TemplateRow, project: ProjectRow
) -> None:
    """The launch's policy and quota checks (sandboxes.launch_blockers), refused as a
    `template.validation`."""
    reasons = sandboxes.launch_blockers(
        db, project_id=project.id, template=template, service_account=DEFAULT_SERVICE_ACCOUNT
    )
    if reasons:
        raise policy.deny(
            db,
            principal=principal,
            reasons=reasons,
            operation="template.validation",
            resource_type="template",
            resource_name=template.slug,
            project_id=project.id,
            metadata={
                "templateId": str(template.id),
                "image": template.image,
                "serviceAccountName": DEFAULT_SERVICE_ACCOUNT,
            },
        )


def _run_name(given: str | None, template: TemplateRow) -> str:
    name = given.strip() if not blank(given) else f"Validate {template.name}"
    return name[:MAX_RUN_NAME_CHARS].strip() or "Validate environment"


def _run_slug(name: str, template: TemplateRow) -> str:
    prefix = slugify(name) or f"validate-{template.slug}"
    prefix = prefix[:MAX_RUN_SLUG_PREFIX_CHARS].rstrip("-") or "validation"
    return f"{prefix}-{_base36(time.time_ns())}"


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while number:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
    return text or "0"


def _stamp() -> str:
    """RFC 3339 UTC, as the reference writes it into metadata."""
    return utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
