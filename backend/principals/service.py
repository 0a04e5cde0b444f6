"""Principals' API tokens: minted (the secret shown once), listed, revoked. Each is bound to
a principal with a role and optionally to projects; authentication with them is in
backend/auth/service.py."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from backend import audit
from backend.auth import access
from backend.auth.access import Permission
from backend.auth.models import ApiTokenRow, Principal
from backend.auth.service import PREFIX_SHOWN, TOKEN_PREFIX, hash_token
from backend.db import commit, get_row, utcnow
from backend.errors import Forbidden, InvalidInput, NotFound
from backend.principals.models import ApiTokenCreate
from backend.projects.models import ProjectRow
from backend.validation import has_control_characters, parse_uuid

MAX_EXPIRY_DAYS = 3650
# A principal's name: what its actions are recorded under.
PRINCIPAL_NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,62}$")
RESERVED_NAMES = {"system", "anonymous", "console"}


def create_token(
    db: Session, *, principal: Principal, data: ApiTokenCreate
) -> tuple[ApiTokenRow, str]:
    """A new token and its secret (shown this once). Nobody mints a token stronger or
    wider than their own; only admins mint tokens for other principals."""
    name = _token_name(data.name)
    owner = _owner(principal, data.principal)
    role = data.role if data.role is not None else principal.role
    if role not in access.ROLES:
        raise InvalidInput(f"role must be one of {', '.join(access.ROLES)}", field="role")
    projects = _token_projects(db, principal, data.project_ids)
    if not access.covers(principal, role, projects):
        raise Forbidden(
            "forbidden: a token cannot have a stronger role or more projects than its creator"
        )
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiTokenRow(
        name=name,
        principal=owner,
        role=role,
        token_hash=hash_token(secret),
        token_prefix=secret[:PREFIX_SHOWN],
        project_ids=None if projects is None else sorted(str(p) for p in projects),
        created_by=principal.subject,
        expires_at=_expiry(data.expires_in_days),
    )
    db.add(row)
    _record(db, principal, "token.created", row)
    commit(db)
    return row, secret


def list_tokens(
    db: Session, *, principal: Principal, limit: int | None = None
) -> list[ApiTokenRow]:
    """The caller's own tokens (everyone's with manage-tokens), newest first."""
    query = select(ApiTokenRow).order_by(col(ApiTokenRow.created_at).desc())
    if not access.can(principal, Permission.MANAGE_TOKENS):
        query = query.where(ApiTokenRow.principal == principal.subject)
    return list(db.exec(query.limit(limit)))


def get_token(db: Session, *, principal: Principal, token_id: uuid.UUID) -> ApiTokenRow:
    row = get_row(db, ApiTokenRow, token_id)
    if row.principal != principal.subject and not access.can(principal, Permission.MANAGE_TOKENS):
        raise NotFound()
    return row


def revoke_token(db: Session, *, principal: Principal, token_id: uuid.UUID) -> ApiTokenRow:
    """Revoke a token now (idempotent): requests and console sign-ins with it stop."""
    row = get_token(db, principal=principal, token_id=token_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        _record(db, principal, "token.revoked", row)
        commit(db)
    return row


def _token_name(value: str | None) -> str:
    name = (value or "").strip()
    if not name or len(name) > 100 or has_control_characters(name):
        raise InvalidInput(
            "name is required (at most 100 characters, no control characters)", field="name"
        )
    return name


def _owner(principal: Principal, given: str | None) -> str:
    """Whose token it is: the caller's own unless an admin names another principal."""
    named = principal.token_id is not None
    owner = (given or "").strip() or (principal.subject if named else "")
    if not PRINCIPAL_NAME.fullmatch(owner) or owner in RESERVED_NAMES:
        raise InvalidInput(
            "principal must be a name of lower-case letters, digits and . _ @ - "
            "(at most 63 characters; not system, anonymous or console)",
            field="principal",
        )
    if owner != principal.subject:
        access.require(principal, Permission.MANAGE_TOKENS)
    return owner


def _token_projects(
    db: Session, principal: Principal, given: list[str] | None
) -> frozenset[uuid.UUID] | None:
    """The projects a new token is scoped to: the given ones (each must exist and be the
    caller's), else the caller's own scope."""
    if given is None:
        return principal.projects
    ids = frozenset(parse_uuid(value, f"invalid project id {value!r}") for value in given)
    for project_id in ids:
        if not access.sees(principal, project_id) or db.get(ProjectRow, project_id) is None:
            raise InvalidInput(f"projectIds: no such project {project_id}", field="projectIds")
    return ids


def _expiry(days: int | None) -> datetime | None:
    if days is None:
        return None
    if not 1 <= days <= MAX_EXPIRY_DAYS:
        raise InvalidInput(
            f"expiresInDays must be between 1 and {MAX_EXPIRY_DAYS}", field="expiresInDays"
        )
    return utcnow() + timedelta(days=days)


def _record(db: Session, principal: Principal, action: str, row: ApiTokenRow) -> None:
    audit.service.record(
        db,
        principal=principal,
        action=action,
        resource_type="api_token",
        resource_id=row.id,
        resource_name=row.name,
        metadata={
            "principal": row.principal,
            "role": row.role,
            "projectIds": row.project_ids,
            "prefix": row.token_prefix,
        },
    )


def record_sign_in(db: Session, *, principal: Principal | None, address: str) -> None:
    """A console sign-in, or a failed attempt (`principal` None: the token proved nobody;
    nothing of what was typed is recorded)."""
    who = principal or Principal(subject="anonymous", role="viewer")
    audit.service.record(
        db,
        principal=who.with_labels(actor=who.subject if principal else "", source="console"),
        action="auth.signed_in" if principal else "auth.sign_in_failed",
        resource_type="sign_in",
        metadata={"address": address},
    )
    commit(db)
