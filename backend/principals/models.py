"""API tokens and principals as the API shows them: created, listed, and who am I."""

from __future__ import annotations

import uuid
from datetime import datetime

from backend.auth.models import ApiTokenRow, token_status
from backend.schemas import PublicModel, RequestModel


class ApiTokenCreate(RequestModel):
    """A new token: `principal` defaults to the caller's own; `role` to the caller's;
    `projectIds` (absent: the caller's scope) narrows it to projects; it expires after
    `expiresInDays` (absent: never)."""

    name: str | None = None
    principal: str | None = None
    role: str | None = None
    project_ids: list[str] | None = None
    expires_in_days: int | None = None


class ApiToken(PublicModel):
    """A token as listed: never its secret, only the first characters (`prefix`)."""

    id: uuid.UUID
    name: str
    principal: str
    role: str
    project_ids: list[uuid.UUID] | None = None
    prefix: str
    created_by: str | None = None
    created_at: datetime
    last_used_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    status: str  # active | expired | revoked

    @classmethod
    def from_row(cls, row: ApiTokenRow) -> ApiToken:  # type: ignore[override]
        return cls(
            id=row.id,
            name=row.name,
            principal=row.principal,
            role=row.role,
            project_ids=row.project_ids,
            prefix=row.token_prefix,
            created_by=row.created_by or None,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            status=token_status(row),
        )


class ApiTokenCreated(ApiToken):
    """The answer to creating a token: the only time its secret is shown."""

    token: str


class WhoAmI(PublicModel):
    """Who the caller is and what it may do."""

    principal: str
    role: str
    project_ids: list[uuid.UUID] | None = None
    token_id: uuid.UUID | None = None
    permissions: list[str]
    authentication_required: bool
