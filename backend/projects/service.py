"""Projects: create, read, update, delete (guarded). The one door for project mutations."""

from __future__ import annotations

import uuid

from sqlmodel import Session, col, select

from backend import audit
from backend.auth import access
from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.db import commit, get_row, utcnow
from backend.errors import Conflict, InvalidInput
from backend.projects.models import ProjectCreate, ProjectRow, ProjectUpdate
from backend.templates.models import TemplateRow
from backend.validation import blank, check_name, metadata_value, parse_uuid, resolve_slug

MAX_RETENTION_DAYS = 3650


def list_projects(db: Session, *, limit: int | None = None) -> list[ProjectRow]:
    query = select(ProjectRow).order_by(col(ProjectRow.created_at).desc(), col(ProjectRow.id))
    return list(db.exec(query.limit(limit)))


def get_project(db: Session, project_id: uuid.UUID) -> ProjectRow:
    return get_row(db, ProjectRow, project_id)


def create_project(db: Session, *, principal: Principal, data: ProjectCreate) -> ProjectRow:
    access.require_global(principal, Permission.GOVERN)
    name = check_name(data.name or "")
    slug = resolve_slug(data.slug, name)
    if not name or not slug or blank(data.default_namespace):
        raise InvalidInput("name, valid slug, and defaultNamespace are required")
    if db.exec(select(ProjectRow.id).where(ProjectRow.slug == slug)).first():
        raise Conflict(f'a project with slug "{slug}" already exists')
    project = ProjectRow(
        name=name,
        slug=slug,
        repository_url=(data.repository_url or "").strip(),
        default_namespace=(data.default_namespace or "").strip(),
        artifact_retention_days=_retention_days(data.artifact_retention_days),
        meta=metadata_value(data.metadata),
    )
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
        if blank(data.name):
            raise InvalidInput("name cannot be empty")
        project.name = check_name(data.name)
    if data.given("default_namespace") and data.default_namespace is not None:
        if blank(data.default_namespace):
            raise InvalidInput("defaultNamespace cannot be empty")
        project.default_namespace = data.default_namespace.strip()
    if data.given("repository_url"):
        project.repository_url = (data.repository_url or "").strip()
    if data.given("default_template_id"):
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
        raise InvalidInput(f"artifactRetentionDays must be between 1 and {MAX_RETENTION_DAYS}")
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
    audit.service.record_change(
        db,
        principal=principal,
        action="project.deleted",
        subject=project,
        metadata={"name": project.name},
        project_id=None,  # the project is gone; its events stay, detached
    )
    db.delete(project)
    commit(
        db,
        restricted="project still has sandboxes (active, or deleted but awaiting runtime "
        "cleanup); delete them and wait for cleanup first",
    )
