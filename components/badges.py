"""Status badges: a sandbox's status as a coloured dot and a word."""

from __future__ import annotations

import reflex as rx

STATUS_COLORS = (
    ("running", "green"),
    ("pending", "amber"),
    ("failed", "red"),
    ("stopped", "gray"),
    ("deleted", "gray"),
)


def status_badge(status: rx.Var[str], size: str = "2") -> rx.Component:
    """`● Running` in green, `● Pending` in amber, `● Failed` in red, otherwise grey."""
    return rx.badge(
        rx.box(
            width="0.45rem", height="0.45rem", border_radius="9999px", background="currentColor"
        ),
        rx.match(
            status,
            *((value, value.capitalize()) for value, _ in STATUS_COLORS),
            status,
        ),
        color_scheme=rx.match(status, *STATUS_COLORS, "gray"),
        variant="soft",
        radius="full",
        size=size,
        gap="0.4rem",
        white_space="nowrap",
    )


def event_type_badge(kind: rx.Var[str]) -> rx.Component:
    """A runtime event's type: Normal (grey) or Warning (amber)."""
    return rx.badge(
        kind,
        color_scheme=rx.cond(kind == "Warning", "amber", "gray"),
        variant="surface",
        size="1",
    )
