"""Credential references: a project's named secrets. The one door for their changes.

A credential names a secret (and optionally one key of it); its value is never sent,
stored or read by mbox. Credentials whose `usage` lists "sandbox" are projected into the
project's sandboxes by the runtime, read-only at /run/secrets/mbox/<slug> (see
`sandbox_mounts` and backend/runtime).
"""

from __future__ import annotations

import re
import uuid

from sqlmodel import Session, col, select

from backend import audit
from backend.auth import access
from backend.auth.access import Permission
from backend.auth.models import Principal
from backend.credentials.models import (
    CREDENTIAL_TYPES,
    SANDBOX_USAGE,
    ProjectCredentialCreate,
    ProjectCredentialRow,
)
from backend.db import commit, get_row
from backend.errors import Conflict, DeniedRule, InvalidInput
from backend.policy import service as policy
from backend.projects.models import ProjectRow
from backend.runtime.base import CredentialMount, RegistryCredential
from backend.validation import (
    MAX_NAME_CHARS,
    has_control_characters,
    metadata_value,
    resolve_slug,
)

INVALID = "name, valid slug, type, and secretRef.name are required"
# A Secret's name is a DNS subdomain; a key is a Kubernetes Secret key. Neither can hold a
# path separator, so neither can lead a runtime outside its secrets.
SECRET_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
MAX_SECRET_NAME_CHARS = 253


def list_credentials(
    db: Session, *, project_id: uuid.UUID, limit: int | None = None
) -> list[ProjectCredentialRow]:
    """Newest first (404 if the project is missing, or out of the session's scope)."""
    get_row(db, ProjectRow, project_id)
    query = (
        select(ProjectCredentialRow)
        .where(ProjectCredentialRow.project_id == project_id)
        .order_by(col(ProjectCredentialRow.created_at).desc(), col(ProjectCredentialRow.id))
    )
    return list(db.exec(query.limit(limit)))


def get_credential(db: Session, credential_id: uuid.UUID) -> ProjectCredentialRow:
    return get_row(db, ProjectCredentialRow, credential_id)


def sandbox_mounts(db: Session, project_id: uuid.UUID) -> tuple[CredentialMount, ...]:
    """What the runtime mounts into each of the project's sandboxes: the credentials whose
    usage lists "sandbox", by slug, as names (the runtime finds the values)."""
    rows = db.exec(
        select(ProjectCredentialRow)
        .where(ProjectCredentialRow.project_id == project_id)
        .order_by(col(ProjectCredentialRow.slug))
    )
    return tuple(
        CredentialMount(row.slug, row.secret_name, row.secret_key)
        for row in rows
        if SANDBOX_USAGE in row.usage
    )


def registry_credentials(db: Session, project_id: uuid.UUID) -> tuple[RegistryCredential, ...]:
    """The project's credentials of type `registry`, by the registry host they name in
    `target` (how the local runtime pulls a private image; names only)."""
    rows = db.exec(
        select(ProjectCredentialRow)
        .where(ProjectCredentialRow.project_id == project_id)
        .where(ProjectCredentialRow.type == "registry")
        .order_by(col(ProjectCredentialRow.slug))
    )
    return tuple(RegistryCredential(row.target, row.secret_name) for row in rows if row.target)


def sandbox_credentials(
    db: Session, project_id: uuid.UUID
) -> tuple[tuple[CredentialMount, ...], tuple[RegistryCredential, ...]]:
    """What a sandbox's launch needs of the project's credentials, in one read."""
    return sandbox_mounts(db, project_id), registry_credentials(db, project_id)


