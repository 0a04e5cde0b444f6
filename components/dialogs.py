"""Dialogs: a form in a dialog, and a confirmation for actions that cannot be undone."""

from __future__ import annotations

import reflex as rx

from components.feedback import error_callout


def confirm_dialog(
    trigger: rx.Component,
    *,
    title: str,
    description: rx.Component | rx.Var[str] | str,
    confirm: str,
    on_confirm: rx.EventHandler,
    details: rx.Component | None = None,
) -> rx.Component:
    """An alert dialog opened by `trigger`: Cancel (focused first) or a red `confirm`."""
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(trigger),
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(description, size="2", color=rx.color("gray", 11)),
            *([details] if details is not None else []),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(rx.button(confirm, color_scheme="red", on_click=on_confirm)),
                spacing="3",
                justify="end",
                margin_top="1.25rem",
            ),
            max_width="30rem",
        ),
    )


def form_dialog(
    *fields: rx.Component,
    icon: str,
    trigger: str,
    title: str,
    description: str,
    submit: str,
    error: rx.Var[str],
    busy: rx.Var[bool],
    on_submit: rx.EventHandler,
    is_open: rx.Var[bool],
    on_open_change: rx.EventHandler,
    max_width: str = "30rem",
) -> rx.Component:
    """A small soft button that opens a form: its fields, the error in words, Cancel and
    `submit`. The state keeps it open (`is_open`) until the submit succeeds."""
    return rx.dialog.root(
        rx.dialog.trigger(
            rx.button(
                rx.icon(icon, size=14),
                trigger,
                variant="soft",
                size="1",
                disabled=~rx.State.is_hydrated,
            )
        ),
        rx.dialog.content(
            rx.dialog.title(title),
            rx.dialog.description(description, size="2", color=rx.color("gray", 11)),
            rx.form(
                rx.vstack(
                    *fields,
                    error_callout(error),
                    dialog_actions(rx.button(submit, type="submit", loading=busy)),
                    spacing="4",
                    margin_top="1rem",
                ),
                on_submit=on_submit,
            ),
            max_width=max_width,
        ),
        open=is_open,
        on_open_change=on_open_change,
    )


def dialog_actions(submit: rx.Component) -> rx.Component:
    """The foot of a form dialog: Cancel (closes it, submits nothing), then `submit`."""
    return rx.flex(
        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
        submit,
        spacing="3",
        justify="end",
        width="100%",
    )
