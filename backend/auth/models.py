"""Who is acting: the principal every service call takes, and stored API tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from backend.db import id_field, json_field, timestamp_field, utcnow


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, what it may do, and the attribution labels it supplied.

    `subject` is who authentication proved: a named principal (the name its API tokens
    are bound to), "token:shared" (MBOX_API_TOKEN), "anonymous" (authentication off) or
    "system" (the server's own engines). `role` and `projects` (None: every project) are
    what it may do (backend/auth/access.py). `actor`/`source` are the caller's own labels
    (X-Mbox-Audit-*), recorded as given but never trusted for authorization.
    """

    subject: str
    role: str = "admin"
    projects: frozenset[uuid.UUID] | None = None
    token_id: uuid.UUID | None = None
    actor: str = ""
    source: str = "http-api"
    request_id: str = ""

    def with_labels(self, **labels: str) -> Principal:
        return replace(self, **labels)


SYSTEM = Principal(subject="system", source="system")


class ApiTokenRow(SQLModel, table=True):
    """A named bearer token bound to a principal with a role, optionally scoped to
    projects. Only a hash of the secret is stored, and its first characters for display."""

    __tablename__ = "api_tokens"

    id: uuid.UUID = id_field()
    name: str
    principal: str = Field(default="", index=True)
    role: str = "viewer"
    token_hash: str = Field(sa_column_kwargs={"unique": True})
    token_prefix: str = ""
    # The projects it is scoped to (ids as strings); null: every project.
    project_ids: list[Any] | None = json_field(column="scopes", nullable=True)
    created_by: str = ""
    created_at: datetime = timestamp_field()
    last_used_at: datetime | None = timestamp_field(nullable=True)
    expires_at: datetime | None = timestamp_field(nullable=True)
    revoked_at: datetime | None = timestamp_field(nullable=True)


class SignInRevocationRow(SQLModel, table=True):
    """A console sign-in ended by sign-out. Cookies are signed and carry their sign-in id
    (the `session_id` column); this row makes every replica refuse the cookie until it
    would have expired anyway."""

    # Table and column keep their old "session" names for compatibility: renaming them
    # needs a migration.
    __tablename__ = "console_session_revocations"

    session_id: uuid.UUID = Field(primary_key=True)
    revoked_at: datetime = timestamp_field()
    expires_at: datetime = timestamp_field(index=True)


def token_status(row: ApiTokenRow, now: datetime | None = None) -> str:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= (now or utcnow()):
        return "expired"
    return "active"
