"""Dialogs: a form in a dialog, a confirmation for actions that cannot be undone, and the
bin button that asks before deleting."""

from __future__ import annotations

from typing import Any

import reflex as rx

from components.feedback import error_callout
from components.theme import TEXT_SECONDARY


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
            rx.alert_dialog.title(title, overflow_wrap="anywhere"),
            rx.alert_dialog.description(
                description, size="2", color=TEXT_SECONDARY, overflow_wrap="anywhere"
            ),
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


def confirm_delete(
    label: str = "",
    *,
    title: str,
    description: rx.Component | rx.Var[str] | str,
    confirm: str,
    on_confirm: rx.EventHandler | rx.EventSpec,
    details: rx.Component | None = None,
    tooltip: str = "",
    **button: Any,
) -> rx.Component:
    """A red bin button (with `label`, else an icon button: give it an aria_label) that
    asks in a `confirm_dialog` before deleting; `button` props style and disable it, and
    `tooltip` is its title."""
    icon = rx.icon("trash-2", size=14)
    if tooltip:
        button["title"] = tooltip
    trigger = (
        rx.button(icon, label, color_scheme="red", **button)
        if label
        else rx.icon_button(icon, color_scheme="red", **button)
    )
    return confirm_dialog(
        trigger,
        title=title,
        description=description,
        confirm=confirm,
        on_confirm=on_confirm,
        details=details,
    )


def form_dialog(
    *fields: rx.Component,
    icon: str,
    trigger: str,
    submit: str,
    busy: rx.Var[bool],
    **dialog: Any,
) -> rx.Component:
    """`modal_form` opened by a small soft button; its submit shows `busy`."""
    return modal_form(
        *fields,
        trigger=rx.button(
            rx.icon(icon, size=14),
            trigger,
            variant="soft",
            size="1",
            disabled=~rx.State.is_hydrated,
        ),
        submit=rx.button(submit, type="submit", loading=busy),
        **dialog,
    )


def modal_form(
    *fields: rx.Component,
    title: rx.Var[str] | str,
    description: rx.Component | str,
    submit: rx.Component,
    error: rx.Var[str],
    on_submit: rx.EventHandler,
    is_open: rx.Var[bool],
    on_open_change: rx.EventHandler,
    trigger: rx.Component | None = None,
    max_width: str = "30rem",
) -> rx.Component:
    """A form in a dialog: its fields, the error in words, Cancel and `submit`. The state
    keeps it open (`is_open`) until the submit succeeds; without a `trigger` the state
    opens it too."""
    return rx.dialog.root(
        *([rx.dialog.trigger(trigger)] if trigger is not None else []),
        rx.dialog.content(
            rx.dialog.title(title, overflow_wrap="anywhere"),
            rx.dialog.description(
                description, size="2", color=TEXT_SECONDARY, overflow_wrap="anywhere"
            ),
            rx.form(
                rx.vstack(
                    *fields,
                    error_callout(error),
                    dialog_actions(submit),
                    spacing="4",
                    margin_top="1rem",
                ),
                on_submit=on_submit,
                reset_on_submit=False,
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
