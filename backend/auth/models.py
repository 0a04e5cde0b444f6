"""Who is acting: the principal every service call takes, and stored API tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from backend.db import id_field, json_field, timestamp_field


@dataclass(frozen=True)
class Principal:
    """The authenticated caller plus the attribution labels it supplied.

    `subject` is what authentication proved ("token:shared", "token:<id>", "anonymous",
    "console", "system"); `actor`/`source` are the caller's own labels (X-Mbox-Audit-*),
    recorded as given but never trusted for authorization.
    """

    subject: str
    actor: str = ""
    source: str = "http-api"
    request_id: str = ""

    def with_labels(self, **labels: str) -> Principal:
        return replace(self, **labels)


SYSTEM = Principal(subject="system", source="system")


class ApiTokenRow(SQLModel, table=True):
    """A named bearer token for automation; only a hash of the secret is stored."""

    __tablename__ = "api_tokens"

    id: uuid.UUID = id_field()
    name: str
    token_hash: str = Field(sa_column_kwargs={"unique": True})
    token_prefix: str = ""
    scopes: list[Any] = json_field(list)
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
