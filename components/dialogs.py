"""Dialogs: a confirmation for actions that cannot be undone."""

from __future__ import annotations

import reflex as rx


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
