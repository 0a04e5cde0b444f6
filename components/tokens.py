"""API tokens: a token's table row, the project-scope checklist and the dialog that shows
a new token's secret once."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from components.dialogs import confirm_delete
from components.tables import NAME_WIDTH, clipped, mono, muted
from components.theme import MONO, TEXT_SECONDARY

STATUS_COLORS = {"active": "green", "expired": "amber", "revoked": "gray"}


def token_status_badge(status: rx.Var[str]) -> rx.Component:
    return rx.badge(
        status,
        color_scheme=rx.match(status, *STATUS_COLORS.items(), "gray"),
        variant="soft",
    )


def token_row(
    token: rx.Var, *, on_revoke: Callable[[rx.Var], rx.EventSpec], show_principal: rx.Var[bool]
) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(
                clipped(token.name, width=NAME_WIDTH, weight="medium", size="2"),
                mono(token.prefix),
                spacing="0",
            )
        ),
        rx.table.cell(
            rx.vstack(
                rx.cond(show_principal, rx.text(token.principal, size="2")),
                rx.badge(token.role, variant="outline", color_scheme="indigo"),
                spacing="1",
            )
        ),
        rx.table.cell(muted(token.projects), max_width="14rem"),
        rx.table.cell(muted(token.created), title=token.created_at, white_space="nowrap"),
        rx.table.cell(muted(token.last_used), white_space="nowrap"),
        rx.table.cell(muted(token.expires), white_space="nowrap"),
        rx.table.cell(token_status_badge(token.status)),
        rx.table.cell(
            rx.cond(
                token.revocable,
                confirm_delete(
                    "Revoke",
                    size="1",
                    variant="soft",
                    aria_label="Revoke " + token.name,
                    title="Revoke this token?",
                    description="Requests and console sign-ins with "
                    + token.name
                    + " are refused from now on. The token stays listed as revoked.",
                    confirm="Revoke token",
                    on_confirm=on_revoke(token.id),
                ),
            )
        ),
        align="center",
    )


def project_checklist(
    choices: rx.Var[list], selected: rx.Var[list[str]], on_toggle: Callable
) -> rx.Component:
    """A checkbox per project; none checked means the creator's own scope."""
    return rx.el.fieldset(
        rx.el.legend("Projects", font_size="0.875rem", font_weight="500"),
        rx.text(
            "None checked: the token reaches every project you can.",
            size="1",
            color=TEXT_SECONDARY,
        ),
        rx.vstack(
            rx.foreach(
                choices,
                lambda choice: rx.checkbox(
                    choice.label,
                    checked=selected.contains(choice.value),
                    on_change=lambda checked: on_toggle(choice.value, checked),
                    size="2",
                ),
            ),
            spacing="2",
            max_height="10rem",
            overflow_y="auto",
            padding_top="0.4rem",
        ),
        border="0",
        margin="0",
        padding="0",
    )


def secret_dialog(
    *,
    name: rx.Var[str],
    secret: rx.Var[str],
    is_open: rx.Var[bool],
    on_open_change: rx.EventHandler,
    on_copy: rx.EventHandler,
) -> rx.Component:
    """The new token's secret, once: copy it now, it is never shown again."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Copy the new token now"),
            rx.dialog.description(
                "This is the only time ",
                rx.text.strong(name),
                "'s secret is shown: mbox keeps only its hash.",
                size="2",
                color=TEXT_SECONDARY,
            ),
            rx.hstack(
                rx.code(
                    secret,
                    id="new-token-secret",
                    font_family=MONO,
                    size="2",
                    overflow_wrap="anywhere",
                    flex="1",
                    padding="0.5rem",
                ),
                rx.icon_button(
                    rx.icon("copy", size=16),
                    on_click=on_copy,
                    aria_label="Copy the token",
                    title="Copy the token",
                    variant="soft",
                ),
                align="center",
                width="100%",
                margin_top="1rem",
            ),
            rx.flex(
                rx.dialog.close(rx.button("Done", type="button")),
                justify="end",
                margin_top="1.25rem",
            ),
            max_width="34rem",
        ),
        open=is_open,
        on_open_change=on_open_change,
    )
