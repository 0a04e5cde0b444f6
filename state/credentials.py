"""Credentials page state: a project's credential references (name, type, target, the
secret they name and where they are used), created and deleted with the govern
permission. A reference names a secret; there is no value to show, and none is."""

from __future__ import annotations

import dataclasses
import uuid

import reflex as rx

from backend.auth.models import Principal
from backend.credentials import service as credentials
from backend.credentials.models import (
    CREDENTIAL_TYPES,
    SANDBOX_USAGE,
    ProjectCredentialCreate,
    ProjectCredentialRow,
)
from backend.errors import ServiceError
from backend.templates import service as templates
from backend.templates.models import TemplateRow
from backend.validation import request_body
from state.base import Choice, acting, attempt, db_session, in_thread, refusal
from state.format import timestamp
from state.governance import GovernedProject


@dataclasses.dataclass
class CredentialItem:
    id: str
    name: str
    slug: str
    type: str
    target: str
    secret: str  # secret-name, or secret-name / key
    usage: str
    used_by: str
    created: str


def _used_by(row: ProjectCredentialRow, usable: list[TemplateRow]) -> str:
    """Where the secret is used: mounted into the project's sandboxes, and the templates
    that name it among their secret references."""
    places = []
    if SANDBOX_USAGE in row.usage:
        places.append(f"every sandbox (/run/secrets/mbox/{row.slug})")
    names = [t.name for t in usable if row.secret_name in {r.get("name") for r in t.secret_refs}]
    if names:
        places.append("templates " + ", ".join(names))
    return "; ".join(places) or "Not used yet"


def credential_item(row: ProjectCredentialRow, usable: list[TemplateRow]) -> CredentialItem:
    key = f" / {row.secret_key}" if row.secret_key else ""
    return CredentialItem(
        id=str(row.id),
        name=row.name,
        slug=row.slug,
        type=row.type,
        target=row.target or "—",
        secret=f"{row.secret_name}{key}",
        usage=", ".join(row.usage) or "—",
        used_by=_used_by(row, usable),
        created=timestamp(row.created_at),
    )


def read_credentials(principal: Principal, project_id: str) -> list[CredentialItem]:
    pid = uuid.UUID(project_id)
    with db_session(principal) as db:
        rows = credentials.list_credentials(db, project_id=pid)
        usable = templates.list_templates(db, project_id=pid)
    return [credential_item(row, usable) for row in rows]


def create_credential(principal: Principal, project_id: str, form: dict) -> str:
    """Create from the form's fields (the body is built here, in the attempt)."""
    data = credential_request(form)
    with db_session(principal) as db:
        row = credentials.create_credential(
            db, principal=principal, project_id=uuid.UUID(project_id), data=data
        )
        return row.name


def delete_credential(principal: Principal, credential_id: str) -> None:
    with db_session(principal) as db:
        credentials.delete_credential(
            db, principal=principal, credential_id=uuid.UUID(credential_id)
        )


def credential_request(form: dict) -> ProjectCredentialCreate:
    usage = [part.strip() for part in str(form.get("usage") or "").split(",") if part.strip()]
    key = str(form.get("secret_key") or "").strip()
    return request_body(
        ProjectCredentialCreate,
        {
            "name": str(form.get("name") or "").strip(),
            "type": str(form.get("type") or ""),
            "target": str(form.get("target") or "").strip() or None,
            "secretRef": {"name": str(form.get("secret_name") or "").strip(), "key": key or None},
            "usage": usage,
        },
    )


def credential_refusal(exc: ServiceError) -> str:
    """A refused create in words: the field at fault and what it takes, when named."""
    field, expected = exc.detail.get("field"), exc.detail.get("expected")
    if field and expected:
        return f"Check {field}: {expected}."
    return refusal(exc)


# The service's request fields to the create form's.
CREDENTIAL_FIELDS = {
    "name": "name",
    "target": "target",
    "secretRef.name": "secret_name",
    "secretRef.key": "secret_key",
    "secretRef": "secret_name",
    "usage": "usage",
}


class CredentialsState(GovernedProject, rx.State):
    credentials: list[CredentialItem] = []
    create_open: bool = False
    create_error: str = ""
    create_busy: bool = False

    @rx.var
    def types(self) -> list[Choice]:
        return [Choice(kind, kind) for kind in CREDENTIAL_TYPES]

    async def _read(self, principal: Principal) -> None:
        if not self.project:
            self.credentials = []
            return
        found = await attempt(
            self,
            in_thread(read_credentials, principal, self.project),
            busy=None,
            clear=("error",),
        )
        self.credentials = found.value if found else []

    @rx.event
    def set_create_open(self, value: bool):
        self.create_open = value
        self.create_error = self.error_field = ""
        if value:  # a new action: the last one's words go
            self.notice = self.error = ""

    @rx.event
    async def create(self, form: dict):
        principal = await acting(self)
        made = await attempt(
            self,
            in_thread(create_credential, principal, self.project, form),
            error="create_error",
            failed=credential_refusal,
            clear=("create_error", "notice"),
            busy="create_busy",
            fields=CREDENTIAL_FIELDS,
        )
        if not made:
            return
        self.create_open = False
        self.notice = f"Created credential {made.value}."
        await self._read(principal)

    @rx.event
    async def delete(self, credential_id: str):
        principal = await acting(self)
        name = next((c.name for c in self.credentials if c.id == credential_id), "it")
        await attempt(
            self,
            in_thread(delete_credential, principal, credential_id),
            done=f"Deleted credential {name}.",
            busy=None,
            reload=lambda: self._read(principal),
        )
