"""Authorization: what each role may do, and which projects a principal sees.

Two checks, both in the service layer (the one door the API, the console and the engines
share):

- `require(principal, permission, project_id)`: the principal's role grants the
  permission (else 403 `forbidden: ...`), and the project is one it may see (else 404,
  exactly as if the resource did not exist).
- Scoped sessions: a database session opened for a project-scoped principal
  (`Database.session(principal)`) only ever reads or writes rows of its projects. Every
  ORM statement on a table with a `project_id` gets the filter (as row-level security
  would), so lists are filtered and other projects' ids answer 404 without each query
  remembering to.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from backend.auth.models import Principal
from backend.db import SCOPE_KEY
from backend.errors import Forbidden, NotFound


class Permission(StrEnum):
    READ = "read"  # projects and what is in them, as records (no contents)
    READ_CONTENT = "read-content"  # workspace files, logs, task output, artifact bytes
    OPERATE = "operate"  # launch and drive sandboxes, tasks, terminals, files, artifacts
    GOVERN = "govern"  # projects, launch and quota policies, credentials, shared templates
    AUDIT = "audit"  # the audit feeds, their verification and export
    RUNTIME_READ = "runtime-read"  # the runtime's inventory and orphan audit
    RUNTIME_CLEANUP = "runtime-cleanup"  # deleting an orphaned runtime resource
    MANAGE_TOKENS = "manage-tokens"  # everyone's API tokens (each principal has its own)


class Role(StrEnum):
    VIEWER = "viewer"
    DEVELOPER = "developer"
    OPERATOR = "operator"
    ADMIN = "admin"
    AUDITOR = "auditor"


_VIEW = {Permission.READ, Permission.READ_CONTENT}
ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    Role.VIEWER: frozenset(_VIEW),
    Role.DEVELOPER: frozenset(_VIEW | {Permission.OPERATE}),
    Role.OPERATOR: frozenset(set(Permission) - {Permission.MANAGE_TOKENS}),
    Role.ADMIN: frozenset(Permission),
    Role.AUDITOR: frozenset({Permission.READ, Permission.AUDIT, Permission.RUNTIME_READ}),
}
ROLES = tuple(role.value for role in Role)

# What each permission lets one do, in words for a refusal ("the viewer role cannot ...").
_DOING = {
    Permission.READ: "read projects",
    Permission.READ_CONTENT: "read sandbox contents (files, logs, output, artifact bytes)",
    Permission.OPERATE: "change sandboxes, templates, tasks, terminals, files or artifacts",
    Permission.GOVERN: "change projects, policies, quotas, credentials or shared templates",
    Permission.AUDIT: "read the audit trail",
    Permission.RUNTIME_READ: "read the runtime inventory",
    Permission.RUNTIME_CLEANUP: "delete runtime resources",
    Permission.MANAGE_TOKENS: "manage other principals' API tokens",
}


def permissions(role: str) -> frozenset[Permission]:
    return ROLE_PERMISSIONS.get(role, frozenset())


def can(principal: Principal, permission: Permission) -> bool:
    return permission in permissions(principal.role)


def sees(principal: Principal, project_id: uuid.UUID | None) -> bool:
    """Whether the principal may see the project (None: something of no project, which
    only unscoped principals change; see `require_global`)."""
    return principal.projects is None or project_id in principal.projects


def require(
    principal: Principal, permission: Permission, project_id: uuid.UUID | None = None
) -> None:
    """Refuse unless the principal's role grants `permission` on the project: a project it
    cannot see is a 404 (its existence is not revealed), a role short of it a 403."""
    if project_id is not None and not sees(principal, project_id):
        raise NotFound()
    if not can(principal, permission):
        raise Forbidden(
            f"forbidden: the {principal.role} role cannot {_DOING[permission]}",
            role=principal.role,
            permission=permission.value,
        )


def require_global(principal: Principal, permission: Permission) -> None:
    """Refuse a change to something of no project (a project itself, a shared template,
    the runtime) to a project-scoped principal, and to a role short of `permission`."""
    require(principal, permission)
    if principal.projects is not None:
        raise Forbidden(
            f"forbidden: a token scoped to projects cannot {_DOING[permission]} outside them",
            role=principal.role,
            permission=permission.value,
        )


def covers(principal: Principal, role: str, projects: frozenset[uuid.UUID] | None) -> bool:
    """Whether the principal holds everything a token with `role` and `projects` would:
    nobody mints a token stronger or wider than their own."""
    if not permissions(role) <= permissions(principal.role):
        return False
    if principal.projects is None:
        return True
    return projects is not None and projects <= principal.projects


# -- scoped sessions -------------------------------------------------------------------

# `Database.session(principal.projects)` opens a scoped session; this filter holds it to
# its projects.


@sa.event.listens_for(orm.Session, "do_orm_execute")
def _filter_to_scope(state: orm.ORMExecuteState) -> None:
    scope = state.session.info.get(SCOPE_KEY)
    if scope is None or state.is_column_load or state.is_relationship_load:
        return
    options = [
        orm.with_loader_criteria(
            mapper.class_, _criteria(mapper.class_, scope), include_aliases=True
        )
        for mapper in _scoped_mappers(state)
    ]
    if options:
        state.statement = state.statement.options(*options)


def _scoped_mappers(state: orm.ORMExecuteState) -> list[orm.Mapper[Any]]:
    return [
        mapper
        for mapper in state.all_mappers
        if "project_id" in mapper.columns or mapper.persist_selectable.name == "projects"
    ]


def _criteria(model: type, scope: frozenset[uuid.UUID]) -> Any:
    ids = list(scope)
    table = model.__table__  # type: ignore[attr-defined]
    if table.name == "projects":
        return table.c.id.in_(ids)
    column = table.c.project_id
    if column.nullable and table.name == "environment_templates":
        # Shared (built-in) templates belong to no project: every principal sees them.
        return sa.or_(column.in_(ids), column.is_(None))
    return column.in_(ids)
