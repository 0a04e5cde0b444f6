"""Empty states and inline messages."""

from __future__ import annotations

import reflex as rx

from components.theme import TEXT_SECONDARY, clamp


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


# A banner shows at most this many lines (a 5,000-character name stays on screen); the
# whole text is its title (on hover) and stays in the DOM for assistive technology.
BANNER_LINES = 4


def clamped(message: rx.Var[str]) -> rx.Component:
    """A banner's words: long words wrap, and past BANNER_LINES lines they are cut off
    with an ellipsis (the full text on hover)."""
    return rx.callout.text(message, title=message, **clamp(BANNER_LINES))


def banner(message: rx.Var[str], *, icon: str, color: str, role: str) -> rx.Component:
    return rx.callout.root(
        rx.callout.icon(rx.icon(icon)),
        clamped(message),
        color_scheme=color,
        role=role,
        size="1",
        min_width="0",
        max_width="100%",
    )


def error_callout(message: rx.Var[str]) -> rx.Component:
    """A service error in words, announced to assistive technology; hidden when empty."""
    return rx.cond(message, banner(message, icon="circle-alert", color="red", role="alert"))


def fix_link(words: rx.Var[str] | str, href: rx.Var[str]) -> rx.Component:
    """Where to resolve a refusal (the quota or policy that refused it); hidden when none."""
    return rx.cond(
        href,
        rx.link(
            words,
            rx.icon("arrow-right", size=14),
            href=href,
            size="2",
            display="inline-flex",
            align_items="center",
            gap="0.25rem",
        ),
    )


def notice_callout(message: rx.Var[str]) -> rx.Component:
    """A success note, announced politely; hidden when empty."""
    return rx.cond(message, banner(message, icon="circle-check", color="green", role="status"))
