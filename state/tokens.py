"""API tokens page state: the principal's tokens (everyone's for a role that manages
tokens), the form that mints one, the dialog that shows its secret once, and revocation.

The secret lives in this state only between the create and the closing of its dialog:
it is cleared then, and nothing can show it again (only its hash is stored).
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime

import reflex as rx

from backend.auth import access
from backend.auth.access import Permission
from backend.auth.models import ApiTokenRow, Principal, token_status
from backend.principals import service as tokens
from backend.principals.models import ApiTokenCreate
from backend.projects import service as projects
from backend.validation import request_body
from state.base import Choice, Feedback, acting, attempt, db_session, in_thread, may
from state.format import timestamp

EXPIRY_CHOICES = [
    Choice("never", "Never"),
    Choice("7", "7 days"),
    Choice("30", "30 days"),
    Choice("90", "90 days"),
    Choice("365", "1 year"),
]


@dataclasses.dataclass
class TokenItem:
    """One token as the table shows it (never its secret: only the first characters)."""

    id: str
    name: str
    principal: str
    role: str
    projects: str
    prefix: str
    created: str
    created_at: str
    last_used: str
    expires: str
    status: str
    revocable: bool


@dataclasses.dataclass
class Listing:
    items: list[TokenItem]
    projects: list[Choice]


def _day(at: datetime | None, none: str) -> str:
    return at.strftime("%Y-%m-%d %H:%M") if at else none


def _scope_words(ids: list | None, names: dict[str, str]) -> str:
    if ids is None:
        return "All projects"
    return ", ".join(names.get(str(pid), "a project you cannot see") for pid in ids) or "None"


def token_item(row: ApiTokenRow, names: dict[str, str]) -> TokenItem:
    status = token_status(row)
    return TokenItem(
        id=str(row.id),
        name=row.name,
        principal=row.principal,
        role=row.role,
        projects=_scope_words(row.project_ids, names),
        prefix=f"{row.token_prefix}…",
        created=_day(row.created_at, ""),
        created_at=timestamp(row.created_at),
        last_used=_day(row.last_used_at, "Never"),
        expires=_day(row.expires_at, "Never"),
        status=status,
        revocable=status == "active",
    )


def read_tokens(principal: Principal) -> Listing:
    with db_session(principal) as db:
        rows = tokens.list_tokens(db, principal=principal)
        project_rows = projects.list_projects(db)
    names = {str(p.id): p.name for p in project_rows}
    return Listing(
        [token_item(row, names) for row in rows],
        [Choice(str(p.id), p.name) for p in project_rows],
    )


def create_token(principal: Principal, request: dict) -> tuple[str, str]:
    """Mint through the service (which audits it); the token's name and its secret.
    `request`: token_request's arguments (the body is built here, in the attempt)."""
    data = token_request(**request)
    with db_session(principal) as db:
        row, secret = tokens.create_token(db, principal=principal, data=data)
        return row.name, secret


def revoke_token(principal: Principal, token_id: str) -> str:
    with db_session(principal) as db:
        return tokens.revoke_token(db, principal=principal, token_id=uuid.UUID(token_id)).name


def grantable_roles(principal: Principal) -> list[Choice]:
    """The roles a new token may have: none stronger than the principal's own."""
    held = access.permissions(principal.role)
    return [
        Choice(role, role.capitalize()) for role in access.ROLES if access.permissions(role) <= held
    ]


def token_request(
    name: str, role: str, owner: str, project_ids: list[str], expiry: str
) -> ApiTokenCreate:
    return request_body(
        ApiTokenCreate,
        {
            "name": name,
            "role": role or None,
            "principal": owner.strip() or None,
            "projectIds": project_ids or None,
            "expiresInDays": None if expiry == "never" else int(expiry),
        },
    )


# The service's request fields to the create dialog's.
TOKEN_FIELDS = {"name": "name", "principal": "owner"}


class TokensState(Feedback, rx.State):
    tokens: list[TokenItem] = []
    projects: list[Choice] = []
    roles: list[Choice] = []
    manages: bool = False  # may mint for other principals and sees every token
    owner_required: bool = False  # the shared token owns no tokens: name the principal
    loaded: bool = False
    # The create dialog.
    create_open: bool = False
    name: str = ""
    role: str = ""
    owner: str = ""
    scope: list[str] = []
    expiry: str = "never"
    create_error: str = ""
    create_busy: bool = False
    # The secret of the token just made: shown once, cleared when its dialog closes.
    secret: str = ""
    secret_name: str = ""

    @rx.var
    def secret_open(self) -> bool:
        return self.secret != ""

    @rx.event
    async def load(self):
        self.error = self.notice = ""
        self.secret = self.secret_name = ""
        await self._reload(await acting(self))

    async def _reload(self, principal: Principal) -> None:
        listing = await in_thread(read_tokens, principal)
        self.tokens, self.projects = listing.items, listing.projects
        self.roles = grantable_roles(principal)
        self.manages = may(principal, Permission.MANAGE_TOKENS)
        self.owner_required = principal.token_id is None
        self.loaded = True

    @rx.event
    def set_create_open(self, value: bool):
        self.create_open = value
        self.create_error = self.error_field = ""
        if value:  # a new action: the last one's words go
            self.notice = self.error = ""
            self.name = self.owner = ""
            self.scope = []
            self.expiry = "never"
            self.role = self.roles[0].value if self.roles else ""

    @rx.event
    def set_name(self, value: str):
        self.name = value
        self.create_error = self.error_field = ""

    @rx.event
    def set_role(self, value: str):
        self.role = value
        self.create_error = self.error_field = ""

    @rx.event
    def set_owner(self, value: str):
        self.owner = value
        self.create_error = self.error_field = ""

    @rx.event
    def set_expiry(self, value: str):
        self.expiry = value

    @rx.event
    def toggle_project(self, project_id: str, checked: bool):
        rest = [p for p in self.scope if p != project_id]
        self.scope = [*rest, project_id] if checked else rest

    @rx.event
    async def create(self, _form: dict | None = None):
        self.create_error = self.error_field = ""
        if not self.name.strip():
            self.create_error = "Give the token a name, such as ci-deploy."
            return
        if self.owner_required and not self.owner.strip():
            self.create_error = "Name the principal the token acts as, such as ci-bot."
            return
        principal = await acting(self)
        request = {
            "name": self.name,
            "role": self.role,
            "owner": self.owner,
            "project_ids": self.scope,
            "expiry": self.expiry,
        }
        made = await attempt(
            self,
            in_thread(create_token, principal, request),
            error="create_error",
            clear=("notice",),
            busy="create_busy",
            fields=TOKEN_FIELDS,
        )
        if not made:
            return
        self.secret_name, self.secret = made.value
        self.create_open = False
        self.notice = f"Created token {self.secret_name}."
        await self._reload(principal)

    @rx.event
    def close_secret(self, is_open: bool = False):
        """The secret dialog closed: the secret is gone for good."""
        if not is_open:
            self.secret = ""

    @rx.event
    def copy_secret(self):
        self.notice = f"Copied the secret of {self.secret_name} to the clipboard."
        return rx.set_clipboard(self.secret)

    @rx.event
    async def revoke(self, token_id: str):
        principal = await acting(self)
        name = next((t.name for t in self.tokens if t.id == token_id), "the token")
        await attempt(
            self,
            in_thread(revoke_token, principal, token_id),
            done=f"Revoked {name}: requests with it are refused from now on.",
            busy=None,
            reload=lambda: self._reload(principal),
        )
