"""Policies page state: a project's launch policy (enforcement, allowed image prefixes,
service accounts and secret references) in an editor, with a live preview of the project's
templates and sandboxes the edited policy would deny. Saving needs the govern permission;
other roles read it."""

from __future__ import annotations

import dataclasses
import uuid

import reflex as rx

from backend.auth.models import Principal
from backend.errors import ServiceError
from backend.policy import service as policy
from backend.policy.models import NEVER, PolicyPreview, PolicyPreviewItem, ProjectPolicyUpsert
from backend.validation import request_body
from state.base import Choice, acting, attempt, db_session, in_thread, refusal
from state.format import timestamp
from state.governance import GovernedProject

ENFORCEMENTS = [
    Choice("disabled", "Disabled: launches are not checked"),
    Choice("enforced", "Enforced: launches that break a rule are denied"),
]


@dataclasses.dataclass
class Editor:
    """The policy as the editor shows it: each list one entry a line."""

    enforcement: str = "disabled"
    images: str = ""
    accounts: str = ""
    secrets: str = ""
    updated: str = ""


@dataclasses.dataclass
class Denied:
    """A template or sandbox the edited policy would deny, and why."""

    kind: str
    name: str
    href: str
    rules: list[str]


@dataclasses.dataclass
class Preview:
    templates: list[Denied] = dataclasses.field(default_factory=list)
    sandboxes: list[Denied] = dataclasses.field(default_factory=list)
    summary: str = ""


# The service's request fields to the editor's.
POLICY_FIELDS = {
    "allowedImagePrefixes": "images",
    "allowedServiceAccounts": "accounts",
    "allowedSecretRefs": "secrets",
}


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def upsert(editor: Editor) -> ProjectPolicyUpsert:
    return request_body(
        ProjectPolicyUpsert,
        {
            "enforcement": editor.enforcement,
            "allowedImagePrefixes": lines(editor.images),
            "allowedServiceAccounts": lines(editor.accounts),
            "allowedSecretRefs": lines(editor.secrets),
        },
    )


def read_policy(principal: Principal, project_id: str) -> Editor:
    with db_session(principal) as db:
        row = policy.get_launch_policy(db, uuid.UUID(project_id))
    updated = "Never saved" if row.updated_at == NEVER else f"Saved {timestamp(row.updated_at)}"
    return Editor(
        enforcement=row.enforcement,
        images="\n".join(row.allowed_image_prefixes),
        accounts="\n".join(row.allowed_service_accounts),
        secrets="\n".join(row.allowed_secret_refs),
        updated=updated,
    )


def save_policy(principal: Principal, project_id: str, editor: Editor) -> None:
    with db_session(principal) as db:
        policy.put_launch_policy(
            db, principal=principal, project_id=uuid.UUID(project_id), data=upsert(editor)
        )


def _denied(item: PolicyPreviewItem) -> Denied:
    href = f"/sandboxes/{item.id}" if item.kind == "sandbox" else "/templates"
    return Denied(item.kind, item.name, href, [rule.message for rule in item.rules])


def _summary(found: PolicyPreview) -> str:
    denied = len(found.templates) + len(found.sandboxes)
    checked = f"{found.checked_templates} templates and {found.checked_sandboxes} sandboxes"
    if found.enforcement != "enforced":
        return f"Checked {checked}: a disabled policy denies nothing."
    if not denied:
        return f"Checked {checked}: this policy denies none of them."
    return f"Checked {checked}: this policy would deny {denied}."


def read_preview(principal: Principal, project_id: str, editor: Editor) -> Preview:
    with db_session(principal) as db:
        found = policy.preview_launch_policy(
            db, principal=principal, project_id=uuid.UUID(project_id), data=upsert(editor)
        )
    return Preview(
        templates=[_denied(item) for item in found.templates],
        sandboxes=[_denied(item) for item in found.sandboxes],
        summary=_summary(found),
    )


class PoliciesState(GovernedProject, rx.State):
    editor: Editor = Editor()
    preview: Preview = Preview()
    preview_error: str = ""

    @rx.var
    def enforcements(self) -> list[Choice]:
        return ENFORCEMENTS

    async def _read(self, principal: Principal) -> None:
        if not self.project:
            self.editor, self.preview = Editor(), Preview()
            return
        found = await attempt(
            self, in_thread(read_policy, principal, self.project), busy=None, clear=("error",)
        )
        if found:
            self.editor = found.value
            await self._preview(principal)

    async def _preview(self, principal: Principal | None = None) -> None:
        principal = principal or await acting(self)
        try:
            self.preview = await in_thread(read_preview, principal, self.project, self.editor)
            self.preview_error = ""
        except ServiceError as exc:
            self.preview = Preview()
            self.preview_error = f"No preview: {refusal(exc)}"

    @rx.event
    async def set_field(self, name: str, value: str):
        """Any field of the editor; the preview follows."""
        self.editor = dataclasses.replace(self.editor, **{name: value})
        self.notice = self.error = self.error_field = ""
        await self._preview()

    @rx.event
    async def save(self, _form: dict | None = None):
        principal = await acting(self)
        editor, project, name = self.editor, self.project, self._project_name()
        saved = await attempt(
            self,
            in_thread(save_policy, principal, project, editor),
            done=f"Saved the launch policy of {name}.",
            fields=POLICY_FIELDS,
        )
        if saved:
            await self._read(principal)
