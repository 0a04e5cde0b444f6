"""Policies: a project's launch policy, edited with a live preview of what it would deny."""

from __future__ import annotations

import reflex as rx

from components.feedback import empty_state, error_callout, notice_callout
from components.forms import choice_field, error_at, panel, unplaced
from components.policies import list_field, policy_preview, project_picker, save_button
from mbox_app.pages.frame import console_page
from state.policies import PoliciesState

TITLE = "Policies"
DESCRIPTION = "Launch policy per project: which images, identities and secrets may run."


def page() -> rx.Component:
    return console_page(
        rx.vstack(
            rx.hstack(
                project_picker(
                    PoliciesState.project, PoliciesState.set_project, PoliciesState.projects
                ),
                rx.spacer(),
                rx.text(PoliciesState.editor.updated, size="2", color="gray"),
                align="end",
                width="100%",
            ),
            notice_callout(PoliciesState.notice),
            error_callout(unplaced(PoliciesState.error, PoliciesState.error_field)),
            rx.cond(
                PoliciesState.project != "",
                rx.grid(
                    panel(editor(), padding="1.25rem"),
                    panel(
                        policy_preview(
                            summary=PoliciesState.preview.summary,
                            templates=PoliciesState.preview.templates,
                            sandboxes=PoliciesState.preview.sandboxes,
                            error=PoliciesState.preview_error,
                        ),
                        padding="1.25rem",
                    ),
                    columns=rx.breakpoints(initial="1", lg="minmax(0, 3fr) minmax(0, 2fr)"),
                    gap="1.5rem",
                    width="100%",
                ),
                rx.cond(
                    PoliciesState.loaded,
                    empty_state(
                        "folder-kanban",
                        "No project to govern",
                        "Launch policies belong to a project: create one first.",
                    ),
                ),
            ),
            spacing="4",
            align="stretch",
        ),
        active="policies",
        title=TITLE,
        description=DESCRIPTION,
    )


def editor() -> rx.Component:
    read_only = ~PoliciesState.can_govern
    return rx.form(
        rx.vstack(
            choice_field(
                "Enforcement",
                id="policy-enforcement",
                value=PoliciesState.editor.enforcement,
                on_change=lambda value: PoliciesState.set_field("enforcement", value),
                options=PoliciesState.enforcements,
                width="100%",
            ),
            list_field(
                "Allowed image prefixes",
                id="policy-images",
                value=PoliciesState.editor.images,
                on_change=lambda value: PoliciesState.set_field("images", value),
                placeholder="ghcr.io/acme/\nlocal/",
                error=error_at(PoliciesState.error, PoliciesState.error_field, "images"),
                hint="A template's image must start with one of these (none: any image).",
                read_only=read_only,
            ),
            list_field(
                "Allowed service accounts",
                id="policy-accounts",
                value=PoliciesState.editor.accounts,
                on_change=lambda value: PoliciesState.set_field("accounts", value),
                placeholder="mbox-sandbox",
                error=error_at(PoliciesState.error, PoliciesState.error_field, "accounts"),
                hint="The runtime identities sandboxes may run as (none: any).",
                read_only=read_only,
            ),
            list_field(
                "Allowed secret references",
                id="policy-secrets",
                value=PoliciesState.editor.secrets,
                on_change=lambda value: PoliciesState.set_field("secrets", value),
                placeholder="registry-pull",
                error=error_at(PoliciesState.error, PoliciesState.error_field, "secrets"),
                hint="Secret names templates may mount (none: no secret references).",
                read_only=read_only,
            ),
            save_button(
                "Save policy",
                busy=PoliciesState.busy,
                allowed=PoliciesState.can_govern,
                read_only="Read-only: changing a policy needs the govern permission.",
            ),
            spacing="4",
            align="stretch",
        ),
        on_submit=PoliciesState.save,
        reset_on_submit=False,
        aria_label="Launch policy",
    )
