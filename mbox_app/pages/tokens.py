"""API tokens: the principal's bearer tokens for automation (everyone's for an admin),
minting one (its secret shown once) and revoking."""

from __future__ import annotations

import reflex as rx

from components.dialogs import modal_form
from components.feedback import empty_state, error_callout, notice_callout
from components.forms import (
    choice_field,
    error_at,
    field_hint,
    hydrated_fieldset,
    text_field,
    unplaced,
)
from components.tables import data_table
from components.tokens import project_checklist, secret_dialog, token_row
from mbox_app.pages.frame import console_page
from state.tokens import EXPIRY_CHOICES, TokensState

TITLE = "API tokens"
DESCRIPTION = "Bearer tokens for automation, each bound to a principal with a role."
HEADERS = [
    "Token",
    "Principal and role",
    "Projects",
    "Created",
    "Last used",
    "Expires",
    "Status",
    "",
]


def page() -> rx.Component:
    return console_page(
        rx.vstack(
            rx.hstack(rx.spacer(), create_dialog(), width="100%"),
            notice_callout(TokensState.notice),
            error_callout(TokensState.error),
            token_table(),
            spacing="3",
            align="stretch",
        ),
        secret_dialog(
            name=TokensState.secret_name,
            secret=TokensState.secret,
            is_open=TokensState.secret_open,
            on_open_change=TokensState.close_secret,
            on_copy=TokensState.copy_secret,
        ),
        active="tokens",
        title=TITLE,
        description=DESCRIPTION,
    )


def token_table() -> rx.Component:
    return data_table(
        HEADERS,
        TokensState.tokens,
        lambda token: token_row(
            token, on_revoke=TokensState.revoke, show_principal=TokensState.manages
        ),
        label="API tokens",
        empty=rx.cond(
            TokensState.loaded,
            empty_state(
                "ticket",
                "No tokens yet",
                "Create one for a script or a CI job: it acts with the role you give it.",
            ),
            rx.fragment(),
        ),
    )


def create_dialog() -> rx.Component:
    return modal_form(
        hydrated_fieldset(
            text_field(
                "Name",
                id="token-name",
                value=TokensState.name,
                on_change=TokensState.set_name,
                placeholder="ci-deploy",
                required=True,
                error=error_at(TokensState.create_error, TokensState.error_field, "name"),
            ),
            rx.cond(
                TokensState.manages,
                text_field(
                    "Principal",
                    id="token-principal",
                    value=TokensState.owner,
                    on_change=TokensState.set_owner,
                    placeholder="ci-bot",
                    error=error_at(TokensState.create_error, TokensState.error_field, "owner"),
                    hint="Whose token it is: its actions are audited under this name. "
                    "Blank: your own.",
                ),
            ),
            choice_field(
                "Role",
                id="token-role",
                value=TokensState.role,
                on_change=TokensState.set_role,
                options=TokensState.roles,
                width="100%",
            ),
            project_checklist(TokensState.projects, TokensState.scope, TokensState.toggle_project),
            choice_field(
                "Expires",
                id="token-expiry",
                value=TokensState.expiry,
                on_change=TokensState.set_expiry,
                options=[(c.value, c.label) for c in EXPIRY_CHOICES],
                width="100%",
            ),
            field_hint("No role stronger, and no project beyond, your own."),
        ),
        trigger=rx.button(rx.icon("plus", size=16), "New token", disabled=~rx.State.is_hydrated),
        title="New API token",
        description="The secret is shown once, right after it is made.",
        submit=rx.button("Create token", type="submit", loading=TokensState.create_busy),
        error=unplaced(TokensState.create_error, TokensState.error_field),
        on_submit=TokensState.create,
        is_open=TokensState.create_open,
        on_open_change=TokensState.set_create_open,
        max_width="32rem",
    )