def create_credential(
    db: Session, *, principal: Principal, project_id: uuid.UUID, data: ProjectCredentialCreate
) -> ProjectCredentialRow:
    access.require(principal, Permission.GOVERN, project_id)
    get_row(db, ProjectRow, project_id)
    row = _new_row(project_id, data)
    _check_policy(db, principal=principal, row=row)
    taken = select(ProjectCredentialRow.id).where(
        ProjectCredentialRow.project_id == project_id, ProjectCredentialRow.slug == row.slug
    )
    if db.exec(taken).first():
        raise Conflict(f'a credential with slug "{row.slug}" already exists in this project')
    db.add(row)
    audit.service.record_change(
        db,
        principal=principal,
        action="project.credential.created",
        subject=row,
        metadata={"type": row.type, "target": row.target, "secretRef": row.secret_name},
    )
    commit(db)
    return row


def delete_credential(db: Session, *, principal: Principal, credential_id: uuid.UUID) -> None:
    row = get_credential(db, credential_id)  # out of scope: 404 before the role's 403
    access.require(principal, Permission.GOVERN, row.project_id)
    audit.service.record_change(
        db,
        principal=principal,
        action="project.credential.deleted",
        subject=row,
        metadata={"type": row.type, "target": row.target, "secretRef": row.secret_name},
    )
    db.delete(row)
    commit(db)


def _new_row(project_id: uuid.UUID, data: ProjectCredentialCreate) -> ProjectCredentialRow:
    """The row the request describes, or the contract's 400 naming the field at fault."""
    name = (data.name or "").strip()
    if not name or len(name) > MAX_NAME_CHARS or has_control_characters(name):
        raise _invalid("name", f"required, one line, at most {MAX_NAME_CHARS} characters")
    slug = resolve_slug(data.slug, name)
    if not slug:
        raise _invalid("slug", "lower-case letters, digits and dashes, at most 63 characters")
    if data.type not in CREDENTIAL_TYPES:
        raise _invalid("type", f"one of {', '.join(CREDENTIAL_TYPES)}")
    return ProjectCredentialRow(
        project_id=project_id,
        name=name,
        slug=slug,
        type=data.type,
        target=(data.target or "").strip(),
        secret_ref=_secret_ref(data),
        usage=list(dict.fromkeys(v.strip() for v in data.usage or [] if v.strip())),
        meta=metadata_value(data.metadata),
    )


def _secret_ref(data: ProjectCredentialCreate) -> dict[str, str]:
    """`{name, key?}`: names only, so that no runtime can be led outside its secrets."""
    ref = data.secret_ref
    name = (ref.name or "").strip() if ref else ""
    if len(name) > MAX_SECRET_NAME_CHARS or not SECRET_NAME.match(name):
        raise _invalid(
            "secretRef.name",
            "a Secret name: lower-case letters, digits, '-' and '.', at most 253 characters",
        )
    key = (ref.key or "").strip() if ref else ""
    if not key:
        return {"name": name}
    if (
        len(key) > MAX_SECRET_NAME_CHARS
        or not SECRET_KEY.match(key)
        or key == "."
        or key.startswith("..")
    ):
        raise _invalid(
            "secretRef.key",
            "a Secret key: letters, digits, '-', '_' and '.', at most 253 characters, "
            "neither '.' nor starting with '..'",
        )
    return {"name": name, "key": key}


def _invalid(field: str, expected: str) -> InvalidInput:
    return InvalidInput(INVALID, field=field, expected=expected)


def _check_policy(db: Session, *, principal: Principal, row: ProjectCredentialRow) -> None:
    """An enforced launch policy allows only the secrets it lists (an empty list none)."""
    rules = policy.get_launch_policy(db, row.project_id)
    if rules.enforcement != "enforced" or row.secret_name in rules.allowed_secret_refs:
        return
    message = f'secretRef "{row.secret_name}" is not allowed'
    raise policy.deny(
        db,
        principal=principal,
        reasons=[DeniedRule("allowedSecretRefs", message, row.secret_name)],
        operation="credential.create",
        resource_type=ProjectCredentialRow.audit_type,
        resource_name=row.slug,
        project_id=row.project_id,
        metadata={"type": row.type, "secretRef": row.secret_name},
    )
