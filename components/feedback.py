"""Empty states and inline messages."""

from __future__ import annotations

import reflex as rx

from components.theme import TEXT_SECONDARY


def empty_state(icon: str, title: str, body: str, *extra: rx.Component) -> rx.Component:
    """A calm placeholder that says what will live here."""
    return rx.center(
        rx.vstack(
            rx.center(
                rx.icon(icon, size=22, color=rx.color("accent", 11)),
                width="3rem",
                height="3rem",
                border_radius="9999px",
                background=rx.color("accent", 3),
            ),
            rx.heading(title, as_="h2", size="4", weight="medium"),
            rx.text(body, size="2", color=TEXT_SECONDARY, text_align="center"),
            *extra,
            align="center",
            spacing="3",
            max_width="32rem",
        ),
        padding="3.5rem 1.5rem",
        border=f"1px dashed {rx.color('gray', 6)}",
        border_radius="0.75rem",
        background=rx.color("gray", 2),
    )


def error_callout(message: rx.Var[str]) -> rx.Component:
    """A service error in words, announced to assistive technology; hidden when empty."""
    return rx.cond(
        message,
        rx.callout(message, icon="circle-alert", color_scheme="red", role="alert", size="1"),
    )


def notice_callout(message: rx.Var[str]) -> rx.Component:
    """A success note, announced politely; hidden when empty."""
    return rx.cond(
        message,
        rx.callout(message, icon="circle-check", color_scheme="green", role="status", size="1"),
    )
