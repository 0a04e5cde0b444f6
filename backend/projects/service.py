"""Projects: create, read, update, delete (guarded). The one door for project mutations."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlmodel import Session, col, select

from backend import audit
from backend.auth import access
from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.db import commit, get_row, utcnow
from backend.errors import Conflict, InvalidInput
from backend.projects.models import ProjectCreate, ProjectRow, ProjectUpdate
from backend.templates.models import TemplateRow
from backend.validation import (
    about,
    check_name,
    check_namespace,
    metadata_value,
    name_and_slug,
    parse_uuid,
    repository_url,
    required,
)

MAX_RETENTION_DAYS = 3650
# The contract's words for a create without them; detail.field says which one.
REQUIRED = "name, valid slug, and defaultNamespace are required"
MAX_SHOWN_BLOCKERS = 100  # ids a refused delete lists (its count says how many in all)

# What stands in the way of deleting a project, registered by the layers above (this one
# may not import them): backend.sandboxes.service lists the project's live sandboxes.
DELETE_BLOCKERS: list[Callable[[Session, uuid.UUID], list[uuid.UUID]]] = []


def list_projects(db: Session, *, limit: int | None = None) -> list[ProjectRow]:
    query = select(ProjectRow).order_by(col(ProjectRow.created_at).desc(), col(ProjectRow.id))
    return list(db.exec(query.limit(limit)))


def get_project(db: Session, project_id: uuid.UUID) -> ProjectRow:
    return get_row(db, ProjectRow, project_id)


def create_project(db: Session, *, principal: Principal, data: ProjectCreate) -> ProjectRow:
    access.require_global(principal, Permission.GOVERN)
    name, slug = name_and_slug(data.name, data.slug, REQUIRED)
    namespace = check_namespace(
        required(data.default_namespace, "defaultNamespace", REQUIRED), "defaultNamespace"
    )
    project = ProjectRow(
        name=name,
        slug=slug,
        repository_url=repository_url(data.repository_url or ""),
        default_namespace=namespace,
        artifact_retention_days=_retention_days(data.artifact_retention_days),
        meta=metadata_value(data.metadata),
    )
    if db.exec(select(ProjectRow.id).where(ProjectRow.slug == slug)).first():
        raise Conflict(f'a project with slug "{slug}" already exists', field="slug")
    db.add(project)
    audit.service.record_change(
        db,
        principal=principal,
        action="project.created",
        subject=project,
        metadata={"defaultNamespace": project.default_namespace},
    )
    commit(db)
    return project


def update_project(
    db: Session, *, principal: Principal, project_id: uuid.UUID, data: ProjectUpdate
) -> ProjectRow:
    access.require(principal, Permission.GOVERN, project_id)
    project = get_project(db, project_id)
    if data.given("name") and data.name is not None:
        project.name = check_name(required(data.name, "name", "name cannot be empty"))
    if data.given("default_namespace") and data.default_namespace is not None:
        namespace = required(
            data.default_namespace, "defaultNamespace", "defaultNamespace cannot be empty"
        )
        project.default_namespace = check_namespace(namespace, "defaultNamespace")
    if data.given("repository_url"):
        project.repository_url = repository_url(data.repository_url or "")
    if data.given("default_template_id"):
        with about("defaultTemplateId"):
            project.default_template_id = _default_template(db, project, data.default_template_id)
    if data.given("artifact_retention_days"):
        project.artifact_retention_days = _retention_days(data.artifact_retention_days)
    if data.given("metadata"):
        project.meta = metadata_value(data.metadata)
    project.updated_at = utcnow()
    audit.service.record_change(
        db,
        principal=principal,
        action="project.updated",
        subject=project,
        metadata={"fields": data.sent_fields()},
    )
    commit(db)
    return project


def _retention_days(days: int | None) -> int | None:
    if days is not None and not 1 <= days <= MAX_RETENTION_DAYS:
        raise InvalidInput(
            f"artifactRetentionDays must be between 1 and {MAX_RETENTION_DAYS}",
            field="artifactRetentionDays",
        )
    return days


def _default_template(db: Session, project: ProjectRow, value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    template_id = parse_uuid(value, "defaultTemplateId must be a template UUID")
    template = get_row(db, TemplateRow, template_id, "default template not found")
    if template.project_id not in (None, project.id):
        raise InvalidInput("defaultTemplateId must be a global template or one of this project's")
    return template_id


def delete_project(db: Session, *, principal: Principal, project_id: uuid.UUID) -> None:
    """Hard delete with cascades (templates, sandboxes and their records), refused while
    sandboxes are active or still await cleanup: the delete cascades to the sandboxes, and
    a live sandbox's hold row (ON DELETE RESTRICT) makes the database refuse it."""
    access.require(principal, Permission.GOVERN, project_id)
    project = get_project(db, project_id)
    blockers = [found for check in DELETE_BLOCKERS for found in check(db, project.id)]
    if blockers:
        raise Conflict(
            _still_has_sandboxes(len(blockers)),
            sandboxIds=[str(found) for found in blockers[:MAX_SHOWN_BLOCKERS]],
            count=len(blockers),
        )
    audit.service.record_change(
        db,
        principal=principal,
        action="project.deleted",
        subject=project,
        metadata={"name": project.name},
        project_id=None,  # the project is gone; its events stay, detached
    )
    db.delete(project)
    commit(db, restricted=_still_has_sandboxes(None))  # one launched meanwhile


def _still_has_sandboxes(count: int | None) -> str:
    """The refusal in words, with how many sandboxes are in the way when known."""
    which = "active, or deleted but awaiting runtime cleanup"
    if count is not None:
        verb = "is" if count == 1 else "are"
        which = f"{count} {verb} active or deleted but awaiting runtime cleanup"
    return f"project still has sandboxes ({which}); delete them and wait for cleanup first"
