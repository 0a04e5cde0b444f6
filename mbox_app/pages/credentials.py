"""Credentials: a project's references to secrets (never their values), created and
deleted with the govern permission."""

from __future__ import annotations

import reflex as rx

from components.credentials import credential_fields, credential_row
from components.dialogs import modal_form
from components.feedback import empty_state, error_callout, notice_callout
from components.forms import error_at, hydrated_fieldset, unplaced
from components.policies import project_picker
from components.tables import data_table
from mbox_app.pages.frame import console_page
from state.credentials import CredentialsState

TITLE = "Credentials"
DESCRIPTION = "References to secrets a project's sandboxes may use. Values are never shown."
HEADERS = ["Credential", "Type", "Target", "Secret", "Usage", "Where used", ""]


def page() -> rx.Component:
    return console_page(
        rx.vstack(
            rx.hstack(
                project_picker(
                    CredentialsState.project,
                    CredentialsState.set_project,
                    CredentialsState.projects,
                ),
                rx.spacer(),
                rx.cond(
                    CredentialsState.can_govern & (CredentialsState.project != ""),
                    create_dialog(),
                ),
                align="end",
                width="100%",
            ),
            notice_callout(CredentialsState.notice),
            error_callout(CredentialsState.error),
            data_table(
                HEADERS,
                CredentialsState.credentials,
                lambda item: credential_row(
                    item, on_delete=CredentialsState.delete, can_delete=CredentialsState.can_govern
                ),
                label="Credentials",
                empty=rx.cond(
                    CredentialsState.loaded,
                    empty_state(
                        "key-round",
                        "No credentials",
                        "A credential names a secret the runtime holds (and optionally one "
                        "key of it); mbox never stores or shows its value.",
                    ),
                ),
            ),
            spacing="4",
            align="stretch",
        ),
        active="credentials",
        title=TITLE,
        description=DESCRIPTION,
    )


def credential_error(name: str) -> rx.Var[str]:
    return error_at(CredentialsState.create_error, CredentialsState.error_field, name)


def create_dialog() -> rx.Component:
    return modal_form(
        hydrated_fieldset(*credential_fields(CredentialsState.types, credential_error)),
        trigger=rx.button(
            rx.icon("plus", size=16), "New credential", disabled=~rx.State.is_hydrated
        ),
        title="New credential",
        description="Name the secret and, optionally, one key of it. There is no value field.",
        submit=rx.button("Create credential", type="submit", loading=CredentialsState.create_busy),
        error=unplaced(CredentialsState.create_error, CredentialsState.error_field),
        on_submit=CredentialsState.create,
        is_open=CredentialsState.create_open,
        on_open_change=CredentialsState.set_create_open,
    )
